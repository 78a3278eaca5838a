"""The data-path benchmarks (tests/bench: data-bench, e2e-bench) in their
quickest mode against a real broker and librdkafka's mock cluster: each must
exit 0, check every record it moved, and print a line of figures for every job
and target; partition-bench's quickest mode against a cluster of its own. No
figure is asserted (benchmarks print them; tests never assert timings)."""
import re
import subprocess

from conftest import binary, free_port

NUM = r"\d+(?:\.\d+)?"
RATE = r"\d+(?:\.\d+)?[kM] rec/s %s MB/s" % NUM
LATENCY = r"p50 {0} ms p99 {0} ms max {0} ms".format(NUM)
CPU = r"client {0} cpu-s/M broker {0} cpu-s/M".format(NUM)
REQUESTS = r"requests \d+ rtt avg {0} ms p99 {0} ms".format(NUM)  # the client's statistics

DATA_JOBS = ["produce 100B acks=1", "produce 100B acks=all", "produce 1000B acks=1", "produce 1000B acks=all",
             "fill 64 partitions 100B"]
CONSUME_JOBS = ["consume 64 partitions assign()", "consume 64 partitions subscribe()"]


def run(prog, *args, timeout=120):
    return subprocess.run([binary("tests/bench/" + prog), *args], capture_output=True, text=True, timeout=timeout)


def test_data_bench_quick_prints_every_job_for_both_targets(broker):
    out = run("data-bench", "--quick", "--bootstrap", broker.bootstrap, "--broker-pid", str(broker.proc.pid))
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert text.startswith("data-bench: samsa at %s, mock cluster in this process, librdkafka " % broker.bootstrap), text
    assert "1 round(s) interleaved, medians; produce saturating, 3 partition(s), scale 0.01\n" in text, text
    for job in DATA_JOBS:
        for target in ("samsa", "mock"):
            assert re.search(r"^%s %s: %s %s %s %s$" % (re.escape(job), target, RATE, LATENCY, CPU, REQUESTS), text,
                             re.M), \
                (job, target, text)
        assert re.search(r"^%s samsa/mock: rec/s %s \(rounds' median %s\) p99 %s \(rounds' median %s\)$"
                         % (re.escape(job), NUM, NUM, NUM, NUM), text, re.M), (job, text)
    for job in CONSUME_JOBS:
        join = r" \(join \d+ ms\)" if "subscribe" in job else ""
        for target in ("samsa", "mock"):
            assert re.search(r"^%s %s: %s %s%s$" % (re.escape(job), target, RATE, CPU, join), text, re.M), \
                (job, target, text)
        assert re.search(r"^%s samsa/mock: rec/s %s \(rounds' median %s\)$" % (re.escape(job), NUM, NUM), text,
                         re.M), (job, text)
    assert text.endswith("all runs complete\n"), text
    assert "FAILED" not in text


def test_data_bench_fixed_rate_and_only(broker):
    out = run("data-bench", "--scale", "0.005", "--rounds", "2", "--rate", "2000", "--only", "1000B acks=all",
              "--bootstrap", broker.bootstrap)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "(broker CPU not measured: no --broker-pid)" in text, text
    assert "2 round(s) interleaved, medians; produce offered 2000 rec/s" in text, text
    lines = [l for l in text.splitlines()[1:] if l != "all runs complete"]
    assert [l.split(":")[0] for l in lines] == ["produce 1000B acks=all samsa", "produce 1000B acks=all mock",
                                                 "produce 1000B acks=all samsa/mock"], text
    # 1,000 records due over 0.4995 s: a paced producer never passes the offered rate (2.002k at most)
    for target in ("samsa", "mock"):
        assert re.search(r"^produce 1000B acks=all %s: [12]k rec/s" % target, text, re.M), text
    assert " broker n/a" in lines[0], text


def test_e2e_bench_quick_one_broker(broker):
    out = run("e2e-bench", "--quick", "--bootstrap", broker.bootstrap)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert text.startswith("e2e-bench: samsa at %s (fewer than 3 brokers: no RF 3 for samsa), mock cluster (3 "
                           "brokers) in this process" % broker.bootstrap), text
    assert "settings defaults: producer linger.ms=5, consumer fetch.wait.max.ms=500 fetch.min.bytes=1\n" in text
    assert "settings low-latency: producer linger.ms=0, consumer fetch.wait.max.ms=10 fetch.min.bytes=1\n" in text
    figures = (r"p50 {0} ms p99 {0} ms p99.9 {0} ms max {0} ms, acked p50 {0} ms p99 {0} ms "
               r"\(2000 records a run\)").format(NUM)
    found = re.findall(r"^(RF \d acks=\w+) (defaults|low-latency) (samsa|mock): %s$" % figures, text, re.M)
    assert found == [("RF 1 acks=1", "defaults", "samsa"), ("RF 1 acks=1", "defaults", "mock"),
                     ("RF 1 acks=1", "low-latency", "samsa"), ("RF 1 acks=1", "low-latency", "mock"),
                     ("RF 3 acks=all", "defaults", "mock"), ("RF 3 acks=all", "low-latency", "mock")], text
    assert len(re.findall(r"^RF 1 acks=1 (?:defaults|low-latency) samsa/mock: p99 %s$" % NUM, text, re.M)) == 2
    assert text.endswith("all runs complete\n"), text


