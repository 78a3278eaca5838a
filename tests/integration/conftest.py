"""Shared fixtures for samsa's integration tests.

Each test that needs ZooKeeper gets a private one on a free port, started with
tools/samsa-zookeeper and stopped (by its pid) when the test ends. Binaries
come from the build named by SAMSA_BUILD (tests/run.sh sets it to build/).
"""
import os
import socket
import subprocess
import tempfile

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
