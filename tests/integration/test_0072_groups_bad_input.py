"""Bad group input and the group limits against a real serpentlog, over raw frames.

Usage: test_0072_groups_bad_input.py SERPENTLOG
Each case gets Kafka's error code, and after each one a bystander group (one
Stable member, generation 1, a committed offset with metadata) must be
undisturbed: its member still heartbeats in generation 1 and its offset and
metadata read back unchanged. Cases (the coordinator state machine itself is
unit-tested in broker/tests/test_group.c; these check the wire path):
  - empty and 256-byte group ids on JoinGroup, SyncGroup, Heartbeat,
    LeaveGroup, DescribeGroups: INVALID_GROUP_ID (255 bytes are fine);
  - empty protocol type, no protocols, another protocol type than the
    group's, no protocol in common: INCONSISTENT_GROUP_PROTOCOL, and the
    refused join starts no rebalance of the group it tried;
  - member metadata over 1 MiB: INVALID_REQUEST; a 900 KiB SyncGroup
    assignment is delivered and survives restart; a 2 MiB one cannot be stored
    (message.max.bytes): UNKNOWN_SERVER_ERROR as Kafka, then a rejoin works;
  - commits, heartbeats and syncs for a generation that is gone:
    ILLEGAL_GENERATION (after a rebalance, and for a group that does not exist);
  - limits set by config: group.max.size=2 (GROUP_MAX_SIZE_REACHED),
    group.min/max.session.timeout.ms=2000/20000 (INVALID_SESSION_TIMEOUT),
    offset.metadata.max.bytes=16 (OFFSET_METADATA_TOO_LARGE for that
    partition only);
  - group.initial.rebalance.delay.ms=500: a lone member's join is answered
    after the delay, not at its session timeout;
  - the same group served through connections on every shard (2 shards): no
    NOT_COORDINATOR (a single node owns every group; a wrong-broker
    NOT_COORDINATOR needs a cluster, which serpentlog does not have yet).
Finally a SIGTERM restart (exit 0, so no leak under ASan) keeps every
committed offset and the bystander's group.
"""

import time

import harness
from harness import check, log
import groupwire as gw

TOPIC = "gbad-data"
BYST = "bystander"


class Bystander:
    def __init__(self, bootstrap):
        self.c = gw.GroupConn(bootstrap, timeout=20)
        j = self.c.join_new(BYST, protocols=[("range", gw.subscription([TOPIC]))],
                            session_ms=20000)
        check(j["error"] == 0 and j["generation"] == 1, "bystander join %r" % (j,))
        self.member = j["member"]
        err, _a = self.c.sync(BYST, 1, self.member,
                              [(self.member, gw.assignment({TOPIC: [0, 1]}))])
        check(err == 0, "bystander sync: %d" % err)
        res = self.c.commit(BYST, 1, self.member, [(TOPIC, 0, 42, "keep")])
        check(res == {(TOPIC, 0): 0}, "bystander commit %r" % (res,))

    def undisturbed(self, what):
        err = self.c.heartbeat(BYST, 1, self.member)
        check(err == 0, "after %s: bystander heartbeat error %d" % (what, err))
        err, offs = self.c.fetch_offsets(BYST, TOPIC, [0])
        check(err == 0 and offs[0][:2] == (42, "keep"),
              "after %s: bystander offsets %r (error %d)" % (what, offs, err))
        err, state, proto, members = self.c.describe_group(BYST)
        check((err, state, proto, members) == (0, "Stable", "range", [self.member]),
              "after %s: bystander described as %r" % (what, (err, state, proto, members)))


def stable_group(c, group, session_ms=10000):
    """One member joined and synced: (member id, generation)."""
    j = c.join_new(group, protocols=[("range", gw.subscription([TOPIC]))], session_ms=session_ms)
    check(j["error"] == 0, "%s: join %r" % (group, j))
    err, _ = c.sync(group, j["generation"], j["member"],
                    [(j["member"], gw.assignment({TOPIC: [0]}))])
    check(err == 0, "%s: sync %d" % (group, err))
    return j["member"], j["generation"]


