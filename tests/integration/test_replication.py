"""Replication with real brokers (tools/samsa-cluster, 3 brokers): followers
fetch from their leader with replica fetchers, so an RF-3 partition ends up
with three byte-identical logs (samsa-dump-log shows the same batches: the
same offsets, CRCs and sizes), and after the leader is SIGKILLed the new
leader serves every record that was consumed before."""
import glob
import os
import re
import subprocess

from conftest import binary
from test_controller import SESSION_MS, Cluster, kcat, wait_for

TOPIC = "replicated"
RECORDS = 10000


def batches(c, broker_id, topic, partition=0):
    """The batches of one replica as samsa-dump-log prints them, without the
    file position (segments may roll at other points on each replica)."""
    d = os.path.join(c.dir, "broker-%d" % broker_id, "logs", "%s-%d" % (topic, partition))
    files = sorted(glob.glob(os.path.join(d, "*.log")))
    if not files:
        return []
    out = subprocess.run([binary("tools/samsa-dump-log"), *files], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return [re.sub(r" position: \d+", "", l) for l in out.stdout.splitlines() if l.startswith("baseOffset:")]


def last_offset(lines):
    m = re.match(r"baseOffset: \d+ lastOffset: (\d+)", lines[-1]) if lines else None
    return int(m.group(1)) if m else -1


def consume(bootstrap, topic, expect):
    out = kcat("-C", "-b", bootstrap, "-t", topic, "-p", "0", "-o", "beginning", "-c", str(expect), "-e",
               "-f", "%o %k %s\\n", timeout=120)
    return [l for l in out.splitlines() if l]


def test_rf3_replicas_identical_and_failover(workdir):
    c = Cluster(workdir).start()
    try:
        c.topics("--create", "--topic", TOPIC, "--partitions", "1", "--replication-factor", "3")
        d = wait_for("a leader", lambda: (lambda x: x if x.get(0, (-1,))[0] >= 0 else None)(c.describe(TOPIC)))
        leader, replicas, isr = d[0]
        assert sorted(replicas) == [1, 2, 3] and sorted(isr) == [1, 2, 3]

        payload = "".join("k%d:value-%d\n" % (i, i) for i in range(RECORDS)).encode()
        kcat("-P", "-b", c.bootstrap(leader), "-t", TOPIC, "-p", "0", "-K:", "-X", "request.required.acks=1",
             "-X", "batch.num.messages=500", input_data=payload, timeout=120)

        # Every replica's log ends at the same offset with the same batches.
        def same_logs():
            dumps = [batches(c, b, TOPIC) for b in (1, 2, 3)]
            return dumps if last_offset(dumps[0]) == RECORDS - 1 and dumps[0] == dumps[1] == dumps[2] else None
        dumps = wait_for("three identical replicas", same_logs, timeout=60, interval=0.5)
        assert all("crcValid: true" in l and "size: " in l for l in dumps[0])
        assert len(dumps[0]) >= RECORDS // 500

        # Consumers see it all on the leader (the HW follows the followers' fetches).
        before = consume(c.bootstrap(leader), TOPIC, RECORDS)
        assert len(before) == RECORDS
        assert before[0] == "0 k0 value-0" and before[-1] == "%d k%d value-%d" % (RECORDS - 1, RECORDS - 1, RECORDS - 1)

        # The leader dies; a follower takes over and serves the same records.
        c.run("kill", str(leader))
        now = wait_for("a new leader", lambda: (lambda x: x if x[0][0] not in (leader, -1) else None)(c.describe(TOPIC)),
                       timeout=SESSION_MS / 1000 + 20)
        new_leader = now[0][0]
        after = wait_for("every record on broker %d" % new_leader,
                         lambda: (lambda got: got if len(got) == RECORDS else None)(
                             consume(c.bootstrap(new_leader), TOPIC, RECORDS)), timeout=60, interval=1.0)
        assert after == before

        # The surviving follower keeps replicating from the new leader.
        kcat("-P", "-b", c.bootstrap(new_leader), "-t", TOPIC, "-p", "0", "-K:", input_data=b"late:record\n")
        survivor = next(b for b in (1, 2, 3) if b not in (leader, new_leader))
        wait_for("the survivor has the new record", lambda: last_offset(batches(c, survivor, TOPIC)) == RECORDS,
                 timeout=30, interval=0.5)
        assert batches(c, survivor, TOPIC) == batches(c, new_leader, TOPIC)
    finally:
        c.stop()
