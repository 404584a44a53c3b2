"""Consumer-group member processes for the group integration tests.

A test starts real clients as separate processes (so one can be killed with
SIGKILL): group_member_ck.py (confluent-kafka/librdkafka), group_member_kpy.py
(kafka-python, sticky) and js/kafkajs_group.js (KafkaJS). Both print one line per event (A assignment,
C record processed, B commit asked, K commit done, E error); a reader thread
per process timestamps each line into one shared, ordered event list, which
check_delivery() replays to prove at-least-once delivery with redelivery only
from a committed offset, i.e. exactly once per committed offset.
"""

import os
import signal
import subprocess
import threading
import time

from harness import TestFailure, check, log
from confluent_kafka import Consumer, Producer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"

_lock = threading.Lock()
EVENTS = []  # (seq, time, member name, kind, fields)
MEMBERS = []  # every Member started, for kill_all()


class Member:
    def __init__(self, name, cmd, workdir):
        self.name = name
        self.assignment = None  # latest A line: sorted partitions
        self.assign_times = []  # (time, partitions)
        self.consumed = 0
        self.errors = []
        self.err_path = os.path.join(workdir, "member-%s.err" % name)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=open(self.err_path, "wb"))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        MEMBERS.append(self)
        log("member", name, "started:", os.path.basename(cmd[1]))

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            kind, _, rest = line.partition(" ")
            now = time.time()
            with _lock:
                if kind == "A":
                    parts = sorted(int(x) for x in rest.split(",") if x)
                    self.assignment = parts
                    self.assign_times.append((now, parts))
                elif kind == "C":
                    self.consumed += 1
                elif kind == "E":
                    self.errors.append(rest)
                EVENTS.append((len(EVENTS), now, self.name, kind, rest.split(" ")))

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.thread.join(5)
        log("member", self.name, "killed with SIGKILL")

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure("member %s ignored SIGTERM" % self.name)
        self.thread.join(5)
        check(rc == 0, "member %s exited with %d: %s" % (self.name, rc, self.stderr_tail()))

    def stderr_tail(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""


def kill_all():
    """SIGKILL every member still running (a test's finally: none may outlive it)."""
    for m in MEMBERS:
        if m.alive():
            m.proc.kill()
            m.proc.wait()


def ck_member(name, bootstrap, group, topic, strategy, session_ms, workdir, delay_ms=0):
    return Member(name, [PY, os.path.join(HERE, "group_member_ck.py"), bootstrap, group, topic,
                         strategy, str(session_ms), "sl-" + name, str(delay_ms)], workdir)


def kpy_member(name, bootstrap, group, topic, session_ms, workdir):
    return Member(name, [PY, os.path.join(HERE, "group_member_kpy.py"), bootstrap, group, topic,
                         str(session_ms)], workdir)


def js_member(name, bootstrap, group, topic, assignor, session_ms, workdir):
    check(os.path.isdir(os.path.join(HERE, "js", "node_modules")),
          "tests/integration/js/node_modules missing: run ./dev deps (npm ci)")
    return Member(name, ["node", os.path.join(HERE, "js", "kafkajs_group.js"), bootstrap, group,
                         topic, str(session_ms), assignor], workdir)


def assignments(members):
    with _lock:
        return [m.assignment for m in members]


def wait_split(members, parts, timeout=60.0, what="split", each=True):
    """Until the members' latest assignments cover 0..parts-1 exactly once
    (and each member owns some, if each). Returns the assignments."""
    deadline = time.time() + timeout
    while True:
        a = assignments(members)
        if all(x is not None for x in a):
            flat = sorted(p for x in a for p in x)
            if flat == list(range(parts)) and (not each or all(a)):
                return a
        for m in members:
            check(m.alive(), "member %s died: %s" % (m.name, m.stderr_tail()))
        if time.time() > deadline:
            raise TestFailure("%s: assignments %r after %.0fs" % (what, a, timeout))
        time.sleep(0.1)


def events():
    with _lock:
        return list(EVENTS)


def reset_events():
    """Forget the events (between scenarios, once their members are gone)."""
    with _lock:
        EVENTS.clear()


def key(i):
    return "k%06d" % i


def value(i):
    return "v%06d-%s" % (i, "x" * (i % 37))


def produce(bootstrap, topic, parts, start, count):
    """Records start..start+count-1 (key(i), value(i)) to partition i % parts, acks=all."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(start, start + count):
        p.produce(topic, key=key(i), value=value(i), partition=i % parts)
    check(p.flush(60) == 0, "producer did not flush")


def read_log(bootstrap, topic, parts, group):
    """Every record of the topic, {partition: [(key, value)] by offset}, and the
    group's committed offsets {partition: offset}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group + "-reader",
                  "enable.auto.commit": False})
    out = {}
    for p in range(parts):
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        check(lo == 0, "p%d starts at %d" % (p, lo))
        c.assign([TopicPartition(topic, p, 0)])
        recs = []
        deadline = time.time() + 30
        while len(recs) < hi and time.time() < deadline:
            for m in c.consume(1000, 0.5):
                check(m.error() is None, "reading the log: %s" % m.error())
                check(m.offset() == len(recs), "p%d: offset %d after %d records" %
                      (p, m.offset(), len(recs)))
                recs.append((m.key().decode(), m.value().decode()))
        check(len(recs) == hi, "p%d: read %d of %d records" % (p, len(recs), hi))
        out[p] = recs
    c.close()
    g = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    committed = g.committed([TopicPartition(topic, p) for p in range(parts)], timeout=10)
    g.close()
    return out, {tp.partition: tp.offset for tp in committed}


