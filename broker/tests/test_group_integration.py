"""Consumer groups against a real serpentlog process (ctest label integration).

Usage: test_group_integration.py SERPENTLOG
1. confluent-kafka: 2 then 3 consumers in one group split a 6-partition topic
   with range, roundrobin and cooperative-sticky (every partition owned exactly
   once, everyone gets some); one member closes (LeaveGroup) and the rest take
   over its partitions; committed offsets are read back. Static members
   (group.instance.id) keep their partitions across a restart.
2. kafka-python: 2 consumers (range, roundrobin) split the same topic;
   sarama 1.22.1: 2 members split it and commit (OffsetCommit v1).
3. Admin: list_groups / describe_groups see the group; a broker restart keeps
   the committed offsets (replayed from __consumer_offsets) and a new consumer
   of the group resumes from them; delete_groups removes an empty group.
4. SIGTERM answers a JoinGroup that is still waiting (NOT_COORDINATOR).
Runs the broker with group.initial.rebalance.delay.ms=0 and 2 shards so groups
live on a shard other than the connection's.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import harness  # noqa: E402
from harness import check, log  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PARTS = 6
TOPIC = "grp-topic"


def produce(bootstrap, n):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(n):
        p.produce(TOPIC, key=b"k%d" % i, value=b"v%d" % i, partition=i % PARTS)
    check(p.flush(30) == 0, "producer did not flush")


def ck_consumer(bootstrap, group, strategy, extra=None):
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "partition.assignment.strategy": strategy,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "max.poll.interval.ms": 20000,
    }
    conf.update(extra or {})
    return Consumer(conf)


def settle(consumers, want_members, timeout=40.0):
    """Polls every consumer until their assignments cover all partitions
    exactly once with every consumer owning some. Returns the assignments."""
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        for c in consumers:
            c.poll(0.1)
        assigns = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
        allp = sorted(p for a in assigns for p in a)
        seen = assigns
        if allp == list(range(PARTS)) and all(assigns) and len(assigns) == want_members:
            # stable for a moment?
            time.sleep(0.3)
            for c in consumers:
                c.poll(0.1)
            again = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
            if again == assigns:
                return assigns
    raise harness.TestFailure("group did not settle: assignments %r" % (seen,))


def check_split(assigns, strategy):
    n = len(assigns)
    sizes = sorted(len(a) for a in assigns)
    check(sizes[-1] - sizes[0] <= 1, "%s: uneven split %r" % (strategy, assigns))
    check(sum(sizes) == PARTS, "%s: %r does not cover %d partitions" % (strategy, assigns, PARTS))
    if strategy == "range" and n == 2:
        check(sorted(assigns) == [[0, 1, 2], [3, 4, 5]], "range split %r" % (assigns,))
    if strategy == "roundrobin" and n == 2:
        check(sorted(assigns) == [[0, 2, 4], [1, 3, 5]], "roundrobin split %r" % (assigns,))


def scenario_confluent(broker, strategy, group):
    log("confluent-kafka", strategy)
    cs = [ck_consumer(broker.bootstrap, group, strategy) for _ in range(2)]
    for c in cs:
        c.subscribe([TOPIC])
    a = settle(cs, 2)
    check_split(a, strategy)
    log("  2 members:", a)
    cs.append(ck_consumer(broker.bootstrap, group, strategy))
    cs[-1].subscribe([TOPIC])
    a = settle(cs, 3)
    check_split(a, strategy)
    log("  3 members:", a)
    # commit what each consumed position would be: offset 1 everywhere
    for c in cs:
        offs = [TopicPartition(TOPIC, tp.partition, 1) for tp in c.assignment()]
        if offs:
            c.commit(offsets=offs, asynchronous=False)
    # one member leaves: the others take over its partitions
    cs[0].close()
    cs = cs[1:]
    a = settle(cs, 2)
    check_split(a, strategy)
    log("  after a leave:", a)
    got = cs[0].committed([TopicPartition(TOPIC, p) for p in range(PARTS)], timeout=10)
    check([tp.offset for tp in got] == [1] * PARTS, "committed offsets %r" % (got,))
    for c in cs:
        c.close()


def scenario_kafka_python(broker, strategy, group):
    """kafka-python joins inside poll(), blocking until the rebalance ends, so
    each consumer polls in its own thread."""
    import threading
    from kafka import KafkaConsumer
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    log("kafka-python", strategy)
    assignor = RangePartitionAssignor if strategy == "range" else RoundRobinPartitionAssignor
    cs = [KafkaConsumer(TOPIC, bootstrap_servers=broker.bootstrap, group_id=group,
                        partition_assignment_strategy=[assignor], auto_offset_reset="earliest",
                        enable_auto_commit=False, session_timeout_ms=6000,
                        heartbeat_interval_ms=500, max_poll_interval_ms=20000,
                        api_version_auto_timeout_ms=10000)
          for _ in range(2)]
    stop = threading.Event()

    def pump(c):
        while not stop.is_set():
            c.poll(timeout_ms=100)

    threads = [threading.Thread(target=pump, args=(c,), daemon=True) for c in cs]
    for t in threads:
        t.start()
    deadline = time.time() + 40
    assigns = None
    try:
        while time.time() < deadline:
            time.sleep(0.2)
            assigns = [sorted(tp.partition for tp in c.assignment()) for c in cs]
            if sorted(p for a in assigns for p in a) == list(range(PARTS)) and all(assigns):
                break
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    check(assigns and sorted(p for a in assigns for p in a) == list(range(PARTS)),
          "kafka-python group did not settle: %r" % (assigns,))
    check_split(assigns, strategy)
    log("  2 members:", assigns)
    for c in cs:
        c.close()


def scenario_static(broker, group):
    """KIP-345: a static member that restarts within its session timeout gets
    its partitions back; the other member keeps its own."""
    log("confluent-kafka static membership")
    mk = lambda inst: ck_consumer(broker.bootstrap, group, "range",  # noqa: E731
                                  {"group.instance.id": inst})
    cs = [mk("inst-a"), mk("inst-b")]
    for c in cs:
        c.subscribe([TOPIC])
    before = settle(cs, 2)
    cs[1].close()  # static members do not send LeaveGroup
    t0 = time.time()
    cs[1] = mk("inst-b")
    cs[1].subscribe([TOPIC])
    after = settle(cs, 2)
    took = time.time() - t0
    check(after == before, "static member came back to %r, had %r" % (after, before))
    # a dynamic newcomer would wait for the old member's 6 s session to expire
    check(took < 5, "static member took %.1fs to get its partitions back" % took)
    log("  kept:", after)
    for c in cs:
        c.close()


def scenario_sarama(broker, group):
    """sarama 1.22.1 (JoinGroup v1, SyncGroup v0, OffsetCommit v1) with two
    members: built offline from broker/tests/sarama_group.go."""
    import json
    import shutil
    import subprocess
    import tempfile
    if not shutil.which("go"):
        log("sarama: no go toolchain, skipped")
        return
    log("sarama consumer group")
    work = tempfile.mkdtemp(prefix="sl-sarama-")
    try:
        exe = os.path.join(work, "sarama_group")
        env = dict(os.environ, GO111MODULE="off", GOFLAGS="", GOPROXY="off",
                   GOPATH="/usr/share/gocode:" + os.path.join(work, "gopath"),
                   GOCACHE=os.path.join(work, "gocache"))
        subprocess.run(["go", "build", "-o", exe, os.path.join(HERE, "sarama_group.go")],
                       env=env, check=True, capture_output=True, timeout=280)
        p = subprocess.run([exe, broker.bootstrap, group, TOPIC, "2", "12"],
                           capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, "sarama_group failed: %s" % p.stderr[-2000:])
        claims = [sorted(json.loads(line)["partitions"]) for line in p.stdout.split()]
        check_split(claims, "range")
        log("  2 members:", claims)
        c = ck_consumer(broker.bootstrap, group, "range")
        got = c.committed([TopicPartition(TOPIC, p) for p in range(PARTS)], timeout=10)
        c.close()
        check([tp.offset for tp in got] == [3] * PARTS, "sarama commits %r" % (got,))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def restart_resume(broker, group):
    log("restart keeps committed offsets")
    c = ck_consumer(broker.bootstrap, group, "range")
    c.subscribe([TOPIC])
    settle([c], 1)
    c.commit(offsets=[TopicPartition(TOPIC, p, 2 + p) for p in range(PARTS)],
             asynchronous=False)
    c.close()
    broker.restart()
    c = ck_consumer(broker.bootstrap, group, "range")
    got = c.committed([TopicPartition(TOPIC, p) for p in range(PARTS)], timeout=15)
    check([tp.offset for tp in got] == [2 + p for p in range(PARTS)],
          "after restart committed %r" % (got,))
    # a member resumes from the committed positions (the first record it
    # gets of each partition is the committed offset)
    c.subscribe([TOPIC])
    first = {}
    deadline = time.time() + 30
    while len(first) < PARTS and time.time() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error() and m.partition() not in first:
            first[m.partition()] = m.offset()
    check(first == {p: 2 + p for p in range(PARTS)}, "resumed at %r" % (first,))
    c.close()


def admin_checks(broker, groups):
    log("admin: list / describe / delete")
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    listed = a.list_groups(timeout=10)
    names = {g.id for g in listed}
    for g in groups:
        check(g in names, "list_groups misses %s: %r" % (g, names))
    for g in listed:
        if g.id in groups:
            check(g.state == "Empty", "%s state %s" % (g.id, g.state))
    # describe and delete through kafka-python's admin client (this
    # confluent-kafka has neither)
    from kafka.admin import KafkaAdminClient
    ka = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    desc = ka.describe_consumer_groups([groups[0]])
    check(desc[0].group == groups[0] and desc[0].state == "Empty" and not desc[0].members,
          "describe %r" % (desc,))
    offs = ka.list_consumer_group_offsets(groups[0])
    check(len(offs) == PARTS and all(v.offset == 1 for v in offs.values()),
          "list_consumer_group_offsets %r" % (offs,))
    res = ka.delete_consumer_groups([groups[0], "no-such-group"])
    errs = dict(res)
    check(errs[groups[0]].errno == 0, "delete_consumer_groups %r" % (res,))
    check(errs["no-such-group"].errno == 69, "delete of an unknown group %r" % (res,))
    ka.close()
    names = {g.id for g in a.list_groups(timeout=10)}
    check(groups[0] not in names, "deleted group still listed")


def shutdown_answers_waiting_join(exe):
    """SIGTERM while a JoinGroup waits (here in a 30 s initial delay): the
    broker answers it NOT_COORDINATOR and exits well before its drain limit."""
    log("shutdown answers a waiting JoinGroup")
    from harness import array, bytes_, i32, string
    b = harness.Broker(exe, cores=2,
                       extra_args=["--set", "group.initial.rebalance.delay.ms=30000",
                                   "--set", "offsets.topic.num.partitions=4"])
    try:
        b.start()
        c = harness.Conn(b.bootstrap)
        deadline = time.time() + 20
        while True:  # the first lookups create __consumer_offsets
            r = c.call(10, 0, string("waiting-group"))
            if r.i16() == 0:
                break
            check(time.time() < deadline, "FindCoordinator never succeeded")
            time.sleep(0.1)
        body = (string("waiting-group") + i32(10000) + i32(60000) + string("") +
                string("consumer") + array([string("range") + bytes_(b"\0\0\0\0\0\0")]))
        corr = c.send(11, 3, body)
        time.sleep(0.5)
        t0 = time.time()
        b.stop()
        took = time.time() - t0
        r = harness.Reader(c.recv_frame())
        check(r.i32() == corr, "JoinGroup answer has the wrong correlation id")
        r.i32()  # throttle
        err = r.i16()
        check(err == 16, "waiting JoinGroup answered %d at shutdown, want NOT_COORDINATOR" % err)
        check(took < 5, "shutdown took %.1fs with a JoinGroup waiting" % took)
        c.close()
    finally:
        b.close()


def main(exe, args):
    broker = harness.Broker(exe, cores=2,
                            extra_args=["--set", "group.initial.rebalance.delay.ms=0",
                                        "--set", "offsets.topic.num.partitions=8"])
    try:
        broker.start()
        a = AdminClient({"bootstrap.servers": broker.bootstrap})
        fs = a.create_topics([NewTopic(TOPIC, num_partitions=PARTS, replication_factor=1)])
        for _, f in fs.items():
            f.result()
        produce(broker.bootstrap, 60)
        scenario_confluent(broker, "range", "g-range")
        scenario_confluent(broker, "roundrobin", "g-rr")
        scenario_confluent(broker, "cooperative-sticky", "g-coop")
        scenario_static(broker, "g-static")
        scenario_kafka_python(broker, "range", "kp-range")
        scenario_kafka_python(broker, "roundrobin", "kp-rr")
        scenario_sarama(broker, "sarama-g")
        restart_resume(broker, "g-restart")
        admin_checks(broker, ["g-range", "g-rr", "g-restart"])
        broker.stop()
        shutdown_answers_waiting_join(exe)
    except Exception:
        log("broker log:\n" + broker.log_tail(60))
        raise
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
