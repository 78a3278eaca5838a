"""The partition log survives SIGKILL: a process appending in a loop is killed,
the log reopens as after a crash, loses nothing acknowledged before a torn
batch, and appends continue at the right offset."""
import glob
import os
import signal
import subprocess
import time

from conftest import binary


def run_writer_and_kill(log_dir, min_acked=100000):
    writer = subprocess.Popen([binary("tests/integration/log_writer"), "append", log_dir],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = -1
    deadline = time.monotonic() + 60
    try:
        for line in writer.stdout:
            last = int(line.split()[1])
            if last >= min_acked or time.monotonic() > deadline:
                break
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        # Whatever it acknowledged after our last read line counts too.
        for line in writer.stdout.read().splitlines():
            if line.startswith("acked "):
                last = int(line.split()[1])
    assert writer.returncode == -signal.SIGKILL
    assert last >= min_acked
    return last


def verify(log_dir):
    out = subprocess.run([binary("tests/integration/log_writer"), "verify", log_dir],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    leo = int(lines[0].split()[1])
    appended = int(lines[1].split()[1])
    return leo, appended


def test_sigkill_loses_nothing_acknowledged(workdir):
    log_dir = os.path.join(workdir, "crash-0")
    last_acked = run_writer_and_kill(log_dir)
    leo, appended = verify(log_dir)
    # Appends land in the page cache, which survives the process: all of them.
    assert leo >= last_acked + 1
    assert leo % 10 == 0
    assert appended == leo
    assert len(glob.glob(os.path.join(log_dir, "*.log"))) > 1  # it rolled segments


def test_sigkill_then_torn_tail_keeps_everything_before_it(workdir):
    log_dir = os.path.join(workdir, "torn-0")
    last_acked = run_writer_and_kill(log_dir)
    # The newest segment may be empty (killed right after a roll): the last
    # batch then sits at the end of the one before.
    last = [s for s in sorted(glob.glob(os.path.join(log_dir, "*.log"))) if os.path.getsize(s) > 0][-1]
    size = os.path.getsize(last)
    assert size > 200
    # Cut the last batch in half, as a crash in the middle of a write would.
    with open(last, "r+b") as f:
        f.truncate(size - 40)
    leo, appended = verify(log_dir)
    # Before the cut the log ended at last_acked + 1, or one batch later if the
    # writer was killed between a write and its "acked" line. The torn batch
    # (10 records) is gone; verify checked "v<offset>" at every offset below
    # the LEO, so nothing before it was lost, and appends go on from there.
    assert leo in (last_acked + 1 - 10, last_acked + 1)
    assert appended == leo
