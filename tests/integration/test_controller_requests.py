"""The controller's requests, sent by hand as a controller would: LeaderAndIsr
makes the broker lead, with fencing of old controller and leader epochs;
UpdateMetadata replaces what Metadata tells clients; StopReplica deletes."""
import os
import socket
import struct
import subprocess


def s16(text):
    b = text.encode()
    return struct.pack(">h", len(b)) + b


def arr(items, enc):
    return struct.pack(">i", len(items)) + b"".join(enc(i) for i in items)


def i32s(values):
    return arr(values, lambda v: struct.pack(">i", v))


def request(port, api_key, version, body, corr=7):
    payload = struct.pack(">hhi", api_key, version, corr) + s16("controller") + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(payload)) + payload)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = s.recv(65536)
            assert chunk, "connection closed without a response"
            data += chunk
    size, got_corr = struct.unpack(">ii", data[:8])
    assert got_corr == corr
    return data[8:4 + size]


def leader_and_isr_v1(port, controller_epoch, topic, partition, leader_epoch, leader=1):
    state = (s16(topic) + struct.pack(">iiii", partition, controller_epoch, leader, leader_epoch) + i32s([leader])
             + struct.pack(">i", 0) + i32s([leader]) + b"\x01")
    body = struct.pack(">ii", 1, controller_epoch) + arr([state], lambda x: x) + arr([], None)
    resp = request(port, 4, 1, body)
    (err,) = struct.unpack(">h", resp[:2])
    (n,) = struct.unpack(">i", resp[2:6])
    errors = []
    pos = 6
    for _ in range(n):
        (tl,) = struct.unpack(">h", resp[pos:pos + 2])
        name = resp[pos + 2:pos + 2 + tl].decode()
        pos += 2 + tl
        p, e = struct.unpack(">ih", resp[pos:pos + 6])
        pos += 6
        errors.append((name, p, e))
    return err, errors


def test_leader_and_isr_fencing(broker):
    # A controller of epoch 105 (newer than the real one) makes broker 1 leader of ctl-0 at leader epoch 3.
    assert leader_and_isr_v1(broker.port, 105, "ctl", 0, 3) == (0, [("ctl", 0, 0)])
    assert os.path.isdir(os.path.join(broker.dir, "logs", "ctl-0"))
    # A deposed controller (epoch 104) changes nothing: STALE_CONTROLLER_EPOCH (11).
    assert leader_and_isr_v1(broker.port, 104, "ctl", 0, 9) == (11, [])
    # The same leader epoch again is stale for that partition.
    assert leader_and_isr_v1(broker.port, 105, "ctl", 0, 3) == (0, [("ctl", 0, 11)])
    # A newer one applies.
    assert leader_and_isr_v1(broker.port, 106, "ctl", 0, 4) == (0, [("ctl", 0, 0)])


def test_stop_replica_deletes_the_log(broker):
    assert leader_and_isr_v1(broker.port, 101, "gone", 0, 0) == (0, [("gone", 0, 0)])
    path = os.path.join(broker.dir, "logs", "gone-0")
    assert os.path.isdir(path)
    topic = s16("gone") + i32s([0])
    body = struct.pack(">iiqb", 1, 101, -1, 1) + arr([topic], lambda x: x)
    resp = request(broker.port, 5, 1, body)
    assert resp == struct.pack(">hi", 0, 1) + s16("gone") + struct.pack(">ih", 0, 0)
    assert not os.path.exists(path)


def test_update_metadata_is_what_clients_see(broker):
    state = (s16("um") + struct.pack(">iiii", 0, 103, 2, 7) + i32s([2, 1]) + struct.pack(">i", 0) + i32s([2, 1]))
    brokers = [struct.pack(">i", 1) + s16("127.0.0.1") + struct.pack(">i", broker.port),
               struct.pack(">i", 2) + s16("127.0.0.1") + struct.pack(">i", 1)]
    body = struct.pack(">ii", 2, 103) + arr([state], lambda x: x) + arr(brokers, lambda x: x)
    resp = request(broker.port, 6, 0, body)
    assert resp == struct.pack(">h", 0)
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-t", "um"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert " 2 brokers:" in out.stdout
    assert "broker 2 at 127.0.0.1:1 (controller)" in out.stdout
    assert "partition 0, leader 2, replicas: 2,1, isrs: 2,1" in out.stdout
    # An UpdateMetadata from an older controller epoch is refused.
    body = struct.pack(">ii", 1, 102) + arr([], None) + arr(brokers[:1], lambda x: x)
    assert request(broker.port, 6, 0, body) == struct.pack(">h", 11)
