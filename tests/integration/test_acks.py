"""Produce with acks=all (storage-and-replication.md §7.5): with the leader
as the only replica it is answered at once; when a follower in the ISR does
not fetch, the produce waits for the high watermark and times out with
REQUEST_TIMED_OUT after the request's timeout_ms, while acks=1 is answered
at once and consumers see nothing above the high watermark."""
import os
import signal
import socket
import struct
import subprocess
import time

from kafka.protocol.api import RequestHeader
from kafka.protocol.produce import ProduceRequest, ProduceResponse
from kafka.record.default_records import DefaultRecordBatchBuilder

from test_controller import Cluster, kcat, wait_for

NONE, REQUEST_TIMED_OUT = 0, 7


def produce(port, topic, partition, acks, timeout_ms, value=b"v"):
    """One Produce v3 on a fresh connection: (error_code, base_offset, seconds taken)."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    builder.append(0, int(time.time() * 1000), None, value, [])
    req = ProduceRequest[3](transactional_id=None, required_acks=acks, timeout=timeout_ms,
                            topics=[(topic, [(partition, bytes(builder.build()))])])
    header = RequestHeader(req, correlation_id=7, client_id="test-acks")  # kept: encode is a weak method
    payload = header.encode() + req.encode()
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_ms / 1000 + 30) as s:
        s.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv(s, 4))[0]
        body = _recv(s, size)
    took = time.monotonic() - start
    assert struct.unpack(">i", body[:4])[0] == 7
    resp = ProduceResponse[3].decode(body[4:])
    (name, parts), = resp.topics
    (index, error, base_offset, _append_time), = parts
    assert name == topic and index == partition
    return error, base_offset, took


def _recv(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, "connection closed"
        out += chunk
    return out


def test_acks_all_with_the_leader_alone_is_answered_at_once(workdir):
    c = Cluster(workdir, brokers=1).start()
    try:
        c.topics("--create", "--topic", "solo", "--partitions", "1", "--replication-factor", "1")
        wait_for("a leader", lambda: c.describe("solo").get(0, (-1,))[0] == 1)
        wait_for("the partition served", lambda: produce(c.port(1), "solo", 0, 1, 5000)[0] == NONE)
        error, base, took = produce(c.port(1), "solo", 0, -1, 30000)
        assert error == NONE and base == 1
        assert took < 10  # not the request's 30 s timeout
        kcat("-b", c.bootstrap(1), "-t", "solo", "-P", "-X", "acks=all", input_data=b"a\nb\n")
        text = kcat("-b", c.bootstrap(1), "-t", "solo", "-C", "-e", "-o", "beginning", "-q", "-f", "%o\n")
        assert text.split() == ["0", "1", "2", "3"]
    finally:
        c.stop()


def test_acks_all_times_out_while_a_follower_does_not_fetch(workdir):
    # The follower is stopped (SIGSTOP) but keeps its ZooKeeper session and
    # its ISR place: a long session timeout and the default
    # replica.lag.time.max.ms (30 s) outlast the test.
    c = Cluster(workdir, brokers=2)
    c.overrides = [o for o in c.overrides if not o.startswith("zookeeper.session.timeout.ms=")]
    c.overrides.append("zookeeper.session.timeout.ms=30000")
    c.start()
    stopped = None
    try:
        c.topics("--create", "--topic", "pair", "--partitions", "1", "--replication-factor", "2")
        leader, replicas, isr = wait_for("a leader", lambda: (lambda d: d.get(0) if d.get(0, (-1,))[0] > 0 else None)(
            c.describe("pair")))
        assert sorted(isr) == [1, 2]
        follower = next(r for r in replicas if r != leader)
        wait_for("the partition served", lambda: produce(c.port(leader), "pair", 0, 1, 5000)[0] == NONE)
        with open(os.path.join(c.dir, "broker-%d" % follower, "pid")) as f:
            stopped = int(f.read().strip())
        os.kill(stopped, signal.SIGSTOP)

        error, base, took = produce(c.port(leader), "pair", 0, -1, 1500)
        assert error == REQUEST_TIMED_OUT and base == 1  # written, not replicated
        assert took >= 1.4
        error, base, took = produce(c.port(leader), "pair", 0, 1, 30000)
        assert error == NONE and base == 2
        assert took < 10
        # Consumers read below the high watermark: the follower has had nothing.
        text = kcat("-b", c.bootstrap(leader), "-t", "pair", "-C", "-e", "-o", "beginning", "-q", "-f", "%o\n")
        assert not {"1", "2"} & set(text.split())
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        c.stop()
