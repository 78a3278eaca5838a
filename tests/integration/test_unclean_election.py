"""Unclean leader election end to end (issue 13 point 4, the book's §3.4
choice), with exactly which offsets survive each way.

Both tests build the same state step by step, on a topic with two replicas
l (the first leader) and f (its follower), neither of them the controller:

1. records 0-4 produced with acks=all: both replicas hold them;
2. f is killed; the controller takes it out of the ISR (leader l, ISR [l]);
3. records 5-9 produced with acks=1 to l alone: acknowledged, and only l
   has them (f's log on disk ends at 5, read with samsa-dump-log);
4. l is killed: every ISR member is dead; the ISR still names l;
5. f starts again: an out-of-sync replica is alive.

unclean.leader.election.enable=false: the partition stays offline (leader
-1 in the state znode; f answers Produce and Fetch with
NOT_LEADER_OR_FOLLOWER, as a Kafka replica that does not lead does) until
l returns and leads; then offsets 0-9 are read back, exactly the ledger.

unclean.leader.election.enable=true: f leads at once, with its log end 5;
records 10-14 produced to it land at 5-9. The consumed offsets are exactly
f's 0-4 and what came after; 5-9 as l had them are gone. l returns, asks f
for its epochs (OffsetsForLeaderEpoch), truncates to 5, copies f's 5-9 and
rejoins the ISR: its batches equal f's, batch by batch."""
import json
import subprocess

from conftest import binary
from test_acks import produce
from test_controller import SESSION_MS, Cluster, kcat, wait_for
from test_leader_epoch import NOT_LEADER_OR_FOLLOWER, fetch_error, led_by, records, roles
from test_replication import batches, last_offset

NONE = 0
SETTLE = SESSION_MS / 1000 + 20


