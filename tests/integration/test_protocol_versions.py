"""Every protocol version Kafka 2.8 serves, and the old message formats.

* api_sweep (tests/integration/api_sweep.c) sends every advertised API at
  every advertised version, built from the codec's own schema table, and
  decodes each answer with that version;
* the advertised ranges are Kafka 2.8's for every API samsa serves;
* kafka-python pinned to old broker versions produces (magic 0 / magic 1 /
  v2 batches) and consumes (Fetch v0-v4, down-converted below v4) with
  gzip, snappy and lz4, and the batches samsa stored carry that codec;
* librdkafka's feature detection (kcat -X debug=feature) enables what it
  enables against Kafka 2.8, and kcat -z <codec> leaves batches of that
  codec (samsa-dump-log shows it).
"""
import glob
import os
import re
import struct
import subprocess
import time

import pytest

from clients_lib import kcat_path, unique_topic
from conftest import Broker, binary
from test_controller_requests import request

# Kafka 2.8's ranges (clients/src/main/resources/common/message/*.json at
# 2.8.2) of the APIs samsa serves; any other advertised API is swept too.
KAFKA_28 = {
    0: (0, 9), 1: (0, 12), 2: (0, 6), 3: (0, 11), 4: (0, 5), 5: (0, 3), 6: (0, 7), 7: (0, 3),
    8: (0, 8), 9: (0, 7), 10: (0, 3), 11: (0, 7), 12: (0, 4), 13: (0, 4), 14: (0, 5), 15: (0, 5),
    16: (0, 4), 18: (0, 3), 19: (0, 7), 20: (0, 6), 23: (0, 4), 32: (0, 4), 37: (0, 3),
    42: (0, 2), 47: (0, 0), 56: (0, 0),
}
# What samsa serves at Kafka 2.8's full range: every API it serves.
FULL_RANGE = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 23, 32, 37, 42, 47, 56]

CODECS = ["gzip", "snappy", "lz4"]
OLD_CLIENTS = [(0, 9), (0, 10, 0), (0, 10, 1), (0, 11), (1, 0), (2, 0)]


@pytest.fixture(scope="module")
def samsa(tmp_path_factory):
    b = Broker(str(tmp_path_factory.mktemp("protover")), overrides=["num.partitions=1"]).start()
    yield b
    rc = b.stop()
    assert rc == 0, b.read_log()[-4000:]


