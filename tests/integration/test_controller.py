"""The ZooKeeper controller with real brokers (tools/samsa-cluster): topic
creation through samsa-topics, leaders spread over the brokers, the same
metadata from every broker, Kafka's znodes and JSON as zkCli shows them,
failover after SIGKILL (from the ISR), controller takeover with a higher
epoch, topic deletion everywhere and re-creation, controlled shutdown, and
the refusal of a second broker with a registered id."""
import json
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import ROOT, binary, free_port

CLUSTER = os.path.join(ROOT, "tools", "samsa-cluster")
SESSION_MS = 2000


def zk_cli(zk, *cmd):
    """zkCli's one-shot mode: the output lines that are not ZooKeeper's chatter."""
    out = subprocess.run(["java", "-cp", "/usr/share/java/*:/etc/zookeeper/conf",
                          "org.apache.zookeeper.ZooKeeperMain", "-server", zk, *cmd],
                         capture_output=True, text=True, timeout=60)
    return [l for l in (out.stdout + out.stderr).splitlines()
            if l and not l.startswith(("WatchedEvent", "Connecting to", "WATCHER::", "SLF4J", "log4j"))]


class Cluster:
    def __init__(self, workdir, brokers=3, overrides=()):
        self.dir = os.path.join(workdir, "cluster")
        self.n = brokers
        self.base = None
        self.overrides = ["zookeeper.session.timeout.ms=%d" % SESSION_MS,
                          "controlled.shutdown.retry.backoff.ms=500"] + list(overrides)

    def run(self, *args, check=True, timeout=120):
        env = dict(os.environ, SAMSA_BROKER=binary("broker/samsa-broker"))
        out = subprocess.run([CLUSTER, "--dir", self.dir, *args], capture_output=True, text=True, env=env,
                             timeout=timeout)
        if check:
            assert out.returncode == 0, out.stdout + out.stderr
        return out

    def start(self):
        for _ in range(20):
            base = free_port()
            if base + self.n < 65000 and all(_port_free(base + i) for i in range(self.n)):
                break
        self.base = base
        args = ["start", "--brokers", str(self.n), "--base-port", str(base)]
        for o in self.overrides:
            args += ["--override", o]
        self.run(*args)
        self.zk = self.run("zookeeper").stdout.strip()
        return self

    def port(self, broker_id):
        return self.base + broker_id - 1

    def bootstrap(self, broker_id=None):
        ids = [broker_id] if broker_id else range(1, self.n + 1)
        return ",".join("127.0.0.1:%d" % self.port(i) for i in ids)

    def log(self, broker_id):
        with open(os.path.join(self.dir, "broker-%d" % broker_id, "broker.log"), errors="replace") as f:
            return f.read()

    def topics(self, *args, check=True):
        out = subprocess.run([binary("tools/samsa-topics"), "--zookeeper", self.zk, *args],
                             capture_output=True, text=True, timeout=60)
        if check:
            assert out.returncode == 0, out.stdout + out.stderr
        return out

    def describe(self, topic):
        """{partition: (leader, replicas, isr)} from samsa-topics --describe."""
        parts = {}
        for line in self.topics("--describe", "--topic", topic).stdout.splitlines():
            m = re.match(r"\tTopic: \S+\tPartition: (\d+)\tLeader: (\S+)\tReplicas: (\S+)\tIsr: (\S*)", line)
            if m:
                leader = -1 if m.group(2) == "none" else int(m.group(2))
                parts[int(m.group(1))] = (leader, [int(x) for x in m.group(3).split(",")],
                                          [int(x) for x in m.group(4).split(",") if x])
        return parts

    def controller(self):
        lines = zk_cli(self.zk, "get", "/controller")
        return json.loads(lines[-1])["brokerid"]

    def epoch(self):
        return int(zk_cli(self.zk, "get", "/controller_epoch")[-1])

    def stop(self):
        if self.base is not None:
            self.run("stop", check=False)


