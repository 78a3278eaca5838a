"""A roll's flush (storage-and-replication.md: Kafka's Log.roll schedules
flush(newSegment.baseOffset) at once): with the default
log.flush.scheduler.interval.ms (never) the segments before a roll are
fsynced by the next log-manager tick, not left to the OS; and the produces
that keep rolling the log go on being answered while it happens."""
from conftest import Broker, free_port
from test_controller import kcat, wait_for
from test_metrics import http_get, samples

FLUSHES = "kafka_log_logflushstats_logflushrateandtimems_count"


def flush_count(port):
    status, text = http_get(port, "/metrics")
    assert status == 200
    return samples(text).get(FLUSHES, 0)


def test_rolled_segments_are_flushed_at_the_next_tick(workdir):
    port = free_port()
    b = Broker(workdir, overrides=["metrics.listener=127.0.0.1:%d" % port, "log.segment.bytes=4096"]).start()
    try:
        assert flush_count(port) == 0
        # 2,000 records of ~100 B in batches of 20: ~60 segments of 4 KiB.
        records = 2000
        kcat("-P", "-b", b.bootstrap, "-t", "rolled", "-p", "0", "-X", "batch.num.messages=20",
             input_data="".join("%0100d\n" % i for i in range(records)).encode())
        # The first scheduled flush would come 30 s after start-up; the roll's
        # comes with the next tick (every 500 ms).
        wait_for("a flush after the rolls", lambda: flush_count(port) > 0, timeout=10)
        out = kcat("-C", "-b", b.bootstrap, "-t", "rolled", "-p", "0", "-o", "beginning", "-e", "-q")
        assert out.splitlines() == ["%0100d" % i for i in range(records)]
        assert "cannot fsync" not in b.read_log()
    finally:
        assert b.stop() == 0, b.read_log()[-4000:]
