"""tools/samsa-topics against a private ZooKeeper (no broker: without a
controller nothing has a leader, so partitions show "Leader: none" unless a
test writes a state znode itself).

One ZooKeeper serves the module; each test works under its own chroot
(host:port/<test>), which samsa-topics creates, so tests do not see each
other's topics. Brokers are registered, and znodes read, with
tests/integration/zk_tool (samsa's own ZooKeeper client and Kafka's znode
formats)."""
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from clients_lib import MockCluster
from conftest import ZooKeeper, binary

WARNING_COLLISION = ("WARNING: Due to limitations in metric names, topics with a period ('.') or underscore "
                     "('_') could collide. To avoid issues it is best to use either, but not both.\n")
WARNING_PARTITIONS = ("WARNING: If partitions are increased for a topic that has a key, the partition logic "
                      "or ordering of the messages will be affected\n")
ERROR = "Error while executing topic command : "


@pytest.fixture(scope="module")
def shared_zookeeper():
    d = tempfile.mkdtemp(prefix="samsa-topics-")
    zk = ZooKeeper(d)
    zk.start()
    yield zk
    zk.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def zk(shared_zookeeper, request):
    """The connect string of a chroot private to the test."""
    return "%s/%s" % (shared_zookeeper.address, request.node.name.replace("[", "_").replace("]", ""))


def topics(*args, timeout=30):
    return subprocess.run([binary("tools/samsa-topics"), *args], capture_output=True, text=True, timeout=timeout)


def ztool(connect, *args):
    return subprocess.run([binary("tests/integration/zk_tool"), connect, *args], capture_output=True, text=True,
                          timeout=30)


def zget(connect, path):
    out = ztool(connect, "get", path)
    assert out.returncode == 0, out.stderr
    return out.stdout


def zexists(connect, path):
    out = ztool(connect, "version", path)
    assert out.returncode in (0, 3), out.stderr
    return out.returncode == 0


def register(connect, *ids, rack=None):
    for i in ids:
        out = ztool(connect, "broker", str(i), *([rack] if rack else []))
        assert out.returncode == 0, out.stderr


def ok(out, stdout=None):
    assert out.returncode == 0, "exit %d\nstdout: %s\nstderr: %s" % (out.returncode, out.stdout, out.stderr)
    assert out.stderr == ""
    if stdout is not None:
        assert out.stdout == stdout
    return out.stdout


def fails(out, message, stdout=""):
    """Exit status 1 with exactly one line on stderr."""
    assert out.returncode == 1, "exit %d\nstdout: %s\nstderr: %s" % (out.returncode, out.stdout, out.stderr)
    assert out.stderr == message + "\n"
    assert out.stdout == stdout


def topic_json(partitions, topic_id):
    """/brokers/topics/<t> exactly as Kafka 2.8 writes it."""
    parts = ",".join('"%d":[%s]' % (p, ",".join(str(r) for r in reps)) for p, reps in partitions)
    return ('{"partitions":{%s},"topic_id":"%s","adding_replicas":{},"removing_replicas":{},"version":3}'
            % (parts, topic_id))


def topic_id_of(connect, topic):
    data = json.loads(zget(connect, "/brokers/topics/" + topic))
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", data["topic_id"])
    return data["topic_id"]


# --- create -----------------------------------------------------------------------------------

def test_create_writes_kafka_znodes(zk):
    register(zk, 1, 2, 3)
    ok(topics("--zookeeper", zk, "--create", "--topic", "orders", "--partitions", "6", "--replication-factor", "2",
              "--config", "retention.ms=1000", "--config", " cleanup.policy = compact "),
       "Created topic orders.\n")
    raw = zget(zk, "/brokers/topics/orders")
    data = json.loads(raw)
    parts = [(int(p), r) for p, r in data["partitions"].items()]
    assert raw == topic_json(parts, data["topic_id"])
    # AdminUtils' round robin: leaders rotate over brokers 1..3 from a random
    # start, followers are other brokers
    first = parts[0][1][0]
    for p, reps in parts:
        assert len(reps) == 2 and len(set(reps)) == 2 and set(reps) <= {1, 2, 3}
        assert reps[0] == (first - 1 + p) % 3 + 1
    # Java's Properties order (hash buckets), not insertion order
    assert zget(zk, "/config/topics/orders") == \
        '{"version":1,"config":{"cleanup.policy":"compact","retention.ms":"1000"}}'
    assert not zexists(zk, "/brokers/topics/orders/partitions")  # the controller's job


