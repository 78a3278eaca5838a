"""tools/samsa-kill-rounds: a real cluster (samsa-cluster: ZooKeeper and three
brokers), a producer with acks=all, rounds of SIGKILL / SIGSTOP / ZooKeeper
restarts chosen by a seed, then every partition read back against the ledger
of acknowledgements and every replica compared batch by batch.

A short run of the real thing must lose nothing and find the replicas
identical; a run set up to lose data (one replica, its folder deleted while
its broker is down) must report the loss and exit 1, so the check is shown
able to fail. No timing is asserted.
"""
import json
import os
import re
import subprocess

from conftest import ROOT, binary

CLUSTER = os.path.join(ROOT, "tools", "samsa-cluster")
SESSION_MS = 2000

ROUND = re.compile(r"^round (\d+)/(\d+): (kill-leader|kill-controller|stop-follower|restart-zookeeper|kill-isr) (.*): "
                   r"longest without an ack (\d+) ms, (\d+) failed.*; (?:settled in \d+ ms|NOT settled .*); acks (\d+)$",
                   re.M)


def kill_rounds(*args, timeout=600):
    return subprocess.run([binary("tools/samsa-kill-rounds"), "--broker", binary("broker/samsa-broker"),
                           "--cluster-script", CLUSTER, "--session-ms", str(SESSION_MS), *args],
                          capture_output=True, text=True, timeout=timeout)


def figure(text, name):
    m = re.search(r"^%s: (\d+)" % re.escape(name), text, re.M)
    assert m, (name, text)
    return int(m.group(1))


def assert_cluster_stopped(cluster_dir):
    st = subprocess.run([CLUSTER, "--dir", cluster_dir, "status"], capture_output=True, text=True, timeout=60)
    assert st.returncode == 3, st.stdout + st.stderr
    assert re.search(r"^zookeeper +pid - +down", st.stdout, re.M), st.stdout
    assert not re.search(r"^broker-\d+ +pid \d+", st.stdout, re.M), st.stdout


def test_six_rounds_lose_no_acknowledged_record(workdir):
    cluster_dir = os.path.join(workdir, "cluster")
    report = os.path.join(workdir, "report.json")
    out = kill_rounds("--dir", cluster_dir, "--rounds", "6", "--seed", "3", "--rate", "50",
                      "--down-ms", "1500", "--stop-ms", "1500", "--json", report)
    text = out.stdout
    assert out.returncode == 0, text + out.stderr
    rounds = ROUND.findall(text)
    assert [int(r[0]) for r in rounds] == [1, 2, 3, 4, 5, 6], text
    assert all(r[1] == "6" for r in rounds), text
    # seed 3 draws more than one kind of failure in six rounds
    assert len({r[2] for r in rounds}) >= 2, text
    assert "every replica back in every ISR" in text, text

    acknowledged = figure(text, "acknowledged")
    assert acknowledged > 0
    assert figure(text, "lost") == 0, text
    assert figure(text, "consumed") >= acknowledged, text
    assert figure(text, "acknowledged offset holds another record") == 0, text
    assert re.findall(r"^partition (\d+): high watermark \d+, 3 replicas identical", text, re.M) == ["0", "1", "2"], text
    assert "replicas identical: yes" in text and "result: OK" in text, text

    with open(report) as f:
        j = json.load(f)
    assert j["lost"] == 0 and j["replicas_identical"] is True and j["ok"] is True
    assert j["acknowledged"] == acknowledged
    assert [r["action"] for r in j["rounds"]] == [r[2] for r in rounds]
    assert j["replication_factor"] == 3 and j["min_insync_replicas"] == 2 and j["partitions"] == 3
    assert_cluster_stopped(cluster_dir)


def test_a_replica_wiped_while_down_is_reported_lost(workdir):
    """One replica only, and the killed broker's partition folder deleted
    before it restarts: every record acknowledged before the kill is gone,
    and the tool must say so, list them and exit 1."""
    cluster_dir = os.path.join(workdir, "cluster")
    report = os.path.join(workdir, "report.json")
    out = kill_rounds("--dir", cluster_dir, "--rounds", "1", "--seed", "1", "--rate", "50",
                      "--replication-factor", "1", "--min-insync-replicas", "1", "--partitions", "1",
                      "--actions", "kill-leader", "--down-ms", "2500", "--wipe-killed", "--json", report)
    text = out.stdout
    assert out.returncode == 1, text + out.stderr
    assert len(ROUND.findall(text)) == 1 and "kill-leader broker" in text, text
    lost = figure(text, "lost")
    assert lost > 0, text
    # the first lost records are listed with where they had been acknowledged:
    # the oldest ones, from offset 0 of the wiped partition
    listed = re.findall(r"^  lost seq (\d+) \(acknowledged at kill-rounds-0 offset (\d+)\)$", text, re.M)
    assert listed[0] == ("0", "0"), text
    assert len(listed) == min(lost, 10), text
    assert figure(text, "consumed") == figure(text, "acknowledged") - lost + figure(text, "unacknowledged but present")
    assert "result: FAILED" in text, text
    with open(report) as f:
        j = json.load(f)
    assert j["lost"] == lost and j["ok"] is False
    assert j["lost_first"][0] == {"seq": 0, "partition": 0, "offset": 0}
    assert_cluster_stopped(cluster_dir)