def test_e2e_bench_half_load_is_measured_per_settings(broker):
    out = run("e2e-bench", "--bootstrap", broker.bootstrap, "--only", "acks=1 low", "--seconds", "0.3",
              "--rounds", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    m = re.search(r"^RF 1 acks=1 low-latency: maximum \(saturating producer, linger.ms=0, 100000 records\) "
                  r"samsa (%s[kM]) rec/s, mock (%s[kM]) rec/s; offered (%s[kM]) rec/s, half the lower$" % (NUM, NUM, NUM),
                  text, re.M)
    assert m, text
    value = lambda s: float(s[:-1]) * (1e3 if s[-1] == "k" else 1e6)
    unit = lambda s: 1e3 if s[-1] == "k" else 1e4  # "%.0fk" or "%.2fM"
    lower = min(m.group(1), m.group(2), key=value)
    # half the lower, within the printed figures' rounding
    assert abs(value(m.group(3)) - value(lower) / 2) <= unit(m.group(3)) / 2 + unit(lower) / 4, text
    found = re.findall(r"^(RF \d acks=\w+ [\w-]+ \w+): p50", text, re.M)
    assert found == ["RF 1 acks=1 low-latency samsa", "RF 1 acks=1 low-latency mock"], text
    assert "maximum" not in text.replace(m.group(0), ""), text  # no other mode or settings measured
    assert text.endswith("all runs complete\n"), text


def test_usage_errors_and_an_unreachable_broker():
    for prog, args in (("data-bench", ["--rounds", "0"]), ("data-bench", ["--frobnicate", "1"]),
                       ("data-bench", ["--broker-pid", "1"]), ("e2e-bench", ["--size", "8"]),
                       ("e2e-bench", ["--rate"])):
        out = run(prog, *args, timeout=30)
        assert out.returncode == 2, (prog, args, out.stdout + out.stderr)
        assert out.stderr.startswith("usage: %s " % prog), out.stderr
    out = run("e2e-bench", "--quick", "--bootstrap", "127.0.0.1:%d" % free_port(), timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "e2e-bench: no answer from 127.0.0.1:" in out.stderr, out.stderr


def test_partition_bench_quick_prints_every_figure():
    """partition-bench starts its own ZooKeeper and broker: 200 partitions,
    one clean and one unclean restart, every figure printed, nothing left
    running (it stops the cluster and removes its folder)."""
    out = run("partition-bench", "--quick", timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert text.startswith("partition-bench: 200 partitions, RF 1, one broker, 1 round(s), medians; load "), text
    assert re.search(r"^A: /\S+/broker/samsa-broker$", text, re.M), text
    assert re.search(r"^created 200 partitions: all led %s s after the topic was written$" % NUM, text, re.M), text
    assert re.search(r"^idle broker \(A\): no partitions rss %s MiB, \d+ fds; 200 partitions rss %s MiB, \d+ fds: "
                     r"-?\d+ B and %s fds per partition$" % (NUM, NUM, NUM), text, re.M), text
    assert re.search(r"^Metadata for all 200 partitions \(A\): p50 %s ms p99 %s ms \(20 requests\)$" % (NUM, NUM),
                     text, re.M), text
    for kind in ("clean restart", "unclean restart \\(SIGKILL\\)"):
        assert re.search(r"^round 1 A %s: started %s s, all led %s s$" % (kind, NUM, NUM), text, re.M), (kind, text)
    for kind in ("clean", "unclean"):
        assert re.search(r"^A %s restart: started %s s, all led %s s \(median of 1\)$" % (kind, NUM, NUM), text,
                         re.M), (kind, text)
    assert text.endswith("all steps passed\n"), text
    # one handle per partition, the active segment (its indexes are mapped),
    # give or take a connection the broker has not closed yet
    fds = re.search(r"no partitions rss %s MiB, (\d+) fds; 200 partitions rss %s MiB, (\d+) fds" % (NUM, NUM), text)
    assert 200 <= int(fds.group(2)) - int(fds.group(1)) <= 202, text