def test_create_with_replica_assignment_and_describe(zk):
    register(zk, 1, 2, 3)
    ok(topics("--zookeeper", zk, "--create", "--topic", "pinned", "--replica-assignment", "1:2, 2:3 ,3:1,1:3"),
       "Created topic pinned.\n")
    tid = topic_id_of(zk, "pinned")
    assert zget(zk, "/brokers/topics/pinned") == topic_json([(0, [1, 2]), (1, [2, 3]), (2, [3, 1]), (3, [1, 3])], tid)
    assert zget(zk, "/config/topics/pinned") == '{"version":1,"config":{}}'
    assert ztool(zk, "state", "pinned", "0", "1", "1,2").returncode == 0
    assert ztool(zk, "state", "pinned", "2", "3", "3").returncode == 0
    ok(topics("--zookeeper", zk, "--describe", "--topic", "pinned"),
       "Topic: pinned\tTopicId: %s\tPartitionCount: 4\tReplicationFactor: 2\tConfigs: \n"
       "\tTopic: pinned\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2\n"
       "\tTopic: pinned\tPartition: 1\tLeader: none\tReplicas: 2,3\tIsr: \n"
       "\tTopic: pinned\tPartition: 2\tLeader: 3\tReplicas: 3,1\tIsr: 3\n"
       "\tTopic: pinned\tPartition: 3\tLeader: none\tReplicas: 1,3\tIsr: \n" % tid)
    # filters: under-replicated = ISR shorter than replicas; unavailable = no live leader
    ok(topics("--zookeeper", zk, "--describe", "--under-replicated-partitions"),
       "\tTopic: pinned\tPartition: 1\tLeader: none\tReplicas: 2,3\tIsr: \n"
       "\tTopic: pinned\tPartition: 2\tLeader: 3\tReplicas: 3,1\tIsr: 3\n"
       "\tTopic: pinned\tPartition: 3\tLeader: none\tReplicas: 1,3\tIsr: \n")
    assert ztool(zk, "state", "pinned", "1", "7", "2,3").returncode == 0  # broker 7 is not live
    ok(topics("--zookeeper", zk, "--describe", "--unavailable-partitions"),
       "\tTopic: pinned\tPartition: 1\tLeader: 7\tReplicas: 2,3\tIsr: 2,3\n"
       "\tTopic: pinned\tPartition: 3\tLeader: none\tReplicas: 1,3\tIsr: \n")


