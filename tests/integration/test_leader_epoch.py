"""Leader epochs with real brokers (storage-and-replication.md §8): the
leader answers OffsetsForLeaderEpoch as Kafka's endOffsetFor does and fences
Fetch, ListOffsets and OffsetsForLeaderEpoch by current_leader_epoch
(KIP-320); a follower taking a partition over truncates to where its
history and the leader's part (KIP-101, KIP-279), never simply to its high
watermark — KIP-101's two scenarios, each engineered step by step:

1. the follower that would lose m2: it holds m1, m2 with its HW still at m1
   (the leader's HW moved past m2, the follower would learn it a fetch
   later), restarts, takes the partition over while the leader cannot serve
   it, and leads once the old leader is gone: m2 must survive;
2. the replicas that would diverge: after a power-loss-like double failure
   the follower lost its unflushed m2, comes back first, leads and takes m3
   at m2's offset; the old leader returns with m2 below its HW: it must drop
   m2 and take m3, leaving both logs identical.

samsa's controller, like Kafka's, takes a dead replica out of the ISR, so
in both scenarios the replica that returns first can lead only through an
unclean election (the topics enable it). That election loses nothing here:
the new leader holds every record it had; only truncating to the HW would
lose or diverge."""
import os
import signal
import struct
import time

from kafka.protocol.api import Request, Response
from kafka.protocol.fetch import FetchRequest
from kafka.protocol.types import Array, Int8, Int16, Int32, Int64, Schema, String

from test_acks import produce, roundtrip
from test_controller import Cluster, kcat, wait_for
from test_replication import batches, checkpoint

NONE, UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER = 0, 3, 6
FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH = 74, 75


# --- raw requests ------------------------------------------------------------------

class OffsetForLeaderEpochResponse_v3(Response):
    API_KEY = 23
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("topics", Array(
            ("topic", String("utf-8")),
            ("partitions", Array(
                ("error_code", Int16),
                ("partition", Int32),
                ("leader_epoch", Int32),
                ("end_offset", Int64))))))


class OffsetForLeaderEpochRequest_v3(Request):
    API_KEY = 23
    API_VERSION = 3
    RESPONSE_TYPE = OffsetForLeaderEpochResponse_v3
    SCHEMA = Schema(
        ("replica_id", Int32),
        ("topics", Array(
            ("topic", String("utf-8")),
            ("partitions", Array(
                ("partition", Int32),
                ("current_leader_epoch", Int32),
                ("leader_epoch", Int32))))))


# kafka-python 2.0.2's ListOffsets v4 sends current_leader_epoch as an
# int64; the protocol's is an int32.
class ListOffsetsResponse_v4(Response):
    API_KEY = 2
    API_VERSION = 4
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("topics", Array(
            ("topic", String("utf-8")),
            ("partitions", Array(
                ("partition", Int32),
                ("error_code", Int16),
                ("timestamp", Int64),
                ("offset", Int64),
                ("leader_epoch", Int32))))))


class ListOffsetsRequest_v4(Request):
    API_KEY = 2
    API_VERSION = 4
    RESPONSE_TYPE = ListOffsetsResponse_v4
    SCHEMA = Schema(
        ("replica_id", Int32),
        ("isolation_level", Int8),
        ("topics", Array(
            ("topic", String("utf-8")),
            ("partitions", Array(
                ("partition", Int32),
                ("current_leader_epoch", Int32),
                ("timestamp", Int64))))))


def epoch_end(port, topic, partition, leader_epoch, current_leader_epoch=-1, replica_id=-1):
    """OffsetsForLeaderEpoch v3 for one partition: (error, leader epoch, end offset)."""
    resp = roundtrip(port, OffsetForLeaderEpochRequest_v3(
        replica_id=replica_id, topics=[(topic, [(partition, current_leader_epoch, leader_epoch)])]))
    (name, parts), = resp.topics
    (error, index, epoch, end), = parts
    assert name == topic and index == partition
    return error, epoch, end


