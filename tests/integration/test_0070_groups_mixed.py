"""A mixed consumer group survives a member's SIGKILL and a broker SIGKILL (issue 5, "Done when").

Usage: test_0070_groups_mixed.py SERPENTLOG [RECORDS]
One librdkafka member (confluent-kafka, group_member_ck.py) and one KafkaJS
member (js/kafkajs_group.js, its round robin under librdkafka's protocol name)
share a 6-partition topic while an idempotent confluent-kafka producer
(acks=all) writes RECORDS (default 6000) keyed records at a steady pace. Both
members process (print) each batch and commit its next offsets synchronously
(the first librdkafka member takes 150 ms per batch between the two, so its
SIGKILL usually lands on processed but uncommitted records, to be redelivered).
Mid-stream: the librdkafka member is killed with SIGKILL (no LeaveGroup), so
its partitions move to the KafkaJS member only after the session timeout; a
new librdkafka member joins; later the broker itself is killed with SIGKILL
and restarted on the same data dir and port. At the end:
  - the log holds every produced record exactly once, in per-partition order
    of production, at the offset the producer was told;
  - every record was processed, with the log's key and value, each member read
    each partition in order, and any record processed twice was re-read from a
    committed offset not behind the last acknowledged commit (exactly once per
    committed offset; commits acknowledged before the broker crash survived it);
  - the committed offsets equal the end offsets;
  - after the kill, the KafkaJS member owned all 6 partitions, no sooner than
    a heartbeat could tell and within session timeout + 10 s.
"""

import threading
import time

import harness
from harness import check, log
import groupmembers as gm

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

PARTS = 6
TOPIC = "mixed-grp"
GROUP = "mixed-group"
SESSION_MS = 4000


class Feeder(threading.Thread):
    """Idempotent producer writing n records at `rate`/s; i goes to i % PARTS."""

    def __init__(self, bootstrap, n, rate):
        super().__init__(daemon=True)
        self.n, self.rate = n, rate
        self.sent = 0
        self.acked = {}  # key -> (partition, offset)
        self.failed = []
        self.done = threading.Event()
        self.p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                           "acks": "all", "linger.ms": 5, "message.timeout.ms": 90000,
                           "reconnect.backoff.max.ms": 500})

    def _dr(self, err, msg):
        if err is not None:
            self.failed.append((msg.key(), str(err)))
        else:
            self.acked[msg.key().decode()] = (msg.partition(), msg.offset())

    def run(self):
        t0 = time.time()
        for i in range(self.n):
            while True:
                try:
                    self.p.produce(TOPIC, key=gm.key(i), value=gm.value(i), partition=i % PARTS,
                                   on_delivery=self._dr)
                    break
                except BufferError:
                    self.p.poll(0.05)
            self.sent = i + 1
            self.p.poll(0)
            ahead = t0 + (i + 1) / self.rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
        self.p.flush(120)
        self.done.set()


def check_log(recs, feeder, n):
    for p in range(PARTS):
        ids = [int(k[1:]) for k, _v in recs[p]]
        check(ids == sorted(ids), "p%d is out of production order" % p)
        for off, (k, v) in enumerate(recs[p]):
            i = int(k[1:])
            check(i % PARTS == p and v == gm.value(i), "p%d@%d holds %r" % (p, off, (k, v)))
            check(feeder.acked.get(k) == (p, off), "%s is at p%d@%d, producer was told %r" %
                  (k, p, off, feeder.acked.get(k)))
    keys = [k for p in range(PARTS) for k, _v in recs[p]]
    check(len(keys) == len(set(keys)), "duplicate records in the log: %d of %d unique" %
          (len(set(keys)), len(keys)))
    check(len(keys) == n, "the log holds %d records, %d were produced" % (len(keys), n))


def main(exe, args):
    n = int(args[0]) if args else 6000
    broker = harness.Broker(exe, cores=2, extra_args=[
        "--set", "group.initial.rebalance.delay.ms=0",
        "--set", "group.min.session.timeout.ms=1000"])
    try:
        broker.start()
        boot = broker.bootstrap
        admin = AdminClient({"bootstrap.servers": boot})
        fs = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTS, replication_factor=1)])
        fs[TOPIC].result(30)
        work = broker.tmp
        rdk1 = gm.ck_member("rdk1", boot, GROUP, TOPIC, "roundrobin", SESSION_MS, work,
                            delay_ms=150)
        js = gm.js_member("kafkajs", boot, GROUP, TOPIC, "roundrobin", SESSION_MS, work)
        members = [rdk1, js]
        a = gm.wait_split(members, PARTS, what="librdkafka + KafkaJS")
        log("split:", a)
        feeder = Feeder(boot, n, rate=n / 24.0)
        feeder.start()
        harness.wait_for(lambda: feeder.sent >= n // 3 and rdk1.consumed > 0 and
                         js.consumed > 0, 60, "a third of the stream, both members consuming")
        rdk1.kill9()
        t_kill = time.time()
        harness.wait_for(lambda: js.assignment == list(range(PARTS)), SESSION_MS / 1000 + 10,
                         "KafkaJS to own every partition after the SIGKILL")
        t_all = next(t for t, parts in js.assign_times if t > t_kill and parts == list(range(6)))
        took = t_all - t_kill
        log("partitions of the killed member reassigned after %.1f s (session %d ms)" %
            (took, SESSION_MS))
        check(took >= 1.0, "reassigned %.1f s after a SIGKILL: no session wait?" % took)
        rdk2 = gm.ck_member("rdk2", boot, GROUP, TOPIC, "roundrobin", SESSION_MS, work)
        members = [rdk2, js]
        a = gm.wait_split(members, PARTS, what="new librdkafka member + KafkaJS")
        log("split again:", a)
        harness.wait_for(lambda: feeder.sent >= 2 * n // 3, 60, "two thirds of the stream")
        c_before = rdk2.consumed + js.consumed
        broker.kill9()
        time.sleep(0.3)
        broker.start()
        harness.wait_for(lambda: feeder.done.is_set(), 150, "the producer to finish")
        check(not feeder.failed, "%d records failed: %r" % (len(feeder.failed),
                                                            feeder.failed[:3]))
        check(rdk2.consumed + js.consumed > c_before, "nothing consumed after the broker restart")
        # wait until every record is processed and committed
        harness.wait_for(lambda: sum(gm.committed_ends().values()) >= n, 90,
                         "every record processed and committed")
        for m in members:
            m.stop()
        recs, committed = gm.read_log(boot, TOPIC, PARTS, GROUP)
        check_log(recs, feeder, n)
        want = {p: len(recs[p]) for p in range(PARTS)}
        check(committed == want, "committed offsets %r, end offsets %r" % (committed, want))
        total, again = gm.check_delivery(recs, PARTS)
        by = {}
        for _s, _t, name, kind, _f in gm.events():
            if kind == "C":
                by[name] = by.get(name, 0) + 1
        log("processed %d records for %d in the log (%d redelivered from committed offsets); "
            "by member %r" % (total, n, again, by))
        check(all(by.get(x, 0) > 0 for x in ("rdk1", "kafkajs", "rdk2")),
              "every member processed records: %r" % by)
        broker.stop()
    finally:
        gm.kill_all()
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