def sweep(bootstrap):
    """api_sweep's output: (advertised ranges by key, swept lines)."""
    out = subprocess.run([binary("tests/integration/api_sweep"), bootstrap],
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    ads, swept = {}, []
    for line in out.stdout.splitlines():
        m = re.fullmatch(r"advertised (\d+) (\d+) (\d+)", line)
        if m:
            ads[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
        else:
            swept.append(line)
    return ads, swept


def test_every_advertised_version_round_trips(samsa):
    ads, lines = sweep(samsa.bootstrap)
    want = sum(hi - lo + 1 for lo, hi in ads.values())
    assert lines[-1] == "swept %d versions of %d apis" % (want, len(ads))
    swept = set()
    for line in lines[:-1]:
        m = re.fullmatch(r"(\d+) (\w+) v(\d+) ok", line)
        assert m, line
        swept.add((int(m.group(1)), int(m.group(3))))
    assert swept == {(k, v) for k, (lo, hi) in ads.items() for v in range(lo, hi + 1)}


def test_advertised_ranges_are_kafka_28s(samsa):
    ads, _ = sweep(samsa.bootstrap)
    for key in FULL_RANGE:
        assert ads.get(key) == KAFKA_28[key], "api %d: samsa %s, Kafka 2.8 %s" % (key, ads.get(key), KAFKA_28[key])
    for key, (lo, hi) in ads.items():
        assert key in KAFKA_28, "api %d advertised but not a Kafka 2.8 API" % key
        assert lo == 0 and hi <= KAFKA_28[key][1], "api %d: %s" % (key, (lo, hi))


def stored_codecs(broker, topic):
    """The compresscodec of every batch samsa-dump-log shows for the topic."""
    paths = sorted(glob.glob(os.path.join(broker.dir, "logs", topic + "-*", "*.log")))
    assert paths, "no log for %s" % topic
    out = subprocess.run([binary("tools/samsa-dump-log"), *paths], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return re.findall(r"magic: (\d+) compresscodec: (\w+)", out.stdout)


def _value(i):
    return b"value-%d-" % i + b"xyz" * (i % 17)


def _old_key(i):
    return None if i % 7 == 0 else b"k%d" % i


def _old_value(i):
    """Some null values (tombstones), never with a null key as well."""
    return None if i % 11 == 5 and i % 7 else _value(i)


def consume(broker, topic, api_version, offset, n, **config):
    """Up to n records of partition 0 from offset on, with kafka-python
    pinned to api_version (no group: Fetch and ListOffsets only)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, api_version=api_version, group_id=None,
                             enable_auto_commit=False, **config)
    tp = TopicPartition(topic, 0)
    got = []
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + 60
        while len(got) < n and time.monotonic() < deadline:
            for recs in consumer.poll(timeout_ms=500).values():
                got.extend(recs)
    finally:
        consumer.close()
    return got


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("api_version", OLD_CLIENTS, ids=lambda v: ".".join(map(str, v)))
def test_kafka_python_old_versions(samsa, api_version, codec):
    from kafka import KafkaProducer

    n = 300
    topic = unique_topic("pv-%s-%s" % ("".join(map(str, api_version)), codec))
    ts_base = int(time.time() * 1000) - 10_000
    magic = 0 if api_version < (0, 10) else 1 if api_version < (0, 11) else 2
    producer = KafkaProducer(bootstrap_servers=samsa.bootstrap, api_version=api_version, acks=1,
                             linger_ms=20, compression_type=codec)
    futures = [producer.send(topic, key=_old_key(i), value=_old_value(i),
                             timestamp_ms=ts_base + i if magic else None) for i in range(n)]
    producer.flush(timeout=60)
    acked = [f.get(timeout=10) for f in futures]
    producer.close()
    assert [a.offset for a in acked] == list(range(n))

    codecs = stored_codecs(samsa, topic)
    assert codecs and all(c == ("2", codec) for c in codecs), codecs

    got = consume(samsa, topic, api_version, 0, n)
    assert [r.offset for r in got] == list(range(n))
    for i, r in enumerate(got):
        assert r.key == _old_key(i), i
        assert r.value == _old_value(i), i
        if magic:
            assert (r.timestamp, r.timestamp_type) == (ts_base + i, 0), i
        else:
            assert r.timestamp in (None, -1), i


def test_fetch_down_conversion_offsets_and_limits(samsa):
    """Fetch v3 (magic 1): an uncompressed batch fetched from its middle
    starts at the fetch offset, a compressed one comes whole (the client
    skips what is before), and a partition limit far below the batch's size
    still gets that first batch whole (KIP-74; Kafka's lazy down-conversion
    sends at least one converted batch)."""
    from kafka import KafkaProducer

    for codec in (None, "gzip"):
        topic = unique_topic("pv-mid-%s" % codec)
        producer = KafkaProducer(bootstrap_servers=samsa.bootstrap, api_version=(2, 0), acks=1,
                                 linger_ms=50, batch_size=1 << 20, compression_type=codec)
        for i in range(50):
            producer.send(topic, value=_value(i))
        producer.flush(timeout=30)
        producer.close()
        assert len(stored_codecs(samsa, topic)) == 1, "one batch expected"
        got = consume(samsa, topic, (0, 10, 1), 20, 30, max_partition_fetch_bytes=64)
        assert [r.offset for r in got] == list(range(20, 50)), codec
        assert [r.value for r in got] == [_value(i) for i in range(20, 50)], codec


def test_kcat_features(samsa):
    out = subprocess.run([kcat_path(), "-b", samsa.bootstrap, "-L", "-X", "debug=feature,broker"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    found = re.findall(r"Updated enabled protocol features to (\S+)", out.stderr)
    assert found, out.stderr[-3000:]
    features = set(found[-1].split(","))
    # What librdkafka enables against Kafka 2.8 without SASL and idempotence
    # (librdkafka 2.0.2 ties LZ4 to FindCoordinator v0, rdkafka_feature.c).
    want = {"MsgVer1", "MsgVer2", "ThrottleTime", "ZSTD", "ApiVersion", "OffsetTime", "LZ4",
            "BrokerGroupCoordinator", "BrokerBalancedConsumer"}
    missing = want - features
    assert not missing, "disabled: %s (enabled: %s)" % (sorted(missing), found[-1])


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_kcat_compressed_produce_is_stored_compressed(samsa, tmp_path, codec):
    topic = unique_topic("pv-kcat-" + codec)
    # librdkafka sends a batch uncompressed when compressing does not make
    # it smaller: lines that compress well, so that even a batch of one
    # (however librdkafka splits them) keeps the codec.
    data = "".join("line %d %s\n" % (i, "abc" * (200 + i % 9)) for i in range(200))
    out = subprocess.run([kcat_path(), "-b", samsa.bootstrap, "-P", "-t", topic, "-p", "0", "-z", codec],
                         input=data, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    codecs = stored_codecs(samsa, topic)
    assert codecs and all(c == ("2", codec) for c in codecs), codecs
    out = subprocess.run([kcat_path(), "-b", samsa.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning",
                          "-e", "-q"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == data


# ---- the controller's requests at Kafka 2.8's (flexible) versions, by hand ----------


def uvarint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(text):
    b = text.encode()
    return uvarint(len(b) + 1) + b


def carr(items):
    """A compact array of already encoded items."""
    return uvarint(len(items) + 1) + b"".join(items)


def ci32s(values):
    return carr([struct.pack(">i", v) for v in values])


NO_TAGS = b"\x00"


def flexible_request(port, api_key, version, body):
    """Request header v2 (header v1 and an empty tag section), response
    header v1: the body after both."""
    resp = request(port, api_key, version, NO_TAGS + body)
    assert resp[:1] == NO_TAGS
    return resp[1:]


def test_controller_requests_at_kafka_28_versions(broker):
    """LeaderAndIsr v5 answers per topic id; StopReplica v3 stops a replica
    only for a newer leader epoch (Kafka 2.8's ReplicaManager.stopReplicas)."""
    topic_id = bytes(range(1, 17))
    state = (struct.pack(">iiii", 0, 105, 1, 3) + ci32s([1]) + struct.pack(">i", 0) + ci32s([1]) + ci32s([])
             + ci32s([]) + b"\x01" + NO_TAGS)
    topic = cstr("ctl5") + topic_id + carr([state]) + NO_TAGS
    leader = struct.pack(">i", 1) + cstr("127.0.0.1") + struct.pack(">i", broker.port) + NO_TAGS
    body = struct.pack(">iiqb", 1, 105, -1, 0) + carr([topic]) + carr([leader]) + NO_TAGS
    resp = flexible_request(broker.port, 4, 5, body)
    want_partition = struct.pack(">ih", 0, 0) + NO_TAGS
    assert resp == struct.pack(">h", 0) + carr([topic_id + carr([want_partition]) + NO_TAGS]) + NO_TAGS
    path = os.path.join(broker.dir, "logs", "ctl5-0")
    assert os.path.isdir(path)

    def stop_v3(leader_epoch):
        p = struct.pack(">iib", 0, leader_epoch, 1) + NO_TAGS
        body = struct.pack(">iiq", 1, 105, -1) + carr([cstr("ctl5") + carr([p]) + NO_TAGS]) + NO_TAGS
        return flexible_request(broker.port, 5, 3, body)

    def stop_answer(partition_error):
        return struct.pack(">h", 0) + carr([cstr("ctl5") + struct.pack(">ih", 0, partition_error) + NO_TAGS]) + NO_TAGS

    # The partition's own epoch (3): FENCED_LEADER_EPOCH (74), the log stays.
    assert stop_v3(3) == stop_answer(74)
    assert os.path.isdir(path)
    # A newer one stops and deletes it.
    assert stop_v3(4) == stop_answer(0)
    assert not os.path.exists(path)