def _port_free(port):
    import socket
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_for(what, fn, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def kcat(*args, input_data=None, timeout=60):
    out = subprocess.run(["kcat", *args], input=input_data, capture_output=True, timeout=timeout)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode()


def partition_lines(bootstrap, topic):
    text = kcat("-L", "-b", bootstrap, "-t", topic, "-m", "10")
    return sorted(l.strip() for l in text.splitlines() if l.strip().startswith("partition "))


@pytest.fixture
def cluster(workdir):
    c = Cluster(workdir).start()
    yield c
    c.stop()


def all_led(c, topic, n):
    d = c.describe(topic)
    return d if len(d) == n and all(v[0] >= 0 for v in d.values()) else None


def test_create_failover_and_controller_takeover(cluster):
    c = cluster
    out = c.topics("--create", "--topic", "orders", "--partitions", "6", "--replication-factor", "3")
    assert out.stdout.strip().endswith("Created topic orders.")
    d = wait_for("leaders of orders", lambda: all_led(c, "orders", 6))
    assert sorted({v[0] for v in d.values()}) == [1, 2, 3]  # spread over the brokers
    for p, (leader, replicas, isr) in d.items():
        assert leader == replicas[0] and sorted(isr) == [1, 2, 3]

    # Every broker tells clients the same.
    expected = ["partition %d, leader %d, replicas: %s, isrs: %s"
                % (p, v[0], ",".join(map(str, v[1])), ",".join(map(str, v[2]))) for p, v in sorted(d.items())]
    for b in (1, 2, 3):
        wait_for("broker %d's metadata" % b, lambda: partition_lines(c.bootstrap(b), "orders") == sorted(expected))

    # zkCli sees Kafka's znodes and JSON.
    reg = json.loads(zk_cli(c.zk, "get", "/brokers/ids/2")[-1])
    assert reg["endpoints"] == ["PLAINTEXT://127.0.0.1:%d" % c.port(2)] and reg["version"] == 5
    assert reg["listener_security_protocol_map"] == {"PLAINTEXT": "PLAINTEXT"} and reg["jmx_port"] == -1
    topic = json.loads(zk_cli(c.zk, "get", "/brokers/topics/orders")[-1])
    assert topic["version"] == 3 and sorted(topic["partitions"]) == ["0", "1", "2", "3", "4", "5"]
    state = zk_cli(c.zk, "get", "/brokers/topics/orders/partitions/0/state")[-1]
    assert re.fullmatch(r'\{"controller_epoch":\d+,"leader":%d,"version":1,"leader_epoch":0,"isr":\[%s\]\}'
                        % (d[0][0], ",".join(map(str, d[0][2]))), state), state
    assert "[1, 2, 3]" in zk_cli(c.zk, "ls", "/brokers/ids")[-1]
    assert len(zk_cli(c.zk, "get", "/cluster/id")[-1]) > 10

    # SIGKILL a broker that leads partitions and is not the controller.
    ctrl = c.controller()
    epoch = c.epoch()
    victim = next(v[0] for v in d.values() if v[0] != ctrl)
    led = [p for p, v in d.items() if v[0] == victim]
    c.run("kill", str(victim))
    def moved():
        now = c.describe("orders")
        return now if all(now[p][0] not in (victim, -1) for p in led) else None
    now = wait_for("new leaders after broker %d died" % victim, moved, timeout=SESSION_MS / 1000 + 15)
    for p in led:
        assert now[p][0] in d[p][2]              # from the old ISR
        assert victim not in now[p][2]           # the dead replica left the ISR
        assert now[p][0] == [r for r in d[p][1] if r != victim][0]  # first live replica in assignment order
    for p in led:  # kcat produces to them
        kcat("-b", c.bootstrap(ctrl), "-t", "orders", "-p", str(p), "-P", "-K:", input_data=b"after:failover\n")
    assert "broker %d failure: all LeaderAndIsr requests answered" % victim in c.log(ctrl)

    # The victim comes back; then the controller dies and another takes over with a higher epoch.
    c.run("start-broker", str(victim))
    c.run("kill", str(ctrl))
    new_ctrl = wait_for("a new controller", lambda: (lambda x: x if x != ctrl else None)(
        _safe(c.controller)), timeout=SESSION_MS / 1000 + 20)
    assert new_ctrl in (1, 2, 3) and new_ctrl != ctrl
    assert c.epoch() > epoch
    assert "broker %d is the controller now, epoch %d" % (new_ctrl, c.epoch()) in c.log(new_ctrl)
    # The new controller's one pass of writes: the dead controller's partitions
    # have new leaders from their ISR and it left every ISR; then its summary
    # line says how long each phase took.
    def ctrl_gone():
        now = c.describe("orders")
        return now if all(v[0] not in (ctrl, -1) and ctrl not in v[2] for v in now.values()) else None
    after = wait_for("orders without broker %d" % ctrl, ctrl_gone, timeout=30)
    for p, (leader, replicas, isr) in after.items():
        assert leader in isr and isr and set(isr) <= set(replicas) - {ctrl}, (p, after[p])
    phases = wait_for("the failover's phases", lambda: re.search(
        r"controller failover phases: elected -> state read ([\d.]+) ms -> leaders and ISRs written ([\d.]+) ms -> "
        r"requests built and queued ([\d.]+) ms -> all answered ([\d.]+) ms; ([\d.]+) ms from election to the last "
        r"answer", c.log(new_ctrl)))
    assert abs(sum(float(x) for x in phases.groups()[:4]) - float(phases.group(5))) < 0.5, phases.group(0)

    # Topic creation and failover keep working under the new controller.
    live = sorted({1, 2, 3} - {ctrl})
    c.topics("--create", "--topic", "later", "--replica-assignment", "%d:%d" % (live[1], live[0]))
    wait_for("leader of later", lambda: all_led(c, "later", 1))
    assert c.describe("later")[0][0] == live[1]
    kcat("-b", c.bootstrap(live[0]), "-t", "later", "-P", "-K:", input_data=b"a:1\n")
    other = live[1]
    c.run("kill", str(other))
    wait_for("later's new leader", lambda: c.describe("later")[0][0] == live[0], timeout=SESSION_MS / 1000 + 15)
    kcat("-b", c.bootstrap(live[0]), "-t", "later", "-P", "-K:", input_data=b"b:2\n")


def _safe(fn):
    try:
        return fn()
    except (ValueError, IndexError, KeyError):
        return None


def test_delete_recreate_controlled_shutdown_and_duplicate_id(cluster, workdir):
    c = cluster
    c.topics("--create", "--topic", "gone", "--partitions", "3", "--replication-factor", "3",
             "--config", "segment.bytes=1048576")
    wait_for("leaders of gone", lambda: all_led(c, "gone", 3))
    kcat("-b", c.bootstrap(), "-t", "gone", "-P", "-K:", input_data=b"".join(b"k%d:v%d\n" % (i, i) for i in range(30)))
    dirs = [os.path.join(c.dir, "broker-%d" % b, "logs", "gone-%d" % p) for b in (1, 2, 3) for p in range(3)]
    assert all(os.path.isdir(d) for d in dirs)
    # The topic's segment.bytes (from /config/topics/gone) is what its logs roll at.
    big = b"".join(b"%d:%s\n" % (i, b"x" * 10000) for i in range(300))
    kcat("-b", c.bootstrap(), "-t", "gone", "-p", "0", "-P", "-K:", input_data=big)
    leader0 = c.describe("gone")[0][0]
    d0 = os.path.join(c.dir, "broker-%d" % leader0, "logs", "gone-0")
    sizes = [os.path.getsize(os.path.join(d0, f)) for f in os.listdir(d0) if f.endswith(".log")]
    assert len(sizes) >= 3 and max(sizes) <= 1048576, sizes  # 3 MB in segments of at most 1 MiB

    out = c.topics("--delete", "--topic", "gone")
    assert "Topic gone is marked for deletion." in out.stdout
    wait_for("gone's logs removed everywhere", lambda: not any(os.path.isdir(d) for d in dirs))
    wait_for("gone's znodes removed", lambda: c.topics("--list").stdout.split() == [])
    for path in ("/config/topics/gone", "/brokers/topics/gone", "/admin/delete_topics/gone"):
        assert "Node does not exist: %s" % path in zk_cli(c.zk, "stat", path), path
    # Re-creating it works, and it starts empty. (Replication factor 1: followers do not
    # fetch yet, so the high watermark of a replicated partition stays at 0 for consumers.)
    c.topics("--create", "--topic", "gone", "--partitions", "2", "--replication-factor", "1")
    wait_for("leaders of the new gone", lambda: all_led(c, "gone", 2))
    kcat("-b", c.bootstrap(), "-t", "gone", "-P", "-K:", input_data=b"new:1\n")
    rows = kcat("-b", c.bootstrap(), "-t", "gone", "-C", "-e", "-o", "beginning", "-q", "-f", "%k\n").split()
    assert rows == ["new"]

    # Controlled shutdown: SIGTERM a broker that leads; its leaderships move first, and a
    # producer with retries keeps going without a failed send.
    c.topics("--create", "--topic", "moving", "--partitions", "6", "--replication-factor", "3")
    d = wait_for("leaders of moving", lambda: all_led(c, "moving", 6))
    victim = d[0][0]
    from kafka import KafkaProducer
    producer = KafkaProducer(bootstrap_servers=c.bootstrap(), acks=1, retries=20, retry_backoff_ms=100,
                             linger_ms=5)
    failures = []
    sent = [0]
    stop = threading.Event()

    def produce():
        while not stop.is_set():
            fut = producer.send("moving", key=b"k%d" % sent[0], value=b"v")
            fut.add_errback(lambda e: failures.append(repr(e)))
            sent[0] += 1
            time.sleep(0.002)

    ctrl = c.controller()  # the one that handles the controlled shutdown (possibly the victim itself)
    t = threading.Thread(target=produce)
    t.start()
    time.sleep(1.0)
    out = c.run("stop", str(victim))
    assert out.stdout.strip() == "broker-%d stopped (exit status 0)" % victim
    time.sleep(1.0)
    stop.set()
    t.join()
    producer.flush(30)
    producer.close(10)
    assert sent[0] > 100 and failures == []
    log = c.log(victim)
    assert "controlled shutdown succeeded" in log
    after = c.describe("moving")
    assert all(v[0] != victim and v[0] >= 0 for v in after.values())
    assert re.search(r"controlled shutdown of broker %d: \d+ of \d+ leadership\(s\) moved" % victim, c.log(ctrl))

    # A second broker with a registered id refuses to start, with a clear error.
    other = 1 if victim != 1 else 2
    logs = os.path.join(workdir, "dup-logs")
    dup = subprocess.run([binary("broker/samsa-broker"), os.path.join(ROOT, "conf", "server.properties"),
                          "--override", "broker.id=%d" % other,
                          "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % free_port(),
                          "--override", "log.dirs=%s" % logs, "--override", "zookeeper.connect=%s" % c.zk],
                         capture_output=True, text=True, timeout=60)
    assert dup.returncode == 1
    assert "broker id %d is registered by another broker" % other in dup.stdout + dup.stderr


def test_unclean_leader_election_is_the_topics_choice(cluster):
    """The book's choice when the last in-sync replica is gone: wait for it
    (consistency) or let a replica that is not in sync lead (availability)."""
    c = cluster
    c.topics("--create", "--topic", "careful", "--replica-assignment", "1:2")
    c.topics("--create", "--topic", "eager", "--replica-assignment", "1:2",
             "--config", "unclean.leader.election.enable=true")
    for t in ("careful", "eager"):
        wait_for("leader of " + t, lambda: all_led(c, t, 1))
    c.run("kill", "1")  # broker 2 leads both, alone in the ISR
    for t in ("careful", "eager"):
        wait_for(t + " led by 2", lambda: c.describe(t)[0][:3:2] == (2, [2]), timeout=SESSION_MS / 1000 + 15)
    c.run("kill", "2")  # every replica down; the ISR still names broker 2, the last in sync
    for t in ("careful", "eager"):
        wait_for(t + " offline", lambda: c.describe(t)[0] == (-1, [1, 2], [2]), timeout=SESSION_MS / 1000 + 15)
    c.run("start-broker", "1")  # back, but it was not in sync when the last one died
    # eager: broker 1 leads although it was not in sync
    wait_for("eager led by 1", lambda: c.describe("eager")[0] == (1, [1, 2], [1]), timeout=SESSION_MS / 1000 + 15)
    # careful: no live ISR member, so no leader (decided in the same broker-startup round)
    assert c.describe("careful")[0] == (-1, [1, 2], [2])
    assert "eager-0: unclean leader election: 1 leads without being in the ISR" in c.log(c.controller())
    # Availability chosen after the fact: enabling unclean election on careful (a dynamic
    # topic config, through /config/changes) lets broker 1 lead it now.
    out = c.topics("--alter", "--topic", "careful", "--config", "unclean.leader.election.enable=true")
    assert out.returncode == 0, out.stderr
    wait_for("careful led by 1", lambda: c.describe("careful")[0] == (1, [1, 2], [1]), timeout=20)
    assert "unclean leader election is now enabled for topic careful" in c.log(c.controller())


def test_preferred_leader_election(cluster):
    c = cluster
    zk_tool = binary("tests/integration/zk_tool")
    ctrl = c.controller()
    a, b = sorted({1, 2, 3} - {ctrl})
    # Topic admin requests are the controller's: another broker answers NOT_CONTROLLER (41),
    # and a client that asks any broker (librdkafka via Metadata) reaches the controller.
    import struct
    from test_controller_requests import arr, request, s16
    body = arr(["elsewhere"], lambda n: s16(n) + struct.pack(">ihii", 1, 1, 0, 0)) + struct.pack(">i?", 5000, False)
    assert request(c.port(a), 19, 1, body) == struct.pack(">i", 1) + s16("elsewhere") + struct.pack(">hh", 41, -1)
    out = subprocess.run([binary("tools/samsa-topics"), "--bootstrap-server", c.bootstrap(a), "--create", "--topic",
                          "elsewhere", "--partitions", "1", "--replication-factor", "1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "Created topic elsewhere.", out.stdout + out.stderr
    c.topics("--create", "--topic", "pref", "--replica-assignment", "%d:%d,%d:%d" % (a, b, b, a))
    wait_for("leaders of pref", lambda: all_led(c, "pref", 2))
    # A leader other than the preferred one with the preferred replica in the ISR (as
    # after a failover and a catch-up); written directly, then a new controller (the old
    # one stopped cleanly) reads it from ZooKeeper.
    subprocess.run([zk_tool, c.zk, "state", "pref", "0", str(b), "%d,%d" % (a, b)], check=True, timeout=30)
    c.run("stop", str(ctrl))
    wait_for("a new controller", lambda: _safe(c.controller) in (a, b), timeout=20)
    assert c.describe("pref")[0] == (b, [a, b], [a, b])
    # What kafka-preferred-replica-election.sh writes.
    subprocess.run([zk_tool, c.zk, "create", "/admin/preferred_replica_election",
                    '{"version":1,"partitions":[{"topic":"pref","partition":0}]}'], check=True, timeout=30)
    wait_for("the preferred leader back", lambda: c.describe("pref")[0][0] == a)
    wait_for("the request znode removed", lambda: subprocess.run(
        [zk_tool, c.zk, "version", "/admin/preferred_replica_election"], capture_output=True).returncode == 3)
    assert c.describe("pref")[1][0] == b  # partition 1 was not asked about


def test_auto_leader_rebalance(workdir):
    """auto.leader.rebalance.enable: the controller moves leadership back to the
    preferred replicas by itself (here checked every second)."""
    c = Cluster(workdir, overrides=["leader.imbalance.check.interval.seconds=1"]).start()
    try:
        zk_tool = binary("tests/integration/zk_tool")
        ctrl = c.controller()
        a, b = sorted({1, 2, 3} - {ctrl})
        c.topics("--create", "--topic", "bal", "--replica-assignment", "%d:%d" % (a, b))
        wait_for("leader of bal", lambda: all_led(c, "bal", 1))
        subprocess.run([zk_tool, c.zk, "state", "bal", "0", str(b), "%d,%d" % (a, b)], check=True, timeout=30)
        c.run("stop", str(ctrl))  # a new controller reads the imbalanced state
        wait_for("leadership back on %d" % a, lambda: c.describe("bal")[0][0] == a, timeout=20)
        new_ctrl = c.controller()
        assert "broker %d leads 1 fewer of its 1 preferred partitions than it should: rebalancing" % a \
            in c.log(new_ctrl)
    finally:
        c.stop()


def test_deletion_waits_for_a_dead_replica(cluster):
    """A topic with a replica on a dead broker is deleted when that broker is back
    (ReplicaDeletionIneligible until then), from every broker's disk."""
    c = cluster
    c.topics("--create", "--topic", "later-gone", "--partitions", "2", "--replication-factor", "3")
    wait_for("leaders of later-gone", lambda: all_led(c, "later-gone", 2))
    dirs = [os.path.join(c.dir, "broker-%d" % b, "logs", "later-gone-%d" % p) for b in (1, 2, 3) for p in range(2)]
    # Each replica's log is made when its broker handles LeaderAndIsr, a moment after the leaders are written.
    wait_for("every replica's log", lambda: all(os.path.isdir(d) for d in dirs))
    victim = 3 if c.controller() != 3 else 2
    c.run("kill", str(victim))
    wait_for("broker %d gone" % victim, lambda: victim not in [
        int(x) for x in re.findall(r"\d+", zk_cli(c.zk, "ls", "/brokers/ids")[-1])], timeout=SESSION_MS / 1000 + 15)
    c.topics("--delete", "--topic", "later-gone")
    time.sleep(2)
    listed = c.topics("--list").stdout.split()
    assert "later-gone" in " ".join(listed)  # still there, marked for deletion
    assert all(os.path.isdir(d) for d in dirs)
    c.run("start-broker", str(victim))
    wait_for("later-gone's logs removed everywhere", lambda: not any(os.path.isdir(d) for d in dirs), timeout=30)
    wait_for("later-gone's znodes removed", lambda: "later-gone" not in c.topics("--list").stdout, timeout=30)


def test_after_all_brokers_died_the_isr_in_zookeeper_decides(cluster):
    """The book's question: every broker goes down, then they come back one by one.
    The last in-sync replica is recorded in the partition's state znode; the
    partition stays offline until that broker returns (unclean election is off)."""
    c = cluster
    c.topics("--create", "--topic", "last", "--replica-assignment", "1:2")
    wait_for("leader of last", lambda: all_led(c, "last", 1))
    gone = lambda b: lambda: b not in [int(x) for x in re.findall(r"\d+", zk_cli(c.zk, "ls", "/brokers/ids")[-1])]
    c.run("kill", "2")
    wait_for("last led by 1 alone", lambda: c.describe("last")[0] == (1, [1, 2], [1]), timeout=SESSION_MS / 1000 + 15)
    c.run("kill", "1")
    wait_for("last offline", lambda: c.describe("last")[0] == (-1, [1, 2], [1]), timeout=SESSION_MS / 1000 + 15)
    c.run("kill", "3")  # now no broker is alive
    wait_for("broker 3 gone", gone(3), timeout=SESSION_MS / 1000 + 15)
    state = json.loads(zk_cli(c.zk, "get", "/brokers/topics/last/partitions/0/state")[-1])
    assert state["leader"] == -1 and state["isr"] == [1]  # who was last in sync survives in ZooKeeper
    c.run("start-broker", "3")  # becomes controller, reads the state from ZooKeeper
    c.run("start-broker", "2")  # a replica, but not the last in sync
    time.sleep(2)
    assert c.describe("last")[0] == (-1, [1, 2], [1])
    c.run("start-broker", "1")  # the last in-sync replica is back: it leads
    wait_for("last led by 1 again", lambda: c.describe("last")[0][0] == 1, timeout=20)