def case_initial_delay(c, by):
    """A lone member's JoinGroup into a new group is answered once
    group.initial.rebalance.delay.ms (500 here) has passed, not at its session
    timeout (the shard's timer must be armed by the parked JoinGroup itself)."""
    t0 = time.time()
    j = c.join_new("g-delay", protocols=[("range", gw.subscription([TOPIC]))], session_ms=20000)
    took = time.time() - t0
    check(j["error"] == 0, "g-delay join %r" % (j,))
    check(0.45 <= took < 5, "a lone member's join took %.2f s with a 500 ms initial delay" % took)
    by.undisturbed("initial delay")


def case_group_ids(c, by):
    for gid in ("", "x" * 256):
        what = "group id of %d bytes" % len(gid)
        j = c.join(gid, protocols=[("range", b"")])
        check(j["error"] == gw.INVALID_GROUP_ID, "%s: JoinGroup %r" % (what, j))
        err, _ = c.sync(gid, 1, "m")
        check(err == gw.INVALID_GROUP_ID, "%s: SyncGroup %d" % (what, err))
        err = c.heartbeat(gid, 1, "m")
        check(err == gw.INVALID_GROUP_ID, "%s: Heartbeat %d" % (what, err))
        err, _per = c.leave(gid, ["m"])
        check(err == gw.INVALID_GROUP_ID, "%s: LeaveGroup %d" % (what, err))
        err, _s, _p, _m = c.describe_group(gid)
        check(err == gw.INVALID_GROUP_ID, "%s: DescribeGroups %d" % (what, err))
        by.undisturbed(what)
    j = c.join("y" * 255, protocols=[("range", b"")])
    check(j["error"] == gw.MEMBER_ID_REQUIRED, "255-byte group id: %r" % (j,))
    by.undisturbed("255-byte group id")


def case_protocols(c, by):
    j = c.join("g-proto-new", ptype="", protocols=[("range", b"")])
    check(j["error"] == gw.INCONSISTENT_GROUP_PROTOCOL, "empty protocol type: %r" % (j,))
    j = c.join("g-proto-new", protocols=[])
    check(j["error"] == gw.INCONSISTENT_GROUP_PROTOCOL, "no protocols: %r" % (j,))
    member, gen = stable_group(c, "g-proto")
    other = gw.GroupConn(c.bootstrap)
    j = other.join("g-proto", ptype="connect", protocols=[("range", b"")])
    check(j["error"] == gw.INCONSISTENT_GROUP_PROTOCOL, "other protocol type: %r" % (j,))
    j = other.join("g-proto", protocols=[("nothing-in-common", b"")])
    check(j["error"] == gw.INCONSISTENT_GROUP_PROTOCOL, "no common protocol: %r" % (j,))
    other.close()
    # the refused joins started no rebalance of g-proto
    err = c.heartbeat("g-proto", gen, member)
    check(err == 0, "g-proto heartbeat after refused joins: %d" % err)
    err, state, _p, members = c.describe_group("g-proto")
    check((err, state, members) == (0, "Stable", [member]), "g-proto: %r" % ((err, state, members),))
    by.undisturbed("inconsistent protocols")


def case_oversized(c, by):
    big = b"\x00" * ((1 << 20) + 1)
    j = c.join("g-big", protocols=[("range", big)])
    check(j["error"] == gw.INVALID_REQUEST, "member metadata of 1 MiB + 1: %r" % (j,))
    by.undisturbed("oversized member metadata")
    # an assignment of 900 KiB (user data) is stored and handed back
    j = c.join_new("g-bigassign", protocols=[("range", gw.subscription([TOPIC]))])
    check(j["error"] == 0, "g-bigassign join %r" % (j,))
    member = j["member"]
    blob = gw.assignment({TOPIC: [0, 1, 2]}, user_data=bytes(range(256)) * 3600)
    err, got = c.sync("g-bigassign", j["generation"], member, [(member, blob)])
    check(err == 0 and got == blob, "900 KiB assignment: error %d, %d bytes back" %
          (err, len(got or b"")))
    by.undisturbed("900 KiB assignment")
    # 2 MiB cannot be stored (message.max.bytes of __consumer_offsets): Kafka's
    # UNKNOWN_SERVER_ERROR, the group rebalances, and a rejoin works
    j = c.join("g-bigassign", member=member, protocols=[("range", gw.subscription([TOPIC]))])
    check(j["error"] == 0, "g-bigassign rejoin %r" % (j,))
    huge = gw.assignment({TOPIC: [0]}, user_data=bytes(range(256)) * 8192)
    err, _ = c.sync("g-bigassign", j["generation"], member, [(member, huge)])
    check(err == gw.UNKNOWN_SERVER_ERROR, "2 MiB assignment: error %d" % err)
    err = c.heartbeat("g-bigassign", j["generation"], member)
    check(err == gw.REBALANCE_IN_PROGRESS, "after the refused assignment: heartbeat %d" % err)
    j = c.join("g-bigassign", member=member, protocols=[("range", gw.subscription([TOPIC]))])
    check(j["error"] == 0, "g-bigassign rejoin after the refusal %r" % (j,))
    err, got = c.sync("g-bigassign", j["generation"], member, [(member, blob)])
    check(err == 0 and got == blob, "900 KiB assignment again: error %d" % err)
    by.undisturbed("2 MiB assignment")
    return member, j["generation"], blob


