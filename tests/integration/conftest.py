"""Shared fixtures for samsa's integration tests.

Each test that needs ZooKeeper gets a private one on a free port, started with
tools/samsa-zookeeper and stopped (by its pid) when the test ends. Binaries
come from the build named by SAMSA_BUILD (tests/run.sh sets it to build/).
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.environ.get("SAMSA_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SAMSA_BUILD") or os.path.join(ROOT, "build")
ZK_SCRIPT = os.path.join(ROOT, "tools", "samsa-zookeeper")


def binary(rel):
    path = os.path.join(BUILD, rel)
    if not os.access(path, os.X_OK):
        pytest.fail("%s is not built (run tests/run.sh, or set SAMSA_BUILD)" % path)
    return path


def zk_four_letter(port, word="srvr", timeout=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(word.encode())
        chunks = []
        while True:
            data = s.recv(4096)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode()


class ZooKeeper:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "zk")
        self.address = None

    def start(self, *extra):
        out = subprocess.run([ZK_SCRIPT, "start", "--dir", self.dir, *extra],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        self.address = out.stdout.strip()
        return self.address

    @property
    def port(self):
        return int(self.address.rsplit(":", 1)[1])

    def stop(self):
        return subprocess.run([ZK_SCRIPT, "stop", "--dir", self.dir], capture_output=True, text=True, timeout=60)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="samsa-it-")
    yield d
    subprocess.run(["rm", "-rf", d])


@pytest.fixture
def zookeeper(workdir):
    zk = ZooKeeper(workdir)
    zk.start()
    yield zk
    zk.stop()


class SharedZooKeeper:
    """One ZooKeeper for the whole test session, started on first use; each
    broker that does not get its own ZooKeeper uses a private chroot in it
    (so tests never see each other's clusters)."""

    def __init__(self):
        self.zk = None
        self.dir = None

    def address(self):
        if self.zk is None:
            self.dir = tempfile.mkdtemp(prefix="samsa-it-zk-")
            zk = ZooKeeper(self.dir)
            zk.start()
            self.zk = zk
        return self.zk.address

    def stop(self):
        if self.zk is not None:
            self.zk.stop()
            subprocess.run(["rm", "-rf", self.dir])
            self.zk = None


SHARED_ZK = SharedZooKeeper()


@pytest.fixture(scope="session", autouse=True)
def shared_zookeeper():
    yield SHARED_ZK
    SHARED_ZK.stop()


def fresh_chroot_connect():
    """A ZooKeeper connect string with a chroot no other broker uses."""
    return "%s/samsa-it-%s" % (SHARED_ZK.address(), os.urandom(6).hex())


def metadata_v1(port, timeout=2.0):
    """A raw Metadata v1 request for no topics: returns (broker ids, controller id)."""
    import struct
    body = struct.pack(">i", 0)
    req = struct.pack(">hhih", 3, 1, 99, 4) + b"conf" + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(req)) + req)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("closed")
            data += chunk
    pos = 8
    (n,) = struct.unpack(">i", data[pos:pos + 4])
    pos += 4
    ids = []
    for _ in range(n):
        (bid,) = struct.unpack(">i", data[pos:pos + 4])
        ids.append(bid)
        pos += 4
        (hl,) = struct.unpack(">h", data[pos:pos + 2])
        pos += 2 + hl + 4
        (rl,) = struct.unpack(">h", data[pos:pos + 2])
        pos += 2 + max(rl, 0)
    (controller,) = struct.unpack(">i", data[pos:pos + 4])
    return ids, controller


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A samsa-broker process with a private log dir on a free port."""

    def __init__(self, workdir, broker_id=1, overrides=(), zk_connect=None):
        self.dir = os.path.join(workdir, "broker-%d" % broker_id)
        self.zk_connect = zk_connect or fresh_chroot_connect()
        os.makedirs(self.dir, exist_ok=True)
        self.id = broker_id
        self.port = free_port()
        self.bootstrap = "127.0.0.1:%d" % self.port
        self.log_path = os.path.join(self.dir, "broker.log")
        self.overrides = [
            "broker.id=%d" % broker_id,
            "listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
            "log.dirs=%s" % os.path.join(self.dir, "logs"),
            "num.partitions=3",
            "zookeeper.connect=%s" % self.zk_connect,
        ] + list(overrides)
        self.proc = None

    def start(self, timeout=30):
        args = [binary("broker/samsa-broker"), os.path.join(ROOT, "conf", "server.properties")]
        for o in self.overrides:
            args += ["--override", o]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("samsa-broker exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                # ready: registered, and the controller's UpdateMetadata arrived
                ids, controller = metadata_v1(self.port, timeout=0.5)
                if self.id in ids and controller >= 0:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("samsa-broker %d did not become ready on %d:\n%s" % (self.id, self.port, self.read_log()))

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit status."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


@pytest.fixture
def broker(workdir):
    b = Broker(workdir).start()
    yield b
    rc = b.stop()
    assert rc == 0, "samsa-broker exited with %s:\n%s" % (rc, b.read_log()[-4000:])