def test_create_errors(zk):
    fails(topics("--zookeeper", zk, "--create", "--topic", "t", "--partitions", "1", "--replication-factor", "1"),
          ERROR + "Replication factor: 1 larger than available brokers: 0.")
    register(zk, 1, 2, 3)
    fails(topics("--zookeeper", zk, "--create", "--topic", "t", "--partitions", "1", "--replication-factor", "4"),
          ERROR + "Replication factor: 4 larger than available brokers: 3.")
    fails(topics("--zookeeper", zk, "--create", "--topic", "t", "--partitions", "0", "--replication-factor", "1"),
          ERROR + "Number of partitions must be larger than 0.")
    fails(topics("--zookeeper", zk, "--create", "--topic", "a b", "--partitions", "1", "--replication-factor", "1"),
          ERROR + "Topic name \"a b\" is illegal, it contains a character other than ASCII alphanumerics, "
                  "'.', '_' and '-'")
    fails(topics("--zookeeper", zk, "--create", "--topic", "..", "--partitions", "1", "--replication-factor", "1"),
          ERROR + "Topic name cannot be \".\" or \"..\"", stdout=WARNING_COLLISION)
    fails(topics("--zookeeper", zk, "--create", "--topic", "x" * 250, "--partitions", "1", "--replication-factor", "1"),
          ERROR + "Topic name is illegal, it can't be longer than 249 characters, topic name: " + "x" * 250)
    fails(topics("--zookeeper", zk, "--create", "--topic", "t", "--replica-assignment", "1:9,2:3"),
          ERROR + "Unknown broker(s) in replica assignment: 9.")
    fails(topics("--zookeeper", zk, "--create", "--topic", "t", "--replica-assignment", "1:1"),
          ERROR + "Partition replica lists may not contain duplicate entries: 1")
    fails(topics("--zookeeper", zk, "--create", "--topic", "t", "--replica-assignment", "1:2,3"),
          ERROR + "Partition 1 has different replication factor: 3")
    assert ztool(zk, "children", "/brokers/topics").stdout == ""


def test_create_existing_topic(zk):
    register(zk, 1)
    args = ["--zookeeper", zk, "--create", "--topic", "orders", "--partitions", "1", "--replication-factor", "1"]
    ok(topics(*args), "Created topic orders.\n")
    before = zget(zk, "/brokers/topics/orders")
    fails(topics(*args), ERROR + "Topic 'orders' already exists.")
    ok(topics(*args, "--if-not-exists"), "")
    # still there while marked for deletion
    ok(topics("--zookeeper", zk, "--delete", "--topic", "orders"))
    fails(topics(*args), ERROR + "Topic 'orders' already exists.")
    assert zget(zk, "/brokers/topics/orders") == before


def test_create_collision(zk):
    register(zk, 1)
    ok(topics("--zookeeper", zk, "--create", "--topic", "a.b", "--partitions", "1", "--replication-factor", "1"),
       WARNING_COLLISION + "Created topic a.b.\n")
    fails(topics("--zookeeper", zk, "--create", "--topic", "a_b", "--partitions", "1", "--replication-factor", "1"),
          ERROR + "Topic 'a_b' collides with existing topics: a.b", stdout=WARNING_COLLISION)


def test_create_configs(zk):
    register(zk, 1)
    base = ["--zookeeper", zk, "--create", "--topic", "c", "--partitions", "1", "--replication-factor", "1"]
    fails(topics(*base, "--config", "retention.msx=1"), ERROR + "Unknown topic config name: retention.msx")
    bad = topics(*base, "--config", "retention.ms=abc")
    assert bad.returncode == 1 and bad.stderr.startswith(ERROR) and "retention.ms" in bad.stderr
    assert bad.stderr.count("\n") == 1
    fails(topics(*base, "--config", "retention.ms"),
          ERROR + "requirement failed: Invalid topic config: all configs to be added must be in the format "
                  "\"key=val\".")
    fails(topics(*base, "--config", "min.compaction.lag.ms=10", "--config", "max.compaction.lag.ms=5"),
          ERROR + "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)")
    assert not zexists(zk, "/brokers/topics/c") and not zexists(zk, "/config/topics/c")
    ok(topics(*base, "--config", "segment.bytes=1048576", "--config", "min.insync.replicas=1"), "Created topic c.\n")
    assert zget(zk, "/config/topics/c") == \
        '{"version":1,"config":{"min.insync.replicas":"1","segment.bytes":"1048576"}}'
    out = ok(topics("--zookeeper", zk, "--describe", "--topic", "c"))
    assert out.splitlines()[0].endswith("\tConfigs: min.insync.replicas=1,segment.bytes=1048576")


