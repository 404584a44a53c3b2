"""0040: SIGKILL under acks=all load loses nothing that was acknowledged.

Usage: test_0040_kill9.py SERPENTLOG [ROUNDS]
Each round: rdk_client produces a long stream with acks=all into a 6-partition
topic, printing every acknowledged (record, partition, offset); once enough acks
have arrived the broker gets SIGKILL mid-stream. The broker restarts on the same
data dir and rdk_client reads every partition: each acknowledged record must be
at its acknowledged offset with its key and value, and each partition's offsets
must run from 0 without holes. Later rounds append to the recovered log.
"""

import os
import subprocess
import time

import clients
import durability
import harness
from harness import check, log

PARTITIONS = 6
KILL_AFTER = 4000  # acks seen before SIGKILL
STREAM = 400000  # records the producer would send if never interrupted


def produce_until_kill(broker, rdk, topic, start, ts0):
    p = subprocess.Popen([rdk, "produce", broker.bootstrap, topic, str(start), str(STREAM), "lz4",
                          str(ts0), "6000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    acks = {}
    try:
        for line in p.stdout:
            i, part, off = (int(x) for x in line.split())
            acks[i] = (part, off)
            if len(acks) == KILL_AFTER:
                broker.kill9()
        p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read().decode(errors="replace")
    check(len(acks) >= KILL_AFTER, "only %d acks before the producer ended:\n%s" %
          (len(acks), err[-2000:]))
    check(not broker.alive(), "broker was not killed")
    check(len(acks) < STREAM, "the producer finished before the kill; nothing was tested")
    return acks


def main(exe, args):
    rounds = int(args[0]) if args else 2
    rdk = os.environ.get("SL_RDK_CLIENT") or os.path.join(clients.WORK, "rdk_client")
    topic = "kill9-%d" % int(time.time())
    broker = harness.Broker(exe)
    try:
        broker.start()
        clients.run([rdk, "create", broker.bootstrap, topic, str(PARTITIONS)])
        ts0 = int(time.time() * 1000) - 600000
        acked = {}
        start = 0
        for rnd in range(rounds):
            acks = produce_until_kill(broker, rdk, topic, start, ts0)
            log("round %d: %d records acknowledged before/around SIGKILL" % (rnd, len(acks)))
            acked.update(acks)
            broker.start()
            start = durability.check_acknowledged(rdk, broker.bootstrap, topic, PARTITIONS,
                                                  acked, "round %d" % rnd)
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
