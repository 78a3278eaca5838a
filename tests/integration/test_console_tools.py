"""tools/samsa-console-producer, samsa-console-consumer, samsa-producer-perf-test
and samsa-consumer-perf-test against one samsa broker (3 partitions per
auto-created topic; each test uses topics of its own).

Outputs are checked against Kafka 2.8's formats: DefaultMessageFormatter's
columns, ProducerPerformance's progress and total lines, ConsumerPerformance's
CSV; usage errors against Kafka's wording and exit status 2."""
import os
import re
import subprocess
import time

import pytest

from conftest import Broker, binary, free_port

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]

WINDOW_LINE = re.compile(r"^(\d+) records sent, (\d+\.\d) records/sec \((\d+\.\d\d) MB/sec\), (\d+\.\d) ms avg "
                         r"latency, (\d+\.\d) ms max latency\.$")
TOTAL_LINE = re.compile(r"^(\d+) records sent, (\d+\.\d{6}) records/sec \((\d+\.\d\d) MB/sec\), (\d+\.\d\d) ms avg "
                        r"latency, (\d+\.\d\d) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, "
                        r"(\d+) ms 99\.9th\.$")
CSV_HEADER = ("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
              "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
DATE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}"
CSV_LINE = re.compile(r"^(%s), (%s), (\d+\.\d{4}), (\d+\.\d{4}), (\d+), (\d+\.\d{4}), (\d+), (-?\d+), (\d+\.\d{4}), "
                      r"(\d+\.\d{4})$" % (DATE, DATE))


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory):
    broker = Broker(str(tmp_path_factory.mktemp("console"))).start()
    yield broker.bootstrap
    rc = broker.stop()
    assert rc == 0, broker.read_log()[-4000:]


