"""tools/samsa-cluster: a private ZooKeeper and N brokers started together,
inspected, stopped, killed and restarted one at a time, and stopped together
with no process left behind.

The brokers are real samsa-brokers, which register in ZooKeeper and elect a
controller. A small fake broker, written below in Python, stands in where the
tool's other paths need a broker that dies at start-up.
"""
import os
import random
import socket
import stat
import subprocess
import time

import pytest

from conftest import ROOT, binary, zk_four_letter
from test_controller import wait_for

CLUSTER = os.path.join(ROOT, "tools", "samsa-cluster")


def run(cluster_dir, *args, env=None):
    return subprocess.run([CLUSTER, "--dir", cluster_dir, *args], capture_output=True, text=True,
                          timeout=120, env=env)


def cluster_env(broker=None, **extra):
    env = dict(os.environ)
    env["SAMSA_BROKER"] = broker or binary("broker/samsa-broker")
    env.update(extra)
    return env


def free_base_port(count):
    """A port P such that P..P+count-1 are all free, below the kernel's
    ephemeral range so that no outgoing connection takes one meanwhile."""
    for _ in range(200):
        base = random.randrange(20000, 30000 - count)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    pytest.fail("no %d consecutive free ports found" % count)


def parse_status(text):
    """{name: (pid or None, state, rest)} from `samsa-cluster status`; REST
    is the address and what follows it, blanks squeezed."""
    out = {}
    for line in text.splitlines():
        name, word, pid, state, rest = (line.split(None, 4) + [""])[:5]
        assert word == "pid", line
        out[name] = (None if pid == "-" else int(pid), state, " ".join(rest.split()))
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def processes_naming(path):
    """Pids of the processes whose command line mentions PATH: the brokers
    (their config), ZooKeeper (its zoo.cfg) and the tool's waiter shells."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                if path.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            pass
    return [p for p in found if alive(p)]


@pytest.fixture
def cluster_dir(workdir):
    """DIR for one cluster; whatever it runs is stopped at the end."""
    d = os.path.join(workdir, "cluster")
    yield d
    if os.path.exists(os.path.join(d, "cluster.conf")):
        run(d, "stop", "--wait", "10")
    assert processes_naming(d) == [], "processes left running"


def test_three_brokers_start_stop_kill_restart_and_stop_all(cluster_dir):
    env = cluster_env()
    base = free_base_port(3)
    ports = [base, base + 1, base + 2]

    out = run(cluster_dir, "start", "--brokers", "3", "--base-port", str(base), env=env)
    assert out.returncode == 0, out.stderr
    assert "no broker registered" not in out.stdout

    status = run(cluster_dir, "status")
    assert status.returncode == 0, status.stdout
    procs = parse_status(status.stdout)
    assert sorted(procs) == ["broker-1", "broker-2", "broker-3", "zookeeper"]
    assert all(state == "up" and alive(pid) for pid, state, _ in procs.values())
    assert procs["broker-2"][2] == "127.0.0.1:%d registered" % ports[1]
    first_pids = {name: pid for name, (pid, _, _) in procs.items()}

    bootstrap = run(cluster_dir, "bootstrap").stdout.strip()
    assert bootstrap == ",".join("127.0.0.1:%d" % p for p in ports)
    zk = run(cluster_dir, "zookeeper").stdout.strip()
    assert "Mode: standalone" in zk_four_letter(int(zk.rsplit(":", 1)[1]))

    props = open(os.path.join(cluster_dir, "broker-2", "server.properties")).read().splitlines()
    for line in ["broker.id=2", "listeners=PLAINTEXT://127.0.0.1:%d" % ports[1],
                 "log.dirs=%s" % os.path.join(cluster_dir, "broker-2", "logs"),
                 "zookeeper.connect=%s" % zk, "zookeeper.session.timeout.ms=6000",
                 "default.replication.factor=3", "offsets.topic.replication.factor=3",
                 "min.insync.replicas=1"]:
        assert props.count(line) == 1, line
    assert "broker.id=0" not in props  # the template's own value is commented out

    for broker_id, port in enumerate(ports, 1):
        md = subprocess.run(["kcat", "-L", "-b", "127.0.0.1:%d" % port, "-m", "10"],
                            capture_output=True, text=True, timeout=30)
        assert md.returncode == 0, md.stderr
        assert "broker %d at 127.0.0.1:%d" % (broker_id, port) in md.stdout

    # Starting a running cluster again is refused and changes nothing.
    again = run(cluster_dir, "start", env=env)
    assert again.returncode == 1
    assert "already running" in again.stderr and len(again.stderr.splitlines()) == 1
    assert {n: p for n, (p, _, _) in parse_status(run(cluster_dir, "status").stdout).items()} == first_pids

    # stop 2: SIGTERM, the broker exits 0, the others stay up.
    out = run(cluster_dir, "stop", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "broker-2 stopped (exit status 0)"
    assert not alive(first_pids["broker-2"])
    status = run(cluster_dir, "status")
    assert status.returncode == 3
    procs = parse_status(status.stdout)
    assert procs["broker-2"] == (None, "down", "127.0.0.1:%d last run exited with status 0" % ports[1])
    assert procs["broker-1"][:2] == (first_pids["broker-1"], "up")
    assert procs["broker-3"][:2] == (first_pids["broker-3"], "up")

    out = run(cluster_dir, "start-broker", "2", env=env)
    assert out.returncode == 0, out.stderr
    procs = parse_status(run(cluster_dir, "status").stdout)
    pid2 = procs["broker-2"][0]
    assert procs["broker-2"][1] == "up" and pid2 != first_pids["broker-2"] and alive(pid2)
    assert run(cluster_dir, "start-broker", "2", env=env).returncode == 1  # already running

    # kill 3: SIGKILL; restart 3 brings it back.
    out = run(cluster_dir, "kill", "3")
    assert out.returncode == 0 and out.stdout.strip() == "broker-3 killed (SIGKILL)"
    assert not alive(first_pids["broker-3"])
    procs = parse_status(run(cluster_dir, "status").stdout)
    assert procs["broker-3"][:2] == (None, "down")
    assert procs["broker-3"][2].endswith("last run was killed by SIGKILL")
    out = run(cluster_dir, "restart", "3", env=env)
    assert out.returncode == 0, out.stderr
    assert "broker-3 not running" in out.stdout
    procs = parse_status(run(cluster_dir, "status").stdout)
    assert all(state == "up" for _, state, _ in procs.values())
    pid3 = procs["broker-3"][0]
    md = subprocess.run(["kcat", "-L", "-b", "127.0.0.1:%d" % ports[2], "-m", "10"],
                        capture_output=True, text=True, timeout=30)
    assert md.returncode == 0, md.stderr

    # stop: every broker exits 0, then ZooKeeper; nothing is left running.
    out = run(cluster_dir, "stop")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == ["broker-%d stopped (exit status 0)" % i for i in (1, 2, 3)] + \
        ["zookeeper stopped"]
    for pid in list(first_pids.values()) + [pid2, pid3]:
        assert not alive(pid), pid
    assert processes_naming(cluster_dir) == []
    status = run(cluster_dir, "status")
    assert status.returncode == 3
    assert [s for _, s, _ in parse_status(status.stdout).values()] == ["down"] * 4


def test_usage_errors_are_one_clear_line(workdir):
    empty = os.path.join(workdir, "empty")
    os.makedirs(empty)
    out = run(empty, "frobnicate")
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "samsa-cluster: unknown command 'frobnicate' (commands: start, status, stop, kill, start-broker, "
        "restart, bootstrap, zookeeper, zookeeper-leader, stop-zookeeper, kill-zookeeper, start-zookeeper)"]
    for args in (["stop"], ["status"], ["kill", "1"], ["bootstrap"]):
        out = run(empty, *args)
        assert out.returncode == 1, args
        assert out.stderr.splitlines() == [
            "samsa-cluster: %s is not a samsa cluster (no cluster.conf; create one with: "
            "samsa-cluster --dir DIR start)" % empty]
    open(os.path.join(empty, "precious"), "w").close()
    out = run(empty, "start", env=cluster_env())
    assert out.returncode == 1 and "is not empty and is not a samsa cluster" in out.stderr
    out = run(os.path.join(workdir, "c"), "start", "--override", "listeners=PLAINTEXT://:1", env=cluster_env())
    assert out.returncode == 2 and "samsa-cluster sets it for each broker" in out.stderr
    out = run(os.path.join(workdir, "c"), "start", "--brokers", "zero", env=cluster_env())
    assert out.returncode == 2 and "--brokers wants a positive number" in out.stderr


def test_bad_override_and_port_in_use_start_nothing(cluster_dir):
    base = free_base_port(2)
    out = run(cluster_dir, "start", "--brokers", "2", "--base-port", str(base),
              "--override", "num.partitions=many", env=cluster_env())
    assert out.returncode == 1
    assert "broker-1's configuration is invalid" in out.stderr and "num.partitions" in out.stderr
    assert not os.path.exists(os.path.join(cluster_dir, "zookeeper"))

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 1))
        taken.listen(1)
        out = run(cluster_dir, "start", "--brokers", "2", "--base-port", str(base), env=cluster_env())
    assert out.returncode == 1
    assert out.stderr.strip() == "samsa-cluster: port %d (broker-2) is already in use" % (base + 1)
    assert not os.path.exists(os.path.join(cluster_dir, "zookeeper"))


# A stand-in broker: listens on its port, and (FAKE_REGISTER=1) registers the
# ephemeral /brokers/ids/<id> in ZooKeeper FAKE_DELAY seconds later, speaking
# just enough of ZooKeeper's protocol; closes its session on SIGTERM and
# exits 0. The broker whose id is FAKE_DIE_ID prints a line and exits 3.
FAKE_BROKER = r'''#!/usr/bin/python3
import os, select, signal, socket, struct, sys, time

if sys.argv[1] == "--check-config":
    sys.exit(0)
props = {}
for line in open(sys.argv[1]):
    if "=" in line and not line.lstrip().startswith("#"):
        k, v = line.split("=", 1)
        props[k.strip()] = v.strip()
bid = props["broker.id"]
if os.environ.get("FAKE_DIE_ID") == bid:
    print("fake broker %s: cannot lock the log dir" % bid, flush=True)
    sys.exit(3)
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
host, port = props["listeners"].split("://", 1)[1].rsplit(":", 1)
lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind((host, int(port)))
lsock.listen(16)

def string(s):
    return struct.pack(">i", len(s)) + s

def recv_frame(s):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                raise SystemExit("zookeeper closed the connection")
            data += chunk
        return data
    return exactly(struct.unpack(">i", exactly(4))[0])

def call(s, xid, op, body=b""):
    s.sendall(struct.pack(">iii", 8 + len(body), xid, op) + body)
    reply = recv_frame(s)
    return struct.unpack(">iqi", reply[:16])[2]

zk = None
register_at = time.monotonic() + float(os.environ.get("FAKE_DELAY", "0"))
last_ping = time.monotonic()
while not stopping:
    now = time.monotonic()
    if zk is None and os.environ.get("FAKE_REGISTER") == "1" and now >= register_at:
        zhost, zport = props["zookeeper.connect"].rsplit(":", 1)
        zk = socket.create_connection((zhost, int(zport)))
        req = struct.pack(">iqiq", 0, 0, 6000, 0) + string(b"\0" * 16) + b"\0"
        zk.sendall(struct.pack(">i", len(req)) + req)
        recv_frame(zk)
        acl = struct.pack(">ii", 1, 31) + string(b"world") + string(b"anyone")
        for xid, (path, flags) in enumerate([(b"/brokers", 0), (b"/brokers/ids", 0),
                                             (b"/brokers/ids/" + bid.encode(), 1)], 1):
            err = call(zk, xid, 1, string(path) + string(b"{}") + acl + struct.pack(">i", flags))
            assert err in (0, -110), err
    if zk is not None and now - last_ping > 1:
        call(zk, -2, 11)
        last_ping = now
    ready = select.select([lsock], [], [], 0.1)[0]
    if ready:
        lsock.accept()[0].close()
if zk is not None:
    call(zk, 100, -11)
sys.exit(0)
'''


def write_fake_broker(workdir):
    path = os.path.join(workdir, "fake-broker")
    with open(path, "w") as f:
        f.write(FAKE_BROKER)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def registered_in(zk_address):
    reply = zk_four_letter(int(zk_address.rsplit(":", 1)[1]), "dump")
    return sorted(line.strip() for line in reply.splitlines() if line.strip().startswith("/brokers/ids/"))


def test_start_waits_for_brokers_that_register_in_zookeeper(workdir, cluster_dir):
    fake = write_fake_broker(workdir)
    base = free_base_port(2)
    # Each fake registers one second after it listens: start returns only then.
    env = cluster_env(broker=fake, FAKE_REGISTER="1", FAKE_DELAY="1")
    out = run(cluster_dir, "start", "--brokers", "2", "--base-port", str(base), env=env)
    assert out.returncode == 0, out.stderr
    assert "note:" not in out.stdout
    zk = run(cluster_dir, "zookeeper").stdout.strip()
    assert registered_in(zk) == ["/brokers/ids/1", "/brokers/ids/2"]
    procs = parse_status(run(cluster_dir, "status").stdout)
    assert procs["broker-1"][2].endswith("registered") and not procs["broker-1"][2].endswith("not registered")
    assert procs["broker-2"][2].endswith(" registered")

    out = run(cluster_dir, "stop", "2")
    assert out.stdout.strip() == "broker-2 stopped (exit status 0)"
    assert registered_in(zk) == ["/brokers/ids/1"]
    assert parse_status(run(cluster_dir, "status").stdout)["broker-2"][1] == "down"

    # Broker 1 registers, so a broker 2 that listens without registering is
    # not up: start-broker gives up after --wait and leaves it stopped.
    out = run(cluster_dir, "start-broker", "2", "--wait", "2", env=cluster_env(broker=fake, FAKE_REGISTER="0"))
    assert out.returncode == 1
    assert "broker-2 listens but did not register in ZooKeeper in time" in out.stderr.splitlines()[-1]
    assert parse_status(run(cluster_dir, "status").stdout)["broker-2"][1] == "down"

    out = run(cluster_dir, "start-broker", "2", env=env)
    assert out.returncode == 0, out.stderr
    assert registered_in(zk) == ["/brokers/ids/1", "/brokers/ids/2"]
    assert run(cluster_dir, "stop").returncode == 0


def test_a_broker_dying_at_start_shows_its_log_and_stops_the_cluster(workdir, cluster_dir):
    fake = write_fake_broker(workdir)
    base = free_base_port(3)
    out = run(cluster_dir, "start", "--brokers", "3", "--base-port", str(base),
              env=cluster_env(broker=fake, FAKE_DIE_ID="2"))
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert "fake broker 2: cannot lock the log dir" in lines
    assert lines[-1] == ("samsa-cluster: broker-2 exited with status 3 during start-up (log: %s/broker-2/broker.log); "
                         "the cluster is stopped" % cluster_dir)
    assert processes_naming(cluster_dir) == []
    status = run(cluster_dir, "status")
    assert [s for _, s, _ in parse_status(status.stdout).values()] == ["down"] * 4


def ensemble_status(cluster_dir):
    out = run(cluster_dir, "status")
    return out.returncode, parse_status(out.stdout)



def produce_lines(bootstrap, topic, first, last):
    out = subprocess.run([binary("tools/samsa-console-producer"), "--bootstrap-server", bootstrap, "--topic", topic,
                          "--request-required-acks", "all"],
                         input="".join("%d\n" % i for i in range(first, last + 1)), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr


def leaders(zk_connect, topic):
    """{partition: leader} as the controller wrote it in ZooKeeper. (Through
    a broker, librdkafka's admin client would wait out its whole timeout for
    the dead controller the brokers report until the new one's
    UpdateMetadata arrives.)"""
    out = subprocess.run([binary("tools/samsa-topics"), "--zookeeper", zk_connect, "--describe", "--topic", topic],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    found = {}
    for line in out.stdout.splitlines():
        fields = dict(f.split(": ", 1) for f in line.strip().split("\t") if ": " in f)
        if "Partition" in fields:
            found[int(fields["Partition"])] = int(fields["Leader"]) if fields["Leader"].lstrip("-").isdigit() else None
    return found


def test_a_zookeeper_ensemble_loses_its_leader_and_its_quorum(cluster_dir):
    """--zookeepers 3: three servers, brokers connected to all three. Killing
    the ensemble's leader keeps the quorum (brokers stay registered, writes
    go on); losing the quorum for longer than the session timeout leaves the
    brokers serving what they lead, and once the quorum is back every broker
    is registered again and the controller acts on a broker's death."""
    env = cluster_env()
    base = free_base_port(3)
    out = run(cluster_dir, "start", "--brokers", "3", "--base-port", str(base), "--zookeepers", "3", env=env)
    assert out.returncode == 0, out.stderr
    rc, procs = ensemble_status(cluster_dir)
    assert rc == 0, procs
    zks = sorted(n for n in procs if n.startswith("zookeeper-"))
    assert zks == ["zookeeper-1", "zookeeper-2", "zookeeper-3"]
    modes = sorted(procs[n][2].split()[1] for n in zks)
    assert modes == ["follower", "follower", "leader"]
    connect = run(cluster_dir, "zookeeper").stdout.strip()
    assert connect == ",".join(procs[n][2].split()[0] for n in zks)
    with open(os.path.join(cluster_dir, "broker-1", "server.properties")) as f:
        assert "zookeeper.connect=%s\n" % connect in f.read()

    bootstrap = run(cluster_dir, "bootstrap").stdout.strip()
    created = subprocess.run([binary("tools/samsa-topics"), "--bootstrap-server", bootstrap, "--create", "--topic", "ens",
                              "--partitions", "3", "--replication-factor", "3"], capture_output=True, text=True,
                             timeout=30)
    assert created.returncode == 0, created.stderr
    wait_for("leaders", lambda: all(v is not None for v in leaders(connect, "ens").values()), timeout=60)
    produce_lines(bootstrap, "ens", 1, 100)

    # The ensemble's leader dies: a quorum of two remains.
    zk_leader = run(cluster_dir, "zookeeper-leader").stdout.strip()
    assert run(cluster_dir, "kill-zookeeper", zk_leader).stdout.strip() == "zookeeper-%s killed (SIGKILL)" % zk_leader
    wait_for("a new ensemble leader", lambda: run(cluster_dir, "zookeeper-leader").returncode == 0, timeout=60)
    new_leader = run(cluster_dir, "zookeeper-leader").stdout.strip()
    assert new_leader != zk_leader
    produce_lines(bootstrap, "ens", 101, 200)
    _, procs = ensemble_status(cluster_dir)
    assert [procs["broker-%d" % i][2].split()[-1] for i in (1, 2, 3)] == ["registered"] * 3

    # The quorum is lost for longer than the brokers' session timeout (6 s).
    run(cluster_dir, "kill-zookeeper", new_leader)
    rc, procs = ensemble_status(cluster_dir)
    assert rc == 3
    survivor = [n for n in zks if procs[n][0] is not None]
    assert len(survivor) == 1 and procs[survivor[0]][1] == "starting", procs
    time.sleep(8)
    produce_lines(bootstrap, "ens", 201, 300)

    for zid in (zk_leader, new_leader):
        started = run(cluster_dir, "start-zookeeper", zid)
        assert started.returncode == 0, started.stderr
    def all_registered():
        rc, procs = ensemble_status(cluster_dir)
        return rc == 0 and all(procs["broker-%d" % i][2].split()[-1] == "registered" for i in (1, 2, 3))
    wait_for("every broker registered again", all_registered, timeout=60)

    # The controller acts again: a dead broker's partitions get new leaders.
    before = leaders(connect, "ens")
    victim = before[0]
    assert run(cluster_dir, "kill", str(victim)).returncode == 0
    alive_bootstrap = ",".join(a for i, a in enumerate(bootstrap.split(","), 1) if i != victim)
    def re_led():
        now = leaders(connect, "ens")
        return now if now.get(0) not in (None, victim) else None
    after = wait_for("partition 0 re-led", re_led, timeout=60)
    assert victim not in after.values()
    produce_lines(alive_bootstrap, "ens", 301, 400)
    consumed = subprocess.run([binary("tools/samsa-console-consumer"), "--bootstrap-server", alive_bootstrap,
                               "--topic", "ens", "--from-beginning", "--max-messages", "400", "--timeout-ms", "20000"],
                              capture_output=True, text=True, timeout=60)
    assert sorted(int(x) for x in consumed.stdout.split()) == list(range(1, 401))
