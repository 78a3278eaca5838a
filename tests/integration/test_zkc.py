"""common/zk/zkc against a real ZooKeeper: tests/integration/zkc_check runs one
scenario per test (see its header) and prints PASS. The scenarios keep to
their own top-level node, so they share one private ZooKeeper started for
this module; the test that stops ZooKeeper with SIGSTOP gets its own (the
`zookeeper` fixture)."""
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import ZooKeeper, binary


@pytest.fixture(scope="module")
def shared_zookeeper():
    d = tempfile.mkdtemp(prefix="samsa-zkc-")
    zk = ZooKeeper(d)
    zk.start()
    yield zk
    zk.stop()
    shutil.rmtree(d, ignore_errors=True)


def check(scenario, connect, timeout=90):
    out = subprocess.run([binary("tests/integration/zkc_check"), scenario, connect],
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0 and out.stdout.rstrip().endswith("PASS"), \
        "zkc_check %s exited %s:\n%s\n%s" % (scenario, out.returncode, out.stdout, out.stderr[-4000:])
    return out.stdout


def test_create_get_set_delete_with_versions(shared_zookeeper):
    out = check("basic", shared_zookeeper.address)
    assert "set with versions: BADVERSION on a stale version" in out
    assert "sequential nodes get 10-digit counters" in out
    assert "children with their data in one batch: names, paths, data, stats; NONODE for a missing parent" in out


def test_multi_is_atomic(shared_zookeeper):
    out = check("multi", shared_zookeeper.address)
    assert "a failing check aborts the whole transaction" in out
    assert "controller election as a multi; the loser sees NODEEXISTS" in out


def test_missing_chroot_is_created(shared_zookeeper):
    out = check("chroot", shared_zookeeper.address)
    assert "the chroot was created" in out


def test_ephemeral_disappears_when_the_session_closes(shared_zookeeper):
    out = check("ephemeral", shared_zookeeper.address)
    assert "closing a's session removed them at once" in out


def test_watches_fire_once_on_the_executor(shared_zookeeper):
    out = check("watches", shared_zookeeper.address)
    for line in ("data watch fired: changed", "it fired once", "exists watch fired: created",
                 "data watch fired: deleted", "children watch fired",
                 "get on a missing node: NONODE, watch dropped", "close drops pending watches",
                 "all callbacks ran on the executor thread"):
        assert line in out


def test_session_expiry_opens_a_new_session(shared_zookeeper):
    out = check("expiry", shared_zookeeper.address)
    assert "expired, watch dropped, new session" in out
    assert "re-registered the ephemeral" in out


def zookeeper_pid(zk):
    with open(os.path.join(zk.dir, "zookeeper.pid")) as f:
        return int(f.read())


def test_connection_loss_retries_reads_not_writes(zookeeper):
    """SIGSTOP the test's own ZooKeeper until zkc reports the disconnection
    (2/3 of the 6 s session timeout without an answer), then SIGCONT: the
    session survives (ZooKeeper keeps it for the full timeout), the read
    sent into the stalled connection is re-sent and succeeds, the write
    reports the lost connection."""
    pid = zookeeper_pid(zookeeper)
    proc = subprocess.Popen([binary("tests/integration/zkc_check"), "stall", zookeeper.address],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = False
    try:
        assert proc.stdout.readline().strip() == "ready"
        os.kill(pid, signal.SIGSTOP)
        stopped = True
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = proc.stdout.readline().strip()
        os.kill(pid, signal.SIGCONT)
        stopped = False
        # the checker bounds each of its waits; read through its buffered
        # stdout to the end (communicate() would skip what readline buffered)
        out = proc.stdout.read()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if stopped:
            os.kill(pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert line == "disconnected", line + out + err[-4000:]
    assert proc.returncode == 0 and out.rstrip().endswith("PASS"), out + err[-4000:]
    assert "the write reported the lost connection" in out
    assert "the read was retried and succeeded" in out
