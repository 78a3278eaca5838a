"""Consumer groups against real brokers: the group coordinator and
__consumer_offsets (consumer-groups.md). Group consumers are small
programs speaking one line protocol (rdkafka_group.c): librdkafka
(rdkafka_group), kafka-python (kpy_group.py) and kafkajs
(kafkajs_group.js). They print their assignment after each rebalance and
the records they read, and commit on command."""
import os
import queue
import struct
import subprocess
import threading
import time

import pytest

from conftest import ROOT, BUILD, Broker, binary
from test_controller import Cluster, kcat, wait_for
from test_controller_requests import request, s16

HERE = os.path.dirname(os.path.abspath(__file__))
KAFKAJS_DIR = os.environ.get("SAMSA_KAFKAJS_DIR") or os.path.join(BUILD, "kafkajs")

TOPIC_PARTITIONS = 6
GROUP_OVERRIDES = ["offsets.topic.num.partitions=5", "group.initial.rebalance.delay.ms=0",
                   "group.min.session.timeout.ms=1000"]


class GroupConsumer:
    """One rdkafka_group process and the lines it printed."""

    def __init__(self, bootstrap, group, topic, assignor="range", session_ms=6000, client="rdkafka"):
        env = dict(os.environ)
        if client == "rdkafka":
            args = [binary("tests/integration/rdkafka_group"), bootstrap, group, topic, assignor, str(session_ms)]
        elif client == "kafka-python":
            args = ["/usr/bin/python3", os.path.join(HERE, "kpy_group.py"), bootstrap, group, topic, assignor,
                    str(session_ms)]
        else:
            modules = os.path.join(KAFKAJS_DIR, "node_modules")
            assert os.path.isdir(os.path.join(modules, "kafkajs")), "kafkajs not installed (tests/run.sh does it)"
            env["NODE_PATH"] = modules
            args = ["node", os.path.join(HERE, "kafkajs_group.js"), bootstrap, group, topic, str(session_ms)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1, env=env)
        self.lines = queue.Queue()
        self.assignment = None
        self.records = {}  # (partition, offset) -> value
        self.committed = 0
        self.errors = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def pump(self):
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return
            words = line.split(" ")
            if words[0] == "assignment":
                self.assignment = sorted(int(w) for w in words[1:])
            elif words[0] == "record":
                self.records[(int(words[1]), int(words[2]))] = " ".join(words[3:])
            elif words[0] == "committed":
                self.committed += 1
            elif words[0] == "error":
                self.errors.append(line)

    def command(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def commit(self, timeout=30):
        before = self.committed
        self.command("commit")
        wait_for("a commit", lambda: self.pump() or self.committed > before, timeout=timeout)

    def close(self):
        if self.proc.poll() is None:
            self.command("quit")
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def assignments(consumers):
    for c in consumers:
        c.pump()
    return [c.assignment for c in consumers]


def wait_split(consumers, timeout=60):
    """Waits until the consumers' assignments are disjoint, non-empty and
    cover every partition."""
    def split():
        a = assignments(consumers)
        if any(not x for x in a):
            return None
        flat = sorted(p for x in a for p in x)
        return a if flat == list(range(TOPIC_PARTITIONS)) else None
    return wait_for("disjoint assignments covering all partitions", split, timeout=timeout)


def produce(bootstrap, topic, n, prefix="v"):
    data = "".join("%s%d\n" % (prefix, i) for i in range(n)).encode()
    kcat("-P", "-b", bootstrap, "-t", topic, "-X", "request.required.acks=-1", input_data=data, timeout=60)


@pytest.fixture
def group_broker(workdir):
    b = Broker(workdir, overrides=["offsets.topic.replication.factor=1"] + GROUP_OVERRIDES).start()
    yield b
    rc = b.stop()
    assert rc == 0, "samsa-broker exited with %s:\n%s" % (rc, b.read_log()[-4000:])


def create_topic(bootstrap, topic, partitions=TOPIC_PARTITIONS, rf=1):
    out = subprocess.run([binary("tools/samsa-topics"), "--bootstrap-server", bootstrap, "--create", "--topic", topic,
                          "--partitions", str(partitions), "--replication-factor", str(rf)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


# (clients of the two consumers, assignor): librdkafka eager and
# cooperative, kafka-python, kafkajs, and librdkafka with kafka-python in
# one group (kafkajs names its assignor "RoundRobinAssigner", which no other
# client offers, so Kafka too refuses to mix it: INCONSISTENT_GROUP_PROTOCOL)
SPLIT_CASES = [
    (("rdkafka", "rdkafka"), "range"),
    (("rdkafka", "rdkafka"), "cooperative-sticky"),
    (("kafka-python", "kafka-python"), "range"),
    (("kafkajs", "kafkajs"), "roundrobin"),
    (("rdkafka", "kafka-python"), "range"),
]


@pytest.mark.parametrize("clients,assignor", SPLIT_CASES, ids=["-".join(c) + "-" + a for c, a in SPLIT_CASES])
def test_two_consumers_split_leave_and_return(group_broker, clients, assignor):
    b = group_broker
    topic = "split-%s-%s" % ("-".join(clients), assignor)
    create_topic(b.bootstrap, topic)
    group = "g-" + topic
    c1 = GroupConsumer(b.bootstrap, group, topic, assignor, client=clients[0])
    c2 = GroupConsumer(b.bootstrap, group, topic, assignor, client=clients[1])
    c3 = None
    try:
        wait_split([c1, c2])
        # one leaves (LeaveGroup as it closes; kafkajs first finishes its
        # fetch): from its exit the other gets all six within the session
        # timeout (6 s)
        c2.close()
        wait_for("all partitions on the one left",
                 lambda: assignments([c1])[0] == list(range(TOPIC_PARTITIONS)), timeout=6)
        # it comes back: they split again
        c3 = GroupConsumer(b.bootstrap, group, topic, assignor, client=clients[1])
        wait_split([c1, c3])
    finally:
        for c in (c1, c2, c3):
            if c:
                c.close()
    assert not c1.errors, c1.errors


def committed_positions(consumer):
    """partition -> the next offset after the last record it read."""
    pos = {}
    for (p, o) in consumer.records:
        pos[p] = max(pos.get(p, 0), o + 1)
    return pos


def test_commit_stop_restart_resumes_at_committed_offset(workdir):
    b = Broker(workdir, overrides=["offsets.topic.replication.factor=1"] + GROUP_OVERRIDES).start()
    try:
        topic, group = "resume", "g-resume"
        create_topic(b.bootstrap, topic)
        produce(b.bootstrap, topic, 300, "a")
        c = GroupConsumer(b.bootstrap, group, topic)
        wait_for("300 records", lambda: c.pump() or len(c.records) == 300)
        c.commit()
        c.close()
        committed = committed_positions(c)
        assert sum(committed.values()) == 300

        # the broker restarts: the group's offsets come back from __consumer_offsets
        assert b.stop() == 0
        b.start()
        produce(b.bootstrap, topic, 120, "b")
        c2 = GroupConsumer(b.bootstrap, group, topic)
        try:
            wait_for("the 120 new records", lambda: c2.pump() or len(c2.records) >= 120)
            time.sleep(1)
            c2.pump()
        finally:
            c2.close()
        # exactly the records after the committed offsets, each from there on
        assert len(c2.records) == 120
        assert all(v.startswith("b") for v in c2.records.values())
        for p, first in committed.items():
            offsets = sorted(o for (q, o) in c2.records if q == p)
            assert not offsets or offsets[0] == first
    finally:
        rc = b.stop()
    assert rc == 0, b.read_log()[-4000:]


def find_coordinator(bootstrap, group):
    """FindCoordinator v0 by hand: (error, node id)."""
    port = int(bootstrap.split(",")[0].split(":")[1])
    err, node = struct.unpack(">hi", request(port, 10, 0, s16(group))[:6])
    return err, node


def test_coordinator_killed_the_group_moves_and_keeps_its_offsets(workdir):
    c = Cluster(workdir, overrides=["offsets.topic.replication.factor=3"] + GROUP_OVERRIDES).start()
    try:
        topic, group = "survive", "g-survive"
        c.topics("--create", "--topic", topic, "--partitions", str(TOPIC_PARTITIONS), "--replication-factor", "3")
        produce(c.bootstrap(), topic, 300, "a")
        c1 = GroupConsumer(c.bootstrap(), group, topic)
        try:
            wait_for("300 records", lambda: c1.pump() or len(c1.records) == 300, timeout=60)
            c1.commit()
        finally:
            c1.close()
        committed = committed_positions(c1)
        err, node = wait_for("the coordinator", lambda: (lambda r: r if r[0] == 0 else None)(
            find_coordinator(c.bootstrap(), group)))
        c.run("kill", str(node))  # SIGKILL
        rest = ",".join("127.0.0.1:%d" % c.port(i) for i in range(1, 4) if i != node)
        err, new_node = wait_for("a new coordinator", lambda: (lambda r: r if r[0] == 0 and r[1] != node else None)(
            find_coordinator(rest, group)), timeout=60)
        produce(rest, topic, 120, "b")
        c2 = GroupConsumer(rest, group, topic)
        try:
            wait_for("the 120 new records", lambda: c2.pump() or len(c2.records) >= 120, timeout=90)
            time.sleep(1)
            c2.pump()
        finally:
            c2.close()
        assert len(c2.records) == 120, sorted(c2.records.items())[:10]
        for p, first in committed.items():
            offsets = sorted(o for (q, o) in c2.records if q == p)
            assert not offsets or offsets[0] == first
    finally:
        c.run("stop", check=False)


def test_admin_list_describe_offsets_and_delete(group_broker):
    """kafka-python's admin client: ListGroups, DescribeGroups, OffsetFetch
    (all partitions), DeleteGroups — refused while the group has members."""
    from kafka import KafkaAdminClient
    from kafka.errors import NoError, NonEmptyGroupError

    b = group_broker
    topic, group = "admin-t", "g-admin"
    create_topic(b.bootstrap, topic)
    produce(b.bootstrap, topic, 60)
    c = GroupConsumer(b.bootstrap, group, topic)
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, api_version=(2, 0, 0))
    try:
        wait_for("60 records", lambda: c.pump() or len(c.records) == 60)
        c.commit()
        assert (group, "consumer") in admin.list_consumer_groups()
        d = admin.describe_consumer_groups([group])[0]
        assert d.state == "Stable" and d.protocol_type == "consumer" and d.protocol == "range"
        assert len(d.members) == 1 and d.members[0].client_host == "/127.0.0.1"
        offsets = admin.list_consumer_group_offsets(group)
        assert {tp.partition: om.offset for tp, om in offsets.items()} == committed_positions(c)
        assert dict(admin.delete_consumer_groups([group]))[group] is NonEmptyGroupError
    finally:
        c.close()
    assert admin.describe_consumer_groups([group])[0].state == "Empty"
    assert dict(admin.delete_consumer_groups([group]))[group] is NoError
    assert admin.describe_consumer_groups([group])[0].state == "Dead"
    assert admin.list_consumer_group_offsets(group) == {}
    admin.close()


def test_offsets_with_a_retention_expire_and_the_group_goes(workdir):
    """KIP-211: an offset committed with a retention time (OffsetCommit v2)
    expires at the next check; the group, Empty with no offsets left, is
    removed."""
    b = Broker(workdir, overrides=["offsets.topic.replication.factor=1", "offsets.retention.check.interval.ms=200"]
               + GROUP_OVERRIDES).start()
    try:
        create_topic(b.bootstrap, "exp-t")
        group = "g-expiring"
        wait_for("the coordinator", lambda: find_coordinator(b.bootstrap, group)[0] == 0)
        # OffsetCommit v2: group, generation -1, member "", retention 300 ms, [exp-t [0: offset 5, ""]]
        body = (s16(group) + struct.pack(">i", -1) + s16("") + struct.pack(">q", 300) + struct.pack(">i", 1)
                + s16("exp-t") + struct.pack(">iiq", 1, 0, 5) + s16(""))
        resp = request(b.port, 8, 2, body)
        assert resp[-2:] == b"\x00\x00", resp  # the partition's error code

        def fetched():
            # OffsetFetch v1: group, [exp-t [0]] -> the committed offset
            r = request(b.port, 9, 1, s16(group) + struct.pack(">i", 1) + s16("exp-t") + struct.pack(">ii", 1, 0))
            return struct.unpack(">q", r[4 + 2 + 5 + 4 + 4:4 + 2 + 5 + 4 + 4 + 8])[0]
        assert fetched() == 5
        wait_for("the offset to expire", lambda: fetched() == -1, timeout=20)
        # ListGroups v0: the group is gone
        listed = request(b.port, 16, 0, b"")
        assert group.encode() not in listed
    finally:
        rc = b.stop()
    assert rc == 0, b.read_log()[-4000:]
