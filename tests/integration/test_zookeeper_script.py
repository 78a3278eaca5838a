"""tools/samsa-zookeeper: a private ZooKeeper that starts, serves, and stops by pid."""
import os
import subprocess

from conftest import ZK_SCRIPT, ZooKeeper, zk_four_letter


def run(*args):
    return subprocess.run([ZK_SCRIPT, *args], capture_output=True, text=True, timeout=120)


def test_start_serves_on_free_port_and_stop_ends_the_process(workdir):
    zk = ZooKeeper(workdir)
    address = zk.start("--tick-ms", "500")
    assert address.startswith("127.0.0.1:")
    reply = zk_four_letter(zk.port)
    assert "Mode: standalone" in reply
    pid = int(open(os.path.join(zk.dir, "zookeeper.pid")).read())
    os.kill(pid, 0)  # alive

    status = run("status", "--dir", zk.dir)
    assert status.returncode == 0
    assert status.stdout.strip() == "zookeeper pid %d serving on %s" % (pid, address)
    assert "tickTime=500" in open(os.path.join(zk.dir, "zoo.cfg")).read()

    # Starting again is idempotent: same server, same address.
    assert zk.start() == address
    assert int(open(os.path.join(zk.dir, "zookeeper.pid")).read()) == pid

    assert zk.stop().stdout.strip() == "stopped"
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
    status = run("status", "--dir", zk.dir)
    assert status.returncode == 3
    assert status.stdout.strip() == "zookeeper not running"
    assert run("stop", "--dir", zk.dir).stdout.strip() == "not running"


def test_two_private_zookeepers_run_side_by_side(workdir):
    a, b = ZooKeeper(os.path.join(workdir, "a")), ZooKeeper(os.path.join(workdir, "b"))
    try:
        a.start()
        b.start()
        assert a.port != b.port
        assert "Mode: standalone" in zk_four_letter(a.port)
        assert "Mode: standalone" in zk_four_letter(b.port)
    finally:
        a.stop()
        b.stop()


def test_bad_usage_is_a_clear_error(workdir):
    out = run("start")
    assert out.returncode != 0
    assert "start needs --dir DIR" in out.stderr
    out = run("start", "--dir", os.path.join(workdir, "x"), "--config", "/nonexistent.cfg")
    assert out.returncode != 0
    assert "no such config file: /nonexistent.cfg" in out.stderr