def test_rack_aware_create(zk):
    for i, rack in ((1, "r1"), (2, "r1"), (3, "r2"), (4, "r2")):
        register(zk, i, rack=rack)
    ok(topics("--zookeeper", zk, "--create", "--topic", "racked", "--partitions", "8", "--replication-factor", "2"))
    racks = {1: "r1", 2: "r1", 3: "r2", 4: "r2"}
    for reps in json.loads(zget(zk, "/brokers/topics/racked"))["partitions"].values():
        assert racks[reps[0]] != racks[reps[1]]
    register(zk, 5)  # no rack
    fails(topics("--zookeeper", zk, "--create", "--topic", "mixed", "--partitions", "1", "--replication-factor", "2"),
          ERROR + "Not all brokers have rack information. Add --disable-rack-aware in command line to make replica "
                  "assignment without rack information.")
    ok(topics("--zookeeper", zk, "--create", "--topic", "mixed", "--partitions", "1", "--replication-factor", "2",
              "--disable-rack-aware"), "Created topic mixed.\n")


# --- list, describe ---------------------------------------------------------------------------------

def test_list(zk):
    register(zk, 1)
    assert ok(topics("--zookeeper", zk, "--list")) == ""
    for t in ("b", "a", "__consumer_offsets", "c-1"):
        ok(topics("--zookeeper", zk, "--create", "--topic", t, "--partitions", "1", "--replication-factor", "1"))
    ok(topics("--zookeeper", zk, "--delete", "--topic", "b"))
    ok(topics("--zookeeper", zk, "--list"), "__consumer_offsets\na\nb - marked for deletion\nc-1\n")
    ok(topics("--zookeeper", zk, "--list", "--exclude-internal"), "a\nb - marked for deletion\nc-1\n")
    ok(topics("--zookeeper", zk, "--list", "--topic", "a|c.*"), "a\nc-1\n")
    ok(topics("--zookeeper", zk, "--list", "--topic", " 'a, b' "), "a\nb - marked for deletion\n")
    ok(topics("--zookeeper", zk, "--list", "--topic", "c"), "")  # whole names only
    fails(topics("--zookeeper", zk, "--list", "--topic", "a("), ERROR + "a( is an invalid regex.")


def test_describe_variants(zk):
    register(zk, 1, 2)
    ok(topics("--zookeeper", zk, "--create", "--topic", "plain", "--partitions", "1", "--replication-factor", "1"))
    ok(topics("--zookeeper", zk, "--create", "--topic", "tuned", "--replica-assignment", "2,1",
              "--config", "retention.ms=5"))
    tid = topic_id_of(zk, "tuned")
    ok(topics("--zookeeper", zk, "--describe", "--topics-with-overrides"),
       "Topic: tuned\tTopicId: %s\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: retention.ms=5\n" % tid)
    ok(topics("--zookeeper", zk, "--delete", "--topic", "tuned"))
    ok(topics("--zookeeper", zk, "--describe", "--topic", "tuned"),
       "Topic: tuned\tTopicId: %s\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: retention.ms=5"
       "\tMarkedForDeletion: true\n"
       "\tTopic: tuned\tPartition: 0\tLeader: none\tReplicas: 2\tIsr: \tMarkedForDeletion: true\n"
       "\tTopic: tuned\tPartition: 1\tLeader: none\tReplicas: 1\tIsr: \tMarkedForDeletion: true\n" % tid)
    # a topic written without topic_id (Kafka 2.8's own tool) prints no TopicId
    assert ztool(zk, "create", "/brokers/topics/legacy",
                 '{"version":2,"partitions":{"0":[1]},"adding_replicas":{},"removing_replicas":{}}').returncode == 0
    ok(topics("--zookeeper", zk, "--describe", "--topic", "legacy"),
       "Topic: legacy\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n"
       "\tTopic: legacy\tPartition: 0\tLeader: none\tReplicas: 1\tIsr: \n")
    fails(topics("--zookeeper", zk, "--describe", "--topic", "nope"),
          ERROR + "Topic 'nope' does not exist as expected")
    ok(topics("--zookeeper", zk, "--describe", "--topic", "nope", "--if-exists"), "")