KILL_ISR = re.compile(r"^  offline (\d+) ms(.*); then led by broker (\d+)( \(unclean election\))?, (\d+) acknowledged "
                      r"records lost with what it lacked$", re.M)


def kill_isr_round(workdir, unclean):
    """One kill-isr round on a fresh cluster: a follower of a partition is
    killed and waited out of its ISR, records are acknowledged without it,
    then every ISR member is killed and the follower starts first."""
    cluster_dir = os.path.join(workdir, "cluster")
    report = os.path.join(workdir, "report.json")
    out = kill_rounds("--dir", cluster_dir, "--rounds", "1", "--seed", "1", "--rate", "50", "--actions", "kill-isr",
                      "--down-ms", "1500", "--unclean", unclean, "--json", report)
    with open(report) as f:
        j = json.load(f)
    assert_cluster_stopped(cluster_dir)
    return out, out.stdout, j


def test_kill_isr_without_unclean_election_stays_offline_and_loses_nothing(workdir):
    out, text, j = kill_isr_round(workdir, "false")
    assert out.returncode == 0, text + out.stderr
    (offline, note, elected, unclean, lacked), = KILL_ISR.findall(text)
    (r,) = j["rounds"]
    f = int(re.search(r"kill-isr broker (\d+) \(follower", text).group(1))
    # no leader while only the out-of-sync replica was up; then an ISR member leads
    assert note == " (no leader while the out-of-sync replica was up)" and r["stayed_offline"] is True, text
    assert int(elected) != f and not unclean and lacked == "0", text
    assert int(offline) >= 1500 and r["offline_ms"] == int(offline) == j["offline_longest_ms"]
    assert re.search(r"^longest offline window: %s ms \(round 1" % offline, text, re.M), text
    assert figure(text, "lost") == 0 and j["lost"] == 0 and j["lacked_by_elected"] == 0, text
    assert "replicas identical: yes" in text and "result: OK" in text, text


def test_kill_isr_with_unclean_election_loses_only_what_the_elected_replica_lacked(workdir):
    out, text, j = kill_isr_round(workdir, "true")
    assert out.returncode == 0, text + out.stderr
    (offline, _, elected, unclean, lacked), = KILL_ISR.findall(text)
    f = int(re.search(r"kill-isr broker (\d+) \(follower", text).group(1))
    (r,) = j["rounds"]
    assert int(elected) == f and unclean and r["unclean_election"] is True and r["elected"] == f, text
    # records were acknowledged while f was out of the ISR: the election loses them, and only them
    lost = figure(text, "lost")
    assert lost > 0 and lost == int(lacked) == r["lacked"], text
    assert j["lost"] == j["lost_lacked_by_elected"] == j["lacked_by_elected"] == lost and j["lost_unexplained"] == 0
    assert figure(text, "lost otherwise") == 0, text
    assert figure(text, "consumed") == figure(text, "acknowledged") - lost + figure(text, "unacknowledged but present")
    assert j["offline_longest_ms"] == r["offline_ms"] == int(offline) >= 0
    # the old ISR members came back as followers, truncated to f's history
    assert "replicas identical: yes" in text and "result: OK" in text and j["ok"] is True, text


def test_usage_errors_exit_2_without_starting_anything(workdir):
    cluster_dir = os.path.join(workdir, "cluster")
    out = subprocess.run([binary("tools/samsa-kill-rounds"), "--attach"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "--attach needs --dir" in out.stderr, out.stderr
    for args, says in ((["--unclean", "maybe"], "--unclean wants true or false"),
                       (["--actions", "kill-leader,explode"], "--actions"),
                       (["--replication-factor", "4"], "--replication-factor 4 needs as many brokers"),
                       (["--rounds", "-1"], "--rounds"),
                       (["--frobnicate"], "unknown"),
                       (["extra"], "unexpected argument")):
        out = kill_rounds("--dir", cluster_dir, *args, timeout=30)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert says in out.stderr, (args, out.stderr)
    assert not os.path.exists(cluster_dir)
    out = subprocess.run([binary("tools/samsa-kill-rounds"), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "--wipe-killed" in out.stdout
