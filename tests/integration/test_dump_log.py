"""samsa-dump-log: segments, indexes and checkpoints written here byte for byte.

The record batches are built by the small v2 encoder below (CRC-32C included),
checked against protocol.md's test vector and, when python3-kafka is present,
against kafka-python's DefaultRecordBatchBuilder.
"""
import glob
import gzip
import os
import random
import signal
import struct
import subprocess

import pytest

from conftest import BUILD, binary

TS = 1600000000000
LOG0 = "%020d.log" % 0

# ---- a record batch v2 encoder (protocol.md §10) ------------------------------------


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC32C_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(v):
    z = (v << 1) if v >= 0 else ((-v) << 1) - 1
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def nullable(b):
    return varint(-1) if b is None else varint(len(b)) + b


def rec(value, key=None, headers=(), ts=TS, delta=None):
    return {"value": value, "key": key, "headers": list(headers), "ts": ts, "delta": delta}


def record_bytes(offset_delta, ts_delta, r):
    body = bytes([0]) + varint(ts_delta) + varint(offset_delta) + nullable(r["key"]) + nullable(r["value"])
    body += varint(len(r["headers"]))
    for hk, hv in r["headers"]:
        body += varint(len(hk)) + hk + nullable(hv)
    return varint(len(body)) + body


def batch(base_offset, recs, leader_epoch=0, attributes=0, producer_id=-1, producer_epoch=-1,
          base_sequence=-1, max_ts=None, gzip_records=False):
    first_ts = recs[0]["ts"]
    deltas = [r["delta"] if r["delta"] is not None else i for i, r in enumerate(recs)]
    body = b"".join(record_bytes(d, r["ts"] - first_ts, r) for d, r in zip(deltas, recs))
    if gzip_records:
        body = gzip.compress(body, mtime=0)
        attributes |= 1
    if max_ts is None:
        max_ts = max(r["ts"] for r in recs)
    after_crc = struct.pack(">hiqqqhii", attributes, deltas[-1], first_ts, max_ts, producer_id, producer_epoch,
                            base_sequence, len(recs)) + body
    length = 4 + 1 + 4 + len(after_crc)
    return struct.pack(">qiibI", base_offset, length, leader_epoch, 2, crc32c(after_crc)) + after_crc


def test_encoder_matches_the_reference_vectors():
    vector = bytes.fromhex(
        "0000000000000000" "0000003a" "00000000" "02" "4f474f62" "0000" "00000000"
        "00000174876e8000" "00000174876e8000" "ffffffffffffffff" "ffff" "ffffffff" "00000001"
        "10" "00" "00" "00" "01" "04" "6869" "00")
    assert batch(0, [rec(b"hi")]) == vector
    assert record_bytes(0, 0, rec(b"v", key=b"k", headers=[(b"h", b"x")])) == bytes.fromhex("18 00 00 00 02 6b 02 76 02 02 68 02 78")


def test_encoder_matches_kafka_python():
    default_records = pytest.importorskip("kafka.record.default_records")
    b = default_records.DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0, producer_id=-1,
                                                  producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    b.append(0, timestamp=TS + 5, key=b"k", value=b"v", headers=[("h", b"x")])
    b.append(1, timestamp=TS + 3, key=None, value=b"second", headers=[])
    ours = batch(0, [rec(b"v", key=b"k", headers=[(b"h", b"x")], ts=TS + 5), rec(b"second", ts=TS + 3)])
    assert bytes(b.build()) == ours


# ---- files and the tool --------------------------------------------------------------


