"""tools/samsa-consumer-groups (kafka-consumer-groups.sh) and --group in the
console consumer and the consumer perf test, against one samsa broker with
its group coordinator (offsets topic of RF 1, no initial rebalance delay).

Groups commit through the console consumer (librdkafka commits what it
printed when it stops) or through --reset-offsets --execute itself; every
number the tool prints is checked exactly: CURRENT-OFFSET is what was
committed, LOG-END-OFFSET what was produced, LAG their difference."""
import contextlib
import signal
import subprocess
import time

import pytest

from conftest import Broker, binary
from test_controller import wait_for

OFFSETS_HEADER = ("%-15s %-15s %-10s %-15s %-15s %-15s %-15s %-15s %s" %
                  ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
                   "CLIENT-ID"))
RESET_HEADER = "%-30s %-30s %-10s %-15s" % ("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
WARN_NO_EXECUTE = "WARN: No action will be performed as the --execute option is missing."


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory):
    broker = Broker(str(tmp_path_factory.mktemp("groups")),
                    overrides=["offsets.topic.replication.factor=1", "offsets.topic.num.partitions=5",
                               "group.initial.rebalance.delay.ms=0"]).start()
    yield broker.bootstrap
    rc = broker.stop()
    assert rc == 0, broker.read_log()[-4000:]