# --- alter --------------------------------------------------------------------------------------------

def test_alter_partitions(zk):
    register(zk, 1, 2, 3)
    ok(topics("--zookeeper", zk, "--create", "--topic", "grow", "--replica-assignment", "2:3,3:1,1:2"))
    tid = topic_id_of(zk, "grow")
    version = ztool(zk, "version", "/brokers/topics/grow").stdout
    fails(topics("--zookeeper", zk, "--alter", "--topic", "grow", "--partitions", "2"),
          ERROR + "The number of partitions for a topic can only be increased. Topic grow currently has 3 "
                  "partitions, 2 would not be an increase.", stdout=WARNING_PARTITIONS)
    fails(topics("--zookeeper", zk, "--alter", "--topic", "grow", "--partitions", "3"),
          ERROR + "The number of partitions for a topic can only be increased. Topic grow currently has 3 "
                  "partitions, 3 would not be an increase.", stdout=WARNING_PARTITIONS)
    assert ztool(zk, "version", "/brokers/topics/grow").stdout == version
    # start index = position of partition 0's first replica (2) among [1,2,3]
    ok(topics("--zookeeper", zk, "--alter", "--topic", "grow", "--partitions", "5"),
       WARNING_PARTITIONS + "Adding partitions succeeded!\n")
    assert zget(zk, "/brokers/topics/grow") == topic_json(
        [(0, [2, 3]), (1, [3, 1]), (2, [1, 2]), (3, [2, 3]), (4, [3, 1])], tid)
    # an explicit assignment lists every partition; the existing ones are skipped
    ok(topics("--zookeeper", zk, "--alter", "--topic", "grow", "--partitions", "6",
              "--replica-assignment", "9:8,9:8,9:8,9:8,9:8,1:3"),
       WARNING_PARTITIONS + "Adding partitions succeeded!\n")
    assert json.loads(zget(zk, "/brokers/topics/grow"))["partitions"]["5"] == [1, 3]
    fails(topics("--zookeeper", zk, "--alter", "--topic", "grow", "--partitions", "7",
                 "--replica-assignment", "1:2,1:2,1:2,1:2,1:2,1:2,1:7"),
          ERROR + "Some brokers specified for partition id 6 are not available. Specified brokers: 1, 7, "
                  "available brokers: 1, 2, 3.", stdout=WARNING_PARTITIONS)
    fails(topics("--zookeeper", zk, "--alter", "--topic", "nope", "--partitions", "7"),
          ERROR + "Topic 'nope' does not exist as expected")
    ok(topics("--zookeeper", zk, "--alter", "--topic", "nope", "--partitions", "7", "--if-exists"), "")


def test_alter_configs(zk):
    register(zk, 1)
    ok(topics("--zookeeper", zk, "--create", "--topic", "cfg", "--partitions", "1", "--replication-factor", "1",
              "--config", "retention.ms=1"))
    ok(topics("--zookeeper", zk, "--alter", "--topic", "cfg", "--config", "segment.ms=100",
              "--delete-config", "retention.ms"),
       "WARNING: Altering topic configuration from this script has been deprecated and may be removed in future "
       "releases.\n         Going forward, please use kafka-configs.sh for this functionality\n"
       "Updated config for topic cfg.\n")
    assert zget(zk, "/config/topics/cfg") == '{"version":1,"config":{"segment.ms":"100"}}'
    changes = ztool(zk, "children", "/config/changes").stdout.split()
    assert len(changes) == 1 and re.fullmatch(r"config_change_\d{10}", changes[0])
    assert zget(zk, "/config/changes/" + changes[0]) == '{"version":2,"entity_path":"topics/cfg"}'


# --- delete --------------------------------------------------------------------------------------------

