"""One consumer-group member on confluent-kafka (librdkafka), as a process.

Usage: group_member_ck.py BOOTSTRAP GROUP TOPIC STRATEGY SESSION_MS [CLIENT_ID [DELAY_MS]]
A separate process so a test can kill -9 it mid-stream. It subscribes, and
for every batch it "processes" (prints) each record, then commits the next
offsets synchronously. One line per event on stdout, flushed before each
commit, so a driver reading the lines knows what was processed before any
commit it asked for:
  A p,p,...        current assignment (after each assign/revoke/lost)
  C p off key val  record processed
  B p off          about to commit off (next to read) for p
  K p off          the commit of off for p succeeded
  E text           an error (commit refused during a rebalance, ...)
SIGTERM: close the consumer (LeaveGroup) and exit 0.
"""

import signal
import sys
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

stopping = False


def out(*parts):
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")


def main():
    bootstrap, group, topic, strategy, session_ms = sys.argv[1:6]
    client_id = sys.argv[6] if len(sys.argv) > 6 else "sl-integ-ck-member"
    delay = int(sys.argv[7]) / 1000.0 if len(sys.argv) > 7 else 0.0

    def on_term(_sig, _frm):
        global stopping
        stopping = True
    signal.signal(signal.SIGTERM, on_term)

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "group.id": group,
        "partition.assignment.strategy": strategy,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": int(session_ms),
        "heartbeat.interval.ms": 300,
        "max.poll.interval.ms": 30000,
        "fetch.wait.max.ms": 100,
        "reconnect.backoff.max.ms": 500,
        "error_cb": lambda e: out("E", str(e).replace("\n", " ")),
    })
    owned = set()

    def show():
        out("A", ",".join(str(p) for p in sorted(owned)))
        sys.stdout.flush()

    def on_assign(_c, parts):
        owned.update(tp.partition for tp in parts)
        show()

    def on_revoke(_c, parts):
        owned.difference_update(tp.partition for tp in parts)
        show()

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    while not stopping:
        msgs = c.consume(500, 0.2)
        nexts = {}
        for m in msgs:
            if m.error():
                out("E", m.error())
                continue
            out("C", m.partition(), m.offset(), m.key().decode(), m.value().decode())
            nexts[m.partition()] = m.offset() + 1
        if not nexts:
            sys.stdout.flush()
            continue
        sys.stdout.flush()
        time.sleep(delay)
        for p, o in sorted(nexts.items()):
            out("B", p, o)
        sys.stdout.flush()
        try:
            res = c.commit(offsets=[TopicPartition(topic, p, o) for p, o in nexts.items()],
                           asynchronous=False)
            for tp in res:
                if tp.error is None:
                    out("K", tp.partition, tp.offset)
                else:
                    out("E", "commit", tp.partition, tp.error)
        except KafkaException as e:
            out("E", "commit", str(e).replace("\n", " "))
        sys.stdout.flush()
    c.close()
    out("E", "closed")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
