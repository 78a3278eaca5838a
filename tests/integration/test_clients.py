"""Real Kafka clients against a broker: kcat, kafka-python and librdkafka.

Every test takes its broker from the kafka_bootstrap fixture: the address in
SAMSA_TEST_BOOTSTRAP when it is set (samsa-broker, or any Kafka-compatible
broker with auto.create.topics.enable=true), else a librdkafka mock cluster
started for this module. Topics are new for each test (auto-created on first
use), so "from the beginning" reads only what the test wrote. Checks are the
same everywhere: every acked message comes back exactly once, at the
partition and offset it was acked at, in production order within its
partition, with key, value, headers and timestamp intact.
"""
import os
import re
import statistics
import subprocess
import time

import pytest

from clients_lib import (MockCluster, check_partition_order, is_mock, kcat_path, topic_partitions,
                         unique_topic)
from conftest import binary, Broker

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]

# The kcat test's topic: 3 partitions on the mock; against another broker it is
# auto-created with that broker's num.partitions.
KCAT_TOPIC = unique_topic("kcat")
KCAT_PARTITIONS = 3


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory):
    """samsa-broker by default (3 partitions per auto-created topic);
    SAMSA_TEST_BOOTSTRAP=host:port for any other broker; SAMSA_TEST_MOCK=1 for
    librdkafka's mock cluster (the baseline these tests were checked with)."""
    address = os.environ.get("SAMSA_TEST_BOOTSTRAP")
    if address:
        yield address
        return
    if os.environ.get("SAMSA_TEST_MOCK") == "1":
        mock = MockCluster(binary("tests/integration/mock_cluster"), brokers=1,
                           topics=[(KCAT_TOPIC, KCAT_PARTITIONS)])
        mock.start()
        yield mock.bootstrap
        mock.stop()
        return
    broker = Broker(str(tmp_path_factory.mktemp("clients"))).start()
    yield broker.bootstrap
    rc = broker.stop()
    assert rc == 0, broker.read_log()[-4000:]


# ---- (a) kcat: 100,000 keyed messages, 3 partitions ------------------------------------


def test_kcat_keyed_roundtrip(kafka_bootstrap, tmp_path):
    n = 100_000
    partitions = topic_partitions(kafka_bootstrap, KCAT_TOPIC)
    if is_mock(kafka_bootstrap):
        assert partitions == KCAT_PARTITIONS
    lines = ["k%d:v%d" % (i % 1000, i) for i in range(n)]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n")

    kcat = kcat_path()
    prod = subprocess.run([kcat, "-P", "-b", kafka_bootstrap, "-t", KCAT_TOPIC, "-K", ":",
                           "-X", "acks=all", "-l", str(src)],
                          capture_output=True, text=True, timeout=120)
    assert prod.returncode == 0, prod.stderr
    assert "fail" not in prod.stderr.lower(), prod.stderr

    cons = subprocess.run([kcat, "-C", "-b", kafka_bootstrap, "-t", KCAT_TOPIC, "-e", "-q",
                           "-o", "beginning", "-f", "%k %s %p %o\\n"],
                          capture_output=True, text=True, timeout=120)
    assert cons.returncode == 0, cons.stderr
    out = cons.stdout.splitlines()

    seen = set()
    key_partition = {}
    records = []
    for line in out:
        key, value, p, o = line.split(" ")
        i = int(value[1:])
        assert value == "v%d" % i and key == "k%d" % (i % 1000), line
        assert i not in seen, "message %d consumed twice" % i
        seen.add(i)
        # A key always maps to one partition: the producer's partitioner is a hash.
        assert key_partition.setdefault(key, int(p)) == int(p), "key %s in two partitions" % key
        records.append((int(p), int(o), i))
    assert len(seen) == n, "%d of %d messages consumed" % (len(seen), n)
    assert check_partition_order(records) is None, check_partition_order(records)
    # A fresh topic's offsets are dense: 0 .. count-1 in every partition.
    per_partition = {}
    for p, o, _ in records:
        per_partition.setdefault(p, []).append(o)
    for p, offsets in per_partition.items():
        assert offsets == list(range(len(offsets))), "partition %d offsets not dense from 0" % p
    assert len(per_partition) == partitions, "only %d of %d partitions got messages" % (len(per_partition), partitions)


