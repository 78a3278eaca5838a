"""Replication with real brokers (tools/samsa-cluster, 3 brokers): followers
fetch from their leader with replica fetchers, so an RF-3 partition ends up
with three byte-identical logs (samsa-dump-log shows the same batches: the
same offsets, CRCs and sizes), and after the leader is SIGKILLed the new
leader serves every record that was consumed before."""
import glob
import json
import os
import re
import signal
import socket
import struct
import subprocess

import pytest

from conftest import binary
from test_acks import _recv, produce
from test_controller import SESSION_MS, Cluster, kcat, wait_for, zk_cli

TOPIC = "replicated"
RECORDS = 10000


def batches(c, broker_id, topic, partition=0):
    """The batches of one replica as samsa-dump-log prints them, without the
    file position (segments may roll at other points on each replica)."""
    d = os.path.join(c.dir, "broker-%d" % broker_id, "logs", "%s-%d" % (topic, partition))
    files = sorted(glob.glob(os.path.join(d, "*.log")))
    if not files:
        return []
    out = subprocess.run([binary("tools/samsa-dump-log"), *files], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return [re.sub(r" position: \d+", "", l) for l in out.stdout.splitlines() if l.startswith("baseOffset:")]


def last_offset(lines):
    m = re.match(r"baseOffset: \d+ lastOffset: (\d+)", lines[-1]) if lines else None
    return int(m.group(1)) if m else -1


def consume(bootstrap, topic, expect):
    out = kcat("-C", "-b", bootstrap, "-t", topic, "-p", "0", "-o", "beginning", "-c", str(expect), "-e",
               "-f", "%o %k %s\\n", timeout=120)
    return [l for l in out.splitlines() if l]


def test_rf3_replicas_identical_and_failover(workdir):
    c = Cluster(workdir).start()
    try:
        c.topics("--create", "--topic", TOPIC, "--partitions", "1", "--replication-factor", "3")
        d = wait_for("a leader", lambda: (lambda x: x if x.get(0, (-1,))[0] >= 0 else None)(c.describe(TOPIC)))
        leader, replicas, isr = d[0]
        assert sorted(replicas) == [1, 2, 3] and sorted(isr) == [1, 2, 3]

        payload = "".join("k%d:value-%d\n" % (i, i) for i in range(RECORDS)).encode()
        kcat("-P", "-b", c.bootstrap(leader), "-t", TOPIC, "-p", "0", "-K:", "-X", "request.required.acks=1",
             "-X", "batch.num.messages=500", input_data=payload, timeout=120)

        # Every replica's log ends at the same offset with the same batches.
        def same_logs():
            dumps = [batches(c, b, TOPIC) for b in (1, 2, 3)]
            return dumps if last_offset(dumps[0]) == RECORDS - 1 and dumps[0] == dumps[1] == dumps[2] else None
        dumps = wait_for("three identical replicas", same_logs, timeout=60, interval=0.5)
        assert all("crcValid: true" in l and "size: " in l for l in dumps[0])
        assert len(dumps[0]) >= RECORDS // 500

        # Consumers see it all on the leader (the HW follows the followers' fetches).
        before = consume(c.bootstrap(leader), TOPIC, RECORDS)
        assert len(before) == RECORDS
        assert before[0] == "0 k0 value-0" and before[-1] == "%d k%d value-%d" % (RECORDS - 1, RECORDS - 1, RECORDS - 1)

        # The leader dies; a follower takes over and serves the same records.
        c.run("kill", str(leader))
        now = wait_for("a new leader", lambda: (lambda x: x if x[0][0] not in (leader, -1) else None)(c.describe(TOPIC)),
                       timeout=SESSION_MS / 1000 + 20)
        new_leader = now[0][0]
        after = wait_for("every record on broker %d" % new_leader,
                         lambda: (lambda got: got if len(got) == RECORDS else None)(
                             consume(c.bootstrap(new_leader), TOPIC, RECORDS)), timeout=60, interval=1.0)
        assert after == before

        # The surviving follower keeps replicating from the new leader.
        kcat("-P", "-b", c.bootstrap(new_leader), "-t", TOPIC, "-p", "0", "-K:", input_data=b"late:record\n")
        survivor = next(b for b in (1, 2, 3) if b not in (leader, new_leader))
        wait_for("the survivor has the new record", lambda: last_offset(batches(c, survivor, TOPIC)) == RECORDS,
                 timeout=30, interval=0.5)
        assert batches(c, survivor, TOPIC) == batches(c, new_leader, TOPIC)
    finally:
        c.stop()


# --- acks=all, ISR shrink and expand (issue 12's acceptance) ------------------------------------

def checkpoint(c, broker_id, name="replication-offset-checkpoint"):
    """{(topic, partition): offset} of one broker's checkpoint file."""
    path = os.path.join(c.dir, "broker-%d" % broker_id, "logs", name)
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return {}
    out = {}
    for line in lines[2:]:
        topic, part, off = line.split()
        out[(topic, int(part))] = int(off)
    return out


def test_acks_all_records_survive_the_leader_and_it_rejoins(workdir):
    n = 100000
    c = Cluster(workdir, overrides=["replica.high.watermark.checkpoint.interval.ms=500"]).start()
    try:
        c.topics("--create", "--topic", "safe", "--partitions", "1", "--replication-factor", "3",
                 "--config", "min.insync.replicas=2")
        leader = wait_for("a leader with 3 in sync", lambda: (lambda d: d[0][0] if d.get(0) and d[0][0] > 0 and
                                                               len(d[0][2]) == 3 else None)(c.describe("safe")))
        payload = "".join("k%d:v%d\n" % (i, i) for i in range(n)).encode()
        kcat("-P", "-b", c.bootstrap(leader), "-t", "safe", "-p", "0", "-K:", "-X", "acks=all",
             "-X", "batch.num.messages=1000", input_data=payload, timeout=300)

        # Every record reaches consumers (kcat and kafka-python) ...
        got = consume(c.bootstrap(leader), "safe", n)
        assert len(got) == n and got[-1] == "%d k%d v%d" % (n - 1, n - 1, n - 1)
        from kafka import KafkaConsumer, TopicPartition
        kc = KafkaConsumer(bootstrap_servers=c.bootstrap(leader), enable_auto_commit=False,
                           consumer_timeout_ms=10000, api_version_auto_timeout_ms=10000)
        tp = TopicPartition("safe", 0)
        kc.assign([tp])
        kc.seek_to_beginning(tp)
        seen = 0
        for m in kc:
            assert m.offset == seen and m.key == b"k%d" % seen
            seen += 1
            if seen == n:
                break
        kc.close()
        assert seen == n
        # ... the high watermark is the log end on all three replicas (their checkpoints) ...
        wait_for("HW = LEO = %d everywhere" % n,
                 lambda: all(checkpoint(c, b).get(("safe", 0)) == n for b in (1, 2, 3)), timeout=30, interval=0.5)
        files = [os.path.join(c.dir, "broker-%d" % b, "logs", "replication-offset-checkpoint") for b in (1, 2, 3)]
        out = subprocess.run([binary("tools/samsa-dump-log"), "--compare-checkpoints", *files],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        # ... and the three logs hold the same batches.
        dumps = [batches(c, b, "safe") for b in (1, 2, 3)]
        assert last_offset(dumps[0]) == n - 1 and dumps[0] == dumps[1] == dumps[2]

        # SIGKILL of the leader after acks=all answered: the new leader has every record.
        c.run("kill", str(leader))
        new_leader = wait_for("a new leader", lambda: (lambda d: d[0][0] if d[0][0] not in (leader, -1) else None)(
            c.describe("safe")), timeout=SESSION_MS / 1000 + 20)
        after = wait_for("every record on broker %d" % new_leader,
                         lambda: (lambda g: g if len(g) == n else None)(consume(c.bootstrap(new_leader), "safe", n)),
                         timeout=60, interval=1.0)
        assert after == got
        kcat("-P", "-b", c.bootstrap(new_leader), "-t", "safe", "-p", "0", "-K:", "-X", "acks=all",
             input_data=b"late:one\n")

        # The killed broker returns, catches up and rejoins the ISR (the state znode says so).
        c.run("start-broker", str(leader))
        wait_for("broker %d back in the ISR" % leader, lambda: sorted(c.describe("safe")[0][2]) == [1, 2, 3],
                 timeout=60, interval=0.5)
        wait_for("broker %d caught up" % leader, lambda: last_offset(batches(c, leader, "safe")) == n, timeout=30,
                 interval=0.5)
        state = json.loads(zk_cli(c.zk, "get", "/brokers/topics/safe/partitions/0/state")[-1])
        assert sorted(state["isr"]) == [1, 2, 3] and state["leader"] == new_leader
    finally:
        c.stop()


NONE, NOT_ENOUGH_REPLICAS = 0, 19


def metadata_isr(bootstrap, topic):
    """The ISR of partition 0 in a broker's Metadata answer (kcat -L)."""
    out = kcat("-L", "-b", bootstrap, "-t", topic)
    m = re.search(r"partition 0, leader \d+, replicas: [\d,]+, isrs: ([\d,]+)", out)
    return sorted(int(x) for x in m.group(1).split(",")) if m else None


@pytest.mark.parametrize("ibp", ["2.8-IV1", "2.6"])
def test_a_stopped_follower_leaves_the_isr_and_returns(workdir, ibp):
    """A follower that stops fetching (SIGSTOP, its ZooKeeper session kept)
    leaves the ISR after replica.lag.time.max.ms; with min.insync.replicas 3
    acks=all producers then get NOT_ENOUGH_REPLICAS; after SIGCONT it catches
    up and returns. IBP 2.8 sends the change to the controller (AlterIsr);
    IBP 2.6 makes the leader write the state znode and an
    /isr_change_notification. Either way every broker's metadata follows."""
    c = Cluster(workdir, overrides=["replica.lag.time.max.ms=1500", "inter.broker.protocol.version=" + ibp])
    c.overrides = [o for o in c.overrides if not o.startswith("zookeeper.session.timeout.ms=")]
    c.overrides.append("zookeeper.session.timeout.ms=30000")
    c.start()
    stopped = None
    try:
        c.topics("--create", "--topic", "strict", "--partitions", "1", "--replication-factor", "3",
                 "--config", "min.insync.replicas=3")
        leader, replicas, _ = wait_for("3 in sync", lambda: (lambda d: d[0] if d.get(0) and d[0][0] > 0 and
                                                              len(d[0][2]) == 3 else None)(c.describe("strict")))
        wait_for("acks=all answered", lambda: produce(c.port(leader), "strict", 0, -1, 5000)[0] == NONE)
        # Not the controller: a stopped controller answers no AlterIsr (in Kafka too).
        ctrl = c.controller()
        follower = next(r for r in replicas if r not in (leader, ctrl))
        others = [b for b in (1, 2, 3) if b != follower]
        with open(os.path.join(c.dir, "broker-%d" % follower, "pid")) as f:
            stopped = int(f.read().strip())
        os.kill(stopped, signal.SIGSTOP)
        # Out of sync means behind the leader's log end for the lag time: a
        # follower of an idle partition is never behind (Kafka's rule too).
        assert produce(c.port(leader), "strict", 0, 1, 5000)[0] == NONE

        try:
            wait_for("broker %d out of the ISR" % follower,
                     lambda: sorted(c.describe("strict")[0][2]) == sorted(others), timeout=20, interval=0.5)
        except AssertionError as e:
            # Seen once in a loaded CI run, not reproduced since: say what the
            # leader and the controller were doing.
            tails = ["--- broker %d (%s) ---\n%s" % (b, role, "\n".join(c.log(b).splitlines()[-40:]))
                     for b, role in ((leader, "leader"), (ctrl, "controller")) if b is not None]
            raise AssertionError("%s\n%s" % (e, "\n".join(tails))) from None
        assert "strict-0: shrinking ISR from" in c.log(leader)
        error, _, _ = produce(c.port(leader), "strict", 0, -1, 5000)
        assert error == NOT_ENOUGH_REPLICAS
        for b in others:  # the controller's UpdateMetadata reached every live broker
            wait_for("broker %d's metadata" % b, lambda: metadata_isr(c.bootstrap(b), "strict") == sorted(others),
                     timeout=30, interval=0.5)
        way = "to ZooKeeper, written by the leader" if ibp == "2.6" else "to the controller (AlterIsr)"
        assert "ISR changes go " + way in c.log(leader)

        os.kill(stopped, signal.SIGCONT)
        stopped = None
        wait_for("broker %d back in the ISR" % follower,
                 lambda: sorted(c.describe("strict")[0][2]) == [1, 2, 3], timeout=30, interval=0.5)
        wait_for("acks=all answered again", lambda: produce(c.port(leader), "strict", 0, -1, 5000)[0] == NONE,
                 timeout=30)
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        c.stop()


def replica_progress(c, topic, mode):
    """samsa-topics --describe --replicas for partition 0, through a broker
    or through ZooKeeper: {broker id: {field: value}} from the replica lines
    ("Leader" maps to "")."""
    if mode == "bootstrap":
        out = subprocess.run([binary("tools/samsa-topics"), "--bootstrap-server", c.bootstrap(), "--describe",
                              "--topic", topic, "--replicas"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
    else:
        out = c.topics("--describe", "--topic", topic, "--replicas")
    progress = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\t\tReplica: (\d+)\t(.*)$", line)
        if m:
            fields = (f.split(": ", 1) if ": " in f else (f, "") for f in m.group(2).split("\t"))
            progress[int(m.group(1))] = dict(fields)
    return progress


def ms_ago(field):
    m = re.fullmatch(r"(\d+) ms ago", field)
    assert m, field
    return int(m.group(1))


def first_led_topic(port):
    """DescribeReplicaState v0 with a null topic list (every partition the
    broker leads), by hand: the name of the first topic in the answer, or
    None when it lists none."""
    client = b"t"
    payload = (struct.pack(">hhih", 32000, 0, 9, len(client)) + client + b"\0"  # header v2, no tags
               + b"\0\0")  # topics: null; no tags
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv(s, 4))[0]
        body = _recv(s, size)
    assert struct.unpack(">i", body[:4])[0] == 9 and body[4] == 0  # correlation id, no tags
    pos = 9  # after throttle_time_ms

    def uvarint():
        nonlocal pos
        shift = value = 0
        while True:
            b = body[pos]
            pos += 1
            value |= (b & 0x7f) << shift
            shift += 7
            if b < 0x80:
                return value
    if uvarint() - 1 <= 0:  # topics: compact array length + 1
        return None
    n = uvarint() - 1
    return body[pos:pos + n].decode()


def test_replicas_shows_each_followers_progress_from_the_leader(workdir):
    """samsa-topics --describe --replicas (DescribeReplicaState to the
    leader), with --bootstrap-server and with --zookeeper: in sync, every
    follower has the leader's LEO and Lag 0; a SIGSTOPped follower falls
    N records behind, leaves the ISR and its LastCaughtUp keeps growing;
    after SIGCONT it is back at Lag 0 in the ISR."""
    c = Cluster(workdir, overrides=["replica.lag.time.max.ms=1500"])
    c.overrides = [o for o in c.overrides if not o.startswith("zookeeper.session.timeout.ms=")]
    c.overrides.append("zookeeper.session.timeout.ms=30000")
    c.start()
    stopped = None
    modes = ("bootstrap", "zookeeper")
    try:
        c.topics("--create", "--topic", "progress", "--partitions", "1", "--replication-factor", "3")
        leader, replicas, _ = wait_for("3 in sync", lambda: (lambda d: d[0] if d.get(0) and d[0][0] > 0 and
                                                              len(d[0][2]) == 3 else None)(c.describe("progress")))
        wait_for("acks=all answered", lambda: produce(c.port(leader), "progress", 0, -1, 5000)[0] == NONE)
        for _ in range(9):
            assert produce(c.port(leader), "progress", 0, -1, 5000)[0] == NONE
        # a null topic list: what the broker leads, nothing it only follows
        assert first_led_topic(c.port(leader)) == "progress"
        assert first_led_topic(c.port(next(r for r in replicas if r != leader))) is None
        # acks=all answered: the leader saw every follower fetch at its LEO
        leo = int(replica_progress(c, "progress", "bootstrap")[leader]["LogEndOffset"])
        assert leo >= 10
        followers = [r for r in replicas if r != leader]
        for mode in modes:
            p = replica_progress(c, "progress", mode)
            assert sorted(p) == [1, 2, 3]
            assert p[leader] == {"Leader": "", "LogEndOffset": str(leo), "HighWatermark": str(leo)}
            for f in followers:
                assert p[f]["InIsr"] == "true" and p[f]["LogEndOffset"] == str(leo) and p[f]["Lag"] == "0"
                ms_ago(p[f]["LastCaughtUp"])

        # Not the controller: a stopped controller answers no AlterIsr (in Kafka too).
        ctrl = c.controller()
        follower = next(f for f in followers if f != ctrl)
        with open(os.path.join(c.dir, "broker-%d" % follower, "pid")) as f:
            stopped = int(f.read().strip())
        os.kill(stopped, signal.SIGSTOP)
        behind = 5
        for _ in range(behind):
            assert produce(c.port(leader), "progress", 0, 1, 5000)[0] == NONE
        wait_for("broker %d out of the ISR" % follower,
                 lambda: replica_progress(c, "progress", "bootstrap")[follower]["InIsr"] == "false",
                 timeout=20, interval=0.5)
        seen = []
        for mode in modes:
            p = replica_progress(c, "progress", mode)
            assert p[leader]["LogEndOffset"] == str(leo + behind)
            assert p[follower]["InIsr"] == "false"
            assert p[follower]["LogEndOffset"] == str(leo) and p[follower]["Lag"] == str(behind)
            seen.append(ms_ago(p[follower]["LastCaughtUp"]))
            other = next(f for f in followers if f != follower)
            assert p[other]["InIsr"] == "true" and p[other]["Lag"] == "0"
        assert seen[0] > 1500 and seen[1] > seen[0]  # still counting

        os.kill(stopped, signal.SIGCONT)
        stopped = None

        def all_caught_up(mode):
            p = replica_progress(c, "progress", mode)
            return all(p[f]["InIsr"] == "true" and p[f]["Lag"] == "0" and
                       p[f]["LogEndOffset"] == str(leo + behind) for f in followers)
        for mode in modes:
            wait_for("broker %d caught up (%s)" % (follower, mode), lambda: all_caught_up(mode), timeout=30,
                     interval=0.5)
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        c.stop()