def test_delete(zk):
    register(zk, 1)
    ok(topics("--zookeeper", zk, "--create", "--topic", "gone", "--partitions", "1", "--replication-factor", "1"))
    ok(topics("--zookeeper", zk, "--delete", "--topic", "gone"),
       "Topic gone is marked for deletion.\n"
       "Note: This will have no impact if delete.topic.enable is not set to true.\n")
    assert zexists(zk, "/admin/delete_topics/gone") and zget(zk, "/admin/delete_topics/gone") == ""
    assert zexists(zk, "/brokers/topics/gone")  # the controller deletes it
    ok(topics("--zookeeper", zk, "--delete", "--topic", "gone"), "Topic gone is already marked for deletion.\n")
    fails(topics("--zookeeper", zk, "--delete", "--topic", "nope"), ERROR + "Topic 'nope' does not exist as expected")
    ok(topics("--zookeeper", zk, "--delete", "--topic", "nope", "--if-exists"), "")
    ok(topics("--zookeeper", zk, "--create", "--topic", "__consumer_offsets", "--partitions", "1",
              "--replication-factor", "1"))
    fails(topics("--zookeeper", zk, "--delete", "--topic", "__consumer_offsets"),
          ERROR + "Topic __consumer_offsets is a kafka internal topic and is not allowed to be marked for deletion.")


# --- connecting -------------------------------------------------------------------------------------------

def test_chroot(shared_zookeeper):
    root = shared_zookeeper.address
    chroot = root + "/samsa"
    register(chroot, 1)
    ok(topics("--zookeeper", chroot, "--create", "--topic", "inside", "--partitions", "1", "--replication-factor", "1"))
    assert zexists(root, "/samsa/brokers/topics/inside")
    assert zexists(root, "/samsa/config/topics/inside")
    assert not zexists(root, "/brokers/topics/inside")
    ok(topics("--zookeeper", chroot, "--list"), "inside\n")


def test_unreachable_zookeeper():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    out = topics("--zookeeper", "127.0.0.1:%d" % port, "--list", "--zk-timeout-ms", "1000")
    elapsed = time.monotonic() - start
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith(ERROR + "cannot connect to ZooKeeper: timed out after 1000 ms")
    assert out.stderr.count("\n") == 1
    assert elapsed < 5


def test_unreachable_bootstrap_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = topics("--bootstrap-server", "127.0.0.1:%d" % port, "--list")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith(ERROR + "cannot get metadata from 127.0.0.1:%d" % port)


def test_bootstrap_list_against_mock_cluster():
    """--bootstrap-server lists through Metadata (librdkafka's mock cluster
    answers Metadata; it has no controller for the admin requests)."""
    mock = MockCluster(binary("tests/integration/mock_cluster"), brokers=1,
                       topics=[("orders", 3), ("__consumer_offsets", 1), ("a.b", 1)])
    mock.start()
    try:
        ok(topics("--bootstrap-server", mock.bootstrap, "--list"), "__consumer_offsets\na.b\norders\n")
        ok(topics("--bootstrap-server", mock.bootstrap, "--list", "--exclude-internal", "--topic", "a\\..*"),
           "a.b\n")
        ok(topics("--bootstrap-server", mock.bootstrap, "--list", "--topic", "none"), "\n")
        fails(topics("--bootstrap-server", mock.bootstrap, "--delete", "--topic", "none"),
              ERROR + "Topic 'none' does not exist as expected")
    finally:
        mock.stop()