def list_latest(port, topic, current_leader_epoch):
    """ListOffsets v4 "latest" for partition 0: (error, offset, leader epoch)."""
    resp = roundtrip(port, ListOffsetsRequest_v4(replica_id=-1, isolation_level=0,
                                                 topics=[(topic, [(0, current_leader_epoch, -1)])]))
    (_, parts), = resp.topics
    (_, error, _, offset, epoch), = parts
    return error, offset, epoch


def fetch_error(port, topic, current_leader_epoch):
    """Fetch v11 of partition 0 from offset 0 as a consumer: the partition's error."""
    req = FetchRequest[11](replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=1 << 20, isolation_level=0,
                           session_id=0, session_epoch=-1,
                           topics=[(topic, [(0, current_leader_epoch, 0, -1, 1 << 20)])],
                           forgotten_topics_data=[], rack_id="")
    (_, parts), = roundtrip(port, req).topics
    return parts[0][1]


# --- helpers -------------------------------------------------------------------------

def pid_of(c, broker_id):
    with open(os.path.join(c.dir, "broker-%d" % broker_id, "pid")) as f:
        return int(f.read().split()[0])


def roles(c):
    """(controller, a, b): the controller and the two other brokers of a
    three-broker cluster — the scenarios never stop the controller."""
    ctrl = c.controller()
    a, b = [i for i in (1, 2, 3) if i != ctrl]
    return ctrl, a, b


def set_session_timeout(c, broker_id, ms):
    """Restarts a broker (without partitions yet) with its own ZooKeeper
    session timeout: a leader that must stay registered while SIGSTOPped."""
    path = os.path.join(c.dir, "broker-%d" % broker_id, "server.properties")
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if not l.startswith("zookeeper.session.timeout.ms")]
    with open(path, "w") as f:
        f.write("\n".join(lines + ["zookeeper.session.timeout.ms=%d" % ms]) + "\n")
    c.run("restart", str(broker_id))


def led_by(c, topic, leader, isr=None):
    def check():
        d = c.describe(topic).get(0)
        return d if d and d[0] == leader and (isr is None or sorted(d[2]) == sorted(isr)) else None
    return check


def records(c, broker_id, topic):
    """What a consumer reads from broker_id: ["offset value", ...]."""
    out = kcat("-C", "-b", c.bootstrap(broker_id), "-t", topic, "-p", "0", "-o", "beginning", "-e",
               "-f", "%o %s\\n", timeout=60)
    return [l for l in out.splitlines() if l]


def create(c, topic, leader, follower):
    c.topics("--create", "--topic", topic, "--replica-assignment", "%d:%d" % (leader, follower),
             "--config", "unclean.leader.election.enable=true")
    wait_for("%s led by %d with both in sync" % (topic, leader), led_by(c, topic, leader, [leader, follower]))


def acked(c, broker_id, topic, value):
    """Produces value with acks=all; its offset."""
    error, base, _ = produce(c.port(broker_id), topic, 0, -1, 30000, value)
    assert error == NONE, "produce of %r answered %d" % (value, error)
    return base


# --- the leader's answers and fencing ---------------------------------------------------