def committed_ends():
    """{partition: highest offset a K line reported}."""
    ends = {}
    for _s, _t, _n, kind, f in events():
        if kind == "K":
            p, o = int(f[0]), int(f[1])
            ends[p] = max(ends.get(p, 0), o)
    return ends


def check_delivery(log_records, parts):
    """Replays the events against the log (log_records[p] = [(key, value)] by
    offset). Checks: every record of the log was processed at least once, with
    the log's key and value; each member processes a partition in offset order;
    whenever a member starts (or restarts) reading a partition at an offset
    other than the next one, that offset is a committed one (a K line, or a B
    line of a member that may have died between commit and print) that is not
    behind the last commit seen, so records are redelivered only after the last
    commit. Returns (processed count, redelivered count)."""
    commit_points = {p: {0} for p in range(parts)}
    for _s, _t, _n, kind, f in events():
        if kind in ("B", "K"):
            commit_points[int(f[0])].add(int(f[1]))
    last_k = {p: 0 for p in range(parts)}
    cur = {}
    seen = {p: set() for p in range(parts)}
    total = redelivered = 0
    for _s, _t, name, kind, f in events():
        if kind == "K":
            p, o = int(f[0]), int(f[1])
            last_k[p] = max(last_k[p], o)
        if kind != "C":
            continue
        p, o, key, value = int(f[0]), int(f[1]), f[2], f[3]
        total += 1
        check(o < len(log_records[p]), "%s processed p%d@%d beyond the log end %d" %
              (name, p, o, len(log_records[p])))
        check((key, value) == log_records[p][o],
              "%s processed p%d@%d as %r, the log has %r" % (name, p, o, (key, value),
                                                              log_records[p][o]))
        prev = cur.get((name, p))
        if prev is None or o != prev + 1:
            check(o in commit_points[p],
                  "%s started p%d at %d (previous %r), not a committed offset %r" %
                  (name, p, o, prev, sorted(commit_points[p])[-5:]))
            check(o >= last_k[p], "%s re-read p%d from %d, behind the last commit %d" %
                  (name, p, o, last_k[p]))
        cur[(name, p)] = o
        if o in seen[p]:
            redelivered += 1
        seen[p].add(o)
    for p in range(parts):
        missing = sorted(set(range(len(log_records[p]))) - seen[p])
        check(not missing, "p%d: %d records never processed, first %r" %
              (p, len(missing), missing[:5]))
    return total, redelivered
