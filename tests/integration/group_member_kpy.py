"""One consumer-group member on kafka-python 2.0.2, as a process (sticky assignor).

Usage: group_member_kpy.py BOOTSTRAP GROUP TOPIC SESSION_MS
Same output as group_member_ck.py (A assignment, C processed, B/K commit
asked/done, E error); SIGTERM closes the consumer (LeaveGroup) and exits 0.
A process of its own because kafka-python's StickyPartitionAssignor keeps
the member's previous assignment in class attributes (one member per
process), and its metadata() hands an iterator where the encoder needs a
list on Python 3.11 (TypeError on every rejoin); FixedSticky fixes only that.
"""

import signal
import sys
from collections import defaultdict

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.sticky.sticky_assignor import (StickyAssignorUserDataV1,
                                                                StickyPartitionAssignor)
from kafka.coordinator.protocol import ConsumerProtocolMemberMetadata
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

stopping = False


def out(*parts):
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


class FixedSticky(StickyPartitionAssignor):
    @classmethod
    def metadata(cls, topics):
        if cls.member_assignment is None:
            user_data = b""
        else:
            by_topic = defaultdict(list)
            for tp in cls.member_assignment:
                by_topic[tp.topic].append(tp.partition)
            data = StickyAssignorUserDataV1(list(by_topic.items()), cls.generation)
            user_data = data.encode()  # (encode holds only a weak reference to data)
        return ConsumerProtocolMemberMetadata(cls.version, list(topics), user_data)


class Listener(ConsumerRebalanceListener):
    def __init__(self):
        self.owned = set()

    def on_partitions_revoked(self, revoked):
        self.owned.difference_update(tp.partition for tp in revoked)
        out("A", ",".join(str(p) for p in sorted(self.owned)))

    def on_partitions_assigned(self, assigned):
        self.owned = set(tp.partition for tp in assigned)
        out("A", ",".join(str(p) for p in sorted(self.owned)))


def main():
    bootstrap, group, topic, session_ms = sys.argv[1:5]

    def on_term(_sig, _frm):
        global stopping
        stopping = True
    signal.signal(signal.SIGTERM, on_term)
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id="sl-kpy-member",
                      partition_assignment_strategy=[FixedSticky], auto_offset_reset="earliest",
                      enable_auto_commit=False, session_timeout_ms=int(session_ms),
                      heartbeat_interval_ms=300, max_poll_interval_ms=30000,
                      fetch_max_wait_ms=100)
    c.subscribe([topic], listener=Listener())
    while not stopping:
        got = c.poll(timeout_ms=200, max_records=500)
        nexts = {}
        for tp, msgs in got.items():
            for m in msgs:
                out("C", m.partition, m.offset, m.key.decode(), m.value.decode())
                nexts[tp.partition] = m.offset + 1
        if not nexts:
            continue
        for p, o in sorted(nexts.items()):
            out("B", p, o)
        try:
            c.commit({TopicPartition(topic, p): OffsetAndMetadata(o, None)
                      for p, o in nexts.items()})
            for p, o in sorted(nexts.items()):
                out("K", p, o)
        except KafkaError as e:
            out("E", "commit", type(e).__name__)
    c.close()
    out("E", "closed")


if __name__ == "__main__":
    main()