def tool(name, *args, stdin=None, timeout=60):
    return subprocess.run([binary("tools/" + name), *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def cg(bootstrap, *args):
    return tool("samsa-consumer-groups", "--bootstrap-server", bootstrap, *args)


def ok(out):
    assert out.returncode == 0, "rc %d\nstdout:\n%s\nstderr:\n%s" % (out.returncode, out.stdout, out.stderr)
    return out


def create_topic(bootstrap, topic, partitions):
    ok(tool("samsa-topics", "--bootstrap-server", bootstrap, "--create", "--topic", topic, "--partitions",
            str(partitions), "--replication-factor", "1"))


def produce(bootstrap, topic, values, keyed=False):
    """keyed: each value is its own key, so that records spread over the
    partitions by hash (unkeyed ones may all stick to one partition)."""
    keys = ["--property", "parse.key=true", "--property", "key.separator=:"] if keyed else []
    ok(tool("samsa-console-producer", "--bootstrap-server", bootstrap, "--topic", topic, *keys,
            stdin="".join((v + ":" if keyed else "") + v + "\n" for v in values)))


def consume(bootstrap, topic, group, count):
    """A console consumer of group that prints count records and stops
    (committing them); returns the values it printed."""
    out = ok(tool("samsa-console-consumer", "--bootstrap-server", bootstrap, "--topic", topic, "--group", group,
                  "--from-beginning", "--max-messages", str(count), "--timeout-ms", "30000"))
    assert out.stderr.endswith("Processed a total of %d messages\n" % count), out.stderr
    return out.stdout.splitlines()


@contextlib.contextmanager
def group_consumer(bootstrap, topic, group, *args):
    """A console consumer of group running in the background; stopped with
    SIGTERM (it leaves the group and commits) if it is still running when
    the block ends."""
    consumer = subprocess.Popen([binary("tools/samsa-console-consumer"), "--bootstrap-server", bootstrap, "--topic",
                                 topic, "--group", group, "--from-beginning", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield consumer
    finally:
        if consumer.poll() is None:
            consumer.send_signal(signal.SIGTERM)
            consumer.communicate(timeout=30)


def table(stdout, first_column="GROUP"):
    """The rows (lists of words) under the last header line of stdout."""
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(first_column + " ")]
    assert starts, stdout
    return [line.split() for line in lines[starts[-1] + 1:] if line.strip()]


def offsets(bootstrap, group):
    """--describe's rows as (topic, partition, current, log end, lag, consumer id, host, client id)."""
    out = ok(cg(bootstrap, "--describe", "--group", group))
    assert out.stdout.splitlines()[1].split() == OFFSETS_HEADER.split(), out.stdout  # widths follow the values
    rows = table(out.stdout)
    assert all(r[0] == group and len(r) == 9 for r in rows), out.stdout
    return [tuple(r[1:]) for r in rows]



STATES = ("Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead")


def state_of(bootstrap, group):
    """The STATE column of --describe --state (the strategy before it may be blank)."""
    out = cg(bootstrap, "--describe", "--group", group, "--state")
    rows = table(out.stdout) if out.returncode == 0 else []
    return next((word for word in rows[0][3:] if word in STATES), None) if rows else None


# ---- usage errors (no broker is asked) --------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    ([], 'Missing required argument "[bootstrap-server]"'),
    (["--bootstrap-server", "127.0.0.1:1"], "Command must include exactly one action: --list, --describe, "
                                            "--delete, --reset-offsets, --delete-offsets"),
    (["--bootstrap-server", "127.0.0.1:1", "--list", "--describe", "--group", "g"],
     'Option "[group]" can\'t be used with option "[list]"'),
    (["--bootstrap-server", "127.0.0.1:1", "--describe"],
     "Option [describe] takes one of these options: [group], [all-groups]"),
    (["--bootstrap-server", "127.0.0.1:1", "--describe", "--group", "g", "--members", "--state"],
     "Option [describe] takes at most one of these options: [members], [offsets], [state]"),
    (["--bootstrap-server", "127.0.0.1:1", "--list", "--members"],
     "Option(s) [members] are unavailable given other options on the command line"),
    (["--bootstrap-server", "127.0.0.1:1", "--reset-offsets", "--group", "g", "--dry-run", "--to-earliest", "--to-latest",
      "--topic", "t"], 'Option "[to-earliest]" can\'t be used with option "[to-latest]"'),
    (["--bootstrap-server", "127.0.0.1:1", "--reset-offsets", "--group", "g", "--dry-run", "--execute"],
     "Option [reset-offsets] only accepts one of [execute] and [dry-run]"),
    (["--bootstrap-server", "127.0.0.1:1", "--delete-offsets", "--group", "g"],
     "Option [delete-offsets] takes the following options: [group], [topic]"),
    (["--bootstrap-server", "127.0.0.1:1", "--delete", "--group", "g", "--topic", "t"],
     "The consumer does not support topic-specific offset deletion from a consumer group."),
    (["--bootstrap-server", "127.0.0.1:1", "--list", "--state", "stable,bogus"],
     "Invalid state list 'stable,bogus'. Valid states are: PreparingRebalance, CompletingRebalance, Stable, "
     "Dead, Empty"),
])
def test_usage_errors(args, message):
    out = tool("samsa-consumer-groups", *args)
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.splitlines()[0] == message
    assert "--bootstrap-server <server to connect to>" in out.stderr  # then Kafka's help


# ---- lag, exactly, before and after ----------------------------------------------------------


def test_lag_is_log_end_minus_committed_before_and_after(bootstrap):
    topic, group = "lag-topic", "lag-group"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, ["m%d" % i for i in range(10)])
    assert consume(bootstrap, topic, group, 4) == ["m0", "m1", "m2", "m3"]

    assert group in ok(cg(bootstrap, "--list")).stdout.splitlines()
    out = ok(cg(bootstrap, "--list", "--state"))
    assert out.stdout.splitlines()[0] == "%-15s %s" % ("GROUP", "STATE")
    assert "%-15s %s" % (group, "Empty") in out.stdout.splitlines()
    assert group not in ok(cg(bootstrap, "--list", "--state", "stable")).stdout
    assert "%-15s %s" % (group, "Empty") in ok(cg(bootstrap, "--list", "--state", "EMPTY")).stdout.splitlines()

    out = ok(cg(bootstrap, "--describe", "--group", group))
    assert "Consumer group '%s' has no active members." % group in out.stderr
    assert out.stdout.splitlines()[:2] == ["", OFFSETS_HEADER]  # Kafka's blank line, then 15-wide columns
    assert offsets(bootstrap, group) == [(topic, "0", "4", "10", "6", "-", "-", "-")]

    # more records: the log end moves, the committed offset does not
    produce(bootstrap, topic, ["m%d" % i for i in range(10, 15)])
    assert offsets(bootstrap, group) == [(topic, "0", "4", "15", "11", "-", "-", "-")]

    # a second run of the group resumes at the committed offset
    assert consume(bootstrap, topic, group, 3) == ["m4", "m5", "m6"]
    assert offsets(bootstrap, group) == [(topic, "0", "7", "15", "8", "-", "-", "-")]

    out = ok(cg(bootstrap, "--describe", "--group", group, "--state"))
    port = bootstrap.rsplit(":", 1)[1]
    rows = table(out.stdout)
    assert rows == [[group, "127.0.0.1:%s" % port, "(1)", "Empty", "0"]], out.stdout


