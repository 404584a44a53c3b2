#!/usr/bin/env python3
"""broker/tests/smoke.py — integration smoke test of the serpentlog binary.

Starts `serpentlog start` on a free loopback port with a temp data dir, lists
metadata with kcat (a real librdkafka client), checks a second broker can
share neither its port nor its data dir, auto-creates a topic, then
sends framing-level bad input on raw sockets (Redis protocol.tcl style):
truncated frames, sizes over the limit and negative, an unknown api key, an
unsupported version, ApiVersions v127 (must get the v0 UNSUPPORTED_VERSION
answer and stay open), an undecodable body. After each, the connection must be
closed, and a connection opened before the abuse and a fresh kcat must still
work. Then SIGTERM (exit 0, no sanitizer report), `serpentlog verify` on the
data dir (clean, then with a flipped byte), a restart that still lists the
topic, and a run with max.connections=2 refusing a third client.
Usage: smoke.py PATH/TO/serpentlog
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


def frame(api_key, version, corr, body=b"", flexible=False):
    hdr = struct.pack(">hhih", api_key, version, corr, 5) + b"smoke"
    if flexible:
        hdr += b"\x00"
    payload = hdr + body
    return struct.pack(">i", len(payload)) + payload


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return buf
        buf += chunk
    return buf


def recv_frame(sock):
    size = recv_exact(sock, 4)
    if len(size) < 4:
        return None
    (n,) = struct.unpack(">i", size)
    return recv_exact(sock, n)


def expect_closed(port, data, what):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    try:
        got = s.recv(1)
    except ConnectionResetError:
        got = b""
    s.close()
    if got != b"":
        raise AssertionError(f"{what}: connection not closed (got {got!r})")


def api_versions_ok(sock, corr):
    sock.sendall(frame(18, 0, corr))
    resp = recv_frame(sock)
    assert resp is not None, "ApiVersions v0: no answer"
    c, err = struct.unpack(">ih", resp[:6])
    assert c == corr and err == 0, f"ApiVersions v0: corr {c} err {err}"
    (n,) = struct.unpack(">i", resp[6:10])
    keys = {}
    for i in range(n):
        k, lo, hi = struct.unpack(">hhh", resp[10 + 6 * i:16 + 6 * i])
        keys[k] = (lo, hi)
    return keys


def kcat_metadata(port, topic=None):
    cmd = ["kcat", "-b", f"127.0.0.1:{port}", "-L", "-J", "-m", "10"]
    if topic:
        cmd += ["-t", topic]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"kcat -L failed: {out.stderr}"
    return json.loads(out.stdout)


def start(binary, data_dir, *extra):
    proc = subprocess.Popen(
        [binary, "start", "--listen", "127.0.0.1:0", "--data-dir", data_dir, "--cores", "2",
         *extra],
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


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    if not shutil.which("kcat"):
        print("kcat not installed: skipped")
        return SKIP
    data_dir = tempfile.mkdtemp(prefix="serpentlog-smoke-")
    proc = None
    try:
        proc, port = start(binary, data_dir)

        md = kcat_metadata(port)
        assert [(b["id"], b["name"]) for b in md["brokers"]] == [(0, f"127.0.0.1:{port}")], md

        # A second broker may share neither the port (SO_REUSEPORT would let it)
        # nor the data dir.
        other = tempfile.mkdtemp(prefix="serpentlog-smoke-other-")
        try:
            for args, why in ((["--listen", f"127.0.0.1:{port}", "--data-dir", other],
                               "already in use"),
                              (["--listen", "127.0.0.1:0", "--data-dir", data_dir],
                               "in use by another")):
                r = subprocess.run([binary, "start", *args], capture_output=True, text=True,
                                   timeout=30)
                assert r.returncode == 1 and why in r.stderr, r.stderr
        finally:
            shutil.rmtree(other, ignore_errors=True)
        assert md["controllerid"] == 0, md

        # Auto-creation: first answer UNKNOWN_TOPIC_OR_PARTITION, then the topic.
        deadline = time.time() + 10
        while True:
            t = kcat_metadata(port, "smoke_topic")["topics"][0]
            if not t.get("error") and len(t["partitions"]) == 1:
                break
            assert time.time() < deadline, f"topic never appeared: {t}"
            time.sleep(0.2)
        assert t["partitions"][0]["leader"] == 0

        keeper = socket.create_connection(("127.0.0.1", port), timeout=5)
        keys = api_versions_ok(keeper, 1)
        assert keys[18] == (0, 4) and keys[3] == (0, 12), keys

        # kafka-python's probe: ApiVersions v0 and Metadata v0 pipelined.
        keeper.sendall(frame(18, 0, 2) + frame(3, 0, 3, struct.pack(">i", 0)))
        r1, r2 = recv_frame(keeper), recv_frame(keeper)
        assert struct.unpack(">i", r1[:4])[0] == 2 and struct.unpack(">i", r2[:4])[0] == 3

        # Truncated frames: the broker waits, then the peer leaves.
        for partial in (b"\x00\x00", frame(3, 1, 9, b"\xff\xff\xff\xff")[:10]):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(partial)
            s.close()

        expect_closed(port, struct.pack(">i", 0x7fffffff) + b"\x00" * 8, "size over the limit")
        expect_closed(port, struct.pack(">i", 104857601) + b"\x00" * 8, "size limit + 1")
        expect_closed(port, struct.pack(">i", -5) + b"\x00" * 8, "negative size")
        expect_closed(port, struct.pack(">i", 3) + b"\x00" * 3, "size below the header")
        expect_closed(port, frame(1000, 0, 1), "unknown api key")
        expect_closed(port, frame(3, 13, 1, b"\x00", flexible=True), "Metadata v13")
        expect_closed(port, frame(3, 1, 1, b"\x00\x00\xff\xff"), "garbage Metadata body")
        expect_closed(port, frame(18, 3, 1, b"\x55" * 7, flexible=True), "garbage ApiVersions v3")

        # ApiVersions v127: v0 error answer, connection stays open.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(frame(18, 127, 1, b"\x99\x98", flexible=True))
        got = recv_exact(s, 20)
        want = bytes.fromhex("00000010000000010023000000010012000000 04".replace(" ", ""))
        assert got == want, f"ApiVersions v127 answer {got.hex()}"
        api_versions_ok(s, 2)
        s.close()

        # Everyone else is unaffected.
        api_versions_ok(keeper, 10)
        keeper.close()
        md = kcat_metadata(port)
        assert any(t["topic"] == "smoke_topic" for t in md["topics"]), md

        # Some records, for `serpentlog verify` below.
        out = subprocess.run(["kcat", "-P", "-b", f"127.0.0.1:{port}", "-t", "smoke_topic",
                              "-X", "acks=all"], input="a\nb\nc\n", text=True,
                             capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr

        stop(proc)
        proc = None

        # verify: a clean data dir passes; a flipped record byte is found.
        v = subprocess.run([binary, "verify", data_dir], capture_output=True, text=True)
        assert v.returncode == 0 and ", 0 damaged" in v.stdout, v.stdout + v.stderr
        part = os.path.join(data_dir, "smoke_topic-0")
        logs = sorted(f for f in os.listdir(part) if f.endswith(".log"))
        seg = os.path.join(part, logs[-1])
        with open(seg, "r+b") as f:
            f.seek(-3, os.SEEK_END)
            b = f.read(1)
            f.seek(-3, os.SEEK_END)
            f.write(bytes([b[0] ^ 0x40]))
        v = subprocess.run([binary, "verify", part], capture_output=True, text=True)
        assert v.returncode == 1 and "DAMAGED" in v.stdout, v.stdout + v.stderr
        with open(seg, "r+b") as f:  # repair for the restart below
            f.seek(-3, os.SEEK_END)
            f.write(b)

        # The registry survives a restart.
        proc, port = start(binary, data_dir)
        md = kcat_metadata(port)
        assert any(t["topic"] == "smoke_topic" and len(t["partitions"]) == 1
                   for t in md["topics"]), md
        stop(proc)
        proc = None

        # max.connections: the third connection is refused, the first two work.
        proc, port = start(binary, data_dir, "--set", "max.connections=2")
        a = socket.create_connection(("127.0.0.1", port), timeout=5)
        b = socket.create_connection(("127.0.0.1", port), timeout=5)
        api_versions_ok(a, 1)
        api_versions_ok(b, 1)
        expect_closed(port, frame(18, 0, 1), "connection over max.connections")
        api_versions_ok(a, 2)
        b.close()
        deadline = time.time() + 5
        while True:  # the broker notices b's close asynchronously
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            try:
                c.sendall(frame(18, 0, 3))
                if recv_frame(c) is not None:
                    break
            except (ConnectionResetError, BrokenPipeError):
                pass
            c.close()
            assert time.time() < deadline, "slot of a closed connection never freed"
            time.sleep(0.05)
        c.close()
        a.close()
        stop(proc)
        proc = None
        # A backend that is not built in fails startup cleanly.
        r = subprocess.run([binary, "start", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
                            "--set", "network.backend=dpdk"], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 1 and "not built" in r.stderr, r.stderr
        assert "Sanitizer" not in r.stderr, r.stderr
        print("broker smoke: ok")
        return 0
    finally:
        if proc:
            proc.kill()
            proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