def write(d, name, data):
    path = os.path.join(str(d), name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def write_text(d, name, text):
    return write(d, name, text.encode())


def dump(*args):
    out = subprocess.run([binary("tools/samsa-dump-log"), *[str(a) for a in args]],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode >= 0, "killed by signal %d: %s" % (-out.returncode, out.stderr)
    assert "Sanitizer" not in out.stderr and "runtime error" not in out.stderr, out.stderr
    return out


def index_bytes(base, entries):
    return b"".join(struct.pack(">iI", off - base, pos) for off, pos in entries)


def time_index_bytes(base, entries):
    return b"".join(struct.pack(">qi", ts, off - base) for ts, off in entries)


# Three batches: the protocol.md vector; two records with keys, a header and
# producer fields; a tombstone, header keys and a value that needs escaping.
B0 = batch(0, [rec(b"hi")])
B1 = batch(1, [rec(b"v", key=b"k", headers=[(b"h", b"x")], ts=TS + 5), rec(b"second", key=b"k2", ts=TS + 3)],
           leader_epoch=3, producer_id=42, producer_epoch=1, base_sequence=10)
B2 = batch(3, [rec(None, key=b"gone", headers=[(b"a", b"1"), (b"b", None)]),
               rec(b"line1\nline2\\ \xc3\xa9 \xff", ts=TS + 9)])

B0_LINE = ("baseOffset: 0 lastOffset: 0 count: 1 baseSequence: -1 lastSequence: -1 producerId: -1 "
           "producerEpoch: -1 partitionLeaderEpoch: 0 isTransactional: false isControl: false position: 0 "
           "CreateTime: 1600000000000 size: 70 magic: 2 compresscodec: none crcValid: true")
B1_LINE = ("baseOffset: 1 lastOffset: 2 count: 2 baseSequence: 10 lastSequence: 11 producerId: 42 "
           "producerEpoch: 1 partitionLeaderEpoch: 3 isTransactional: false isControl: false position: 70 "
           "CreateTime: 1600000000005 size: 89 magic: 2 compresscodec: none crcValid: true")
B2_LINE = ("baseOffset: 3 lastOffset: 4 count: 2 baseSequence: -1 lastSequence: -1 producerId: -1 "
           "producerEpoch: -1 partitionLeaderEpoch: 0 isTransactional: false isControl: false position: 159 "
           "CreateTime: 1600000000009 size: %d magic: 2 compresscodec: none crcValid: true" % len(B2))


def test_log_print_data_log(tmp_path):
    assert (len(B0), len(B1)) == (70, 89)
    path = write(tmp_path, LOG0, B0 + B1 + B2)
    out = dump("--print-data-log", path)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert out.stdout.splitlines() == [
        "Dumping " + path,
        "Starting offset: 0",
        B0_LINE,
        "| offset: 0 CreateTime: 1600000000000 keySize: -1 valueSize: 2 sequence: -1 headerKeys: [] payload: hi",
        B1_LINE,
        "| offset: 1 CreateTime: 1600000000005 keySize: 1 valueSize: 1 sequence: 10 headerKeys: [h] key: k payload: v",
        "| offset: 2 CreateTime: 1600000000003 keySize: 2 valueSize: 6 sequence: 11 headerKeys: [] "
        "key: k2 payload: second",
        B2_LINE,
        "| offset: 3 CreateTime: 1600000000000 keySize: 4 valueSize: -1 sequence: -1 headerKeys: [a,b] key: gone",
        "| offset: 4 CreateTime: 1600000000009 keySize: -1 valueSize: 17 sequence: -1 headerKeys: [] "
        "payload: line1\\nline2\\\\ \u00e9 \\xff",
    ]


def test_log_shallow_and_deep(tmp_path):
    path = write(tmp_path, LOG0, B0 + B1 + B2)
    out = dump(path)
    assert out.returncode == 0
    assert out.stdout.splitlines() == ["Dumping " + path, "Starting offset: 0", B0_LINE, B1_LINE, B2_LINE]
    out = dump("--deep-iteration", path)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[3] == "| offset: 0 CreateTime: 1600000000000 keySize: -1 valueSize: 2 sequence: -1 headerKeys: []"
    assert len(lines) == 10 and not any("payload" in l or "key:" in l for l in lines)


def test_flipped_byte_gives_crc_invalid_and_the_dump_goes_on(tmp_path):
    data = bytearray(B0 + B1 + B2)
    data[70 + 61 + 7] ^= 0x01  # the value "v" of B1's first record becomes "w"
    path = write(tmp_path, LOG0, bytes(data))
    out = dump("--print-data-log", path)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[4] == B1_LINE.replace("crcValid: true", "crcValid: false")
    assert lines[5].endswith("key: k payload: w")
    assert lines[7] == B2_LINE


def test_torn_tail_is_reported(tmp_path):
    path = write(tmp_path, LOG0, B0 + B1 + B2[:30])
    out = dump(path)
    assert out.returncode == 1
    assert out.stdout.splitlines()[2:] == [
        B0_LINE, B1_LINE,
        "Invalid batch at position 159: 30 bytes left, fewer than a batch header (61)",
        "Found 30 invalid bytes at the end of " + LOG0,
    ]
    path = write(tmp_path, LOG0, B0 + B2[:-5])
    out = dump(path)
    assert out.returncode == 1
    assert out.stdout.splitlines()[3:] == [
        "Invalid batch at position 70: batch of %d bytes extends past the end of the file (%d bytes left)"
        % (len(B2), len(B2) - 5),
        "Found %d invalid bytes at the end of %s" % (len(B2) - 5, LOG0),
    ]


def test_garbage_in_the_middle_is_skipped(tmp_path):
    path = write(tmp_path, LOG0, B0 + b"\0" * 40 + B1)
    out = dump(path)
    assert out.returncode == 1
    assert out.stdout.splitlines()[2:] == [
        B0_LINE,
        "Invalid batch at position 70: magic 0 message size 0 is outside [14, 5242880]",
        "Skipped 40 invalid bytes at position 70; the next valid batch starts at position 110",
        B1_LINE.replace("position: 70", "position: 110"),
    ]


def test_damaged_length_does_not_hide_the_next_batches(tmp_path):
    # B1's batchLength grows by B2's size: B1 fails its CRC and seems to hold B2.
    b1 = bytearray(B1)
    struct.pack_into(">i", b1, 8, len(B1) - 12 + len(B2))
    path = write(tmp_path, LOG0, B0 + bytes(b1) + B2)
    out = dump(path)
    assert out.returncode == 1
    assert out.stdout.splitlines()[2:] == [
        B0_LINE,
        B1_LINE.replace("size: 89", "size: %d" % (89 + len(B2))).replace("crcValid: true", "crcValid: false"),
        "Invalid batch at position 70: a valid batch starts inside it at position 159; going on from there",
        B2_LINE,
    ]


def test_max_message_size(tmp_path):
    path = write(tmp_path, LOG0, B0 + B1)
    out = dump("--max-message-size", "60", path)
    assert out.returncode == 1
    assert out.stdout.splitlines()[2:] == [
        B0_LINE,
        "Invalid batch at position 70: batchLength 77 exceeds the maximum message size 60 (--max-message-size)",
        "Found 89 invalid bytes at the end of " + LOG0,
    ]
    assert dump("--max-message-size", "0", path).returncode == 2
    assert dump("--max-message-size", "x", path).returncode == 2


def test_offsets_checked_against_the_segment_and_each_other(tmp_path):
    first = batch(100, [rec(b"a"), rec(b"b")])
    path = write(tmp_path, "%020d.log" % 100, first + batch(50, [rec(b"c")]))
    out = dump(path)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[1] == "Starting offset: 100"
    assert lines[4:] == [
        "Invalid batch at position %d: baseOffset 50 is below the segment's base offset 100" % len(first),
        "Invalid batch at position %d: baseOffset 50 is not above the previous batch's lastOffset 101" % len(first),
    ]


def test_extreme_offsets_are_reported_not_overflowed(tmp_path):
    # baseOffset is outside the CRC: a damaged one still has crcValid true.
    base = 2**63 - 1 - (2**31 - 1)
    first = batch(2**63 - 2, [rec(b"a")] * 3)
    second = batch(base + 5, [rec(b"b")])
    path = write(tmp_path, "%020d.log" % base, first + second + batch(base + 6, [rec(b"c")]))
    out = dump("--deep-iteration", path)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[2].startswith("baseOffset: 9223372036854775806 lastOffset: -9223372036854775808 count: 3")
    assert lines[3] == ("Invalid batch at position 0: lastOffset overflows "
                        "(baseOffset 9223372036854775806 + lastOffsetDelta 2)")
    assert lines[4:7] == ["| offset: %d CreateTime: 1600000000000 keySize: -1 valueSize: 1 sequence: -1 headerKeys: []"
                          % o for o in (2**63 - 2, 2**63 - 1, -2**63)]
    assert lines[8] == ("Invalid batch at position %d: baseOffset %d is not above the previous batch's "
                        "lastOffset %d" % (len(first), base + 5, 2**63 - 1))
    assert len(lines) == 12 and "Invalid" not in lines[10] + lines[11]


def test_compressed_and_control_batches(tmp_path):
    gz = batch(0, [rec(b"one"), rec(b"two", key=b"k"), rec(b"three")], gzip_records=True)
    marker = batch(3, [rec(struct.pack(">hi", 0, 5), key=struct.pack(">hh", 0, 1))], attributes=0x30,
                   producer_id=7, producer_epoch=2, base_sequence=-1)
    path = write(tmp_path, LOG0, gz + marker)
    out = dump("--print-data-log", path)
    assert out.returncode == 0, out.stdout
    lines = out.stdout.splitlines()
    assert "compresscodec: gzip crcValid: true" in lines[2]
    assert lines[3:6] == [
        "| offset: 0 CreateTime: 1600000000000 keySize: -1 valueSize: 3 sequence: -1 headerKeys: [] payload: one",
        "| offset: 1 CreateTime: 1600000000000 keySize: 1 valueSize: 3 sequence: -1 headerKeys: [] key: k payload: two",
        "| offset: 2 CreateTime: 1600000000000 keySize: -1 valueSize: 5 sequence: -1 headerKeys: [] payload: three",
    ]
    assert "producerId: 7 producerEpoch: 2 partitionLeaderEpoch: 0 isTransactional: true isControl: true" in lines[6]
    assert lines[7] == ("| offset: 3 CreateTime: 1600000000000 keySize: 4 valueSize: 6 sequence: -1 headerKeys: [] "
                        "endTxnMarker: COMMIT coordinatorEpoch: 5")


def test_garbage_never_crashes(tmp_path):
    rng = random.Random(20261125)
    good = B0 + B1 + B2 + batch(5, [rec(b"x" * 50)] * 3, gzip_records=True)
    cases = [good[:n] for n in range(0, len(good), 11)]
    for _ in range(40):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cases.append(bytes(data))
    cases += [bytes(rng.randrange(256) for _ in range(rng.randint(1, 400))) for _ in range(15)]
    names = (LOG0, "%020d.index" % 0, "%020d.timeindex" % 0)
    for i, data in enumerate(cases):
        paths = [write(tmp_path, names[0], data), write(tmp_path, names[1], data[:48]),
                 write(tmp_path, names[2], data[-36:])]
        out = dump("--print-data-log", *paths)
        assert out.returncode in (0, 1), (i, out.stdout, out.stderr)
        assert out.stdout.count("Dumping ") == 3


# ---- indexes ---------------------------------------------------------------------------

# A segment at base 200: batches at 200 (1 record), 201-203, 204, 205-206.
SEG = [batch(200, [rec(b"a", ts=TS)]),
       batch(201, [rec(b"b", ts=TS + 30), rec(b"c", ts=TS + 10), rec(b"d", ts=TS + 20)]),
       batch(204, [rec(b"e", ts=TS + 40)]),
       batch(205, [rec(b"f", ts=TS + 50), rec(b"g", ts=TS + 60)])]
POS = [sum(len(b) for b in SEG[:i]) for i in range(len(SEG))]


def segment(tmp_path, index=None, time_index=None):
    write(tmp_path, "%020d.log" % 200, b"".join(SEG))
    paths = {}
    if index is not None:
        paths["index"] = write(tmp_path, "%020d.index" % 200, index_bytes(200, index))
    if time_index is not None:
        paths["timeindex"] = write(tmp_path, "%020d.timeindex" % 200, time_index_bytes(200, time_index))
    return paths


def test_index_entries_and_a_wrong_entry(tmp_path):
    good = [(203, POS[1]), (206, POS[3])]
    path = segment(tmp_path, index=good)["index"]
    out = dump(path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["Dumping " + path, "offset: 203 position: %d" % POS[1],
                                       "offset: 206 position: %d" % POS[3]]
    assert out.stderr == ""

    path = segment(tmp_path, index=[(202, POS[1]), (206, POS[2] + 3)])["index"]
    out = dump(path)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "Mismatches in :" + path,
        "  Index offset: 202, log offset: 203",
        "  Index offset: 206, log offset: -1 (no batch starts at position %d)" % (POS[2] + 3),
    ]


def test_index_entry_for_a_multi_batch_append_is_accepted(tmp_path):
    # A follower appending SEG[1..3] at once indexes their last offset at SEG[1]'s position.
    path = segment(tmp_path, index=[(206, POS[1])])["index"]
    out = dump("--verify-index-only", path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["Dumping " + path]


def test_index_sanity_check(tmp_path):
    path = segment(tmp_path, index=[(203, POS[1]), (206, POS[3])])["index"]
    out = dump("--index-sanity-check", path)
    assert (out.returncode, out.stdout.splitlines()[1]) == (0, path + " passed sanity check.")
    write(tmp_path, os.path.basename(path), index_bytes(200, [(203, POS[1])]) + b"\0\0\0\0")
    out = dump("--index-sanity-check", path)
    assert out.returncode == 1
    assert out.stdout.splitlines()[1] == path + " failed sanity check: offset index length is not a multiple of 8."
    segment(tmp_path, index=[(203, POS[1]), (206, sum(len(b) for b in SEG))])
    out = dump("--index-sanity-check", path)
    assert out.returncode == 1
    assert out.stdout.splitlines()[1] == path + " failed sanity check: offset index points past the end of the log."


def test_index_with_preallocated_tail_and_without_log(tmp_path):
    segment(tmp_path)
    path = write(tmp_path, "%020d.index" % 200, index_bytes(200, [(203, POS[1])]) + b"\0" * 24)
    out = dump(path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == ["offset: 203 position: %d" % POS[1],
                                           "(3 zero entries at the end: preallocated, not written)"]
    os.unlink(os.path.join(str(tmp_path), "%020d.log" % 200))
    out = dump(path)
    assert out.returncode == 0
    assert "not found: entries not checked against the log" in out.stderr
    assert dump("--verify-index-only", path).returncode == 2


def test_time_index_entries_and_errors(tmp_path):
    # The leader indexes the offset of the record with the largest timestamp
    # (201 in SEG[1]); recovery would index the batch's last offset (203).
    good = [(TS + 30, 201), (TS + 40, 204), (TS + 60, 206)]
    path = segment(tmp_path, time_index=good)["timeindex"]
    out = dump(path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["Dumping " + path] + ["timestamp: %d offset: %d" % e for e in good]
    assert out.stderr == ""

    bad = [(TS + 30, 203), (TS + 45, 204), (TS + 20, 205), (TS + 70, 230)]
    path = segment(tmp_path, time_index=bad)["timeindex"]
    out = dump(path)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "Found timestamp mismatch in :" + path,
        "  Index timestamp: %d, log timestamp: %d" % (TS + 45, TS + 40),
        "  Index timestamp: %d, log timestamp: %d" % (TS + 20, TS + 60),
        "Found out of order timestamp in :" + path,
        "  Index timestamp: %d, Previously indexed timestamp: %d" % (TS + 20, TS + 45),
        "The following indexed offsets are not found in the log.",
        "Indexed offset: 230, found log offset: -1",
    ]
    # The broker's load-time check only looks at the length and the last entries.
    out = dump("--index-sanity-check", path)
    assert (out.returncode, out.stdout.splitlines()[1]) == (0, path + " passed sanity check.")
    write(tmp_path, os.path.basename(path), time_index_bytes(200, [(TS + 30, 203), (TS + 20, 205)]))
    out = dump("--index-sanity-check", path)
    assert out.returncode == 1
    assert out.stdout.splitlines()[1] == path + " failed sanity check: time index: last timestamp is below the first."


def test_segments_written_by_the_log_are_valid(tmp_path):
    """What samsa's own log layer writes (several 1 MiB segments, recovered
    after a SIGKILL by log_writer verify) must dump as valid, indexes too."""
    writer = os.path.join(BUILD, "tests", "integration", "log_writer")
    if not os.access(writer, os.X_OK):
        pytest.skip("tests/integration/log_writer is not built")
    d = str(tmp_path / "orders-0")
    os.mkdir(d)
    proc = subprocess.Popen([writer, "append", d], stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if int(line.split()[1]) >= 150000:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    verify = subprocess.run([writer, "verify", d], capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stderr
    logs = sorted(glob.glob(os.path.join(d, "*.log")))
    assert len(logs) >= 3
    out = dump(*logs)
    assert out.returncode == 0, out.stdout[-2000:]
    indexes = sorted(glob.glob(os.path.join(d, "*.index")) + glob.glob(os.path.join(d, "*.timeindex")))
    out = dump("--verify-index-only", *indexes)
    assert (out.returncode, out.stderr) == (0, "")
    # Rolled segments were trimmed; the active one may still be preallocated.
    rolled = [p for p in indexes if not p.startswith(logs[-1][:-len(".log")])]
    out = dump("--index-sanity-check", *rolled)
    assert out.returncode == 0, out.stdout
    assert out.stdout.count("passed sanity check.") == len(rolled) >= 4


# ---- other segment files -------------------------------------------------------------------


def test_txn_index_and_snapshot(tmp_path):
    path = write(tmp_path, "%020d.txnindex" % 0, struct.pack(">hqqqq", 0, 7, 10, 20, 21))
    out = dump(path)
    assert out.returncode == 0
    assert out.stdout.splitlines()[1] == "version: 0 producerId: 7 firstOffset: 10 lastOffset: 20 lastStableOffset: 21"

    entries = struct.pack(">i", 1) + struct.pack(">qhiqiqiq", 7, 2, 14, 30, 4, TS, 3, -1)
    snap = struct.pack(">hI", 1, crc32c(entries)) + entries
    path = write(tmp_path, "%020d.snapshot" % 31, snap)
    out = dump(path)
    assert out.returncode == 0, out.stdout
    assert out.stdout.splitlines()[1] == (
        "producerId: 7 producerEpoch: 2 coordinatorEpoch: 3 currentTxnFirstOffset: -1 firstSequence: 10 "
        "lastSequence: 14 lastOffset: 30 offsetDelta: 4 timestamp: 1600000000000")
    write(tmp_path, "%020d.snapshot" % 31, snap[:-1] + b"\x01")
    out = dump(path)
    assert out.returncode == 1
    assert out.stdout.splitlines()[1].startswith("Invalid snapshot: CRC is no longer valid")


# ---- checkpoints ----------------------------------------------------------------------------


def test_offset_checkpoint_table(tmp_path):
    path = write_text(tmp_path, "replication-offset-checkpoint",
                      "0\n3\norders 0 1523\norders 1 1498\n__consumer_offsets 17 4\n")
    out = dump(path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "Dumping " + path,
        "topic               partition  offset",
        "orders                      0    1523",
        "orders                      1    1498",
        "__consumer_offsets         17       4",
    ]
    bad = write_text(tmp_path, "recovery-point-offset-checkpoint", "0\n2\norders x 5\norders 1 2\n")
    out = dump(bad)
    assert out.returncode == 1
    assert out.stderr.strip() == ("samsa-dump-log: %s:3: malformed entry 'orders x 5': partition is not a number"
                                  % bad)


def test_leader_epoch_checkpoint_and_meta_properties(tmp_path):
    path = write_text(tmp_path, "leader-epoch-checkpoint", "0\n2\n0 0\n3 812\n")
    out = dump(path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == ["epoch  startOffset", "    0            0", "    3          812"]
    write_text(tmp_path, "leader-epoch-checkpoint", "0\n2\n3 812\n2 900\n")
    out = dump(path)
    assert out.returncode == 1
    assert out.stderr.strip() == ("%s: entries do not ascend: epoch 2 startOffset 900 follows epoch 3 startOffset 812"
                                  % path)
    meta = write_text(tmp_path, "meta.properties",
                      "#\n#Tue Sep 15 12:26:40 UTC 2020\nbroker.id=1\nversion=0\ncluster.id=X3E3uS1tS0CJxkm6hvFc8g\n")
    out = dump(meta)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == ["version: 0", "broker.id: 1", "cluster.id: X3E3uS1tS0CJxkm6hvFc8g"]


def test_compare_checkpoints_marks_the_lagging_broker(tmp_path):
    files = []
    for broker, body in ((1, "orders 0 120\norders 3 120\norders 10 8\npay 1 5\n"),
                         (2, "orders 10 8\norders 3 120\norders 0 120\n"),
                         (3, "orders 0 120\norders 3 97\norders 10 8\npay 1 5\n")):
        os.mkdir(os.path.join(str(tmp_path), "b%d" % broker))
        files.append(write_text(tmp_path, "b%d/replication-offset-checkpoint" % broker,
                                "0\n%d\n%s" % (body.count("\n"), body)))
    out = dump("--compare-checkpoints", *files)
    assert out.returncode == 1, out.stderr
    assert out.stdout.splitlines() == [
        "file1: " + files[0], "file2: " + files[1], "file3: " + files[2],
        "orders 0: 120 120 120",
        "orders 3: 120 120 97 <- lagging: file3",
        "orders 10: 8 8 8",
        "pay 1: 5 - 5",
        "1 of 4 partitions differ",
    ]
    out = dump("--compare-checkpoints", files[0], files[0])
    assert out.returncode == 0
    assert out.stdout.splitlines()[-1] == "0 of 4 partitions differ"
    assert dump("--compare-checkpoints", files[0]).returncode == 2
    assert dump("--compare-checkpoints", files[0], os.path.join(str(tmp_path), "missing")).returncode == 2


# ---- command line -----------------------------------------------------------------------------


def test_usage_errors_and_unreadable_files(tmp_path):
    out = dump()
    assert out.returncode == 2 and "no files given" in out.stderr
    assert dump("--no-such-option", "x").returncode == 2
    missing = os.path.join(str(tmp_path), "%020d.log" % 0)
    out = dump(missing)
    assert out.returncode == 2
    assert out.stderr.strip() == "samsa-dump-log: %s: No such file or directory" % missing
    out = dump(str(tmp_path))
    assert out.returncode == 2 and "not a regular file" in out.stderr
    other = write(tmp_path, "notes.txt", b"x")
    out = dump(other)
    assert (out.returncode, out.stderr.strip()) == (0, "Ignoring unknown file " + other)
    assert dump("--help").returncode == 0


def test_files_option_and_worst_status_wins(tmp_path):
    good = write(tmp_path, LOG0, B0)
    torn = write(tmp_path, "%020d.log" % 1, batch(1, [rec(b"x")])[:-1])
    out = dump("--files", "%s,%s" % (good, torn))
    assert out.returncode == 1
    assert [l for l in out.stdout.splitlines() if l.startswith("Dumping")] == ["Dumping " + good, "Dumping " + torn]
    out = dump("--files", good, os.path.join(str(tmp_path), "nope.log"))
    assert out.returncode == 2
