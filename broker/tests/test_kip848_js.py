"""KIP-848 with a real client: @confluentinc/kafka-javascript (librdkafka 2.15)
consumers with group.protocol=consumer against a real serpentlog.

usage: test_kip848_js.py SERPENTLOG

Starts a broker (tests/integration/harness.py) and runs kip848js/kip848_consumer.js
against it: two members split 6 partitions through ConsumerGroupHeartbeat,
consume 600 records exactly once, commit with OffsetCommit v9, then one leaves
and the other takes over every partition from the committed offsets. Then two
more members (separate node processes) share a group and one is killed with
SIGKILL: the other owns every partition once the session timeout (3 s here)
removes the dead one; the broker restarts under the survivor, which goes on
heartbeating at the same member epoch (the group replayed from
__consumer_offsets, checked with raw ConsumerGroupDescribe). The npm
package is installed by ./dev test (kip848js/package-lock.json, built with
CKJS_LINKING=dynamic against the system's libraries). Exit 0 = pass, 1 = fail.
"""

import os
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

from harness import Broker, Conn, TestFailure, check, log, run_test  # noqa: E402
import test_kip848 as K  # noqa: E402

JS = os.path.join(HERE, "kip848js")


def holder(broker, group):
    return subprocess.Popen(["node", os.path.join(JS, "kip848_consumer.js"), broker.bootstrap,
                             "hold", group], cwd=JS, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)


def wait_owned(p, want, timeout):
    """Reads p's "owned N" lines until N == want; the seconds it took."""
    start = time.time()
    while time.time() - start < timeout:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if not r:
            continue
        line = p.stdout.readline()
        if not line:
            raise TestFailure("holder exited: status %s" % p.poll())
        log("hold:", line.strip())
        if line.strip() == "owned %d" % want:
            return time.time() - start
    raise TestFailure("holder never owned %d partitions in %.0f s" % (want, timeout))


def kill9(broker):
    a = holder(broker, "kip848-js-kill")
    b = None
    try:
        wait_owned(a, 6, 60)
        b = holder(broker, "kip848-js-kill")
        wait_owned(b, 3, 60)
        wait_owned(a, 3, 30)
        a.send_signal(signal.SIGKILL)
        a.wait()
        took = wait_owned(b, 6, 30)
        log("after SIGKILL of a member: the other owns all 6 in %.1f s" % took)
        check(took >= 2.0, "reassigned before the session timeout (%.1f s)" % took)
        conn = Conn(broker.bootstrap)
        before = K.describe(conn, "kip848-js-kill")
        conn.close()
        check(before["state"] == "Stable" and len(before["members"]) == 1, "before: %r" % before)
        broker.restart()
        deadline = time.time() + 20
        while True:
            conn = Conn(broker.bootstrap)
            after = K.describe(conn, "kip848-js-kill")
            conn.close()
            if after["err"] == 0 and after["members"]:
                break
            check(time.time() < deadline, "group not back after restart: %r" % after)
            time.sleep(0.2)
        check(after["members"].keys() == before["members"].keys(), "members changed: %r" % after)
        (mid, m), = after["members"].items()
        check(m["epoch"] == before["members"][mid]["epoch"] and len(m["assignment"]) == 6,
              "member after restart: %r" % m)
        time.sleep(4.0)  # past the session timeout: only heartbeats keep it
        conn = Conn(broker.bootstrap)
        again = K.describe(conn, "kip848-js-kill")
        conn.close()
        check(again["epoch"] == before["epoch"] and again["state"] == "Stable" and
              again["members"].keys() == before["members"].keys(), "after heartbeats: %r" % again)
        check(b.poll() is None, "the client died across the restart")
        log("broker restart: the member resumed at epoch %d, no rebalance" % m["epoch"])
    finally:
        for p in (a, b):
            if p and p.poll() is None:
                p.kill()
                p.wait()


def main(exe, args):
    check(os.path.isdir(os.path.join(JS, "node_modules", "@confluentinc", "kafka-javascript")),
          "kip848js/node_modules missing: run ./dev deps (npm ci with CKJS_LINKING=dynamic)")
    broker = Broker(exe, extra_args=["--set", "group.consumer.heartbeat.interval.ms=500",
                                     "--set", "group.consumer.session.timeout.ms=3000"])
    try:
        broker.start()
        try:
            out = subprocess.run(["node", os.path.join(JS, "kip848_consumer.js"), broker.bootstrap],
                                 cwd=JS, capture_output=True, text=True, timeout=150)
        except subprocess.TimeoutExpired:
            raise TestFailure("kip848_consumer.js did not finish in 150 s")
        for line in (out.stdout + out.stderr).splitlines():
            log("js:", line)
        check(out.returncode == 0, "kip848_consumer.js failed (status %d)" % out.returncode)
        kill9(broker)
        check(broker.alive(), "broker died:\n" + broker.log_tail())
    finally:
        broker.close()


if __name__ == "__main__":
    run_test(main)
