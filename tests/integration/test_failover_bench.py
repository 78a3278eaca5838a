"""tools/samsa-failover-bench: a real cluster (samsa-cluster: ZooKeeper and
three brokers) whose victim broker leads 50 partitions, killed and then
stopped. The bench must give every partition a new leader, print its summary
with figures, and leave no process running. No timing is asserted.
"""
import os
import re
import subprocess

from conftest import ROOT, binary

CLUSTER = os.path.join(ROOT, "tools", "samsa-cluster")

NUM = r"(-?\d+)"
FAILURE = re.compile(
    r"^broker failure \(SIGKILL\): znode deleted %s ms after the kill; "
    r"last new leader state written \+%s ms; "
    r"last LeaderAndIsr answered(?: \+%s ms|: not logged by the controller, last applied by a broker \+%s ms) "
    r"\((\d+\.\d+) ms/partition; book: 5 ms/partition, (?:(\d+)x better|too fast to compare)\)" % (NUM, NUM, NUM, NUM),
    re.M)
SHUTDOWN = re.compile(
    r"^controlled shutdown: last new leader state written \+%s ms; "
    r"last LeaderAndIsr answered(?: \+%s ms|: not logged by the controller, last applied by a broker \+%s ms) "
    r"\((\d+\.\d+) ms/partition; book: 5 ms/partition, (?:(\d+)x better|too fast to compare)\)" % (NUM, NUM, NUM),
    re.M)


def bench(*args, timeout=300):
    return subprocess.run([binary("tools/samsa-failover-bench"), "--broker", binary("broker/samsa-broker"),
                           "--cluster-script", CLUSTER, *args],
                          capture_output=True, text=True, timeout=timeout)


def cluster_status(cluster_dir):
    return subprocess.run([CLUSTER, "--dir", cluster_dir, "status"], capture_output=True, text=True, timeout=60)


def test_fifty_partitions_move_and_the_summary_has_figures(workdir):
    cluster_dir = os.path.join(workdir, "cluster")
    out = bench("--partitions", "50", "--dir", cluster_dir)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "samsa-failover-bench: 50 partitions, 3 brokers, victim broker 2, controller broker " in text, text
    # every partition moved in both runs, away from broker 2
    moved = re.findall(r"^  (\d+) of (\d+) partitions have a new leader \((.*)\)$", text, re.M)
    assert [(m[0], m[1]) for m in moved] == [("50", "50"), ("50", "50")], text
    for m in moved:
        leaders = dict((int(b), int(n)) for b, n in re.findall(r"broker (\d+): (\d+)", m[2]))
        assert 2 not in leaders and sum(leaders.values()) == 50, m

    f = FAILURE.search(text)
    assert f, text
    deleted, written = int(f.group(1)), int(f.group(2))
    assert deleted >= 0 and written >= 0
    assert f.group(3) is not None or f.group(4) is not None
    assert float(f.group(5)) >= 0

    s = SHUTDOWN.search(text)
    assert s, text
    assert int(s.group(1)) >= 0
    assert s.group(2) is not None or s.group(3) is not None
    assert float(s.group(4)) >= 0
    assert "FAILED" not in text

    # the given folder is kept, and the cluster in it is stopped
    assert os.path.exists(os.path.join(cluster_dir, "cluster.conf"))
    st = cluster_status(cluster_dir)
    assert st.returncode == 3, st.stdout + st.stderr
    assert re.search(r"^zookeeper +pid - +down", st.stdout, re.M), st.stdout
    for i in (1, 2, 3):
        assert re.search(r"^broker-%d +pid - +down" % i, st.stdout, re.M), st.stdout


def test_usage_errors_exit_2_without_starting_anything(workdir):
    cluster_dir = os.path.join(workdir, "cluster")
    for args, says in ((["--brokers", "1"], "--brokers"),
                       (["--victim", "4"], "--victim 4 is not one of the brokers 1..3"),
                       (["--partitions", "0"], "--partitions"),
                       (["--frobnicate"], "unknown"),
                       (["extra"], "unexpected argument")):
        out = bench("--dir", cluster_dir, *args, timeout=30)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert says in out.stderr, (args, out.stderr)
    assert not os.path.exists(cluster_dir)


