"""Consumer-group requests as raw frames, for the group integration tests.

The group tests need to send exactly the bytes they mean (empty or 256-byte
group ids, unknown protocol types, stale generations, oversized metadata),
which no client library will do, and to read the exact error code back.
GroupConn speaks the non-flexible versions of the group APIs (JoinGroup v5,
SyncGroup v3, Heartbeat v3, LeaveGroup v3, OffsetCommit v7, OffsetFetch v5,
FindCoordinator v2, DescribeGroups v4) on top of harness.Conn; a JoinGroup
may wait at the broker, so join is split into send_join / recv_join.
Also: the ConsumerProtocol subscription and assignment encodings.
"""

import struct
import time

from harness import Conn, array, bytes_, check, i8, i16, i32, i64, string

# Kafka error codes used by the group tests
NONE = 0
UNKNOWN_SERVER_ERROR = -1
OFFSET_METADATA_TOO_LARGE = 12
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
INVALID_REQUEST = 42
MEMBER_ID_REQUIRED = 79
GROUP_MAX_SIZE_REACHED = 81

RETRIABLE_COORD = (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR)


def subscription(topics, user_data=None):
    """ConsumerProtocolSubscription v0."""
    return i16(0) + array(topics, string) + bytes_(user_data)


def assignment(parts, user_data=None):
    """ConsumerProtocolAssignment v0: parts is {topic: [partition, ...]}."""
    return i16(0) + array(sorted(parts.items()),
                          lambda tp: string(tp[0]) + array(tp[1], i32)) + bytes_(user_data)


def parse_assignment(b):
    """{topic: [partitions]} of a ConsumerProtocolAssignment."""
    from harness import Reader
    if not b:
        return {}
    r = Reader(b)
    r.i16()
    return dict(r.array(lambda r: (r.string(), r.array(lambda r: r.i32()))))


class GroupConn(Conn):
    def find_coordinator(self, group, timeout=30.0):
        """FindCoordinator v2 until the offsets topic exists: (node, host, port)."""
        deadline = time.time() + timeout
        while True:
            r = self.call(10, 2, string(group) + i8(0))
            r.i32()
            err = r.i16()
            r.string()
            node, host, port = r.i32(), r.string(), r.i32()
            if err == NONE:
                return node, host, port
            check(err in RETRIABLE_COORD, "FindCoordinator(%r): error %d" % (group, err))
            check(time.time() < deadline, "no coordinator for %r after %.0fs" % (group, timeout))
            time.sleep(0.2)

    def send_join(self, group, member="", protocols=(("range", b""),), ptype="consumer",
                  session_ms=10000, rebalance_ms=30000, instance=None):
        body = (string(group) + i32(session_ms) + i32(rebalance_ms) + string(member) +
                string(instance) + string(ptype) +
                array(list(protocols), lambda p: string(p[0]) + bytes_(p[1])))
        return self.send(11, 5, body)

    def recv_join(self):
        """JoinGroup v5 answer: dict(error, generation, protocol, leader, member, members)."""
        from harness import Reader
        r = Reader(self.recv_frame())
        r.i32()  # correlation id (one request in flight per join)
        r.i32()
        out = {"error": r.i16(), "generation": r.i32(), "protocol": r.string(),
               "leader": r.string(), "member": r.string()}
        out["members"] = r.array(lambda r: (r.string(), r.string(), r.bytes_()))
        return out

    def join(self, group, **kw):
        self.send_join(group, **kw)
        return self.recv_join()

    def join_new(self, group, **kw):
        """A fresh member's two JoinGroups (MEMBER_ID_REQUIRED, then with the id)."""
        kw.pop("member", None)
        first = self.join(group, **kw)
        if first["error"] != MEMBER_ID_REQUIRED:
            return first
        return self.join(group, member=first["member"], **kw)

    def sync(self, group, generation, member, assignments=(), instance=None):
        body = (string(group) + i32(generation) + string(member) + string(instance) +
                array(list(assignments), lambda a: string(a[0]) + bytes_(a[1])))
        r = self.call(14, 3, body)
        r.i32()
        return r.i16(), r.bytes_()

    def heartbeat(self, group, generation, member, instance=None):
        r = self.call(12, 3, string(group) + i32(generation) + string(member) + string(instance))
        r.i32()
        return r.i16()

    def leave(self, group, members):
        """LeaveGroup v3: (top-level error, [per-member errors])."""
        r = self.call(13, 3, string(group) +
                      array(list(members), lambda m: string(m) + string(None)))
        r.i32()
        err = r.i16()
        per = r.array(lambda r: (r.string(), r.string(), r.i16()))
        return err, [e for _m, _i, e in per]

    def commit(self, group, generation, member, offsets, instance=None):
        """OffsetCommit v7; offsets is [(topic, partition, offset, metadata)].
        Returns {(topic, partition): error}."""
        by_topic = {}
        for t, p, o, m in offsets:
            by_topic.setdefault(t, []).append((p, o, m))
        body = (string(group) + i32(generation) + string(member) + string(instance) +
                array(list(by_topic.items()), lambda tp: string(tp[0]) + array(
                    tp[1], lambda x: i32(x[0]) + i64(x[1]) + i32(-1) + string(x[2]))))
        r = self.call(8, 7, body)
        r.i32()
        out = {}
        for t, parts in r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16())))):
            for p, e in parts:
                out[(t, p)] = e
        return out

    def fetch_offsets(self, group, topic, partitions):
        """OffsetFetch v5: (group error, {partition: (offset, metadata, error)})."""
        body = string(group) + array([(topic, partitions)],
                                     lambda tp: string(tp[0]) + array(tp[1], i32))
        r = self.call(9, 5, body)
        r.i32()
        topics = r.array(lambda r: (r.string(), r.array(
            lambda r: (r.i32(), r.i64(), r.i32(), r.string(), r.i16()))))
        err = r.i16()
        out = {}
        for _t, parts in topics:
            for p, o, _ep, m, e in parts:
                out[p] = (o, m, e)
        return err, out

    def describe_group(self, group):
        """DescribeGroups v4 of one group: (error, state, protocol, [member ids])."""
        r = self.call(15, 4, array([group], string) + struct.pack(">?", False))
        r.i32()
        groups = r.array(lambda r: (r.i16(), r.string(), r.string(), r.string(), r.string(),
                                    r.array(lambda r: (r.string(), r.string(), r.string(),
                                                       r.string(), r.bytes_(), r.bytes_())),
                                    r.i32()))
        check(len(groups) == 1, "DescribeGroups answered %d groups" % len(groups))
        err, _gid, state, _ptype, proto, members, _ops = groups[0]
        return err, state, proto, [m[0] for m in members]