def test_group_consumer_creates_its_topic(bootstrap):
    """As Java's consumer: subscribing asks Metadata with auto-creation, so
    the topic exists before anything is produced, and the record produced
    afterwards is the group's first (--from-beginning)."""
    topic, group = "created-by-group", "creating-group"
    with group_consumer(bootstrap, topic, group, "--max-messages", "1", "--timeout-ms", "30000") as consumer:
        wait_for("the consumer to create its topic", lambda: topic in ok(
            tool("samsa-topics", "--bootstrap-server", bootstrap, "--list")).stdout.splitlines())
        produce(bootstrap, topic, ["first"])
        stdout, stderr = consumer.communicate(timeout=60)
    assert consumer.returncode == 0, stderr
    assert stdout == "first\n"
    assert stderr.endswith("Processed a total of 1 messages\n")


def test_unknown_group(bootstrap):
    for extra in ([], ["--members"], ["--state"]):
        out = cg(bootstrap, "--describe", "--group", "no-such-group", *extra)
        assert out.returncode == 1
        assert out.stdout == "\nError: Consumer group 'no-such-group' does not exist.\n"


# ---- a running member: --members, refusals -------------------------------------------------------


def test_members_while_consuming_and_refusals(bootstrap):
    topic, group = "members-topic", "members-group"
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, ["r%d" % i for i in range(30)], keyed=True)
    with group_consumer(bootstrap, topic, group, "--consumer-property", "auto.commit.interval.ms=100") as consumer:
        wait_for("the member to own 3 partitions",
                   lambda: any(r[-1] == "3" for r in table(cg(bootstrap, "--describe", "--group", group,
                                                              "--members").stdout)
                               if r[0] == group) if state_of(bootstrap, group) == "Stable" else False)
        out = ok(cg(bootstrap, "--describe", "--group", group, "--members", "--verbose"))
        header = [line for line in out.stdout.splitlines() if line.startswith("GROUP ")]
        assert len(header) == 1 and header[0].split() == ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID",
                                                          "#PARTITIONS", "ASSIGNMENT"]
        rows = table(out.stdout)
        assert len(rows) == 1, out.stdout
        member_id = rows[0][1]
        assert member_id.startswith("console-consumer-")  # Kafka's member ids: client id, '-', a UUID
        assert rows[0][3:] == ["console-consumer", "3", "%s(0,1,2)" % topic]

        # every record committed: the offsets view names the member on each partition
        def all_committed():
            rows = offsets(bootstrap, group)
            return rows if all(r[2] == r[3] and r[4] == "0" for r in rows) else None
        rows = wait_for("all 30 records committed", all_committed)
        assert [(r[0], r[1]) for r in rows] == [(topic, "0"), (topic, "1"), (topic, "2")]
        assert sum(int(r[2]) for r in rows) == 30
        assert {(r[5], r[7]) for r in rows} == {(member_id, "console-consumer")}

        out = cg(bootstrap, "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute")
        assert out.returncode == 1
        assert out.stdout.startswith("\nError: Assignments can only be reset if the group '%s' is inactive, but "
                                     "the current state is Stable.\n" % group)
        assert table(out.stdout) == []

        out = cg(bootstrap, "--delete", "--group", group)
        assert out.returncode == 1
        assert out.stdout == ("\nError: Deletion of some consumer groups failed:\n"
                              "* Group '%s' could not be deleted due to: org.apache.kafka.common.errors."
                              "GroupNotEmptyException: The group is not empty.\n" % group)

        out = cg(bootstrap, "--delete-offsets", "--group", group, "--topic", topic)
        assert out.returncode == 1
        assert "Error: Encounter some partition level error, see the follow-up details:" in out.stdout
        assert table(out.stdout, "TOPIC") == [
            [topic, str(p), "Error:", *"Deleting offsets of a topic is forbidden while the consumer group is "
                                       "actively subscribed to it.".split()] for p in range(3)]
        assert sum(int(r[2]) for r in offsets(bootstrap, group)) == 30  # nothing was changed
    assert consumer.returncode == 0
    wait_for("the group to be empty", lambda: state_of(bootstrap, group) == "Empty")
    assert [r[5:] for r in offsets(bootstrap, group)] == [("-", "-", "-")] * 3


# ---- --reset-offsets ----------------------------------------------------------------------------