def case_generations(c, by):
    res = c.commit("g-never-existed", 3, "m-1", [(TOPIC, 0, 1, None)])
    check(res == {(TOPIC, 0): gw.ILLEGAL_GENERATION}, "commit to an absent group %r" % (res,))
    a, gen = stable_group(c, "g-gen", session_ms=10000)
    c2 = gw.GroupConn(c.bootstrap)
    first = c2.join("g-gen", protocols=[("range", gw.subscription([TOPIC]))])
    check(first["error"] == gw.MEMBER_ID_REQUIRED, "second member: %r" % (first,))
    c2.send_join("g-gen", member=first["member"],
                 protocols=[("range", gw.subscription([TOPIC]))])  # waits for a
    harness.wait_for(lambda: c.heartbeat("g-gen", gen, a) == gw.REBALANCE_IN_PROGRESS,
                     what="g-gen rebalance")
    ja = c.join("g-gen", member=a, protocols=[("range", gw.subscription([TOPIC]))])
    jb = c2.recv_join()
    check(ja["error"] == 0 and jb["error"] == 0 and ja["generation"] == gen + 1 ==
          jb["generation"], "g-gen rejoin %r %r" % (ja, jb))
    gen2 = ja["generation"]
    leader = ja["leader"]
    lc, oc = (c, c2) if leader == a else (c2, c)
    b = jb["member"]
    err, _ = lc.sync("g-gen", gen2, leader,
                     [(a, gw.assignment({TOPIC: [0]})), (b, gw.assignment({TOPIC: [1]}))])
    check(err == 0, "g-gen leader sync %d" % err)
    err, _ = oc.sync("g-gen", gen2, b if leader == a else a)
    check(err == 0, "g-gen follower sync %d" % err)
    # generation 1 is gone
    res = c.commit("g-gen", gen, a, [(TOPIC, 0, 5, None)])
    check(res == {(TOPIC, 0): gw.ILLEGAL_GENERATION}, "commit for a gone generation %r" % (res,))
    check(c.heartbeat("g-gen", gen, a) == gw.ILLEGAL_GENERATION, "heartbeat, gone generation")
    err, _ = c.sync("g-gen", gen, a)
    check(err == gw.ILLEGAL_GENERATION, "sync for a gone generation: %d" % err)
    res = c.commit("g-gen", gen2, a, [(TOPIC, 0, 5, None)])
    check(res == {(TOPIC, 0): 0}, "commit in the current generation %r" % (res,))
    by.undisturbed("gone generations")
    return c2, a, b, gen2


