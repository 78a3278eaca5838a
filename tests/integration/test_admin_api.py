"""The admin APIs through kafka-python's KafkaAdminClient and samsa-topics
--bootstrap-server: CreateTopics (with configs, and Kafka's errors),
DescribeConfigs (topic overrides over broker defaults, the broker's own),
CreatePartitions and DeleteTopics, all going through ZooKeeper and the
controller."""
import subprocess
import time

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import InvalidPartitionsError, InvalidReplicationFactorError, TopicAlreadyExistsError

from conftest import binary


def wait_for(what, fn, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def topics_cli(broker, *args):
    return subprocess.run([binary("tools/samsa-topics"), "--bootstrap-server", broker.bootstrap, *args],
                          capture_output=True, text=True, timeout=60)


def test_admin_client_round_trip(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
    try:
        # With a timeout, CreateTopics answers once the partitions have leaders: the topic is
        # usable right after.
        admin.create_topics([NewTopic("adm", num_partitions=2, replication_factor=1,
                                      topic_configs={"retention.ms": "3600000", "cleanup.policy": "delete"})],
                            timeout_ms=10000)
        out = topics_cli(broker, "--describe", "--topic", "adm").stdout
        assert out.count("Leader: 1") == 2, out
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics([NewTopic("adm", num_partitions=1, replication_factor=1)])
        with pytest.raises(InvalidReplicationFactorError):
            admin.create_topics([NewTopic("toomany", num_partitions=1, replication_factor=3)])

        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "adm")])
        entries = {c[0]: c for c in res[0].resources[0][4]}
        assert entries["retention.ms"][1] == "3600000"       # the override
        assert entries["segment.bytes"][1] == "1073741824"   # the broker's default
        assert entries["min.insync.replicas"][1] == "1"
        res = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
        entries = {c[0]: c for c in res[0].resources[0][4]}
        assert entries["num.partitions"][1] == "3" and entries["broker.id"][1] == "1"

        # With a timeout, CreatePartitions and DeleteTopics answer once the controller's work
        # shows in the broker's metadata: no waiting afterwards.
        admin.create_partitions({"adm": NewPartitions(total_count=4)}, timeout_ms=10000)
        with pytest.raises(InvalidPartitionsError):
            admin.create_partitions({"adm": NewPartitions(total_count=3)})
        out = topics_cli(broker, "--describe", "--topic", "adm").stdout
        assert out.count("Leader: 1") == 4, out
        assert out.splitlines()[0].startswith("Topic: adm\tPartitionCount: 4\tReplicationFactor: 1\tConfigs: ")
        assert "retention.ms=3600000" in out.splitlines()[0]

        admin.delete_topics(["adm"], timeout_ms=10000)
        assert topics_cli(broker, "--list").stdout.split() == []
    finally:
        admin.close()


def test_samsa_topics_bootstrap_errors(broker):
    ok = topics_cli(broker, "--create", "--topic", "b1", "--partitions", "1", "--replication-factor", "1")
    assert ok.returncode == 0 and ok.stdout.strip() == "Created topic b1."
    again = topics_cli(broker, "--create", "--topic", "b1", "--partitions", "1", "--replication-factor", "1")
    assert again.returncode == 1
    assert again.stderr.strip() == "Error while executing topic command : Topic 'b1' already exists."
    bad = topics_cli(broker, "--create", "--topic", "b2", "--partitions", "1", "--replication-factor", "4")
    assert bad.returncode == 1
    assert "Replication factor: 4 larger than available brokers: 1." in bad.stderr