def test_help_exits_0():
    out = subprocess.run([binary("tools/samsa-failover-bench"), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "--partitions N" in out.stdout


# ---- client rounds (--scenarios) ----

import csv

SCENARIOS = ("kill-leader", "kill-controller", "pause", "controlled-shutdown", "zk-leader", "zk-quorum")
ROUND = re.compile(r"^round (%s) (\d+)/(\d+): (.*?), detection (?:\+(\d+) ms|-), election (?:\+(\d+) ms|-), "
                   r"propagation (?:\+(\d+) ms|-), client recovery (?:\+(\d+) ms|-); "
                   r"unavailable p50/p99/max (-?\d+)/(-?\d+)/(-?\d+) ms \(calm p99 (-?\d+) ms\); consumer gap p99/max (-?\d+)/(-?\d+) ms; "
                   r"(\d+) leaders moved(?:, (\d+) brokers lost their registration)?; errors: (.*)$"
                   % "|".join(SCENARIOS), re.M)
ROUND_COLUMNS = ["scenario", "round", "target", "t0_ms", "detection_ms", "election_ms", "propagation_ms",
                 "recovery_ms", "ours_ms", "unavail_p50_ms", "unavail_p99_ms", "unavail_max_ms",
                 "calm_gap_p99_ms", "consumer_gap_p99_ms", "consumer_gap_max_ms", "leaders_moved", "deregistered",
                 "failed", "errors", "lost", "done"]


def test_every_scenario_loses_nothing_and_writes_the_report(workdir):
    """One round of each scenario on 30 partitions (several rounds in a row
    are test_kill_rounds' part, on the same ledger): every round completes,
    the ledger finds nothing acknowledged lost, the paused broker never
    acknowledged after its replacement, the broker scenarios detect through
    the session and move leaders, the ZooKeeper leader's death moves
    nothing and deregisters no broker, and the report's files parse."""
    cluster_dir = os.path.join(workdir, "cluster")
    report = os.path.join(workdir, "report")
    trace = os.path.join(workdir, "acks-trace.csv")
    out = bench("--scenarios", "all", "--rounds", "1", "--partitions", "30", "--session-timeout", "4000",
                "--rate", "300", "--seed", "5", "--down-ms", "500", "--dir", cluster_dir, "--report", report,
                "--ack-trace", trace, timeout=420)
    text = out.stdout
    assert out.returncode == 0, text + out.stderr
    rounds = ROUND.findall(text)
    assert [(r[0], r[1]) for r in rounds] == [(s, "1") for s in SCENARIOS], text
    for r in rounds:
        scenario, detection, election, moved = r[0], r[4], r[5], int(r[14])
        assert "FAILED" not in r[16], text
        if scenario.startswith("zk-"):
            assert detection == "" and election == "", r
        else:
            # the victim's registration went and its partitions got leaders
            assert detection != "" and election != "" and moved > 0, r
        if scenario == "zk-leader":
            assert moved == 0 and r[15] == "0", r
        # 10 records a second a partition: its last interval before T0 is
        # one answer to the next, never 0 (a batch's records count once)
        assert int(r[11]) > 0, r
    assert figure(text, "lost") == 0, text
    assert figure(text, "acknowledged") > 0, text
    assert "pause: no acknowledgement after replacement (1 round, 0 acknowledged records lost)" in text, text
    assert "result: OK" in text, text

    with open(os.path.join(report, "rounds.csv"), newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ROUND_COLUMNS
        rows = list(reader)
    assert [(r["scenario"], r["round"]) for r in rows] == [(s, "1") for s in SCENARIOS]
    assert all(r["lost"] == "0" and r["done"] == "1" for r in rows), rows
    with open(os.path.join(report, "partitions.csv"), newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["scenario", "round", "partition", "unavailable_ms", "consumer_gap_ms"]
        assert len(list(reader)) == 6 * 30
    with open(os.path.join(report, "acks.csv"), newline="") as f:
        assert sum(int(r["acks"]) for r in csv.DictReader(f)) == figure(text, "acknowledged")
    # the trace: one line per acknowledgement, in the order they came,
    # each naming the broker that answered
    with open(trace) as f:
        lines = [line.split(",") for line in f.read().splitlines()]
    assert len(lines) == figure(text, "acknowledged")
    assert all(len(x) == 4 and 0 <= int(x[1]) < 30 and int(x[2]) in (1, 2, 3) and int(x[3]) >= 0 for x in lines)
    assert [int(x[0]) for x in lines] == sorted(int(x[0]) for x in lines)
    md = open(os.path.join(report, "report.md")).read()
    for s in SCENARIOS:
        assert "\n## %s\n\n1 round (1 completed); lost 0;" % s in md, md
    for png in ("acks.png", "unavailability-cdf.png", "phases.png"):
        with open(os.path.join(report, png), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", png

    st = cluster_status(cluster_dir)
    assert st.returncode == 3, st.stdout + st.stderr


def figure(text, name):
    m = re.search(r"^%s: (\d+)$" % re.escape(name), text, re.M)
    assert m, (name, text)
    return int(m.group(1))


def test_report_without_scenarios_is_a_usage_error(workdir):
    out = bench("--report", os.path.join(workdir, "r"), timeout=30)
    assert out.returncode == 2
    assert "--report is for the client rounds" in out.stderr
    out = bench("--scenarios", "kill-leader,frobnicate", timeout=30)
    assert out.returncode == 2
    assert "--scenarios wants names among" in out.stderr