def state_znode(c, topic):
    """The partition's state znode as the controller wrote it."""
    out = subprocess.run([binary("tests/integration/zk_tool"), c.zk, "get", "/brokers/topics/%s/partitions/0/state"
                          % topic], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def produce_numbered(c, broker_id, topic, seqs, acks):
    """Produces "seq:<n>" for each n, one batch each; the ledger of
    acknowledgements: {offset: value}."""
    ledger = {}
    for n in seqs:
        value = b"seq:%d" % n
        error, base, _ = produce(c.port(broker_id), topic, 0, acks, 30000, value)
        assert error == NONE, "produce of %r to %d answered %d" % (value, broker_id, error)
        ledger[base] = value.decode()
    return ledger


def read_back(c, broker_id, topic):
    """{offset: value} of everything a consumer reads from broker_id."""
    return {int(o): v for o, v in (line.split(" ", 1) for line in records(c, broker_id, topic))}


def every_isr_member_dead(c, topic, unclean):
    """Steps 1-5 above; returns (l, f, ledger, f's log end on disk)."""
    _, l, f = roles(c)
    c.topics("--create", "--topic", topic, "--replica-assignment", "%d:%d" % (l, f),
             "--config", "min.insync.replicas=1", "--config", "unclean.leader.election.enable=%s" % unclean)
    wait_for("%s led by %d, both in sync" % (topic, l), led_by(c, topic, l, [l, f]), timeout=SETTLE)
    # ZooKeeper says so before l has its LeaderAndIsr: until then l answers
    # NOT_LEADER_OR_FOLLOWER (a fetch changes nothing, a produce would).
    wait_for("%d serving %s" % (l, topic), lambda: fetch_error(c.port(l), topic, -1) == 0)
    ledger = produce_numbered(c, l, topic, range(0, 5), acks=-1)
    assert sorted(ledger) == [0, 1, 2, 3, 4]
    wait_for("f holding 0-4", lambda: last_offset(batches(c, f, topic)) == 4)

    c.run("kill", str(f))
    wait_for("f out of the ISR", led_by(c, topic, l, [l]), timeout=SETTLE)
    ledger.update(produce_numbered(c, l, topic, range(5, 10), acks=1))
    assert sorted(ledger) == list(range(10))

    c.run("kill", str(l))
    wait_for(topic + " offline", led_by(c, topic, -1, [l]), timeout=SETTLE)
    f_log_end = last_offset(batches(c, f, topic)) + 1
    assert f_log_end == 5  # f never had 5-9
    c.run("start-broker", str(f))
    return l, f, ledger, f_log_end


def test_unclean_false_stays_offline_and_loses_nothing(workdir):
    c = Cluster(workdir).start()
    try:
        topic = "careful"
        l, f, ledger, _ = every_isr_member_dead(c, topic, "false")
        # f is alive and registered, yet not in the ISR: no leader.
        wait_for("f serving as a replica", lambda: fetch_error(c.port(f), topic, -1) == NOT_LEADER_OR_FOLLOWER,
                 timeout=SETTLE)
        state = state_znode(c, topic)
        assert state["leader"] == -1 and state["isr"] == [l], state
        assert c.describe(topic)[0] == (-1, [l, f], [l])
        error, _, _ = produce(c.port(f), topic, 0, -1, 5000, b"refused")
        assert error == NOT_LEADER_OR_FOLLOWER
        assert fetch_error(c.port(f), topic, -1) == NOT_LEADER_OR_FOLLOWER
        meta = kcat("-L", "-b", c.bootstrap(f), "-t", topic)
        assert "leader -1" in meta and "Leader not available" in meta, meta
        assert "unclean leader election" not in c.log(c.controller())

        # The last in-sync replica returns and leads with everything.
        c.run("start-broker", str(l))
        wait_for("l leading", led_by(c, topic, l), timeout=SETTLE)
        assert wait_for("records back", lambda: (lambda r: r if len(r) >= 10 else None)(read_back(c, l, topic)),
                        timeout=20, interval=0.5) == ledger
        # f catches up from l (it held a prefix of l's history) and rejoins.
        wait_for("f back in the ISR", led_by(c, topic, l, [l, f]), timeout=60)
        wait_for("identical replicas", lambda: batches(c, f, topic) == batches(c, l, topic), timeout=20)
        assert read_back(c, f, topic) == ledger
    finally:
        c.stop()


def test_unclean_true_elects_the_live_replica_and_loses_what_it_lacked(workdir):
    c = Cluster(workdir).start()
    try:
        topic = "eager"
        l, f, ledger, f_log_end = every_isr_member_dead(c, topic, "true")
        wait_for("f leading", led_by(c, topic, f, [f]), timeout=SETTLE)
        assert ("%s-0: unclean leader election: %d leads without being in the ISR" % (topic, f)
                in c.log(c.controller()))
        state = state_znode(c, topic)
        assert state["leader"] == f and state["isr"] == [f], state
        wait_for("f serving", lambda: fetch_error(c.port(f), topic, -1) == NONE, timeout=20)

        after = produce_numbered(c, f, topic, range(10, 15), acks=-1)
        # What f had (offsets below its log end) and what came after, nothing else.
        survived = {o: v for o, v in ledger.items() if o < f_log_end}
        assert sorted(after) == list(range(f_log_end, f_log_end + 5))
        lost = {o: v for o, v in ledger.items() if o >= f_log_end}
        assert sorted(lost) == [5, 6, 7, 8, 9]
        expected = {**survived, **after}
        assert read_back(c, f, topic) == expected
        assert not set(lost.values()) & set(read_back(c, f, topic).values())

        # l returns: a follower now, it truncates its 5-9 to f's history.
        c.run("start-broker", str(l))
        wait_for("l back in the ISR", led_by(c, topic, f, [f, l]), timeout=60)
        same = wait_for("identical replicas",
                        lambda: (lambda x, y: x if x and x == y else None)(batches(c, l, topic), batches(c, f, topic)),
                        timeout=20, interval=0.5)
        assert len(same) == 10 and last_offset(same) == 9
        assert read_back(c, f, topic) == expected
        # l led in another epoch; the batches it kept are f's (same epochs).
        assert batches(c, l, topic) == batches(c, f, topic)
    finally:
        c.stop()
