"""Assignors and rebalances with real clients, beyond test_group_integration.py.

Usage: test_0071_groups_assignors.py SERPENTLOG
broker/tests/test_group_integration.py already splits 6 partitions between 2
and 3 confluent-kafka members (range, roundrobin, cooperative-sticky, one
leaving) and 2 kafka-python members (range, roundrobin). This adds, each on a
6-partition topic with records flowing and every record processed exactly
once per committed offset at the end (groupmembers.check_delivery):
  1. librdkafka cooperative-sticky, 2 -> 3 -> 2 members (join, then a
     LeaveGroup): incremental rebalances, so the members that stay never drop
     to an empty assignment and only give up (join) or only gain (leave)
     partitions; then a member killed with SIGKILL is replaced after the
     session timeout.
  2. librdkafka eager range, 2 -> 3 -> 2: Kafka's range split at each size,
     and every member that stays first revokes everything (eager).
  3. KafkaJS with its default assignor (round robin, protocol name
     "RoundRobinAssigner"), 2 -> 3 -> 2 members, then a SIGKILL.
  4. kafka-python's sticky assignor, 2 -> 3 -> 2 members: after the join the
     old members keep a subset of what they had, after the leave a superset.
  5. No common protocol: a librdkafka "roundrobin" member cannot join the
     KafkaJS group ("RoundRobinAssigner"); it gets INCONSISTENT_GROUP_PROTOCOL
     and the KafkaJS member keeps every partition without a rebalance.
"""

import time

import harness
from harness import check, log
import groupmembers as gm

from confluent_kafka.admin import AdminClient, NewTopic

PARTS = 6
SESSION_MS = 3000


def covers(assigns):
    flat = sorted(p for a in assigns for p in a)
    check(flat == list(range(PARTS)), "assignments %r do not cover %d partitions once" %
          (assigns, PARTS))
    sizes = sorted(len(a) for a in assigns)
    check(sizes[-1] - sizes[0] <= 1, "uneven split %r" % (assigns,))


def history(m, since):
    return [parts for t, parts in m.assign_times if t >= since]


class Scenario:
    """One topic and group, records produced before and during, checked at the end."""

    def __init__(self, broker, admin, name):
        self.boot = broker.bootstrap
        self.work = broker.tmp
        self.topic = "asg-" + name
        self.group = "asg-group-" + name
        self.n = 0
        fs = admin.create_topics([NewTopic(self.topic, num_partitions=PARTS,
                                           replication_factor=1)])
        fs[self.topic].result(30)
        gm.reset_events()
        self.feed(600)

    def feed(self, count):
        gm.produce(self.boot, self.topic, PARTS, self.n, count)
        self.n += count

    def ck(self, name, strategy):
        return gm.ck_member(name, self.boot, self.group, self.topic, strategy, SESSION_MS,
                            self.work)

    def kpy(self, name):
        return gm.kpy_member(name, self.boot, self.group, self.topic, SESSION_MS, self.work)

    def js(self, name, assignor="kafkajs"):
        return gm.js_member(name, self.boot, self.group, self.topic, assignor, SESSION_MS,
                            self.work)

    def finish(self, members):
        harness.wait_for(lambda: sum(gm.committed_ends().values()) >= self.n, 60,
                         "%s: every record processed and committed" % self.topic)
        for m in members:
            m.stop()
        recs, committed = gm.read_log(self.boot, self.topic, PARTS, self.group)
        want = {p: len(recs[p]) for p in range(PARTS)}
        check(committed == want, "%s: committed %r, end offsets %r" % (self.topic, committed,
                                                                       want))
        total, again = gm.check_delivery(recs, PARTS)
        log("  %s: %d records processed (%d redelivered from committed offsets)" %
            (self.topic, total, again))


def cooperative(broker, admin):
    log("librdkafka cooperative-sticky")
    s = Scenario(broker, admin, "coop")
    c1, c2 = s.ck("coop1", "cooperative-sticky"), s.ck("coop2", "cooperative-sticky")
    a2 = gm.wait_split([c1, c2], PARTS, what="coop 2")
    covers(a2)
    t_join = time.time()
    c3 = s.ck("coop3", "cooperative-sticky")
    s.feed(600)
    a3 = gm.wait_split([c1, c2, c3], PARTS, what="coop 3")
    covers(a3)
    for m, before in ((c1, a2[0]), (c2, a2[1])):
        h = history(m, t_join)
        check(all(h) and all(set(x) <= set(before) for x in h),
              "%s on a join: %r from %r (cooperative: no revoke-all, only give up)" %
              (m.name, h, before))
    log("  2 -> 3:", a2, "->", a3)
    t_leave = time.time()
    c3.stop()
    s.feed(600)
    a2b = gm.wait_split([c1, c2], PARTS, what="coop leave")
    for m, before in ((c1, a3[0]), (c2, a3[1])):
        h = history(m, t_leave)
        check(all(h) and all(set(x) >= set(before) for x in h),
              "%s on a leave: %r from %r (cooperative: only gain)" % (m.name, h, before))
    log("  3 -> 2:", a3, "->", a2b)
    c2.kill9()
    t_kill = time.time()
    s.feed(600)
    harness.wait_for(lambda: c1.assignment == list(range(PARTS)), SESSION_MS / 1000 + 10,
                     "coop1 to take over after a SIGKILL")
    log("  SIGKILL: partitions reassigned after %.1f s" % (time.time() - t_kill))
    s.finish([c1])