def reset(bootstrap, group, *args):
    out = ok(cg(bootstrap, "--reset-offsets", "--group", group, *args))
    assert RESET_HEADER in out.stdout.splitlines(), out.stdout
    return out, [tuple(r) for r in table(out.stdout)]


def test_reset_offsets_scenarios(bootstrap, tmp_path):
    topic, group = "reset-topic", "reset-group"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, ["a%d" % i for i in range(5)])
    time.sleep(1.2)  # the second batch is at least a second younger
    boundary = time.time() - 0.5
    produce(bootstrap, topic, ["b%d" % i for i in range(5)])
    consume(bootstrap, topic, group, 8)

    def current():
        return offsets(bootstrap, group)[0][2]

    # the default is a dry run, with Kafka's warning
    out, plan = reset(bootstrap, group, "--topic", topic, "--to-earliest")
    assert WARN_NO_EXECUTE in out.stderr
    assert plan == [(group, topic, "0", "0")]
    assert current() == "8"

    out, plan = reset(bootstrap, group, "--topic", topic, "--to-offset", "3", "--execute")
    assert WARN_NO_EXECUTE not in out.stderr
    assert plan == [(group, topic, "0", "3")]
    assert offsets(bootstrap, group) == [(topic, "0", "3", "10", "7", "-", "-", "-")]

    assert reset(bootstrap, group, "--topic", topic, "--shift-by", "2", "--execute")[1] == [(group, topic, "0", "5")]
    assert current() == "5"
    out, plan = reset(bootstrap, group, "--topic", "%s:0" % topic, "--shift-by", "-100", "--dry-run")
    assert plan == [(group, topic, "0", "0")]
    assert ("WARN New offset (-95) is lower than earliest offset for topic partition %s-0. Value will be set to 0"
            % topic) in out.stderr
    out, plan = reset(bootstrap, group, "--topic", topic, "--to-offset", "100", "--dry-run")
    assert plan == [(group, topic, "0", "10")]
    assert ("WARN New offset (100) is higher than latest offset for topic partition %s-0. Value will be set to 10"
            % topic) in out.stderr
    assert reset(bootstrap, group, "--topic", topic, "--to-latest", "--dry-run")[1] == [(group, topic, "0", "10")]
    assert reset(bootstrap, group, "--topic", topic, "--to-current", "--dry-run")[1] == [(group, topic, "0", "5")]

    # by time: the first record at or after the instant, the log end past the last one
    instant = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(boundary)) + ".%03d" % (int(boundary * 1000) % 1000)
    assert reset(bootstrap, group, "--topic", topic, "--to-datetime", instant,
                 "--dry-run")[1] == [(group, topic, "0", "5")]
    assert reset(bootstrap, group, "--topic", topic, "--to-datetime", instant + "Z",
                 "--dry-run")[1] == [(group, topic, "0", "5")]
    assert reset(bootstrap, group, "--topic", topic, "--by-duration", "PT1H",
                 "--dry-run")[1] == [(group, topic, "0", "0")]
    assert reset(bootstrap, group, "--topic", topic, "--by-duration", "P0D",
                 "--dry-run")[1] == [(group, topic, "0", "10")]
    out = cg(bootstrap, "--reset-offsets", "--group", group, "--topic", topic, "--to-datetime", "yesterday",
             "--dry-run")
    assert out.returncode == 1
    assert out.stdout == "\nError: Executing consumer group command failed due to Unparseable date: \"yesterday\"\n"

    out = ok(cg(bootstrap, "--reset-offsets", "--group", group, "--all-topics", "--to-offset", "2", "--dry-run",
                "--export"))
    assert out.stdout == "%s,0,2\n\n" % topic
    # what --export wrote, --from-file reads back (Kafka's two CSV forms; offsets held to the log)
    plan = tmp_path / "plan.csv"
    plan.write_text("%s,0,9\n" % topic)
    assert reset(bootstrap, group, "--from-file", str(plan), "--execute")[1] == [(group, topic, "0", "9")]
    assert current() == "9"
    plan.write_text("other-group,%s,0,1\n%s,%s,0,42\n" % (topic, group, topic))
    out, rows = reset(bootstrap, group, "--from-file", str(plan), "--dry-run")
    assert rows == [(group, topic, "0", "10")]
    assert "Value will be set to 10" in out.stderr

    # a consumer resumes exactly where the reset put the group
    reset(bootstrap, group, "--all-topics", "--to-offset", "2", "--execute")
    assert consume(bootstrap, topic, group, 4) == ["a2", "a3", "a4", "b0"]
    assert offsets(bootstrap, group) == [(topic, "0", "6", "10", "4", "-", "-", "-")]


