"""Log compaction end to end (issue 15): a cleanup.policy=compact topic with
1,000,000 updates over 1,000 keys compacts to one record per key before the
active segment; a SIGKILL of the broker while its (throttled) cleaner is
writing loses nothing; a tombstone goes once delete.retention.ms has passed.
Clients are kcat (librdkafka); the cleaner's progress is read from the
broker's cleaner-offset-checkpoint and segment files."""
import glob
import json
import os
import subprocess
import time

from conftest import Broker, binary

KEYS = 1000
UPDATES = 1000000


def create_topic(broker, topic, *configs):
    args = [binary("tools/samsa-topics"), "--bootstrap-server", broker.bootstrap, "--create", "--topic", topic,
            "--partitions", "1", "--replication-factor", "1"]
    for c in configs:
        args += ["--config", c]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def produce(broker, topic, lines, batch=10000):
    """lines: 'key:value' (an empty value is a tombstone)."""
    out = subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-p", "0", "-K:", "-Z",
                          "-X", "linger.ms=20", "-X", "batch.num.messages=%d" % batch, "-X", "acks=all"],
                         input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr


def consume(broker, topic):
    """Every record from the beginning: (offset, key, value or None)."""
    out = subprocess.run(["kcat", "-C", "-q", "-b", broker.bootstrap, "-t", topic, "-p", "0", "-o", "beginning",
                          "-e", "-J"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    recs = []
    for line in out.stdout.splitlines():
        m = json.loads(line)
        recs.append((m["offset"], m["key"], m["payload"]))
    return recs


def partition_dir(broker, topic):
    return os.path.join(broker.dir, "logs", "%s-0" % topic)


def segment_bases(broker, topic):
    return sorted(int(os.path.basename(p).split(".")[0])
                  for p in glob.glob(os.path.join(partition_dir(broker, topic), "*.log")))


def cleaner_checkpoint(broker, topic):
    try:
        with open(os.path.join(broker.dir, "logs", "cleaner-offset-checkpoint")) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return 0
    for line in lines[2:]:
        t, p, off = line.split()
        if t == topic and p == "0":
            return int(off)
    return 0


def wait_cleaned(broker, topic, timeout=120):
    """Until the cleaner has cleaned everything before the active segment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bases = segment_bases(broker, topic)
        if bases and cleaner_checkpoint(broker, topic) == bases[-1]:
            return bases[-1]
        time.sleep(0.2)
    raise AssertionError("not cleaned: checkpoint %d, segments %s\n%s" % (
        cleaner_checkpoint(broker, topic), segment_bases(broker, topic), broker.read_log()[-3000:]))


def restart(workdir, overrides, zk_connect):
    """A new process on the same log dir, once ZooKeeper has expired the
    killed one's session (its /brokers/ids/1 is in the way until then)."""
    deadline = time.monotonic() + 30
    while True:
        b = Broker(workdir, overrides=overrides, zk_connect=zk_connect)
        try:
            return b.start()
        except AssertionError:
            b.log.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def check_latest(recs, latest):
    offsets = [o for o, _, _ in recs]
    assert offsets == sorted(set(offsets)), "offsets repeat or go backwards"
    seen = {}
    for _, k, v in recs:
        seen[k] = v
    assert seen == latest


def test_million_updates_compact_and_survive_sigkill_mid_clean(workdir):
    common = ["log.cleaner.backoff.ms=100", "log.cleaner.dedupe.buffer.size=16777216",
              "zookeeper.session.timeout.ms=1500"]
    b = Broker(workdir, overrides=common + ["log.cleaner.io.max.bytes.per.second=3000000"]).start()
    topic = "compacted"
    create_topic(b, topic, "cleanup.policy=compact", "segment.bytes=1048576", "min.cleanable.dirty.ratio=0.01")
    lines = ["k%d:v%d" % (i % KEYS, i) for i in range(UPDATES)]
    latest = {"k%d" % k: "v%d" % (UPDATES - KEYS + k) for k in range(KEYS)}
    produce(b, topic, lines)

    # The throttled cleaner is writing a .cleaned segment: kill the broker.
    deadline = time.monotonic() + 120
    while not glob.glob(os.path.join(partition_dir(b, topic), "*.cleaned")):
        assert time.monotonic() < deadline, "the cleaner never started:\n" + b.read_log()[-3000:]
        time.sleep(0.02)
    b.kill()

    # Restarted unthrottled: every key's latest value is there at once, and
    # after cleaning one record per key is left before the active segment.
    b = restart(workdir, common, b.zk_connect)
    try:
        recs = consume(b, topic)
        assert len(recs) <= UPDATES
        check_latest(recs, latest)
        active_base = wait_cleaned(b, topic)
        recs = consume(b, topic)
        check_latest(recs, latest)
        cleaned = [r for r in recs if r[0] < active_base]
        assert len(cleaned) <= KEYS
        assert len(set(k for _, k, _ in cleaned)) == len(cleaned)
        assert all(o >= active_base for o, _, _ in recs[len(cleaned):])
        assert not glob.glob(os.path.join(partition_dir(b, topic), "*.swap"))
        # samsa-dump-log reads the cleaned segments
        largest = max((os.path.getsize(p), p) for p in glob.glob(os.path.join(partition_dir(b, topic), "*.log"))
                      if not p.endswith("%020d.log" % active_base))[1]
        out = subprocess.run([binary("tools/samsa-dump-log"), "--print-data-log", largest],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "key: k" in out.stdout
    finally:
        assert b.stop() == 0, b.read_log()[-3000:]


def test_tombstone_kept_then_removed_after_delete_retention(workdir):
    b = Broker(workdir, overrides=["log.cleaner.backoff.ms=100"]).start()
    topic = "tombstones"
    try:
        create_topic(b, topic, "cleanup.policy=compact", "segment.bytes=4096", "min.cleanable.dirty.ratio=0.01",
                     "delete.retention.ms=4000")
        produce(b, topic, ["live%d:a" % i for i in range(20)] + ["dead:x", "dead:"])
        # Filler rolls segments so that the tombstone's gets cleaned.
        produce(b, topic, ["f%d:%s" % (i % 10, "y" * 100) for i in range(80)], batch=20)
        deadline = time.monotonic() + 60
        tombstone_offset = 21
        while cleaner_checkpoint(b, topic) <= tombstone_offset:
            assert time.monotonic() < deadline, b.read_log()[-3000:]
            time.sleep(0.1)
        recs = consume(b, topic)
        assert ("dead", None) in [(k, v) for _, k, v in recs]  # cleaned once, still there
        assert [k for _, k, _ in recs].count("dead") == 1      # the value before it went
        # Keep writing; once the cleaned part is delete.retention.ms older
        # than what is cleaned later, the tombstone goes.
        deadline = time.monotonic() + 90
        while True:
            produce(b, topic, ["f%d:%s" % (i % 10, "z" * 100) for i in range(40)], batch=20)
            recs = consume(b, topic)
            if "dead" not in [k for _, k, _ in recs]:
                break
            assert time.monotonic() < deadline, "the tombstone stayed:\n" + b.read_log()[-3000:]
            time.sleep(0.5)
        keys = set(k for _, k, _ in recs)
        assert {"live%d" % i for i in range(20)} <= keys
    finally:
        assert b.stop() == 0, b.read_log()[-3000:]