def eager_range(broker, admin):
    log("librdkafka eager range")
    s = Scenario(broker, admin, "range")
    e1, e2 = s.ck("range1", "range"), s.ck("range2", "range")
    a2 = sorted(gm.wait_split([e1, e2], PARTS, what="range 2"))
    check(a2 == [[0, 1, 2], [3, 4, 5]], "range, 2 members: %r" % (a2,))
    t_join = time.time()
    e3 = s.ck("range3", "range")
    s.feed(600)
    a3 = sorted(gm.wait_split([e1, e2, e3], PARTS, what="range 3"))
    check(a3 == [[0, 1], [2, 3], [4, 5]], "range, 3 members: %r" % (a3,))
    for m in (e1, e2):
        check([] in history(m, t_join), "%s did not revoke everything on an eager rebalance: %r"
              % (m.name, history(m, t_join)))
    e3.stop()
    s.feed(600)
    a2b = sorted(gm.wait_split([e1, e2], PARTS, what="range leave"))
    check(a2b == [[0, 1, 2], [3, 4, 5]], "range after a leave: %r" % (a2b,))
    log("  2 -> 3 -> 2:", a2, a3, a2b)
    s.finish([e1, e2])


def kafkajs(broker, admin):
    log("KafkaJS default assignor")
    s = Scenario(broker, admin, "kjs")
    j1, j2 = s.js("kjs1"), s.js("kjs2")
    a2 = gm.wait_split([j1, j2], PARTS, what="KafkaJS 2")
    covers(a2)
    j3 = s.js("kjs3")
    s.feed(600)
    a3 = gm.wait_split([j1, j2, j3], PARTS, what="KafkaJS 3")
    covers(a3)
    j3.stop()
    s.feed(600)
    a2b = gm.wait_split([j1, j2], PARTS, what="KafkaJS leave")
    covers(a2b)
    log("  2 -> 3 -> 2:", a2, a3, a2b)
    j2.kill9()
    t_kill = time.time()
    s.feed(600)
    harness.wait_for(lambda: j1.assignment == list(range(PARTS)), SESSION_MS / 1000 + 15,
                     "kjs1 to take over after a SIGKILL")
    log("  SIGKILL: partitions reassigned after %.1f s" % (time.time() - t_kill))
    s.finish([j1])
    return s


def kafka_python_sticky(broker, admin):
    log("kafka-python sticky")
    s = Scenario(broker, admin, "sticky")
    k1, k2 = s.kpy("sticky1"), s.kpy("sticky2")
    a2 = gm.wait_split([k1, k2], PARTS, what="sticky 2")
    covers(a2)
    k3 = s.kpy("sticky3")
    s.feed(600)
    a3 = gm.wait_split([k1, k2, k3], PARTS, what="sticky 3")
    covers(a3)
    for i in range(2):
        check(set(a3[i]) <= set(a2[i]), "sticky join: member %d went %r -> %r" %
              (i, a2[i], a3[i]))
    k3.stop()
    s.feed(600)
    a2b = gm.wait_split([k1, k2], PARTS, what="sticky leave")
    covers(a2b)
    for i in range(2):
        check(set(a2b[i]) >= set(a3[i]), "sticky leave: member %d went %r -> %r" %
              (i, a3[i], a2b[i]))
    log("  2 -> 3 -> 2:", a2, a3, a2b)
    s.finish([k1, k2])


def no_common_protocol(broker, admin):
    log("no common protocol: librdkafka roundrobin vs KafkaJS RoundRobinAssigner")
    s = Scenario(broker, admin, "mismatch")
    j = s.js("mis-kjs")
    gm.wait_split([j], PARTS, what="KafkaJS alone")
    joins = len(j.assign_times)
    c = s.ck("mis-rdk", "roundrobin")
    harness.wait_for(lambda: any("INCONSISTENT_GROUP_PROTOCOL" in e or "nconsistent" in e
                                 for e in c.errors), 30,
                     "INCONSISTENT_GROUP_PROTOCOL for the librdkafka member (errors %r)" %
                     (c.errors,))
    s.feed(300)
    check(c.consumed == 0 and c.assignment in (None, []),
          "the refused member got partitions %r" % (c.assignment,))
    check(len(j.assign_times) == joins and j.assignment == list(range(PARTS)),
          "KafkaJS member rebalanced: %r" % (j.assign_times,))
    c.stop()
    s.finish([j])


def main(exe, _args):
    broker = harness.Broker(exe, cores=2, extra_args=[
        "--set", "group.initial.rebalance.delay.ms=0",
        "--set", "group.min.session.timeout.ms=1000"])
    try:
        broker.start()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        cooperative(broker, admin)
        eager_range(broker, admin)
        kafkajs(broker, admin)
        kafka_python_sticky(broker, admin)
        no_common_protocol(broker, admin)
        broker.stop()
    finally:
        gm.kill_all()
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
