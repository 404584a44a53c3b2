"""KIP-848 consumer groups against a real serpentlog, in raw frames.

usage: test_kip848.py SERPENTLOG

No Python client on Debian 12 speaks ConsumerGroupHeartbeat, so this test
encodes its requests by hand (flexible versions, test_admin_wire.py's
helpers) and walks two members through join → assignment → revocation →
reassignment, checks ConsumerGroupDescribe, ListGroups v5's type filter,
DescribeGroups, OffsetCommit v9 / OffsetFetch v9 member-epoch checks, a
classic JoinGroup refused on the consumer group, a broker restart that
resumes the group with its epochs, a leave, and a session expiry (short
timeouts via --set). Exit 0 = pass, 1 = fail.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
sys.path.insert(0, HERE)

from harness import Broker, Conn, check, i16, i32, i64, log, run_test, string  # noqa: E402
import test_admin_wire as W  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

GROUP = "kip848-g"
TOPIC = "kip848-t"
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
UNKNOWN_MEMBER_ID = 25
INCONSISTENT_GROUP_PROTOCOL = 23
FENCED_MEMBER_EPOCH = 110
STALE_MEMBER_EPOCH = 113


def heartbeat(conn, member, epoch, topics=None, owned=None, rto=-1, inst=None, group=GROUP):
    """ConsumerGroupHeartbeat v1; owned: list of partitions of TOPIC (topic id
    looked up by the caller and kept in conn.topic_id)."""
    body = W.cstr(group) + W.cstr(member) + i32(epoch) + W.cstr(inst) + W.cstr(None)
    body += i32(rto) + W.carray(topics, W.cstr) + W.cstr(None) + W.cstr(None)
    tps = None if owned is None else ([(conn.topic_id, owned)] if owned else [])
    body += W.carray(tps, lambda tp: tp[0] + W.carray(tp[1], i32) + W.TAGS) + W.TAGS
    r = W.call(conn, 68, 1, body)
    out = {"throttle": r.i32(), "err": r.i16(), "msg": r.cstr(), "member": r.cstr(),
           "epoch": r.i32(), "interval": r.i32(), "assignment": None}
    if r.i8() >= 0:
        tps = r.carray(lambda r: (r.uuid(), r.carray(lambda r: r.i32()), r.tags()))
        r.tags()
        out["assignment"] = sorted(p for t in tps for p in t[1])
        out["topics"] = [t[0] for t in tps]
    r.tags()
    return out


def join(conn, member, topics, inst=None):
    """Joins, retrying while __consumer_offsets is being created."""
    for _ in range(100):
        out = heartbeat(conn, member, 0, topics=topics, owned=[], rto=30000, inst=inst)
        if out["err"] not in (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR):
            return out
        time.sleep(0.1)
    raise AssertionError("coordinator never became available")


def describe(conn, group=GROUP):
    body = W.carray([group], W.cstr) + b"\x00" + W.TAGS
    r = W.call(conn, 69, 0, body)
    r.i32()

    def assignment(r):
        tps = r.carray(lambda r: (r.uuid(), r.cstr(), r.carray(lambda r: r.i32()), r.tags()))
        r.tags()
        return sorted((t[1], p) for t in tps for p in t[2])

    def member(r):
        m = {"id": r.cstr(), "instance": r.cstr(), "rack": r.cstr(), "epoch": r.i32(),
             "client_id": r.cstr(), "client_host": r.cstr(),
             "topics": r.carray(lambda r: r.cstr()), "regex": r.cstr(),
             "assignment": assignment(r), "target": assignment(r)}
        r.tags()
        return m

    def grp(r):
        g = {"err": r.i16(), "msg": r.cstr(), "id": r.cstr(), "state": r.cstr(),
             "epoch": r.i32(), "assignment_epoch": r.i32(), "assignor": r.cstr(),
             "members": {m["id"]: m for m in r.carray(member)}, "ops": r.i32()}
        r.tags()
        return g

    groups = r.carray(grp)
    r.tags()
    return groups[0]


def commit(conn, member, epoch, offsets, version=9):
    """OffsetCommit v8/v9 of TOPIC {partition: offset}; {partition: error}."""
    parts = sorted(offsets.items())
    body = W.cstr(GROUP) + i32(epoch) + W.cstr(member) + W.cstr(None)
    body += W.carray([TOPIC], lambda t: W.cstr(t) + W.carray(
        parts, lambda p: i32(p[0]) + i64(p[1]) + i32(-1) + W.cstr("") + W.TAGS) + W.TAGS)
    body += W.TAGS
    r = W.call(conn, 8, version, body)
    r.i32()
    res = r.carray(lambda r: (r.cstr(), r.carray(lambda r: (r.i32(), r.i16(), r.tags())),
                              r.tags()))
    r.tags()
    return {p[0]: p[1] for p in res[0][1]}


def fetch(conn, member, epoch, partitions):
    """OffsetFetch v9: (group error, {partition: offset})."""
    body = W.carray([GROUP], lambda g: W.cstr(g) + W.cstr(member) + i32(epoch) + W.carray(
        [TOPIC], lambda t: W.cstr(t) + W.carray(partitions, i32) + W.TAGS) + W.TAGS)
    body += b"\x00" + W.TAGS
    r = W.call(conn, 9, 9, body)
    r.i32()

    def part(r):
        p = (r.i32(), r.i64(), r.i32(), r.cstr(), r.i16())
        r.tags()
        return p

    def topic(r):
        t = (r.cstr(), r.carray(part))
        r.tags()
        return t

    def grp(r):
        g = (r.cstr(), r.carray(topic), r.i16())
        r.tags()
        return g

    groups = r.carray(grp)
    r.tags()
    g = groups[0]
    offs = {p[0]: p[1] for t in (g[1] or []) for p in t[1]}
    return g[2], offs


def list_groups(conn, types):
    body = W.carray([], W.cstr) + W.carray(types, W.cstr) + W.TAGS
    r = W.call(conn, 16, 5, body)
    r.i32()
    err = r.i16()

    def grp(r):
        g = (r.cstr(), r.cstr(), r.cstr(), r.cstr())
        r.tags()
        return g

    gs = r.carray(grp)
    r.tags()
    check(err == 0, "ListGroups error %d" % err)
    return {g[0]: g for g in gs}


def classic_join(conn):
    """JoinGroup v5 (not flexible) for GROUP: its error code."""
    proto = string("range") + i32(0)
    body = string(GROUP) + i32(10000) + i32(30000) + string("") + i16(-1)
    body += string("consumer") + i32(1) + proto
    r = conn.call(11, 5, body)
    r.i32()
    return r.i16()


def api_max(conn, key):
    r = conn.call(18, 0, b"")
    check(r.i16() == 0, "ApiVersions failed")
    for _ in range(r.i32()):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        if k == key:
            return hi
    return None


def walk(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for f in admin.create_topics([NewTopic(TOPIC, num_partitions=6, replication_factor=1)]).values():
        f.result(30)
    conn = Conn(broker.bootstrap)
    check(api_max(conn, 68) == 1, "ConsumerGroupHeartbeat v1 not advertised")
    check(api_max(conn, 69) == 0, "ConsumerGroupDescribe v0 not advertised")
    check(api_max(conn, 8) == 9 and api_max(conn, 9) == 9, "OffsetCommit/OffsetFetch v9")

    # A joins and gets every partition
    a = join(conn, "member-a", [TOPIC])
    check(a["err"] == 0 and a["epoch"] == 1, "A's join: %r" % a)
    check(a["assignment"] == [0, 1, 2, 3, 4, 5], "A's assignment %r" % a["assignment"])
    conn.topic_id = a["topics"][0]
    check(a["interval"] == 500, "heartbeat interval %d" % a["interval"])

    # B joins: group epoch 2; B waits until A releases its half
    conn_b = Conn(broker.bootstrap)
    conn_b.topic_id = conn.topic_id
    b = join(conn_b, "member-b", [TOPIC])
    check(b["err"] == 0 and b["epoch"] == 2 and b["assignment"] == [], "B's join: %r" % b)
    d = describe(conn)
    check(d["state"] == "Reconciling" and d["epoch"] == 2, "describe after B: %r" % d)
    a = heartbeat(conn, "member-a", 1)
    check(a["epoch"] == 1 and a["assignment"] == [0, 1, 2], "A's revocation: %r" % a)
    a = heartbeat(conn, "member-a", 1, owned=[0, 1, 2])
    check(a["err"] == 0 and a["epoch"] == 2, "A after revoking: %r" % a)
    b = heartbeat(conn_b, "member-b", 2)
    check(b["epoch"] == 2 and b["assignment"] == [3, 4, 5], "B's partitions: %r" % b)
    d = describe(conn)
    check(d["state"] == "Stable" and d["assignment_epoch"] == 2 and d["assignor"] == "uniform",
          "describe stable: %r" % d)
    check(d["members"]["member-b"]["assignment"] == [(TOPIC, 3), (TOPIC, 4), (TOPIC, 5)],
          "B described: %r" % d["members"]["member-b"])
    check(d["members"]["member-a"]["topics"] == [TOPIC], "A's subscription")
    log("two members: revocation then reassignment at epoch 2")

    # other views of the group
    check(GROUP in list_groups(conn, ["consumer"]), "ListGroups type consumer")
    check(GROUP not in list_groups(conn, ["classic"]), "ListGroups type classic")
    check(list_groups(conn, [])[GROUP][2:] == ("Stable", "consumer"), "ListGroups row")
    check(classic_join(conn) == INCONSISTENT_GROUP_PROTOCOL, "classic JoinGroup not refused")

    # OffsetCommit v9 / OffsetFetch v9: member epochs
    errs = commit(conn, "member-a", 2, {0: 10, 1: 11, 2: 12})
    check(errs == {0: 0, 1: 0, 2: 0}, "commit at the member epoch: %r" % errs)
    errs = commit(conn, "member-a", 1, {0: 20})
    check(errs == {0: STALE_MEMBER_EPOCH}, "stale commit: %r" % errs)
    errs = commit(conn, "nobody", 2, {0: 20})
    check(errs == {0: UNKNOWN_MEMBER_ID}, "unknown member commit: %r" % errs)
    err, offs = fetch(conn, "member-a", 2, [0, 1, 2, 3])
    check(err == 0 and offs == {0: 10, 1: 11, 2: 12, 3: -1}, "fetch: %r %r" % (err, offs))
    err, _ = fetch(conn, "member-a", 1, [0])
    check(err == STALE_MEMBER_EPOCH, "stale fetch: %d" % err)
    err, offs = fetch(conn, None, -1, [0])
    check(err == 0 and offs == {0: 10}, "admin fetch: %r %r" % (err, offs))
    log("OffsetCommit/OffsetFetch v9 epoch checks")
    conn.close()
    conn_b.close()

    # restart: the group resumes from __consumer_offsets
    broker.restart()
    topic_id = conn.topic_id
    conn = Conn(broker.bootstrap)
    conn.topic_id = topic_id
    for _ in range(100):
        a = heartbeat(conn, "member-a", 2)
        if a["err"] not in (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR):
            break
        time.sleep(0.1)
    check(a["err"] == 0 and a["epoch"] == 2, "A after restart: %r" % a)
    conn_b = Conn(broker.bootstrap)
    conn_b.topic_id = conn.topic_id
    b = heartbeat(conn_b, "member-b", 2)
    check(b["err"] == 0 and b["epoch"] == 2, "B after restart: %r" % b)
    d = describe(conn)
    check(d["epoch"] == 2 and d["members"]["member-a"]["assignment"] == [
        (TOPIC, 0), (TOPIC, 1), (TOPIC, 2)], "describe after restart: %r" % d)
    err, offs = fetch(conn, "member-a", 2, [0])
    check(err == 0 and offs == {0: 10}, "offsets after restart: %r" % offs)
    check(heartbeat(conn, "member-a", 5)["err"] == FENCED_MEMBER_EPOCH, "fenced epoch")
    log("restart: group resumed at epoch 2")

    # B leaves: A takes everything at epoch 3
    b = heartbeat(conn_b, "member-b", -1)
    check(b["err"] == 0 and b["epoch"] == -1, "B's leave: %r" % b)
    a = heartbeat(conn, "member-a", 2)
    check(a["epoch"] == 3 and a["assignment"] == [0, 1, 2, 3, 4, 5], "A after B left: %r" % a)
    check(heartbeat(conn_b, "member-b", 2)["err"] == UNKNOWN_MEMBER_ID, "B is gone")

    # A goes silent: removed after the session timeout
    time.sleep(4.0)
    d = describe(conn)
    check(d["state"] == "Empty" and not d["members"] and d["epoch"] == 4,
          "after the session timeout: %r" % d)
    check(heartbeat(conn, "member-a", 3)["err"] == UNKNOWN_MEMBER_ID, "A expired")
    log("leave and session expiry")
    conn.close()
    conn_b.close()


def main(exe, args):
    broker = Broker(exe, extra_args=[
        "--set", "group.consumer.heartbeat.interval.ms=500",
        "--set", "group.consumer.session.timeout.ms=2500"])
    try:
        broker.start()
        walk(broker)
    finally:
        broker.close()


if __name__ == "__main__":
    run_test(main)
