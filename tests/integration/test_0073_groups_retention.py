"""offsets.retention.minutes end to end (about 70 s: the smallest retention is a minute).

Usage: test_0073_groups_retention.py SERPENTLOG
With offsets.retention.minutes=1, over raw frames (groupwire.py):
  - a simple group (generation -1 commits only, as assign() consumers and
    admin tools do) loses its offsets a minute after its commits, although no
    member's session or rebalance ever arms the coordinator's timer;
  - a consumer group whose only member left loses its offsets a minute after
    it became Empty;
  - a consumer group with a live member (heartbeating) keeps its offsets;
  - after a SIGTERM restart the expired offsets stay gone (their tombstones are
    replayed from __consumer_offsets) and the live group's offsets are there.
The coordinator checks Empty groups every 60 s, so expiry must come between
60 s and about 125 s.
"""

import time

import harness
from harness import check, log
import groupwire as gw

TOPIC = "ret-data"


def main(exe, _args):
    broker = harness.Broker(exe, cores=2, extra_args=[
        "--set", "offsets.retention.minutes=1", "--set", "group.initial.rebalance.delay.ms=0"])
    try:
        broker.start()
        c = gw.GroupConn(broker.bootstrap, timeout=30)
        check(c.create_topics([(TOPIC, 2)])[TOPIC][0] == 0, "create topic")
        c.find_coordinator("simple")
        t0 = time.time()
        res = c.commit("simple", -1, "", [(TOPIC, 0, 5, "s"), (TOPIC, 1, 6, None)])
        check(res == {(TOPIC, 0): 0, (TOPIC, 1): 0}, "simple commit %r" % (res,))
        groups = {}
        for g in ("left", "live"):
            j = c.join_new(g, protocols=[("range", gw.subscription([TOPIC]))], session_ms=10000)
            check(j["error"] == 0, "%s join %r" % (g, j))
            err, _ = c.sync(g, j["generation"], j["member"],
                            [(j["member"], gw.assignment({TOPIC: [0, 1]}))])
            check(err == 0, "%s sync %d" % (g, err))
            res = c.commit(g, j["generation"], j["member"], [(TOPIC, 0, 7, None)])
            check(res == {(TOPIC, 0): 0}, "%s commit %r" % (g, res))
            groups[g] = j
        err, _per = c.leave("left", [groups["left"]["member"]])
        check(err == 0, "leave %d" % err)
        live = groups["live"]

        def offset(g, p=0):
            err, offs = c.fetch_offsets(g, TOPIC, [p])
            check(err == 0, "OffsetFetch %s: %d" % (g, err))
            return offs[p][0]

        gone_at = {}
        while len(gone_at) < 2:
            took = time.time() - t0
            check(took < 130, "offsets not expired after %.0f s: %r" % (took, gone_at))
            check(c.heartbeat("live", live["generation"], live["member"]) == 0,
                  "live member's heartbeat")
            for g in ("simple", "left"):
                if g not in gone_at and offset(g) == -1:
                    gone_at[g] = took
                    log("%s: offsets expired after %.0f s" % (g, took))
            time.sleep(2)
        for g, took in gone_at.items():
            check(took >= 59, "%s expired after %.0f s, retention is 60 s" % (g, took))
        check(offset("simple", 1) == -1, "simple p1 still there")
        check(offset("live") == 7, "the live group lost its offsets")
        c.close()
        broker.stop()
        broker.start()
        c = gw.GroupConn(broker.bootstrap, timeout=30)
        c.find_coordinator("simple")
        check(offset("simple") == -1 and offset("simple", 1) == -1 and offset("left") == -1,
              "expired offsets came back after a restart")
        check(offset("live") == 7, "the live group's offsets after a restart")
        err, state, _p, members = c.describe_group("left")
        check(err == 0 and state == "Dead" and not members, "left group after restart: %r" %
              ((err, state, members),))
        c.close()
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