def test_offsets_for_leader_epoch_and_fencing(workdir):
    c = Cluster(workdir, brokers=2).start()
    try:
        c.topics("--create", "--topic", "fenced", "--replica-assignment", "1:2")
        wait_for("fenced led by 1, both in sync", led_by(c, "fenced", 1, [1, 2]))
        assert acked(c, 1, "fenced", b"a") == 0
        assert acked(c, 1, "fenced", b"b") == 1
        error, _, first_epoch = list_latest(c.port(1), "fenced", -1)
        assert error == NONE

        # Broker 2 takes over in a new epoch, which starts at its LEO (2).
        c.run("kill", "1")
        wait_for("broker 2 leading", led_by(c, "fenced", 2))
        wait_for("broker 2 serving", lambda: list_latest(c.port(2), "fenced", -1)[0] == NONE)
        assert acked(c, 2, "fenced", b"c") == 2
        error, latest, epoch = list_latest(c.port(2), "fenced", -1)
        assert (error, latest) == (NONE, 3) and epoch > first_epoch

        # endOffsetFor: the latest epoch ends at the LEO, an older one where
        # the next starts, an unknown one below the latest is answered with
        # the largest below it, one above the latest is unknown.
        assert epoch_end(c.port(2), "fenced", 0, epoch) == (NONE, epoch, 3)
        assert epoch_end(c.port(2), "fenced", 0, first_epoch) == (NONE, first_epoch, 2)
        if epoch - first_epoch > 1:
            assert epoch_end(c.port(2), "fenced", 0, epoch - 1) == (NONE, first_epoch, 2)
        assert epoch_end(c.port(2), "fenced", 0, epoch + 5) == (NONE, -1, -1)
        assert epoch_end(c.port(2), "fenced", 0, epoch, replica_id=1) == (NONE, epoch, 3)
        # current_leader_epoch: the leader's, or not given, passes; older is
        # fenced, newer unknown; on other partitions the usual errors.
        assert epoch_end(c.port(2), "fenced", 0, epoch, current_leader_epoch=epoch) == (NONE, epoch, 3)
        assert epoch_end(c.port(2), "fenced", 0, epoch, current_leader_epoch=epoch - 1) == (FENCED_LEADER_EPOCH, -1, -1)
        assert epoch_end(c.port(2), "fenced", 0, epoch, current_leader_epoch=epoch + 1) == (UNKNOWN_LEADER_EPOCH, -1, -1)
        assert epoch_end(c.port(2), "fenced", 7, epoch)[0] == UNKNOWN_TOPIC_OR_PARTITION

        # Fetch and ListOffsets are fenced alike.
        assert fetch_error(c.port(2), "fenced", epoch) == NONE
        assert fetch_error(c.port(2), "fenced", -1) == NONE
        assert fetch_error(c.port(2), "fenced", epoch - 1) == FENCED_LEADER_EPOCH
        assert fetch_error(c.port(2), "fenced", epoch + 1) == UNKNOWN_LEADER_EPOCH
        assert list_latest(c.port(2), "fenced", epoch) == (NONE, 3, epoch)
        assert list_latest(c.port(2), "fenced", epoch - 1)[0] == FENCED_LEADER_EPOCH
        assert list_latest(c.port(2), "fenced", epoch + 1)[0] == UNKNOWN_LEADER_EPOCH

        # Broker 1 returns as a follower: it asks, keeps its history (the
        # same up to 2) and catches up; a follower answers no epochs.
        c.run("start-broker", "1")
        wait_for("broker 1 back in sync", led_by(c, "fenced", 2, [1, 2]), timeout=60)
        assert epoch_end(c.port(1), "fenced", 0, epoch)[0] == NOT_LEADER_OR_FOLLOWER
        wait_for("identical replicas", lambda: batches(c, 1, "fenced") == batches(c, 2, "fenced"))
    finally:
        c.stop()


# --- KIP-101 scenario 1: the follower that would lose m2 ----------------------------------