def run(tool, *args, stdin=None, timeout=60):
    return subprocess.run([binary("tools/" + tool), *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def produce(bootstrap, topic, lines, *args):
    out = run("samsa-console-producer", "--bootstrap-server", bootstrap, "--topic", topic, *args,
              stdin="".join(line + "\n" for line in lines))
    assert out.returncode == 0, out.stderr
    return out


def consume(bootstrap, topic, *args, expect_rc=0):
    out = run("samsa-console-consumer", "--bootstrap-server", bootstrap, "--topic", topic, *args)
    assert out.returncode == expect_rc, out.stderr
    return out


def processed(out):
    """The count of Kafka's closing line, the last line of stderr."""
    m = re.search(r"Processed a total of (\d+) messages\n$", out.stderr)
    assert m, out.stderr
    return int(m.group(1))


# ---- the console producer and consumer ---------------------------------------------------


def test_seq_1000_round_trip(bootstrap):
    topic = "seq-1000"
    produce(bootstrap, topic, [str(i) for i in range(1, 1001)])
    out = consume(bootstrap, topic, "--from-beginning", "--max-messages", "1000", "--property",
                  "print.partition=true")
    assert processed(out) == 1000
    by_partition = {}
    for line in out.stdout.splitlines():
        part, value = line.split("\t")
        assert re.fullmatch(r"Partition:[012]", part)
        by_partition.setdefault(part, []).append(int(value))
    values = sorted(v for vs in by_partition.values() for v in vs)
    assert values == list(range(1, 1001))
    for vs in by_partition.values():  # each partition keeps the order of stdin
        assert vs == sorted(vs)
    # without print.* only the values, one a line
    out = consume(bootstrap, topic, "--from-beginning", "--max-messages", "1000")
    assert sorted(int(v) for v in out.stdout.splitlines()) == list(range(1, 1001))


def test_consumer_started_before_the_topic_exists(bootstrap):
    """As with Kafka's tool: the consumer's metadata request creates the topic
    (Java's allow.auto.create.topics) and the consumer sees what is produced
    afterwards (--from-beginning, so that when it starts does not matter)."""
    consumer = subprocess.Popen([binary("tools/samsa-console-consumer"), "--bootstrap-server", bootstrap, "--topic",
                                 "late", "--from-beginning", "--max-messages", "5", "--timeout-ms", "30000"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        produce(bootstrap, "late", [str(i) for i in range(5)])
        stdout, stderr = consumer.communicate(timeout=60)
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait()
    assert consumer.returncode == 0, stderr
    assert sorted(stdout.splitlines()) == ["0", "1", "2", "3", "4"]
    assert stderr.endswith("Processed a total of 5 messages\n")


def test_keys_round_trip(bootstrap):
    topic = "keys"
    pairs = [("k%d" % (i % 7), "value %d" % i) for i in range(50)]
    produce(bootstrap, topic, ["%s:%s" % kv for kv in pairs], "--property", "parse.key=true",
            "--property", "key.separator=:")
    out = consume(bootstrap, topic, "--from-beginning", "--max-messages", "50", "--property", "print.key=true",
                  "--property", "key.separator=|", "--property", "print.partition=true")
    rows = [line.split("|") for line in out.stdout.splitlines()]
    assert sorted((k, v) for _, k, v in rows) == sorted(pairs)
    # one key, one partition (murmur2, as Java's producer places keys)
    partition_of = {}
    for part, key, _ in rows:
        assert partition_of.setdefault(key, part) == part


def test_line_without_key_separator_fails(bootstrap):
    out = run("samsa-console-producer", "--bootstrap-server", bootstrap, "--topic", "nokey", "--property",
              "parse.key=true", stdin="a\tb\nnosep\n")
    assert out.returncode == 1
    assert "No key found on line 2: nosep" in out.stderr
    out = run("samsa-console-producer", "--bootstrap-server", bootstrap, "--topic", "nokey", "--property",
              "parse.key=true", "--property", "ignore.error=true", stdin="nosep\n")
    assert out.returncode == 0, out.stderr
    out = consume(bootstrap, "nokey", "--from-beginning", "--max-messages", "2", "--property", "print.key=true")
    assert sorted(out.stdout.splitlines()) == ["a\tb", "null\tnosep"]


def test_print_formats(bootstrap):
    topic = "formats"
    before = int(time.time() * 1000)
    produce(bootstrap, topic, ["h1:a,h2:b\tk\tv", "\tnokey-novalue\tx"], "--property", "parse.headers=true",
            "--property", "parse.key=true", "--sync")
    produce(bootstrap, topic, ["plain"])
    after = int(time.time() * 1000)
    out = consume(bootstrap, topic, "--from-beginning", "--max-messages", "3", "--property", "print.timestamp=true",
                  "--property", "print.partition=true", "--property", "print.offset=true", "--property",
                  "print.headers=true", "--property", "print.key=true")
    lines = sorted(out.stdout.splitlines(), key=lambda line: line.split("\t")[-1])
    assert len(lines) == 3
    pattern = r"CreateTime:(\d+)\tPartition:([012])\tOffset:(\d+)\t%s"
    m = re.fullmatch(pattern % r"NO_HEADERS\tnull\tplain", lines[0])
    assert m, lines[0]
    m = re.fullmatch(pattern % r"h1:a,h2:b\tk\tv", lines[1])
    assert m, lines[1]
    assert before <= int(m.group(1)) <= after
    # an empty header list is NO_HEADERS; the key before the tab is empty, not null
    assert re.fullmatch(pattern % r"NO_HEADERS\tnokey-novalue\tx", lines[2]) or \
        re.fullmatch(pattern % r"\tnokey-novalue\tx", lines[2]), lines[2]
    # print.value=false ends the line after the last column
    out = consume(bootstrap, topic, "--from-beginning", "--max-messages", "3", "--property", "print.key=true",
                  "--property", "print.value=false")
    assert sorted(out.stdout.split("\n")) == ["", "k", "nokey-novalue", "null"]
    # a null key printed as null.literal; custom separators
    out = consume(bootstrap, topic, "--from-beginning", "--max-messages", "3", "--property", "print.key=true",
                  "--property", "null.literal=<none>", "--property", "key.separator= => ", "--property",
                  "line.separator=;")
    assert sorted(out.stdout.split(";")) == ["", "<none> => plain", "k => v", "nokey-novalue => x"]


def test_partition_and_offset(bootstrap):
    topic = "offsets"
    produce(bootstrap, topic, ["same:%d" % i for i in range(20)], "--property", "parse.key=true",
            "--property", "key.separator=:")
    out = consume(bootstrap, topic, "--from-beginning", "--max-messages", "20", "--property",
                  "print.partition=true")
    partitions = {line.split("\t")[0] for line in out.stdout.splitlines()}
    assert len(partitions) == 1
    p = partitions.pop().split(":")[1]
    out = consume(bootstrap, topic, "--partition", p, "--offset", "15", "--max-messages", "5", "--property",
                  "print.offset=true")
    assert out.stdout.splitlines() == ["Offset:%d\t%d" % (i, i) for i in range(15, 20)]
    out = consume(bootstrap, topic, "--partition", p, "--offset", "earliest", "--max-messages", "2")
    assert out.stdout.splitlines() == ["0", "1"]
    out = consume(bootstrap, topic, "--partition", p, "--from-beginning", "--max-messages", "1")
    assert out.stdout.splitlines() == ["0"]
    # latest (the default): nothing new arrives within the timeout
    out = consume(bootstrap, topic, "--partition", p, "--offset", "latest", "--timeout-ms", "1500")
    assert out.stdout == "" and processed(out) == 0
    # another partition of the topic holds nothing
    other = str((int(p) + 1) % 3)
    out = consume(bootstrap, topic, "--partition", other, "--from-beginning", "--timeout-ms", "1500")
    assert out.stdout == "" and processed(out) == 0


@pytest.mark.parametrize("codec", CODECS)
def test_compression_codecs(bootstrap, codec):
    topic = "codec-" + codec
    lines = ["%s line %d %s" % (codec, i, "x" * (i % 40)) for i in range(300)]
    produce(bootstrap, topic, lines, "--compression-codec", codec)
    out = consume(bootstrap, topic, "--from-beginning", "--max-messages", "300")
    assert sorted(out.stdout.splitlines()) == sorted(lines)


def test_compression_codec_without_value_is_gzip(bootstrap):
    produce(bootstrap, "codec-default", ["a", "b"], "--compression-codec", "--sync")
    out = consume(bootstrap, "codec-default", "--from-beginning", "--max-messages", "2")
    assert sorted(out.stdout.splitlines()) == ["a", "b"]


def test_producer_and_consumer_properties(bootstrap, tmp_path):
    config = tmp_path / "producer.properties"
    config.write_text("# Java names\nacks = all\nlinger.ms: 5\nkey.serializer=org.apache.kafka.common."
                      "serialization.StringSerializer\nbuffer.memory=1048576\n")
    produce(bootstrap, "props", ["one", "two"], "--producer.config", str(config), "--producer-property",
            "client.id=mine", "--request-required-acks", "-1")
    cconfig = tmp_path / "consumer.properties"
    cconfig.write_text("fetch.max.wait.ms=50\nreceive.buffer.bytes=65536\n")
    out = consume(bootstrap, "props", "--from-beginning", "--max-messages", "2", "--consumer.config", str(cconfig),
                  "--consumer-property", "fetch.min.bytes=1")
    assert sorted(out.stdout.splitlines()) == ["one", "two"]


def test_refused_property_is_one_line(bootstrap):
    out = run("samsa-console-producer", "--bootstrap-server", bootstrap, "--topic", "t", "--producer-property",
              "no.such.property=1", stdin="x\n")
    assert out.returncode == 2
    assert out.stderr.startswith("Invalid property no.such.property=1: ")
    assert out.stderr.count("\n") == 1
    out = consume(bootstrap, "t", "--consumer-property", "isolation.level=sometimes", expect_rc=2)
    assert out.stderr.startswith("Invalid property isolation.level=sometimes: ")


@pytest.mark.parametrize("tool", ["samsa-console-producer", "samsa-console-consumer"])
def test_usage_errors(bootstrap, tool):
    out = run(tool, "--bootstrap-server", bootstrap, stdin="")
    assert (out.returncode, out.stderr) == (2, 'Missing required argument "[topic]"\n')
    out = run(tool, "--bootstrap-server", bootstrap, "--topic", "t", "--bogus", stdin="")
    assert (out.returncode, out.stderr) == (2, "bogus is not a recognized option\n")
    out = run(tool, "--topic", "t", stdin="")
    assert (out.returncode, out.stderr) == (2, 'Missing required argument "[bootstrap-server]"\n')
    out = run(tool, stdin="")
    assert out.returncode == 2 and "--bootstrap-server" in out.stderr
    out = run(tool, "--help")
    assert out.returncode == 0 and "--topic <topic>" in out.stdout


def test_consumer_usage_errors(bootstrap):
    base = ["--bootstrap-server", bootstrap, "--topic", "t"]
    cases = [
        (["--offset", "3"], "The partition is required when offset is specified.\n"),
        (["--partition", "0", "--offset", "3", "--from-beginning"],
         "Options from-beginning and offset cannot be specified together.\n"),
        (["--partition", "0", "--offset", "-3"],
         "The provided offset value '-3' is incorrect. Valid values are 'earliest', 'latest', or a non-negative "
         "long.\n"),
        (["--partition", "0", "--group", "g"], "Options group and partition cannot be specified together.\n"),
        (["--group", "a", "--consumer-property", "group.id=b"],
         "The group ids provided in different places (directly using '--group', via '--consumer-property', or via "
         "'--consumer.config') do not match. Detected group ids: 'a', 'b'\n"),
        (["--max-messages", "ten"], "Cannot parse argument 'ten' of option max-messages\n"),
        (["--from-beginning", "--consumer-property", "auto.offset.reset=latest"],
         "Can't simultaneously specify --from-beginning and 'auto.offset.reset=latest', please remove one option\n"),
    ]
    for args, message in cases:
        out = run("samsa-console-consumer", *base, *args)
        assert (out.returncode, out.stderr) == (2, message), args


def test_producer_unreachable_broker_fails(tmp_path):
    start = time.monotonic()
    out = run("samsa-console-producer", "--bootstrap-server", "127.0.0.1:%d" % free_port(), "--topic", "t",
              "--producer-property", "delivery.timeout.ms=2000", stdin="a\nb\n", timeout=30)
    assert out.returncode == 1
    assert time.monotonic() - start < 15
    failures = [line for line in out.stderr.splitlines() if line.startswith("ERROR Error when sending message")]
    assert failures == ["ERROR Error when sending message to topic t with key: null, value: 1 bytes with error: "
                        "Local: Message timed out"] * 2


# ---- the perf tests --------------------------------------------------------------------------


def producer_perf(bootstrap, topic, *args, timeout=120):
    return run("samsa-producer-perf-test", "--topic", topic, *args, "--producer-props",
               "bootstrap.servers=" + bootstrap, "acks=1", timeout=timeout)


def test_producer_perf_test_totals(bootstrap):
    out = producer_perf(bootstrap, "perf-total", "--num-records", "20000", "--record-size", "100",
                        "--throughput", "-1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    m = TOTAL_LINE.match(lines[-1])
    assert m, lines[-1]
    assert int(m.group(1)) == 20000
    p50, p95, p99, p999 = (int(m.group(i)) for i in range(6, 10))
    assert p50 <= p95 <= p99 <= p999 <= float(m.group(5))
    for line in lines[:-1]:
        assert WINDOW_LINE.match(line), line
    out = consume(bootstrap, "perf-total", "--from-beginning", "--max-messages", "20000")
    values = out.stdout.splitlines()
    assert len(values) == 20000 and all(re.fullmatch("[A-Z]{100}", v) for v in values[:100])


def test_producer_perf_test_throttled_progress(bootstrap):
    """600 records at 100 a second: about 6 s, so one progress line after 5 s."""
    start = time.monotonic()
    out = producer_perf(bootstrap, "perf-throttled", "--num-records", "600", "--record-size", "10",
                        "--throughput", "100")
    elapsed = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert TOTAL_LINE.match(lines[-1]) and TOTAL_LINE.match(lines[-1]).group(1) == "600"
    windows = [WINDOW_LINE.match(line) for line in lines[:-1]]
    assert windows and all(windows), lines
    assert sum(int(w.group(1)) for w in windows) < 600
    assert elapsed >= 5.0


def test_producer_perf_test_payload_file(bootstrap, tmp_path):
    payloads = tmp_path / "payloads.txt"
    payloads.write_text("alpha;beta;gamma;")
    out = producer_perf(bootstrap, "perf-payloads", "--num-records", "30", "--payload-file", str(payloads),
                        "--payload-delimiter", ";", "--throughput", "-1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "Reading payloads from: %s" % os.path.realpath(payloads)
    assert lines[1] == "Number of messages read: 3"
    assert TOTAL_LINE.match(lines[-1]).group(1) == "30"
    out = consume(bootstrap, "perf-payloads", "--from-beginning", "--max-messages", "30")
    assert set(out.stdout.splitlines()) <= {"alpha", "beta", "gamma"}


def test_producer_perf_test_print_metrics(bootstrap):
    out = producer_perf(bootstrap, "perf-metrics", "--num-records", "10", "--record-size", "10", "--throughput",
                        "-1", "--print-metrics")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert TOTAL_LINE.match(lines[0])
    assert lines[1] == "" and re.match(r"^Metric Name +Value$", lines[2])
    assert any(re.match(r"^rdkafka-metrics:txmsgs:\{client-id=perf-producer-client\} +: 10$", line)
               for line in lines), lines


def test_producer_perf_test_usage_errors(bootstrap):
    base = ["--topic", "t", "--num-records", "10", "--throughput", "-1"]
    cases = [
        (["--num-records", "10", "--record-size", "1", "--throughput", "-1", "--producer-props", "a=b"],
         "samsa-producer-perf-test: error: argument --topic is required\n"),
        (base + ["--producer-props", "bootstrap.servers=" + bootstrap],
         "samsa-producer-perf-test: error: one of the arguments --record-size --payload-file is required\n"),
        (base + ["--record-size", "1"],
         "samsa-producer-perf-test: error: Either --producer-props or --producer.config must be specified.\n"),
        (base + ["--record-size", "1", "--producer-props", "novalue"], "Invalid property: novalue\n"),
        (base + ["--record-size", "1", "--producer-props", "bootstrap.servers=" + bootstrap, "--transactional-id",
                 "tx"],
         "samsa-producer-perf-test: error: transactions are not supported: samsa has no transaction coordinator\n"),
    ]
    for args, message in cases:
        out = run("samsa-producer-perf-test", *args)
        assert (out.returncode, out.stderr) == (2, message), args


def test_consumer_perf_test_reads_exactly_messages(bootstrap):
    out = producer_perf(bootstrap, "perf-consume", "--num-records", "5000", "--record-size", "200",
                        "--throughput", "-1")
    assert out.returncode == 0, out.stderr
    out = run("samsa-consumer-perf-test", "--bootstrap-server", bootstrap, "--topic", "perf-consume", "--messages",
              "3000")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == CSV_HEADER
    m = CSV_LINE.match(lines[1])
    assert m and len(lines) == 2, lines
    assert int(m.group(5)) == 3000
    assert float(m.group(3)) == pytest.approx(3000 * 200 / 1024 / 1024, abs=1e-4)
    assert m.group(7) == "0"  # no group: no rebalance
    # all of it, then asking for more than there is: Kafka's warning after --timeout
    out = run("samsa-consumer-perf-test", "--bootstrap-server", bootstrap, "--topic", "perf-consume", "--messages",
              "6000", "--timeout", "1000", "--hide-header")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == ("WARNING: Exiting before consuming the expected number of messages: timeout (1000 ms) "
                        "exceeded. You can use the --timeout option to increase the timeout.")
    assert CSV_LINE.match(lines[1]).group(5) == "5000"


def test_consumer_perf_test_detailed_stats(bootstrap):
    out = producer_perf(bootstrap, "perf-detailed", "--num-records", "2000", "--record-size", "10",
                        "--throughput", "-1")
    assert out.returncode == 0, out.stderr
    out = run("samsa-consumer-perf-test", "--bootstrap-server", bootstrap, "--topic", "perf-detailed", "--messages",
              "2000", "--show-detailed-stats", "--reporting-interval", "1", "--date-format", "HH:mm:ss.SSS")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ")
    counts = []
    for line in lines[1:]:
        m = re.match(r"^\d\d:\d\d:\d\d\.\d{3}, 0, \d+\.\d{4}, \d+\.\d{4}, (\d+), \d+\.\d{4}, \d+, \d+, "
                     r"\d+\.\d{4}, \d+\.\d{4}$", line)
        assert m, line
        counts.append(int(m.group(1)))
    assert counts == sorted(counts) and all(c <= 2000 for c in counts)


def test_consumer_perf_test_usage_errors(bootstrap):
    out = run("samsa-consumer-perf-test", "--bootstrap-server", bootstrap, "--topic", "t")
    assert (out.returncode, out.stderr) == (2, 'Missing required argument "[messages]"\n')
    out = run("samsa-consumer-perf-test", "--bootstrap-server", bootstrap, "--topic", "t", "--messages", "1",
              "--threads", "4")
    assert (out.returncode, out.stderr) == (2, "--threads and --num-fetch-threads: samsa-consumer-perf-test reads "
                                               "with one thread; only 1 is accepted\n")
