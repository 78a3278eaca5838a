"""Helpers for tests that drive real Kafka clients against a bootstrap address.

The same tests run against librdkafka's in-memory mock cluster (started here
as a process, tests/integration/mock_cluster) and against samsa-broker, or
any Kafka-compatible broker: nothing but the bootstrap address changes.
"""
import json
import os
import random
import select
import shutil
import subprocess
import time

# Bootstrap addresses served by a mock cluster started by this module. A test
# may look here to tell a limitation of the mock from a broker's defect.
MOCK_BOOTSTRAPS = set()


def unique_topic(prefix):
    """A topic name no earlier run has used, so 'from the beginning' means ours."""
    return "%s-%d-%06x" % (prefix, os.getpid(), random.getrandbits(24))


class MockCluster:
    """A librdkafka mock cluster in a child process, stopped by closing its stdin."""

    def __init__(self, program, brokers=1, topics=()):
        self.program = program
        self.brokers = brokers
        self.topics = list(topics)  # (name, partitions) created up front
        self.proc = None
        self.bootstrap = None

    def start(self, timeout=10.0):
        args = [self.program, str(self.brokers)]
        for name, partitions in self.topics or [("samsa-mock-ready", 1)]:
            args += [name, str(partitions)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("127.0.0.1:"):
            self.stop()
            raise RuntimeError("mock_cluster did not start: %r %s" % (line, self.proc.stderr.read()))
        self.bootstrap = line
        MOCK_BOOTSTRAPS.add(line)
        return line

    def stop(self):
        if self.proc is None:
            return
        MOCK_BOOTSTRAPS.discard(self.bootstrap)
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its pid
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc = None


def is_mock(bootstrap):
    return bootstrap in MOCK_BOOTSTRAPS


def kcat_path():
    path = shutil.which("kcat")
    if not path:
        raise RuntimeError("kcat is not installed (apt-get install kcat)")
    return path


def topic_partitions(bootstrap, topic, timeout=15.0):
    """Partition count of topic, asking for it (which auto-creates it) until
    every partition has a leader. Raises after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        out = subprocess.run([kcat_path(), "-b", bootstrap, "-L", "-J", "-t", topic, "-m", "5"],
                             capture_output=True, text=True, timeout=30)
        last = out.stdout.strip() or out.stderr.strip()
        if out.returncode == 0 and out.stdout.strip():
            md = json.loads(out.stdout)
            for t in md.get("topics", []):
                parts = t.get("partitions") or []
                if t.get("topic") == topic and not t.get("error") and parts and all(
                        p.get("leader", -1) >= 0 for p in parts):
                    return len(parts)
        time.sleep(0.2)
    raise AssertionError("no usable metadata for topic %s within %.0f s: %s" % (topic, timeout, last))


def check_partition_order(records):
    """records: (partition, offset, seq) in the order a consumer returned them.
    Returns the first violation of 'offsets and production order both grow
    within a partition', or None."""
    last = {}
    for partition, offset, seq in records:
        prev = last.get(partition)
        if prev is not None:
            if offset <= prev[0]:
                return "partition %d: offset %d after offset %d" % (partition, offset, prev[0])
            if seq <= prev[1]:
                return "partition %d: message %d (offset %d) after message %d" % (partition, seq, offset, prev[1])
        last[partition] = (offset, seq)
    return None