def test_usage_errors():
    for args, message in (
            (["--zookeeper", "h:1", "--list", "--create"],
             "Command must include exactly one action: --list, --describe, --create, --alter or --delete"),
            (["--zookeeper", "h:1", "--bootstrap-server", "h:2", "--list"],
             "Only one of --bootstrap-server or --zookeeper must be specified"),
            (["--zookeeper", "h:1", "--delete"], 'Missing required argument "[topic]"'),
            (["--zookeeper", "h:1", "--create", "--topic", "t"], 'Missing required argument "[partitions]"'),
            (["--zookeeper", "h:1", "--create", "--topic", "t", "--partitions", "x", "--replication-factor", "1"],
             "Cannot parse argument 'x' of option partitions"),
            (["--zookeeper", "h:1", "--list", "--partitions", "3"],
             'Option "[partitions]" can\'t be used with option "[list]"'),
            (["--zookeeper", "h:1", "--create", "--topic", "t", "--replica-assignment", "1", "--partitions", "1"],
             'Option "[replica-assignment]" can\'t be used with option "[partitions]"'),
            (["--zookeeper", "h:1", "--describe", "--under-min-isr-partitions"],
             'Option "[under-min-isr-partitions]" can\'t be used with option "[zookeeper]"'),
            (["--zookeeper", "h:1", "--list", "--bogus"], "--bogus is not a recognized option"),
            (["--zookeeper", "h:1", "--list", "--topic"], "Option --topic requires an argument"),
            (["--bootstrap-server", "h:1", "--list", "--replicas"],
             'Option "[replicas]" can only be used with option "[describe]"')):
        fails(topics(*args), message)
    out = topics("--help")
    assert out.returncode == 0 and "--replica-assignment" in out.stdout
    out = topics()
    assert out.returncode == 1 and out.stderr.startswith("Create, delete, describe, or change a topic.\n")


# --- describe --replicas (the leaders' side is in test_replication.py) -----------------------------

def test_describe_replicas_without_an_answering_leader(zk):
    """--replicas asks each partition's leader; with no leader, or one that
    cannot be reached, every replica line says why and the describe still
    succeeds (Kafka's tool prints what it can)."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registration = ('{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},'
                    '"endpoints":["PLAINTEXT://127.0.0.1:%d"],"jmx_port":-1,"host":"127.0.0.1",'
                    '"timestamp":"1600000000000","port":%d,"version":5,"features":{}}' % (port, port))
    assert ztool(zk, "create", "/brokers/ids/1", registration).returncode == 0
    register(zk, 2)
    ok(topics("--zookeeper", zk, "--create", "--topic", "led", "--replica-assignment", "1:2,2:1"))
    assert ztool(zk, "create", "/brokers/topics/led/partitions/0/state",
                 '{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]}').returncode == 0
    tid = topic_id_of(zk, "led")
    ok(topics("--zookeeper", zk, "--describe", "--topic", "led", "--replicas"),
       "Topic: led\tTopicId: %s\tPartitionCount: 2\tReplicationFactor: 2\tConfigs: \n"
       "\tTopic: led\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2\n"
       "\t\tReplica: 1\tunknown (leader 1 unreachable)\n"
       "\t\tReplica: 2\tunknown (leader 1 unreachable)\n"
       "\tTopic: led\tPartition: 1\tLeader: none\tReplicas: 2,1\tIsr: \n"
       "\t\tReplica: 2\tunknown (no leader)\n"
       "\t\tReplica: 1\tunknown (no leader)\n" % tid)


def test_describe_replicas_against_a_broker_that_is_not_samsa():
    """librdkafka's mock cluster, like Kafka, closes the connection on an API
    key it does not know: the partition lines are printed, then the command
    fails naming the broker. (DescribeConfigs goes to the broker that
    answered Metadata, which the mock does not serve: a warning.)"""
    mock = MockCluster(binary("tests/integration/mock_cluster"), brokers=1, topics=[("orders", 1)])
    mock.start()
    try:
        out = topics("--bootstrap-server", mock.bootstrap, "--describe", "--topic", "orders", "--replicas",
                     timeout=90)
        assert out.returncode == 1, out.stdout + out.stderr
        assert re.search(r"\tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n"
                         r"\t\tReplica: 1\tunknown \(leader 1 does not serve DescribeReplicaState\)\n", out.stdout)
        assert out.stderr.splitlines()[-1] == (ERROR + "broker 1 (%s): the broker does not serve "
                                               "DescribeReplicaState (not samsa?)" % mock.bootstrap)
    finally:
        mock.stop()