def test_create_partitions_errors_as_the_api_gives_them(broker):
    """CreatePartitions answers with Kafka's API-side (ZkAdminManager) errors: a count that is
    no increase is INVALID_PARTITIONS in its wording, and an assignment naming a broker that is
    not registered is INVALID_REPLICA_ASSIGNMENT (39), not BROKER_NOT_AVAILABLE."""
    from kafka.errors import InvalidReplicationAssignmentError
    assert topics_cli(broker, "--create", "--topic", "cp", "--partitions", "2",
                      "--replication-factor", "1").returncode == 0
    for count, msg in (("1", "Topic currently has 2 partitions, which is higher than the requested 1."),
                       ("2", "Topic already has 2 partitions.")):
        out = topics_cli(broker, "--alter", "--topic", "cp", "--partitions", count)
        assert out.returncode == 1 and out.stderr.strip().endswith(msg), out.stderr
    out = topics_cli(broker, "--alter", "--topic", "cp", "--partitions", "4", "--replica-assignment", "1,1,9,7")
    assert out.returncode == 1
    assert out.stderr.strip().endswith("Unknown broker(s) in replica assignment: 7, 9."), out.stderr
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
    try:
        with pytest.raises(InvalidReplicationAssignmentError):
            admin.create_partitions({"cp": NewPartitions(total_count=3, new_assignments=[[7]])})
        with pytest.raises(InvalidPartitionsError):
            admin.create_partitions({"cp": NewPartitions(total_count=2)})
        admin.create_partitions({"cp": NewPartitions(total_count=3, new_assignments=[[1]])})
    finally:
        admin.close()
    out = wait_for("3 partitions", lambda: (lambda o: o if "PartitionCount: 3" in o else None)(
        topics_cli(broker, "--describe", "--topic", "cp").stdout))
    assert "Partition: 2\tLeader: " in out and "Replicas: 1\t" in out


def test_timeout_zero_answers_request_timed_out(broker):
    """As Kafka 2.8's ZkAdminManager: with timeout_ms 0 nobody waits for the controller, and
    every topic that succeeded is answered REQUEST_TIMED_OUT (7) with a null message — the
    change is made all the same. validate_only answers NONE."""
    import struct
    from test_controller_requests import arr, request, s16
    port = int(broker.bootstrap.rsplit(":", 1)[1])

    def create_topics_v1(name, timeout_ms, validate_only):
        body = arr([name], lambda n: s16(n) + struct.pack(">ih", 1, 1) + struct.pack(">i", 0) + struct.pack(">i", 0))
        resp = request(port, 19, 1, body + struct.pack(">i?", timeout_ms, validate_only))
        (count,) = struct.unpack(">i", resp[:4])
        (nlen,) = struct.unpack(">h", resp[4:6])
        err, mlen = struct.unpack(">hh", resp[6 + nlen:10 + nlen])
        return count, resp[6:6 + nlen].decode(), err, mlen

    assert create_topics_v1("t0", 0, True) == (1, "t0", 0, -1)
    assert topics_cli(broker, "--list").stdout.split() == []
    assert create_topics_v1("t0", 0, False) == (1, "t0", 7, -1)
    wait_for("t0 led", lambda: "Leader: 1" in topics_cli(broker, "--describe", "--topic", "t0").stdout)

    body = arr(["t0"], lambda n: s16(n) + struct.pack(">i", 2) + struct.pack(">i", -1))
    resp = request(port, 37, 0, body + struct.pack(">i?", 0, False))
    assert resp == struct.pack(">ii", 0, 1) + s16("t0") + struct.pack(">hh", 7, -1)
    wait_for("2 partitions", lambda: topics_cli(broker, "--describe", "--topic", "t0").stdout.count("Leader: 1") == 2)

    resp = request(port, 20, 1, arr(["t0"], s16) + struct.pack(">i", 0))
    assert resp == struct.pack(">ii", 0, 1) + s16("t0") + struct.pack(">h", 7)
    wait_for("t0 deleted", lambda: topics_cli(broker, "--list").stdout.split() == [])


def test_deletion_disabled(workdir):
    from conftest import Broker
    b = Broker(workdir, overrides=["delete.topic.enable=false"]).start()
    try:
        assert topics_cli(b, "--create", "--topic", "kept", "--partitions", "1",
                          "--replication-factor", "1").returncode == 0
        wait_for("kept led", lambda: "Leader: 1" in topics_cli(b, "--describe", "--topic", "kept").stdout)
        # DeleteTopics answers TOPIC_DELETION_DISABLED (73) from v3 on, and INVALID_REQUEST (42)
        # to older clients, which may not know 73 — as Kafka 2.8 does. librdkafka (samsa-topics)
        # sends v1.
        import struct
        from test_controller_requests import arr, request, s16
        port = int(b.bootstrap.rsplit(":", 1)[1])
        for version, err in ((3, 73), (1, 42), (0, 42)):
            resp = request(port, 20, version, arr(["kept"], s16) + struct.pack(">i", 5000))
            head = struct.pack(">i", 0) if version >= 1 else b""
            assert resp == head + struct.pack(">i", 1) + s16("kept") + struct.pack(">h", err), (version, resp)
        out = topics_cli(b, "--delete", "--topic", "kept")
        assert out.returncode == 1 and "Invalid request" in out.stderr, out.stderr
        # Through ZooKeeper: the marker is written, and the controller removes it again.
        zk = subprocess.run([binary("tools/samsa-topics"), "--zookeeper", b.zk_connect, "--delete", "--topic", "kept"],
                            capture_output=True, text=True, timeout=60)
        assert zk.returncode == 0, zk.stderr
        wait_for("the marker removed", lambda: "removing deletion marker of kept: delete.topic.enable is false"
                 in b.read_log())
        assert topics_cli(b, "--list").stdout.split() == ["kept"]
    finally:
        assert b.stop() == 0