def test_follower_with_m2_above_its_hw_keeps_it(workdir):
    # A follower long-polls replica.fetch.wait.max.ms when it is caught up:
    # that is how long its HW trails the leader's after the last append.
    c = Cluster(workdir, overrides=["replica.fetch.wait.max.ms=10000"]).start()
    stopped = None
    try:
        _, a, b = roles(c)  # a: the follower, b: the leader
        set_session_timeout(c, b, 12000)
        create(c, "m2", b, a)
        assert acked(c, b, "m2", b"m1") == 0
        assert acked(c, b, "m2", b"m2") == 1  # acks=all: a holds m2, b's HW is 2
        # a learns HW 2 only with its next fetch's answer, 10 s from now:
        # freeze it now, check its log holds m2, and kill it.
        os.kill(pid_of(c, a), signal.SIGSTOP)
        assert len(batches(c, a, "m2")) == 2
        c.run("kill", str(a))
        assert checkpoint(c, a).get(("m2", 0), 0) <= 1  # its HW on disk: below m2
        wait_for("a out of the ISR", led_by(c, "m2", b, [b]))

        # The leader cannot serve a (but stays registered and leads) while a
        # restarts and takes the partition over.
        os.kill(pid_of(c, b), signal.SIGSTOP)
        stopped = b
        taken = "m2-0: fetching from broker %d" % b
        before = c.log(a).count(taken)
        c.run("start-broker", str(a))
        wait_for("a taking the partition over", lambda: c.log(a).count(taken) > before)
        time.sleep(1.0)  # the HW truncation this replaced ran right away

        # The leader dies; a, the only replica left, leads with what it has.
        c.run("kill", str(b))
        stopped = None
        wait_for("a leading", led_by(c, "m2", a), timeout=60)
        got = wait_for("m1 and m2 on a", lambda: (lambda r: r if len(r) >= 2 else None)(records(c, a, "m2")),
                       timeout=20, interval=1.0)
        assert got == ["0 m1", "1 m2"]
    finally:
        if stopped:
            os.kill(pid_of(c, stopped), signal.SIGCONT)
        c.stop()


# --- KIP-101 scenario 2: the replicas that would diverge -----------------------------------

def drop_last_batch(c, broker_id, topic):
    """The power loss: the replica's unflushed last batch never reached the
    disk (the segment file ends before it)."""
    d = os.path.join(c.dir, "broker-%d" % broker_id, "logs", "%s-0" % topic)
    path = os.path.join(d, "%020d.log" % 0)
    with open(path, "rb") as f:
        data = f.read()
    pos, ends = 0, []
    while pos + 12 <= len(data):
        pos += 12 + struct.unpack(">i", data[pos + 8:pos + 12])[0]
        ends.append(pos)
    assert len(ends) >= 2 and ends[-1] == len(data)
    os.truncate(path, ends[-2])


def test_replicas_do_not_diverge_after_a_double_failure(workdir):
    c = Cluster(workdir, overrides=["replica.high.watermark.checkpoint.interval.ms=500"]).start()
    try:
        _, l, f = roles(c)  # l: the leader, f: the follower
        create(c, "split", l, f)
        assert acked(c, l, "split", b"m1") == 0
        assert acked(c, l, "split", b"m2") == 1
        # The leader's HW (2, past m2) is on its disk.
        wait_for("l's HW checkpointed", lambda: checkpoint(c, l).get(("split", 0)) == 2)

        # Both fail at once; f's m2 was still in its page cache.
        c.run("kill", str(f))
        c.run("kill", str(l))
        drop_last_batch(c, f, "split")

        # f returns first and leads; m3 lands at m2's offset.
        wait_for("split offline", led_by(c, "split", -1), timeout=30)
        c.run("start-broker", str(f))
        wait_for("f leading", led_by(c, "split", f), timeout=60)
        wait_for("f serving", lambda: list_latest(c.port(f), "split", -1)[0] == NONE)
        error, base, _ = produce(c.port(f), "split", 0, 1, 30000, b"m3")
        assert (error, base) == (NONE, 1)

        # l returns: its m2 lies below its HW, yet is not f's history.
        c.run("start-broker", str(l))
        wait_for("l back in sync", led_by(c, "split", f, [f, l]), timeout=60)
        same = wait_for("identical replicas",
                        lambda: (lambda x, y: x if x and x == y else None)(batches(c, l, "split"), batches(c, f, "split")),
                        timeout=20, interval=0.5)
        assert len(same) == 2
        assert records(c, f, "split") == ["0 m1", "1 m3"]
    finally:
        c.stop()
