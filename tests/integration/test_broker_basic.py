"""samsa-broker serving real clients: kcat metadata, produce and consume,
restarts, and bad input that must not take the broker down."""
import os
import socket
import struct
import subprocess

from conftest import Broker


def kcat(*args, input_data=None, timeout=60):
    out = subprocess.run(["kcat", *args], input=input_data, capture_output=True, timeout=timeout)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode()


def consume_all(bootstrap, topic):
    text = kcat("-b", bootstrap, "-t", topic, "-C", "-e", "-o", "beginning", "-q", "-f", "%p %o %k %s\n")
    return [line.split(" ") for line in text.splitlines()]


def test_metadata_lists_this_broker(broker):
    text = kcat("-b", broker.bootstrap, "-L")
    assert " 1 brokers:" in text
    assert "broker 1 at 127.0.0.1:%d (controller)" % broker.port in text


def test_auto_created_topic_round_trip(broker):
    lines = "".join("key%d:value%d\n" % (i, i) for i in range(3000)).encode()
    kcat("-b", broker.bootstrap, "-t", "orders", "-K:", "-P", input_data=lines)
    text = kcat("-b", broker.bootstrap, "-L", "-t", "orders")
    assert 'topic "orders" with 3 partitions' in text
    rows = consume_all(broker.bootstrap, "orders")
    assert sorted(r[2] for r in rows) == sorted("key%d" % i for i in range(3000))
    for p in ("0", "1", "2"):
        offsets = [int(r[1]) for r in rows if r[0] == p]
        assert offsets == list(range(len(offsets)))  # dense, in order, exactly once
    for r in rows:
        assert r[3] == "value" + r[2][3:]


def test_data_survives_a_clean_restart(workdir):
    b = Broker(workdir).start()
    kcat("-b", b.bootstrap, "-t", "keep", "-K:", "-P", input_data=b"".join(b"k%d:v%d\n" % (i, i) for i in range(500)))
    assert b.stop() == 0
    logs = os.path.join(b.dir, "logs")
    assert os.path.exists(os.path.join(logs, ".kafka_cleanshutdown"))
    b.start()
    try:
        rows = consume_all(b.bootstrap, "keep")
        assert len(rows) == 500
        kcat("-b", b.bootstrap, "-t", "keep", "-K:", "-P", input_data=b"after:restart\n")
        assert len(consume_all(b.bootstrap, "keep")) == 501
    finally:
        assert b.stop() == 0


def raw_exchange(port, payload, expect_reply=True):
    """Sends payload on a fresh connection; returns the reply bytes, or None
    if the broker closed the connection without answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        if not expect_reply:
            s.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if len(data) >= 4 and len(data) >= 4 + struct.unpack(">i", data[:4])[0]:
                    break
        except socket.timeout:
            return "timeout"
        return data or None


def frame(api_key, version, corr, body=b"", client_id=b"t"):
    payload = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id + body
    return struct.pack(">i", len(payload)) + payload


def test_bad_input_closes_only_that_connection(broker):
    port = broker.port
    cases = [
        struct.pack(">i", -5) + b"xxxx",                       # negative size
        struct.pack(">i", 200 * 1024 * 1024),                   # above socket.request.max.bytes
        frame(9999, 0, 1),                                      # unknown api key
        frame(3, 99, 2),                                        # unsupported Metadata version
        frame(3, 1, 3, struct.pack(">i", 0x7fffffff)),          # huge array count
        frame(3, 1, 4, struct.pack(">ih", 1, -7)),              # negative string length
        frame(0, 3, 5, struct.pack(">hhii", -1, 1, 100, 1)[:-3]),  # Produce body cut short
    ]
    for payload in cases:
        assert raw_exchange(port, payload) is None, payload[:16]
    # A truncated frame: the size says more than ever arrives; the client gives up.
    assert raw_exchange(port, struct.pack(">i", 100) + b"\x00\x03", expect_reply=False) is None
    # The broker still serves everyone else.
    assert "broker 1 at" in kcat("-b", broker.bootstrap, "-L")


def test_api_versions_fallback_for_a_too_new_version(broker):
    reply = raw_exchange(broker.port, frame(18, 77, 42))
    size, corr, err, count, key, vmin, vmax = struct.unpack(">iihihhh", reply[:20])
    assert (corr, err, count, key, vmin, vmax) == (42, 35, 1, 18, 0, 3)
    assert size == len(reply) - 4


def test_log_dir_of_another_cluster_is_refused(workdir):
    b = Broker(workdir)
    logs = os.path.join(b.dir, "logs")
    os.makedirs(logs)
    with open(os.path.join(logs, "meta.properties"), "w") as f:
        f.write("#\nversion=0\nbroker.id=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\n")
    try:
        b.start(timeout=20)
        raise AssertionError("the broker started on another cluster's log dir")
    except AssertionError as e:
        assert "exited with 1" in str(e), str(e)
    assert "doesn't match stored clusterId Some(AAAAAAAAAAAAAAAAAAAAAA) in meta.properties" in b.read_log()
    b.log.close()


def test_session_expiry_registers_again(workdir):
    import signal
    import time
    b = Broker(workdir, overrides=["zookeeper.session.timeout.ms=1500"]).start()
    try:
        b.proc.send_signal(signal.SIGSTOP)
        time.sleep(4)  # ZooKeeper expires the session and drops /brokers/ids/1 and /controller
        b.proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            log = b.read_log()
            if log.count("registered broker 1 at path /brokers/ids/1") == 2 and \
                    "broker 1 is the controller now, epoch 2" in log:
                break
            time.sleep(0.2)
        log = b.read_log()
        assert "ZooKeeper session expired" in log and "ZooKeeper session new session" in log
        assert log.count("registered broker 1 at path /brokers/ids/1") == 2
        assert "broker 1 is the controller now, epoch 2" in log
        kcat("-b", b.bootstrap, "-t", "again", "-K:", "-P", input_data=b"k:v\n")
        assert [r[2:] for r in consume_all(b.bootstrap, "again")] == [["k", "v"]]
    finally:
        assert b.stop() == 0