# ---- (b) kafka-python, each codec ---------------------------------------------------


def _kp_value(i):
    return b"v%d-" % i + b"abcdefghij" * (i % 23)


def _kp_headers(i):
    return [("h1", b"%d" % i), ("bin", bytes([0, 255, i % 256]))]


@pytest.mark.parametrize("codec", CODECS)
def test_kafka_python_roundtrip(kafka_bootstrap, codec):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    n = 2000
    topic = unique_topic("kp-" + codec)
    ts_base = int(time.time() * 1000) - n
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5,
                             compression_type=None if codec == "none" else codec)
    if codec == "zstd":
        assert producer.config["api_version"] >= (2, 1), \
            "kafka-python inferred broker version %s from ApiVersions: too old for zstd" % (
                producer.config["api_version"],)
    futures = [producer.send(topic, key=b"k%d" % (i % 50), value=_kp_value(i), headers=_kp_headers(i),
                             timestamp_ms=ts_base + i) for i in range(n)]
    producer.flush(timeout=60)
    acked = [f.get(timeout=10) for f in futures]
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        got = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(consumer.position(tp) >= ends[tp] for tp in tps):
            for recs in consumer.poll(timeout_ms=500).values():
                got.extend(recs)
    finally:
        consumer.close()

    seen = set()
    records = []
    for r in got:
        m = re.fullmatch(rb"v(\d+)-.*", r.value or b"", re.S)
        assert m, "unexpected value %r at %d/%d" % (r.value, r.partition, r.offset)
        i = int(m.group(1))
        assert i < n and i not in seen, "message %d unexpected or consumed twice" % i
        seen.add(i)
        assert (r.partition, r.offset) == (acked[i].partition, acked[i].offset), \
            "message %d at %d/%d, acked at %d/%d" % (i, r.partition, r.offset, acked[i].partition, acked[i].offset)
        assert r.key == b"k%d" % (i % 50)
        assert r.value == _kp_value(i)
        assert list(r.headers) == _kp_headers(i), "message %d headers %r" % (i, r.headers)
        assert (r.timestamp, r.timestamp_type) == (ts_base + i, 0), "message %d timestamp" % i
        records.append((r.partition, r.offset, i))
    assert len(seen) == n, "%d of %d messages consumed" % (len(seen), n)
    assert check_partition_order(records) is None, check_partition_order(records)


# ---- (c) librdkafka: tests/integration/rdkafka_roundtrip, each codec ------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_rdkafka_roundtrip(kafka_bootstrap, codec):
    n = 20000
    out = subprocess.run([binary("tests/integration/rdkafka_roundtrip"), kafka_bootstrap,
                          unique_topic("rk-" + codec), str(n), codec],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"^roundtrip ok: %d messages, [1-9]\d* partitions$" % n, out.stdout, re.M), out.stdout


# ---- (d) long poll: a waiting consumer gets a new message at once -------------------------


def test_long_poll_wakes_waiting_consumer(kafka_bootstrap):
    trials = 20
    out = subprocess.run([binary("tests/integration/rdkafka_roundtrip"), "--latency", kafka_bootstrap,
                          unique_topic("longpoll"), str(trials)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lat = [float(x) for x in re.findall(r"^trial \d+: ([\d.]+) ms$", out.stdout, re.M)]
    assert len(lat) == trials, out.stdout
    median = statistics.median(lat)
    # Every message arrived before its Fetch's 500 ms wait could have run out twice.
    assert max(lat) < 1000, out.stdout
    if median >= 50 and is_mock(kafka_bootstrap):
        pytest.xfail("the librdkafka mock answers an empty Fetch only when its MaxWaitTime "
                     "runs out (median %.1f ms); this test holds a real broker to < 50 ms" % median)
    assert median < 50, "median ack-to-receive latency %.1f ms (fetch.wait.max.ms=500):\n%s" % (
        median, out.stdout)
