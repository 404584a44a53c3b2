"""0083: SIGTERM / SIGINT under acks=all load: exit 0, nothing acknowledged lost.

Usage: test_0083_signal_mid_stream.py SERPENTLOG [ROUNDS]
Like test_0040, but a graceful stop instead of SIGKILL: rdk_client produces a
long acks=all stream into a 6-partition topic (two shards: produce and the
group commit cross shards) and, once enough acks have arrived, the broker gets
SIGTERM (even rounds) or SIGINT (odd rounds) mid-stream. It must answer what
it received, sync, and exit 0 (so no sanitizer report: the shutdown barrier
lets no shard leave with a call in flight) without the barrier's timeout;
after a restart every acknowledged record is at its acknowledged offset and
each partition's offsets run from 0 without holes.
"""

import os
import signal
import subprocess
import threading
import time

import clients
import durability
import harness
from harness import check, log

PARTITIONS = 6
SIGNAL_AFTER = 3000  # acks seen before the signal
STREAM = 400000  # records the producer would send if never interrupted


def produce_until_signal(broker, rdk, topic, start, ts0, sig):
    p = subprocess.Popen([rdk, "produce", broker.bootstrap, topic, str(start), str(STREAM), "lz4",
                          str(ts0), "6000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    acks = {}
    proc = broker.proc
    exited = {}

    def wait_broker():
        exited["rc"] = proc.wait()
        exited["at"] = time.time()
        # No ack can come any more (each one is flushed as it arrives): spare
        # the producer's message timeout.
        time.sleep(0.5)
        p.kill()

    t_sig = None
    try:
        for line in p.stdout:
            i, part, off = (int(x) for x in line.split())
            acks[i] = (part, off)
            if len(acks) == SIGNAL_AFTER:
                proc.send_signal(sig)
                t_sig = time.time()
                waiter = threading.Thread(target=wait_broker, daemon=True)
                waiter.start()
        p.wait(timeout=120)
        if t_sig:
            waiter.join(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check("rc" in exited, "broker still running 60 s after %s" % signal.Signals(sig).name)
    rc = exited["rc"]
    took = exited["at"] - t_sig
    broker.proc = None
    err = p.stderr.read().decode(errors="replace")
    check(len(acks) >= SIGNAL_AFTER, "only %d acks before the producer ended:\n%s" %
          (len(acks), err[-2000:]))
    check(len(acks) < STREAM, "the producer finished before the signal; nothing was tested")
    check(rc == 0, "broker exited with status %d after %s:\n%s" %
          (rc, signal.Signals(sig).name, broker.log_tail()))
    with open(broker._log_path(), "rb") as f:
        text = f.read().decode(errors="replace")
    check("shutdown barrier" not in text, "the stop needed the barrier's timeout:\n" +
          broker.log_tail())
    return acks, took


def main(exe, args):
    rounds = int(args[0]) if args else 2
    rdk = os.environ.get("SL_RDK_CLIENT") or os.path.join(clients.WORK, "rdk_client")
    topic = "signal-%d" % int(time.time())
    broker = harness.Broker(exe)
    try:
        broker.start()
        clients.run([rdk, "create", broker.bootstrap, topic, str(PARTITIONS)])
        ts0 = int(time.time() * 1000) - 600000
        acked = {}
        start = 0
        for rnd in range(rounds):
            sig = signal.SIGTERM if rnd % 2 == 0 else signal.SIGINT
            acks, took = produce_until_signal(broker, rdk, topic, start, ts0, sig)
            log("round %d: %s after %d acks, exit 0 %.1f s later" %
                (rnd, sig.name, len(acks), took))
            acked.update(acks)
            broker.start()
            start = durability.check_acknowledged(rdk, broker.bootstrap, topic, PARTITIONS,
                                                  acked, "round %d" % rnd)
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
