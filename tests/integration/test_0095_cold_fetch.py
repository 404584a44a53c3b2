"""0095: a lagging consumer's disk reads happen on the I/O helper, not the reactor.

Usage: test_0095_cold_fetch.py SERPENTLOG
A one-shard broker (--cores 1: every partition and connection on one reactor).
About 40 MB go to lag/0; the test then syncs the partition's segment files and
drops them from the page cache (POSIX_FADV_DONTNEED), as drop-behind does for a
partition gigabytes long. A raw consumer reads lag/0 from offset 0 with 1 MiB
Fetches while another connection produces acks=1 to lag/1 every 10 ms.

Checks:
- the consumer gets every byte exactly as the segment file holds it, batches
  in offset order, up to the high watermark;
- the disk reads were made by a thread other than the reactor (the reactor is
  the one thread found in epoll_wait while the broker idles): its read_bytes
  in /proc/PID/task/TID/io stays under 10% of what was consumed, while the
  broker's threads together read at least half of it from disk (so the data
  really was cold). Without the residency check the reactor's sendfile or
  copy reads it all (read_bytes ~ 100%);
- the broker logged that cold ranges go through the helper, and the
  concurrent produces were all answered (their worst latency is printed);
- SIGTERM exits 0.
"""

import glob
import os
import struct
import threading
import time

import harness
from harness import batch_headers, build_batch, check, log

TOPIC = "lag"
BATCHES = 40  # ~1 MB each
RECORDS_PER_BATCH = 100


def thread_io(pid):
    """{tid: (read_bytes, wchar)} of every thread of pid."""
    out = {}
    for path in glob.glob("/proc/%d/task/*/io" % pid):
        tid = int(path.split("/")[4])
        vals = {}
        try:
            with open(path) as f:
                for line in f:
                    k, v = line.split(":")
                    vals[k] = int(v)
        except OSError:
            continue  # thread gone
        out[tid] = (vals.get("read_bytes", 0), vals.get("wchar", 0))
    return out


def reactor_threads(pid):
    """Threads of an idle broker sitting in epoll_wait / epoll_pwait (x86_64
    232 / 281, aarch64 22): the shards' reactors (the helpers wait on condition
    variables, the main thread on signals or joins)."""
    epoll = {"232", "281", "22", "441"}
    found = set()
    for _ in range(20):
        for path in glob.glob("/proc/%d/task/*/syscall" % pid):
            try:
                with open(path) as f:
                    nr = f.read().split()[0]
            except (OSError, IndexError):
                continue
            if nr in epoll:
                found.add(int(path.split("/")[4]))
        if found:
            return found
        time.sleep(0.05)
    raise harness.TestFailure("no broker thread found in epoll_wait")


def drop_cache(data_dir):
    files = glob.glob(os.path.join(data_dir, TOPIC + "-0", "*.log"))
    check(files, "no segment files of %s-0 under %s" % (TOPIC, data_dir))
    for p in files:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return files


class Producer(threading.Thread):
    """acks=1 produces to lag/1 every 10 ms until stopped; records latencies."""

    def __init__(self, bootstrap):
        super().__init__(daemon=True)
        self.conn = harness.Conn(bootstrap, timeout=30)
        ts = int(time.time() * 1000)
        self.batch = build_batch([(b"p", b"x" * 200, [], ts)], ts)
        self.lat = []
        self.err = None
        self.stop_flag = threading.Event()

    def run(self):
        try:
            while not self.stop_flag.is_set():
                t0 = time.monotonic()
                err, _ = self.conn.produce(TOPIC, 1, self.batch, acks=1)
                self.lat.append(time.monotonic() - t0)
                if err:
                    self.err = "produce error %d" % err
                    return
                time.sleep(0.01)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.err = repr(e)
        finally:
            self.conn.close()


def main(exe, _args):
    b = harness.Broker(exe, cores=1)
    b.start()
    try:
        c = harness.Conn(b.bootstrap, timeout=30)
        check(c.create_topics([(TOPIC, 2)])[TOPIC][0] == 0, "create %s" % TOPIC)
        ts = int(time.time() * 1000)
        recs = [(b"k%d" % i, b"v-%06d-" % i + b"y" * 9800, [], ts)
                for i in range(RECORDS_PER_BATCH)]
        batch = build_batch(recs, ts)
        for _ in range(BATCHES):
            err, _ = c.produce(TOPIC, 0, batch, acks=1)
            check(err == 0, "produce to %s/0: error %d" % (TOPIC, err))
        files = drop_cache(b.data_dir)
        log("dropped %d segment file(s) of %s-0 from the page cache" % (len(files), TOPIC))

        reactors = reactor_threads(b.proc.pid)
        check(len(reactors) == 1, "one shard, but reactors %r" % (reactors,))
        reactor = reactors.pop()
        prod = Producer(b.bootstrap)
        before = thread_io(b.proc.pid)
        prod.start()
        got = bytearray()
        off, hw = 0, None
        t0 = time.monotonic()
        while hw is None or off < hw:
            err, hw, data = c.fetch(TOPIC, 0, off, max_bytes=1 << 20, max_wait_ms=10)
            check(err == 0, "fetch %s/0@%d: error %d" % (TOPIC, off, err))
            heads = batch_headers(data)
            check(heads, "fetch at %d returned no batch (hw %d)" % (off, hw))
            check(heads[0][0] == off, "fetch at %d starts at batch %d" % (off, heads[0][0]))
            got += data
            off = heads[-1][0] + heads[-1][1]
        secs = time.monotonic() - t0
        prod.stop_flag.set()
        prod.join(30)
        after = thread_io(b.proc.pid)
        check(prod.err is None, "concurrent producer: %s" % prod.err)
        check(prod.lat, "the concurrent producer got no answer")
        log("consumed %d bytes in %.2f s; %d concurrent produces, worst %.1f ms" %
            (len(got), secs, len(prod.lat), 1000 * max(prod.lat)))

        # Exactly the file's bytes: all batches of the only segment, in order.
        check(len(files) == 1, "expected one segment, found %d" % len(files))
        with open(files[0], "rb") as f:
            disk = f.read()
        at = disk.find(bytes(got[:4096]))
        check(at > 0, "fetched bytes not found in the segment file")
        check(disk[at:at + len(got)] == bytes(got), "fetched bytes differ from the file")
        check(off == BATCHES * RECORDS_PER_BATCH, "consumed up to %d" % off)
        check(struct.unpack(">q", got[:8])[0] == 0, "first batch not at offset 0")

        delta = {t: (after[t][0] - before.get(t, (0, 0))[0],
                     after[t][1] - before.get(t, (0, 0))[1]) for t in after}
        total_read = sum(d[0] for d in delta.values())
        log("per-thread (read_bytes, wchar) during the consume:", delta, "reactor:", reactor)
        check(total_read >= len(got) // 2,
              "the broker read only %d bytes from disk for %d consumed: the page cache "
              "was not dropped (tmpfs?)" % (total_read, len(got)))
        check(delta[reactor][0] < len(got) // 10,
              "the reactor thread read %d of %d bytes from disk itself" %
              (delta[reactor][0], len(got)))
        c.close()
        b.stop()
        with open(b._log_path(), "rb") as f:
            text = f.read().decode(errors="replace")
        check("cold file ranges are read in by the I/O helper" in text,
              "the broker did not log its cold-read path")
    finally:
        b.close()


if __name__ == "__main__":
    harness.run_test(main)
