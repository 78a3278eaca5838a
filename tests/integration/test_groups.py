"""Consumer groups against real brokers: the group coordinator and
__consumer_offsets (consumer-groups.md). Group consumers are
tests/integration/rdkafka_group (librdkafka), driven line by line: they
print their assignment after each rebalance and the records they read, and
commit on command."""
import queue
import subprocess
import threading
import time

import pytest

from conftest import Broker, binary
from test_controller import Cluster, kcat, wait_for

TOPIC_PARTITIONS = 6
GROUP_OVERRIDES = ["offsets.topic.num.partitions=5", "group.initial.rebalance.delay.ms=0",
                   "group.min.session.timeout.ms=1000"]


class GroupConsumer:
    """One rdkafka_group process and the lines it printed."""

    def __init__(self, bootstrap, group, topic, assignor="range", session_ms=6000):
        self.proc = subprocess.Popen([binary("tests/integration/rdkafka_group"), bootstrap, group, topic, assignor,
                                      str(session_ms)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
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


@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
def test_two_consumers_split_leave_and_return(group_broker, assignor):
    b = group_broker
    topic = "split-" + assignor
    out = subprocess.run([binary("tools/samsa-topics"), "--bootstrap-server", b.bootstrap, "--create", "--topic",
                          topic, "--partitions", str(TOPIC_PARTITIONS), "--replication-factor", "1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    group = "g-" + assignor
    c1 = GroupConsumer(b.bootstrap, group, topic, assignor)
    c2 = GroupConsumer(b.bootstrap, group, topic, assignor)
    try:
        wait_split([c1, c2])
        # one leaves: the other gets all six (well within the session timeout)
        t0 = time.monotonic()
        c2.close()
        wait_for("all partitions on the one left",
                 lambda: assignments([c1])[0] == list(range(TOPIC_PARTITIONS)), timeout=6)
        assert time.monotonic() - t0 < 6
        # it comes back: they split again
        c3 = GroupConsumer(b.bootstrap, group, topic, assignor)
        try:
            wait_split([c1, c3])
        finally:
            c3.close()
    finally:
        c1.close()
        c2.close()
    assert not c1.errors, c1.errors
