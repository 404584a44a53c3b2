#!/usr/bin/env python3
"""broker/tests/data_path_kcat.py — end-to-end test of the data path
(Produce, Fetch, ListOffsets) with a real client, kcat (librdkafka 2.0.2).

Starts `serpentlog start` (2 shards, 6 partitions per topic) on a free
loopback port, then:
  1. produces keyed, compressible messages with every codec (none, gzip,
     snappy, lz4, zstd) and every acks setting (0, 1, -1) to one topic whose
     6 partitions are spread over both shards;
  2. consumes everything with kcat and checks content, per-key order and
     per-partition offsets (0, 1, 2, ... without gaps), and that ListOffsets
     latest (kcat -Q) equals the number of records per partition;
  3. reads the partitions with raw Fetch v4 requests and checks that batches
     of all five codecs are stored and served as produced;
  4. long poll: a raw Fetch at the log end with max_wait 300 ms and no
     produce is answered empty after the wait; one over all 6 partitions with
     max_wait 5 s is answered as soon as a produce lands on any of them;
  5. restarts the broker (SIGTERM: exit 0, no sanitizer report) and checks
     that the same records come back at the same offsets.
Usage: data_path_kcat.py PATH/TO/serpentlog   (exit 77 = skipped: no kcat)
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
ACKS = ["0", "1", "-1"]
PER_COMBO = 60
TOPIC = "dp"


def start(binary, data_dir):
    proc = subprocess.Popen(
        [binary, "start", "--listen", "127.0.0.1:0", "--data-dir", data_dir, "--cores", "2",
         "--set", "num.partitions=6"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("serpentlog ready port="):
        proc.kill()
        raise AssertionError(f"no ready line: {line!r} {proc.stderr.read()}")
    return proc, int(line.strip().split("=")[1])


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("serpentlog did not exit within 30 s of SIGTERM")
    err = proc.stderr.read()
    assert rc == 0, f"exit code {rc}: {err}"
    for bad in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
        assert bad not in err, f"sanitizer report:\n{err}"
    return err


def kcat(args, stdin=None, timeout=60):
    out = subprocess.run(["kcat"] + args, input=stdin, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, f"kcat {' '.join(args)} failed: {out.stderr}"
    return out.stdout


def wait_topic(port, topic, partitions):
    deadline = time.time() + 15
    while True:
        md = json.loads(kcat(["-b", f"127.0.0.1:{port}", "-L", "-J", "-t", topic]))
        t = md["topics"][0]
        if not t.get("error") and len(t["partitions"]) == partitions:
            return
        assert time.time() < deadline, f"topic {topic} never appeared: {t}"
        time.sleep(0.2)


def produce_all(port):
    """Returns {key: [values in produce order]}."""
    sent = {}
    for codec in CODECS:
        for acks in ACKS:
            lines = []
            for i in range(PER_COMBO):
                key = f"k{i % 12}"
                # Compressible values: librdkafka sends tiny batches raw.
                val = f"{codec}/{acks}/{i}/" + "abcdefgh" * 40
                sent.setdefault(key, []).append(val)
                lines.append(f"{key}:{val}")
            kcat(["-b", f"127.0.0.1:{port}", "-P", "-t", TOPIC, "-K:", "-z", codec,
                  "-X", f"request.required.acks={acks}", "-X", "linger.ms=20"],
                 stdin="\n".join(lines) + "\n")
    return sent


def consume_all(port):
    out = kcat(["-b", f"127.0.0.1:{port}", "-C", "-t", TOPIC, "-e", "-J", "-o", "beginning"])
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def check_consumed(msgs, sent):
    total = sum(len(v) for v in sent.values())
    assert len(msgs) == total, f"consumed {len(msgs)} of {total}"
    by_part = {}
    got = {}
    key_part = {}
    for m in msgs:
        by_part.setdefault(m["partition"], []).append(m["offset"])
        got.setdefault(m["key"], []).append((m["partition"], m["offset"], m["payload"]))
    for p, offs in by_part.items():
        assert offs == list(range(len(offs))), f"partition {p}: offsets {offs[:10]}..."
    for key, vals in sent.items():
        rows = sorted(got.get(key, []), key=lambda r: r[1])
        parts = {r[0] for r in rows}
        assert len(parts) == 1, f"key {key} on partitions {parts}"
        key_part[key] = parts.pop()
        assert [r[2] for r in rows] == vals, f"key {key}: content/order differs"
    assert len(by_part) >= 4, f"keys landed on only {sorted(by_part)}"
    return {p: len(o) for p, o in by_part.items()}


def check_latest(port, counts):
    for p in range(6):
        out = kcat(["-b", f"127.0.0.1:{port}", "-Q", "-t", f"{TOPIC}:{p}:-1"])
        # "dp [p] offset N"
        off = int(out.split("offset")[1].split()[0])
        assert off == counts.get(p, 0), f"partition {p}: ListOffsets latest {off}, " \
                                        f"consumed {counts.get(p, 0)}"


# ---- raw protocol ----

def frame(api_key, version, corr, body):
    hdr = struct.pack(">hhih", api_key, version, corr, 2) + b"dp"
    payload = hdr + body
    return struct.pack(">i", len(payload)) + payload


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise AssertionError("connection closed")
        buf += chunk
    return buf


def recv_frame(sock):
    (n,) = struct.unpack(">i", recv_exact(sock, 4))
    return recv_exact(sock, n)


def fetch_v4(sock, corr, partition, offset, max_wait_ms, min_bytes, max_bytes=1 << 20):
    body = struct.pack(">iiiib", -1, max_wait_ms, min_bytes, 50 << 20, 0)
    body += struct.pack(">i", 1) + struct.pack(">h", len(TOPIC)) + TOPIC.encode()
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, max_bytes)
    sock.sendall(frame(1, 4, corr, body))
    r = recv_frame(sock)
    c, _throttle, ntopics = struct.unpack(">iii", r[:12])
    assert c == corr and ntopics == 1, (c, ntopics)
    pos = 12
    (tlen,) = struct.unpack(">h", r[pos:pos + 2])
    pos += 2 + tlen
    (nparts,) = struct.unpack(">i", r[pos:pos + 4])
    pos += 4
    assert nparts == 1
    p, err, hw, lso = struct.unpack(">ihqq", r[pos:pos + 22])
    pos += 22
    (naborted,) = struct.unpack(">i", r[pos:pos + 4])
    pos += 4 + max(naborted, 0) * 16
    (rlen,) = struct.unpack(">i", r[pos:pos + 4])
    pos += 4
    records = r[pos:pos + rlen]
    assert pos + rlen == len(r), "trailing bytes in Fetch v4 response"
    return err, hw, records


def batches(records):
    """Yields (base_offset, codec, count) of the complete batches."""
    pos = 0
    while pos + 61 <= len(records):
        base, blen = struct.unpack(">qi", records[pos:pos + 12])
        if pos + 12 + blen > len(records):
            break
        attrs, = struct.unpack(">h", records[pos + 21:pos + 23])
        count, = struct.unpack(">i", records[pos + 57:pos + 61])
        yield base, attrs & 7, count
        pos += 12 + blen


def api_keys(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(frame(18, 0, 1, b""))
    r = recv_frame(s)
    s.close()
    (n,) = struct.unpack(">i", r[6:10])
    return {struct.unpack(">h", r[10 + 6 * i:12 + 6 * i])[0] for i in range(n)}


def check_raw_codecs(port, counts):
    seen = set()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    corr = 100
    for p, n in counts.items():
        off = 0
        while off < n:
            corr += 1
            err, hw, rec = fetch_v4(s, corr, p, off, 0, 1)
            assert err == 0 and hw == n, f"partition {p}: err {err} hw {hw} want {n}"
            last = off
            for base, codec, count in batches(rec):
                seen.add(codec)
                last = base + count
            assert last > off, f"partition {p}: no progress at {off}"
            off = last
    s.close()
    want = {0, 1, 2, 3, 4}
    if 10 not in api_keys(port):
        # librdkafka <= 2.11 enables lz4 only when FindCoordinator v0 is
        # advertised (ENCODING §5.3); until then kcat sends lz4 batches raw.
        want.discard(3)
    assert want <= seen, f"codecs stored: {sorted(seen)}, want {sorted(want)}"


def check_long_poll(port, counts):
    p = 0
    end = counts.get(p, 0)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    # Nothing arrives: answered empty after about max_wait.
    t0 = time.time()
    err, hw, rec = fetch_v4(s, 1, p, end, 300, 1)
    waited = time.time() - t0
    assert err == 0 and rec == b"" and hw == end, (err, hw, len(rec))
    assert 0.25 <= waited < 3, f"empty long poll answered after {waited:.3f} s"
    # A produce to any of the 6 partitions (owned by both shards, so at least
    # one wake-up crosses shards) wakes a fetch waiting on all of them.
    for p in range(6):
        body = struct.pack(">iiiib", -1, 5000, 1, 1 << 20, 0)
        body += struct.pack(">i", 1) + struct.pack(">h", len(TOPIC)) + TOPIC.encode()
        body += struct.pack(">i", 6)
        for q in range(6):
            body += struct.pack(">iqi", q, counts.get(q, 0), 1 << 20)
        s.sendall(frame(1, 4, 10 + p, body))
        time.sleep(0.2)
        t0 = time.time()
        kcat(["-b", f"127.0.0.1:{port}", "-P", "-t", TOPIC, "-p", str(p)], stdin=f"wake-{p}\n")
        r = recv_frame(s)
        waited = time.time() - t0
        assert struct.unpack(">i", r[:4])[0] == 10 + p
        assert waited < 2.5, f"long poll woke after {waited:.3f} s"
        assert f"wake-{p}".encode() in r, f"woken fetch carries no record for {p}"
        counts[p] = counts.get(p, 0) + 1
    s.close()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    if not shutil.which("kcat"):
        print("kcat not installed: skipped")
        return SKIP
    data_dir = tempfile.mkdtemp(prefix="serpentlog-dp-")
    proc = None
    try:
        proc, port = start(binary, data_dir)
        kcat(["-b", f"127.0.0.1:{port}", "-L", "-t", TOPIC])  # auto-creates
        wait_topic(port, TOPIC, 6)
        sent = produce_all(port)
        msgs = consume_all(port)
        counts = check_consumed(msgs, sent)
        check_latest(port, counts)
        check_raw_codecs(port, counts)
        check_long_poll(port, counts)
        stop(proc)
        proc = None

        proc, port = start(binary, data_dir)
        msgs2 = consume_all(port)
        wake = [m for m in msgs2 if m["payload"].startswith("wake-")]
        assert sorted((m["partition"], m["payload"]) for m in wake) == \
            [(p, f"wake-{p}") for p in range(6)], wake
        msgs2 = [m for m in msgs2 if not m["payload"].startswith("wake-")]
        key = lambda m: (m["partition"], m["offset"])
        assert sorted(msgs2, key=key) == sorted(msgs, key=key), "records differ after restart"
        check_latest(port, counts)
        stop(proc)
        proc = None
        print("data path (kcat): ok")
        return 0
    finally:
        if proc:
            proc.kill()
            proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
