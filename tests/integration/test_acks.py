"""Produce with acks=all (storage-and-replication.md §7.5): with the leader
as the only replica it is answered at once; when a follower in the ISR does
not fetch, the produce waits for the high watermark and times out with
REQUEST_TIMED_OUT after the request's timeout_ms, while acks=1 is answered
at once and consumers see nothing above the high watermark. A waiting
acks=all produce does not hold up the requests behind it on its connection
(net.h, "Detaching"), and the answers still come in request order."""
import os
import signal
import socket
import struct
import time

from kafka.protocol.api import RequestHeader
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest, ProduceResponse
from kafka.record.default_records import DefaultRecordBatchBuilder

from test_controller import Cluster, kcat, wait_for

NONE, REQUEST_TIMED_OUT = 0, 7


def produce_frame(topic, partition, acks, timeout_ms, correlation_id=7, value=b"v"):
    """A Produce v3 request of one record, size prefix included."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    builder.append(0, int(time.time() * 1000), None, value, [])
    req = ProduceRequest[3](transactional_id=None, required_acks=acks, timeout=timeout_ms,
                            topics=[(topic, [(partition, bytes(builder.build()))])])
    header = RequestHeader(req, correlation_id=correlation_id, client_id="test-acks")  # kept: encode is weak
    payload = header.encode() + req.encode()
    return struct.pack(">i", len(payload)) + payload


def read_produce_response(s, topic, partition):
    """(correlation_id, error_code, base_offset) of the next response on s."""
    size = struct.unpack(">i", _recv(s, 4))[0]
    body = _recv(s, size)
    resp = ProduceResponse[3].decode(body[4:])
    (name, parts), = resp.topics
    (index, error, base_offset, _append_time), = parts
    assert name == topic and index == partition
    return struct.unpack(">i", body[:4])[0], error, base_offset


def produce(port, topic, partition, acks, timeout_ms, value=b"v"):
    """One Produce v3 on a fresh connection: (error_code, base_offset, seconds taken)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_ms / 1000 + 30) as s:
        s.sendall(produce_frame(topic, partition, acks, timeout_ms, value=value))
        correlation_id, error, base_offset = read_produce_response(s, topic, partition)
    took = time.monotonic() - start
    assert correlation_id == 7
    return error, base_offset, took


def roundtrip(port, req):
    """One request on a fresh connection; its decoded response."""
    header = RequestHeader(req, correlation_id=11, client_id="test-acks")
    payload = header.encode() + req.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv(s, 4))[0]
        body = _recv(s, size)
    assert struct.unpack(">i", body[:4])[0] == 11
    return req.RESPONSE_TYPE.decode(body[4:])


def log_end_offset(port, topic, partition):
    """The leader's log end offset: ListOffsets latest as a follower asks it
    (replica_id >= 0), which is not capped at the high watermark."""
    resp = roundtrip(port, OffsetRequest[1](replica_id=1000, topics=[(topic, [(partition, -1)])]))
    (_name, parts), = resp.topics
    (_index, error, _timestamp, offset), = parts
    assert error == NONE
    return offset


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

        # One connection, two requests sent together: an acks=all produce
        # that must wait for the stopped follower, then an acks=1 produce.
        # The second is appended while the first waits (Kafka would hold it
        # until the first was answered), and the answers come in order
        # once the follower is back.
        with socket.create_connection(("127.0.0.1", c.port(leader)), timeout=60) as s:
            s.sendall(produce_frame("pair", 0, -1, 60000, correlation_id=1) +
                      produce_frame("pair", 0, 1, 60000, correlation_id=2))
            # (well before replica.lag.time.max.ms, 30 s, would drop the
            # follower from the ISR and so answer the first)
            wait_for("the acks=1 produce appended behind the waiting one",
                     lambda: log_end_offset(c.port(leader), "pair", 0) == 5, timeout=10)
            assert sorted(c.describe("pair")[0][2]) == [1, 2]  # the first still waits
            os.kill(stopped, signal.SIGCONT)
            stopped = None
            assert read_produce_response(s, "pair", 0) == (1, NONE, 3)
            assert read_produce_response(s, "pair", 0) == (2, NONE, 4)
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        c.stop()
