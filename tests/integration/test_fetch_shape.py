"""The shape of a consumer's Fetch response (api_fetch.c, fetch_response_cap).

A consumer's response carries at most 1 MiB of record bytes whatever larger
max_bytes it asks for; within that the protocol's rules hold exactly:
partitions are filled in request order, each up to its partition_max_bytes
and the response's remaining bytes (so the last one filled may end inside a
batch, which the client drops and fetches again), a smaller max_bytes is
honoured as it is, and the first batch of the first partition with data
comes whole even when it is larger than every limit (KIP-74). A fetch whose
min_bytes is above the cap is answered as soon as a full response is there
rather than waiting out max_wait_ms.

Raw Fetch v4 requests (no flexible fields, records as plain bytes), so the
byte counts are the broker's and not a client's view of them.
"""
import os
import struct
import time

import pytest

from clients_lib import unique_topic
from conftest import Broker
from test_controller_requests import arr, request, s16

CAP = 1 << 20
RECORD = 10_000  # one record per batch (batch.size below it): batches of ~10 KB
PER_PARTITION = 60  # ~600 KB a partition: two partitions fill more than the cap


@pytest.fixture(scope="module")
def samsa(tmp_path_factory):
    b = Broker(str(tmp_path_factory.mktemp("fetchshape")),
               overrides=["num.partitions=4", "message.max.bytes=4194304"]).start()
    yield b
    rc = b.stop()
    assert rc == 0, b.read_log()[-4000:]


def fetch_v4(broker, topic, partitions, max_bytes, min_bytes=1, max_wait_ms=0):
    """{partition: (error, high_watermark, record bytes)} for a consumer's
    Fetch v4 of (partition, offset, partition_max_bytes) in that order."""
    parts = arr(partitions, lambda p: struct.pack(">iqi", *p))
    body = struct.pack(">iiiib", -1, max_wait_ms, min_bytes, max_bytes, 0) + arr([topic], lambda t: s16(t) + parts)
    resp = request(broker.port, 1, 4, body)
    pos = 4  # throttle_time_ms
    (ntopics,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    out = {}
    for _ in range(ntopics):
        (tl,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + tl
        (nparts,) = struct.unpack_from(">i", resp, pos)
        pos += 4
        for _ in range(nparts):
            p, err, hw, _lso, naborted = struct.unpack_from(">ihqqi", resp, pos)
            pos += 4 + 2 + 8 + 8 + 4 + (16 * naborted if naborted > 0 else 0)
            (size,) = struct.unpack_from(">i", resp, pos)
            pos += 4
            size = max(size, 0)
            out[p] = (err, hw, resp[pos:pos + size])
            pos += size
    assert pos == len(resp), "trailing bytes in the response"
    return out


def whole_batches(records):
    """The bytes of the whole batches at the start of records."""
    pos = 0
    while len(records) - pos >= 12:
        (length,) = struct.unpack_from(">i", records, pos + 8)
        if pos + 12 + length > len(records):
            break
        pos += 12 + length
    return pos


def produce(broker, topic, partition, values):
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks=1, linger_ms=0, batch_size=RECORD // 2,
                             max_request_size=4 << 20, api_version=(2, 0))
    for v in values:
        producer.send(topic, value=v, partition=partition)
    producer.flush(timeout=60)
    producer.close()


@pytest.fixture(scope="module")
def filled(samsa):
    """A 4-partition topic with PER_PARTITION records of RECORD random bytes
    in each, and each partition's stored size."""
    topic = unique_topic("fetch-shape")
    for p in range(4):
        produce(samsa, topic, p, [os.urandom(RECORD) for _ in range(PER_PARTITION)])
    sizes = {}
    for p in range(4):
        got = fetch_v4(samsa, topic, [(p, 0, 8 << 20)], 8 << 20)
        err, hw, records = got[p]
        assert (err, hw) == (0, PER_PARTITION)
        assert whole_batches(records) == len(records)
        sizes[p] = len(records)
    assert all(CAP // 2 < s < CAP for s in sizes.values()), sizes
    return topic, sizes


def test_consumer_response_capped_in_request_order(samsa, filled):
    topic, sizes = filled
    got = fetch_v4(samsa, topic, [(p, 0, 8 << 20) for p in range(4)], 50 << 20)
    assert [got[p][:2] for p in range(4)] == [(0, PER_PARTITION)] * 4
    lengths = [len(got[p][2]) for p in range(4)]
    assert lengths == [sizes[0], CAP - sizes[0], 0, 0]
    # the second partition's slice ends inside a batch: the client keeps the
    # whole ones and fetches from the next offset
    assert whole_batches(got[1][2]) < lengths[1]


def test_partition_max_bytes_and_smaller_max_bytes_exact(samsa, filled):
    topic, sizes = filled
    got = fetch_v4(samsa, topic, [(p, 0, 100_000) for p in range(4)], 50 << 20)
    assert [len(got[p][2]) for p in range(4)] == [100_000] * 4
    got = fetch_v4(samsa, topic, [(p, 0, 8 << 20) for p in range(4)], 250_000)
    assert [len(got[p][2]) for p in range(4)] == [250_000, 0, 0, 0]


def test_later_offsets_progress_to_the_end(samsa, filled):
    """Fetching on from where the whole batches end reads every record once."""
    topic, sizes = filled
    offsets = {p: 0 for p in range(4)}
    total = 0
    for _ in range(20):
        if all(o == PER_PARTITION for o in offsets.values()):
            break
        got = fetch_v4(samsa, topic, [(p, offsets[p], 8 << 20) for p in range(4)], 50 << 20)
        for p in range(4):
            records = got[p][2]
            end = whole_batches(records)
            pos = 0
            while pos < end:
                base, = struct.unpack_from(">q", records, pos)
                assert base == offsets[p], (p, base, offsets[p])
                (length,) = struct.unpack_from(">i", records, pos + 8)
                (count,) = struct.unpack_from(">i", records, pos + 57)
                offsets[p] += count
                pos += 12 + length
            total += end
    assert offsets == {p: PER_PARTITION for p in range(4)}
    assert total == sum(sizes.values())


def test_first_batch_whole_beyond_the_cap(samsa):
    topic = unique_topic("fetch-shape-big")
    produce(samsa, topic, 0, [os.urandom(3 * CAP // 2)])
    produce(samsa, topic, 1, [os.urandom(RECORD)])
    got = fetch_v4(samsa, topic, [(0, 0, 100), (1, 0, 8 << 20)], 50 << 20)
    big = got[0][2]
    assert len(big) > CAP and whole_batches(big) == len(big)
    assert got[0][:2] == (0, 1) and got[1][:2] == (0, 1)
    assert got[1][2] == b""  # the cap is spent: the next partition waits for the next fetch


def test_min_bytes_above_the_cap_answers_at_once(samsa, filled):
    topic, sizes = filled
    t0 = time.monotonic()
    got = fetch_v4(samsa, topic, [(p, 0, 8 << 20) for p in range(4)], 50 << 20, min_bytes=40 << 20,
                   max_wait_ms=30_000)
    assert sum(len(got[p][2]) for p in range(4)) == CAP
    assert time.monotonic() - t0 < 20  # far from max_wait_ms: it did not wait
