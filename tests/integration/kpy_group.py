"""kpy_group BOOTSTRAP GROUP TOPIC ASSIGNOR [SESSION_MS] — one kafka-python
group consumer speaking rdkafka_group's line protocol (see
rdkafka_group.c): prints "assignment P...", "record P OFFSET VALUE",
"committed N", "error TEXT"; reads "commit" and "quit" on stdin."""
import select
import sys

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

ASSIGNORS = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main():
    bootstrap, group, topic, assignor = sys.argv[1:5]
    session_ms = int(sys.argv[5]) if len(sys.argv) > 5 else 6000
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest", session_timeout_ms=session_ms,
                             heartbeat_interval_ms=500, partition_assignment_strategy=[ASSIGNORS[assignor]],
                             metadata_max_age_ms=1000, api_version=(2, 0, 0))

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            pass

        def on_partitions_assigned(self, assigned):
            say(" ".join(["assignment"] + [str(p) for p in sorted(tp.partition for tp in assigned)]))

    consumer.subscribe([topic], listener=Listener())
    quit_ = False
    while not quit_:
        for tp, records in consumer.poll(timeout_ms=100).items():
            for r in records:
                say("record %d %d %s" % (tp.partition, r.offset, r.value.decode()))
        while select.select([sys.stdin], [], [], 0)[0]:
            line = sys.stdin.readline()
            if not line or line.strip() == "quit":
                quit_ = True
                break
            if line.strip() == "commit":
                try:
                    consumer.commit()
                    say("committed %d" % len(consumer.assignment()))
                except Exception as e:  # noqa: BLE001 - reported to the test
                    say("error commit %s" % e)
    consumer.close()


if __name__ == "__main__":
    main()