def test_dynamic_topic_configs(broker):
    """--alter --config writes /config/topics/<t> and a /config/changes notification;
    the broker applies the new overrides to the partitions it hosts."""
    import os
    zk = [binary("tools/samsa-topics"), "--zookeeper", broker.zk_connect]
    assert subprocess.run(zk + ["--create", "--topic", "dyn", "--partitions", "1", "--replication-factor", "1"],
                          capture_output=True, timeout=60).returncode == 0
    kcat = ["kcat", "-b", broker.bootstrap, "-t", "dyn", "-P", "-K:"]
    big = b"".join(b"%d:%s\n" % (i, b"x" * 10000) for i in range(150))
    wait_for("dyn writable", lambda: subprocess.run(kcat, input=b"w:1\n", capture_output=True,
                                                    timeout=60).returncode == 0)
    logdir = os.path.join(broker.dir, "logs", "dyn-0")
    segments = lambda: sorted(f for f in os.listdir(logdir) if f.endswith(".log"))
    assert len(segments()) == 1

    out = subprocess.run(zk + ["--alter", "--topic", "dyn", "--config", "segment.bytes=1048576",
                               "--config", "min.insync.replicas=2"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    wait_for("configs applied", lambda: "topic dyn: new configs applied to 1 partition(s)" in broker.read_log())
    assert subprocess.run(kcat + ["-X", "acks=1"], input=big, capture_output=True, timeout=60).returncode == 0
    assert len(segments()) >= 2  # 1.5 MB now rolls at 1 MiB
    # min.insync.replicas=2 with an ISR of one: acks=all is refused (NOT_ENOUGH_REPLICAS)
    strict = subprocess.run(kcat + ["-X", "acks=all", "-X", "message.send.max.retries=0"], input="k:v\n",
                            capture_output=True, text=True, timeout=60)
    assert strict.returncode != 0 and "Not enough in-sync replicas" in strict.stderr, strict.stderr


def test_a_stalled_zookeeper_does_not_stall_produce(workdir):
    """Admin requests wait for ZooKeeper on the broker's admin worker, not on the
    network loop: with ZooKeeper frozen, a CreateTopics hangs but produce and fetch
    on the same (single) network thread keep being served."""
    import os
    import signal
    import threading
    from conftest import Broker, SHARED_ZK
    b = Broker(workdir, overrides=["num.network.threads=1"]).start()
    zk_pid = int(open(os.path.join(SHARED_ZK.zk.dir, "zookeeper.pid")).read().split()[0])
    try:
        kcat_p = ["kcat", "-b", b.bootstrap, "-t", "live", "-P", "-K:"]
        wait_for("live writable", lambda: subprocess.run(kcat_p, input=b"a:1\n", capture_output=True,
                                                         timeout=60).returncode == 0)
        os.kill(zk_pid, signal.SIGSTOP)
        result = {}

        def create():
            result["out"] = topics_cli(b, "--create", "--topic", "frozen", "--partitions", "1",
                                       "--replication-factor", "1")

        t = threading.Thread(target=create)
        t.start()
        try:
            time.sleep(1.0)  # the CreateTopics is now waiting for ZooKeeper on the admin worker
            assert t.is_alive()
            out = subprocess.run(kcat_p, input=b"b:2\n", capture_output=True, timeout=20)
            assert out.returncode == 0, out.stderr
            rows = subprocess.run(["kcat", "-b", b.bootstrap, "-t", "live", "-C", "-e", "-o", "beginning", "-q",
                                   "-f", "%k\n"], capture_output=True, text=True, timeout=20).stdout.split()
            assert sorted(rows) == ["a", "b"]  # keyed: two of the topic's partitions, read in either order
        finally:
            os.kill(zk_pid, signal.SIGCONT)
        t.join(60)
        assert result["out"].returncode == 0, result["out"].stderr
    finally:
        os.kill(zk_pid, signal.SIGCONT)
        assert b.stop() == 0
