"""A leader's ISR change reaching ZooKeeper and the controller
(broker/replica/isr_sync.h), driven by tests/integration/isr_sync_tool
acting as the leader of a partition of a real 3-broker cluster:
AlterIsr to the controller (inter.broker.protocol.version >= 2.7-IV2) and
the leader's own state write plus its isr_change notification (below)."""
import json
import subprocess

import pytest

from conftest import binary
from test_controller import Cluster, all_led, partition_lines, wait_for, zk_cli


@pytest.fixture
def cluster(workdir):
    c = Cluster(workdir).start()
    yield c
    c.stop()


def isr_sync(c, ibp, topic, isr, *opts, timeout=60):
    out = subprocess.run([binary("tests/integration/isr_sync_tool"), c.zk, ibp, topic, "0",
                          ",".join(map(str, isr)), *opts], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    line = [l for l in out.stdout.splitlines() if l.startswith("done ")][-1]
    return line


def state(c, topic):
    return json.loads(zk_cli(c.zk, "get", "/brokers/topics/%s/partitions/0/state" % topic)[-1])


def new_topic(c, topic):
    c.topics("--create", "--topic", topic, "--partitions", "1", "--replication-factor", "3")
    leader, replicas, isr = wait_for("a leader of " + topic, lambda: all_led(c, topic, 1))[0]
    assert sorted(isr) == [1, 2, 3]
    return leader, [r for r in replicas if r != leader]


def everyone_sees(c, topic, leader, isr):
    want = ["partition 0, leader %d, replicas: %s, isrs: %s"
            % (leader, ",".join(map(str, c.describe(topic)[0][1])), ",".join(map(str, isr)))]
    for b in (1, 2, 3):
        wait_for("broker %d's metadata of %s" % (b, topic), lambda: partition_lines(c.bootstrap(b), topic) == want)


def test_alter_isr_through_the_controller(cluster):
    c = cluster
    leader, others = new_topic(c, "shrunk")
    before = state(c, "shrunk")
    isr = [leader, others[0]]
    assert isr_sync(c, "2.8-IV1", "shrunk", isr) == \
        "done NONE isr=%s version=1 leader_epoch=%d" % (",".join(map(str, isr)), before["leader_epoch"])
    after = state(c, "shrunk")
    assert after == dict(before, isr=isr, controller_epoch=c.epoch())
    everyone_sees(c, "shrunk", leader, isr)  # UpdateMetadata to every broker

    # A retry of the change that went through gets the state as it is.
    assert isr_sync(c, "2.8-IV1", "shrunk", isr, "--zk-version", "0").startswith("done NONE isr=%d,%d version=1 "
                                                                                 % tuple(isr))
    # Another change against the old version lost the race: final.
    assert isr_sync(c, "2.8-IV1", "shrunk", [leader], "--zk-version", "0").startswith(
        "done INVALID_UPDATE_VERSION isr= version=-1 ")
    assert state(c, "shrunk") == after


def test_leader_writes_zookeeper_below_2_7_iv2(cluster):
    c = cluster
    leader, others = new_topic(c, "written")
    before = state(c, "written")
    isr = [leader, others[1]]
    # The notification is written once no change came for 5 s (checked every 2.5 s).
    assert isr_sync(c, "2.6", "written", isr, "--linger-ms", "8000") == \
        "done NONE isr=%s version=1 leader_epoch=%d" % (",".join(map(str, isr)), before["leader_epoch"])
    # Same leader and epochs (the controller epoch of the leader's LeaderAndIsr), the new ISR.
    assert state(c, "written") == dict(before, isr=isr)
    # The controller read the notification: every broker knows, and it is gone.
    everyone_sees(c, "written", leader, isr)
    wait_for("the notification deleted", lambda: zk_cli(c.zk, "ls", "/isr_change_notification")[-1] == "[]")
    # A write against a version that moved on: re-read, not what we wrote, final.
    assert isr_sync(c, "2.6", "written", [leader], "--zk-version", "0").startswith(
        "done INVALID_UPDATE_VERSION isr= version=-1 ")
    # A retried write that had gone through: re-read, identical, success at the current version.
    assert isr_sync(c, "2.6", "written", isr, "--zk-version", "0").startswith("done NONE isr=%d,%d version=1 "
                                                                            % tuple(isr))
