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