def case_config_limits(c, by, gen_members):
    c2, a, b, gen2 = gen_members
    # group.max.size=2: g-gen is full
    c3 = gw.GroupConn(c.bootstrap)
    j = c3.join("g-gen", protocols=[("range", gw.subscription([TOPIC]))])
    check(j["error"] == gw.GROUP_MAX_SIZE_REACHED, "third member of g-gen: %r" % (j,))
    j = c3.join("g-gen", protocols=[("range", gw.subscription([TOPIC]))], instance="static-3")
    check(j["error"] == gw.GROUP_MAX_SIZE_REACHED, "third (static) member: %r" % (j,))
    c3.close()
    for m, conn in ((a, c), (b, c2)):
        check(conn.heartbeat("g-gen", gen2, m) == 0, "g-gen member after GROUP_MAX_SIZE_REACHED")
    # group.min/max.session.timeout.ms = 2000/20000 (bounds inclusive)
    for ms, want in ((1999, gw.INVALID_SESSION_TIMEOUT), (20001, gw.INVALID_SESSION_TIMEOUT),
                     (2000, gw.MEMBER_ID_REQUIRED), (20000, gw.MEMBER_ID_REQUIRED)):
        j = c.join("g-st", protocols=[("range", b"")], session_ms=ms)
        check(j["error"] == want, "session timeout %d: %r" % (ms, j))
    # offset.metadata.max.bytes=16, per partition
    res = c.commit("g-gen", gen2, a, [(TOPIC, 0, 7, "m" * 16), (TOPIC, 1, 7, "m" * 17)])
    check(res == {(TOPIC, 0): 0, (TOPIC, 1): gw.OFFSET_METADATA_TOO_LARGE},
          "metadata of 16 and 17 bytes: %r" % (res,))
    err, offs = c.fetch_offsets("g-gen", TOPIC, [0, 1])
    check(err == 0 and offs[0][:2] == (7, "m" * 16) and offs[1][0] == -1,
          "offsets after the metadata limit %r" % (offs,))
    by.undisturbed("config limits")


def case_shards(bootstrap, by):
    conns = [gw.GroupConn(bootstrap) for _ in range(6)]
    for i, k in enumerate(conns):
        err = k.heartbeat(BYST, 1, by.member)
        check(err == 0, "bystander heartbeat through connection %d: %d" % (i, err))
        err, offs = k.fetch_offsets(BYST, TOPIC, [0])
        check(err == 0 and offs[0][0] == 42, "offsets through connection %d: %r" % (i, offs))
        k.close()


def main(exe, _args):
    broker = harness.Broker(exe, cores=2, extra_args=[
        "--set", "group.initial.rebalance.delay.ms=500", "--set", "group.max.size=2",
        "--set", "group.min.session.timeout.ms=2000",
        "--set", "group.max.session.timeout.ms=20000",
        "--set", "offset.metadata.max.bytes=16"])
    try:
        broker.start()
        c = gw.GroupConn(broker.bootstrap, timeout=20)
        c.bootstrap = broker.bootstrap
        res = c.create_topics([(TOPIC, 3)])
        check(res[TOPIC][0] == 0, "create %s: %r" % (TOPIC, res))
        c.find_coordinator(BYST)
        by = Bystander(broker.bootstrap)
        log("bystander stable:", by.member)
        case_initial_delay(c, by)
        log("initial delay: ok")
        case_group_ids(c, by)
        log("group ids: ok")
        case_protocols(c, by)
        log("protocols: ok")
        big_member, big_gen, blob = case_oversized(c, by)
        log("oversized metadata/assignment: ok")
        gen_members = case_generations(c, by)
        log("gone generations: ok")
        case_config_limits(c, by, gen_members)
        log("config limits: ok")
        case_shards(broker.bootstrap, by)
        log("every shard: ok")
        gen_members[0].close()
        c.close()
        by.c.close()
        broker.stop()
        broker.start()
        c = gw.GroupConn(broker.bootstrap, timeout=20)
        c.find_coordinator(BYST)
        err, offs = c.fetch_offsets(BYST, TOPIC, [0])
        check(err == 0 and offs[0][:2] == (42, "keep"), "bystander offsets after restart %r" % offs)
        err, offs = c.fetch_offsets("g-gen", TOPIC, [0, 1])
        check(err == 0 and offs[0][:2] == (7, "m" * 16) and offs[1][0] == -1,
              "g-gen offsets after restart %r" % (offs,))
        # the 900 KiB assignment came back from the offsets log
        err, st, _p, members = c.describe_group("g-bigassign")
        check(err == 0 and members == [big_member], "g-bigassign after restart %r" %
              ((err, st, members),))
        err, got = c.sync("g-bigassign", big_gen, big_member)
        check(err == 0 and got == blob, "900 KiB assignment after restart: error %d, %d bytes" %
              (err, len(got or b"")))
        log("restart: offsets, groups and the 900 KiB assignment kept")
        c.close()
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