# ---- --delete, --delete-offsets -------------------------------------------------------------------


def test_delete_offsets_and_delete(bootstrap):
    group, kept, dropped = "delete-group", "delete-kept", "delete-dropped"
    create_topic(bootstrap, kept, 1)
    create_topic(bootstrap, dropped, 2)
    produce(bootstrap, kept, ["k"] * 3)
    produce(bootstrap, dropped, ["d"] * 4)
    # a group that does not exist yet takes offsets from a reset (a simple group's commit)
    reset(bootstrap, group, "--topic", kept, "--to-latest", "--execute")
    reset(bootstrap, group, "--topic", dropped, "--to-earliest", "--execute")
    rows = offsets(bootstrap, group)
    assert [r[:2] for r in rows] == [(dropped, "0"), (dropped, "1"), (kept, "0")]
    assert rows[2][2:5] == ("3", "3", "0")

    # an unknown topic is a row of its own (Kafka still calls the request a success; the exit status is 1)
    out = cg(bootstrap, "--delete-offsets", "--group", group, "--topic", dropped, "--topic", "no-such-topic")
    assert out.returncode == 1
    assert out.stdout.splitlines()[0] == ("Request succeed for deleting offsets with topic %s, no-such-topic "
                                          "group %s" % (dropped, group))
    assert "%-30s %-15s %-15s" % ("TOPIC", "PARTITION", "STATUS") in out.stdout.splitlines()
    assert table(out.stdout, "TOPIC") == [[dropped, "0", "Successful"], [dropped, "1", "Successful"],
                                          ["no-such-topic", "Not", "Provided", "Error:",
                                           *"This server does not host this topic-partition.".split()]]
    assert offsets(bootstrap, group) == [(kept, "0", "3", "3", "0", "-", "-", "-")]
    assert "no-such-topic" not in ok(tool("samsa-topics", "--bootstrap-server", bootstrap, "--list")).stdout

    out = cg(bootstrap, "--delete-offsets", "--group", "no-such-group", "--topic", kept)
    assert out.returncode == 1
    assert out.stdout.startswith("\nError: 'no-such-group' does not exist.\n")

    out = ok(cg(bootstrap, "--delete", "--group", group))
    assert out.stdout == "Deletion of requested consumer groups ('%s') was successful.\n" % group
    out = cg(bootstrap, "--describe", "--group", group)
    assert out.returncode == 1
    assert out.stdout == "\nError: Consumer group '%s' does not exist.\n" % group
    assert group not in ok(cg(bootstrap, "--list")).stdout.splitlines()

    out = cg(bootstrap, "--delete", "--group", group)
    assert out.returncode == 1
    assert out.stdout == ("\nError: Deletion of some consumer groups failed:\n"
                          "* Group '%s' could not be deleted due to: org.apache.kafka.common.errors."
                          "GroupIdNotFoundException: The group id does not exist.\n" % group)


# ---- the perf test with a group ------------------------------------------------------------------


@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
def test_consumer_perf_test_with_a_group(bootstrap, assignor, tmp_path):
    topic, group = "perf-topic-" + assignor, "perf-group-" + assignor
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, [str(i) for i in range(200)], keyed=True)
    config = tmp_path / "consumer.properties"
    config.write_text("partition.assignment.strategy=%s\n" % assignor)
    out = ok(tool("samsa-consumer-perf-test", "--bootstrap-server", bootstrap, "--topic", topic, "--group", group,
                  "--messages", "200", "--timeout", "30000", "--consumer.config", str(config)))
    assert "WARN" not in out.stderr
    fields = out.stdout.splitlines()[1].split(", ")
    assert int(fields[4]) == 200
    rebalance_ms, fetch_ms = int(fields[6]), int(fields[7])
    assert rebalance_ms > 0  # the group's join was measured (0 without a group)
    assert fetch_ms >= 0
    # the group committed what it read when it closed
    rows = offsets(bootstrap, group)
    assert [r[:2] for r in rows] == [(topic, "0"), (topic, "1")]
    assert sum(int(r[2]) for r in rows) == 200 and all(r[4] == "0" for r in rows)
