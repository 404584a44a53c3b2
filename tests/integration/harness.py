"""Integration-test harness: broker processes and raw Kafka frames (stdlib only).

Starts a real `serpentlog` on a free 127.0.0.1 port with a temporary data dir,
stops it (SIGTERM, exit status 0 required), kills it with SIGKILL and restarts
it on the same data dir and port. Also speaks the Kafka wire protocol by hand
(struct-built requests, a record batch v2 builder/parser with a table CRC-32C)
so tests can send exactly the bytes they mean, good or bad.

Run by /usr/bin/python3 (Debian's, where python3-kafka and confluent-kafka live).
Set SL_IT_MOCK_CLUSTER=<path to bench/mock_cluster> to develop client code
against librdkafka's mock broker (no admin API, no restart: tests skip those).
"""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib


class TestFailure(Exception):
    """An assertion about broker behaviour failed."""


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def free_port():
    """A free port below the ephemeral range (32768+ on Linux), so client
    connections of parallel tests cannot take it between broker restarts."""
    rnd = random.SystemRandom()
    for _ in range(200):
        port = rnd.randrange(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise TestFailure("no free port in 20000-31999")


# --------------------------------------------------------------------------
# Broker process control


_BROKERS = []  # every Broker of this test, for post-mortems


class Broker:
    """One broker process on 127.0.0.1:port with a data dir that outlives restarts."""

    def __init__(self, exe, cores=None, extra_args=(), mock_topics=()):
        self.mock = os.environ.get("SL_IT_MOCK_CLUSTER")
        self.exe = exe
        # Two shards by default so partitions live on a shard other than the
        # connection's and cross-shard produce/fetch paths are exercised.
        self.cores = cores or int(os.environ.get("SL_IT_CORES", "2"))
        self.extra_args = list(extra_args)
        self.mock_topics = list(mock_topics)
        self.tmp = tempfile.mkdtemp(prefix="sl-integ-")
        # SL_IT_BROKER_YAML: broker config for a variant run of a whole test
        # (ctest registers some tests twice, e.g. with fetch.send.mode: sendfile).
        variant = os.environ.get("SL_IT_BROKER_YAML")
        if variant and "--config" not in self.extra_args:
            path = os.path.join(self.tmp, "variant.yaml")
            with open(path, "w") as f:
                f.write(variant + "\n")
            self.extra_args += ["--config", path]
        self.data_dir = os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir)
        self.port = free_port()
        self.proc = None
        self.starts = 0
        self.post_mortem = None
        _BROKERS.append(self)

    @property
    def is_mock(self):
        return bool(self.mock)

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def _log_path(self):
        return os.path.join(self.tmp, "broker-%d.log" % self.starts)

    def start(self, timeout=30.0):
        check(self.proc is None, "broker already running")
        self.starts += 1
        logf = open(self._log_path(), "wb")
        if self.mock:
            args = [self.mock]
            for t in self.mock_topics:
                args += ["--topic", t]
            self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=logf)
            line = self.proc.stdout.readline().decode().strip()
            check(line, "mock cluster printed no bootstrap address")
            self.port = int(line.split(",")[0].rsplit(":", 1)[1])
        else:
            args = [self.exe, "start", "--listen", self.bootstrap, "--data-dir", self.data_dir,
                    "--cores", str(self.cores)] + self.extra_args
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise TestFailure("broker exited during startup:\n" + self.log_tail())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                log("broker up on", self.bootstrap, "(start #%d)" % self.starts)
                return
            except OSError:
                time.sleep(0.05)
        self.kill9()
        raise TestFailure("broker did not accept connections within %.0fs" % timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30.0):
        """Graceful stop: SIGTERM, and the broker must exit with status 0."""
        check(self.proc is not None, "broker not running")
        if self.mock:
            self.proc.stdin.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise TestFailure("broker ignored SIGTERM for %.0fs" % timeout)
        self.proc = None
        check(rc == 0, "broker exited with status %d after SIGTERM:\n%s" % (rc, self.log_tail()))
        log("broker stopped cleanly")

    def kill9(self):
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        log("broker killed with SIGKILL")

    def restart(self):
        self.stop()
        self.start()

    def log_tail(self, n=40):
        """The end of the current broker log, or from a sanitizer report's first line."""
        try:
            with open(self._log_path(), "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        for j, line in enumerate(lines):
            if "ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line or \
                    "runtime error:" in line:
                return "\n".join(lines[max(0, j - 5):j + 45])
        return "\n".join(lines[-n:])

    def close(self, keep=False):
        if self.proc is not None and self.proc.poll() is not None:
            self.post_mortem = (self.proc.returncode, self.log_tail())  # died on its own
        if self.alive():
            self.kill9()
        self.proc = None
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def run_test(main):
    """Run main(broker_exe, args) and exit 0 on success, 1 on failure (ctest convention).

    Any exception fails the test; a broker that died on its own gets its log shown."""
    exe = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SERPENTLOG", "")
    try:
        main(exe, sys.argv[2:])
    except Exception as e:  # noqa: BLE001 - every error is a test failure
        if not isinstance(e, TestFailure):
            import traceback
            traceback.print_exc()
        log("FAIL:", e)
        for b in _BROKERS:
            if b.post_mortem:
                log("broker exited unexpectedly with status %d:\n%s" % b.post_mortem)
        sys.exit(1)
    log("PASS")
    sys.exit(0)


# --------------------------------------------------------------------------
# CRC-32C (Castagnoli), table-driven; only for tests.

_CRC32C_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    tab = _CRC32C_TABLE
    for b in data:
        crc = tab[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


# --------------------------------------------------------------------------
# Primitive encoders / a bounds-checked reader


def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def bytes_(b):
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def array(items, enc=lambda x: x):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(enc(x) for x in items)


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(n):
    return uvarint((n << 1) ^ (n >> 63))


def compact_string(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, n):
        check(n >= 0 and self.p + n <= len(self.d),
              "response truncated: need %d bytes at %d of %d" % (n, self.p, len(self.d)))
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def _s(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def i8(self):
        return self._s(">b")

    def i16(self):
        return self._s(">h")

    def i32(self):
        return self._s(">i")

    def i64(self):
        return self._s(">q")

    def u32(self):
        return self._s(">I")

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes_(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def array(self, fn):
        n = self.i32()
        return None if n < 0 else [fn(self) for _ in range(n)]

    def uvarint(self):
        shift = res = 0
        while True:
            b = self.take(1)[0]
            res |= (b & 0x7F) << shift
            if not b & 0x80:
                return res
            shift += 7
            check(shift < 70, "varint too long")

    def varint(self):
        u = self.uvarint()
        return (u >> 1) ^ -(u & 1)

    def remaining(self):
        return len(self.d) - self.p


# --------------------------------------------------------------------------
# Record batch v2


def build_batch(records, base_ts, codec=0, producer_id=-1, producer_epoch=-1, base_seq=-1,
                count_override=None, corrupt_crc=False, last_delta_override=None):
    """records: list of (key, value, [(hkey, hval)], ts). Returns batch bytes (baseOffset 0)."""
    body = bytearray()
    for i, (k, v, hdrs, ts) in enumerate(records):
        r = bytearray(b"\x00")
        r += varint(ts - base_ts) + varint(i)
        r += varint(-1) if k is None else varint(len(k)) + k
        r += varint(-1) if v is None else varint(len(v)) + v
        r += varint(len(hdrs))
        for hk, hv in hdrs:
            r += varint(len(hk)) + hk
            r += varint(-1) if hv is None else varint(len(hv)) + hv
        body += varint(len(r)) + r
    if codec == 1:
        c = zlib.compressobj(6, zlib.DEFLATED, 31)
        body = c.compress(bytes(body)) + c.flush()
    elif codec != 0:
        raise ValueError("raw batches support codecs none and gzip only")
    n = len(records)
    max_ts = max((r[3] for r in records), default=base_ts)
    last_delta = n - 1 if last_delta_override is None else last_delta_override
    count = n if count_override is None else count_override
    after_crc = (i16(codec) + i32(last_delta) + i64(base_ts) + i64(max_ts) + i64(producer_id) +
                 i16(producer_epoch) + i32(base_seq) + i32(count) + bytes(body))
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0x5A5A5A5A
    tail = i32(0) + i8(2) + struct.pack(">I", crc) + after_crc
    return i64(0) + i32(len(tail)) + tail


def batch_headers(data):
    """(base_offset, record_count, codec) of each complete batch in data, not decompressed.

    Uses lastOffsetDelta + 1 as the offset span (compaction may drop records)."""
    out = []
    p = 0
    while len(data) - p >= 61:
        base_off, blen = struct.unpack(">qi", data[p:p + 12])
        if p + 12 + blen > len(data):
            break
        attrs, last_delta = struct.unpack(">hi", data[p + 21:p + 27])
        if not attrs & 0x20:
            out.append((base_off, last_delta + 1, attrs & 7))
        p += 12 + blen
    return out


def parse_batches(data):
    """Parse concatenated v2 batches (none/gzip). Drops a trailing partial batch.

    Returns a list of records as dicts: offset, ts, key, value, headers."""
    out = []
    p = 0
    while len(data) - p >= 61:
        base_off, blen = struct.unpack(">qi", data[p:p + 12])
        if p + 12 + blen > len(data):
            break
        batch = data[p:p + 12 + blen]
        p += 12 + blen
        magic = batch[16]
        check(magic == 2, "fetched batch has magic %d" % magic)
        crc = struct.unpack(">I", batch[17:21])[0]
        check(crc32c(batch[21:]) == crc, "fetched batch at offset %d fails its CRC" % base_off)
        attrs, _last_delta, base_ts, _max_ts = struct.unpack(">hiqq", batch[21:43])
        count = struct.unpack(">i", batch[57:61])[0]
        if attrs & 0x20:  # control batch: not user data
            continue
        recs = batch[61:]
        codec = attrs & 7
        if codec == 1:
            recs = zlib.decompress(recs, 47)
        else:
            check(codec == 0, "raw parser cannot decode codec %d" % codec)
        r = Reader(recs)
        for _ in range(count):
            ln = r.varint()
            rr = Reader(r.take(ln))
            rr.take(1)
            ts = base_ts + rr.varint()
            off = base_off + rr.varint()
            kl = rr.varint()
            k = None if kl < 0 else rr.take(kl)
            vl = rr.varint()
            v = None if vl < 0 else rr.take(vl)
            hdrs = []
            for _h in range(rr.varint()):
                hk = rr.take(rr.varint())
                hl = rr.varint()
                hdrs.append((hk, None if hl < 0 else rr.take(hl)))
            check(rr.remaining() == 0, "record at offset %d has trailing bytes" % off)
            out.append({"offset": off, "ts": ts, "key": k, "value": v, "headers": hdrs})
    return out


# --------------------------------------------------------------------------
# Raw connection and requests


class ConnectionClosed(Exception):
    pass


class Conn:
    def __init__(self, bootstrap, timeout=10.0, client_id="sl-integ-raw"):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.corr = 0
        self.client_id = client_id

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def request_frame(self, api_key, version, body, flexible_header=False):
        self.corr += 1
        hdr = i16(api_key) + i16(version) + i32(self.corr) + string(self.client_id)
        if flexible_header:
            hdr += b"\x00"
        payload = hdr + body
        return i32(len(payload)) + payload

    def send(self, api_key, version, body, flexible_header=False):
        self.send_raw(self.request_frame(api_key, version, body, flexible_header))
        return self.corr

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionClosed("connection closed after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def recv_frame(self):
        size = struct.unpack(">i", self._recv_exact(4))[0]
        check(0 <= size <= 256 << 20, "bad response size %d" % size)
        return self._recv_exact(size)

    def call(self, api_key, version, body, flexible_header=False, flexible_response=False):
        """Send a request and return a Reader positioned at the response body."""
        corr = self.send(api_key, version, body, flexible_header)
        r = Reader(self.recv_frame())
        got = r.i32()
        check(got == corr, "correlation id %d, expected %d" % (got, corr))
        if flexible_response:
            r.uvarint()  # empty tagged section of response header v1
        return r

    def expect_closed(self, timeout=10.0):
        """Wait for the broker to close this connection (EOF or reset).

        Returns the bytes received before the close; raises TestFailure if the
        connection is still open after timeout."""
        self.sock.settimeout(timeout)
        got = bytearray()
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return bytes(got)
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            return bytes(got)
        except socket.timeout:
            raise TestFailure("broker kept the connection open for %.0fs" % timeout)

    # -- ApiVersions
    def api_versions(self, version=0):
        r = self.call(18, version, b"")
        err = r.i16()
        keys = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
        return err, {k: (lo, hi) for k, lo, hi in keys or []}

    # -- Metadata v1 or v4 (v4 says whether the broker may auto-create): topics None = all
    def metadata(self, topics=None, version=1, allow_auto_create=False):
        check(version in (1, 4), "harness speaks Metadata v1 and v4")
        body = array(topics, string) if topics is not None else i32(-1)
        if version >= 4:
            body += i8(1 if allow_auto_create else 0)
        r = self.call(3, version, body)
        if version >= 3:
            r.i32()  # throttle_time_ms
        brokers = r.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
        if version >= 2:
            r.string()  # cluster_id
        controller = r.i32()

        def part(r):
            err, idx, leader = r.i16(), r.i32(), r.i32()
            r.array(Reader.i32)
            r.array(Reader.i32)
            return idx, err, leader

        def topic(r):
            err, name, _internal = r.i16(), r.string(), r.i8()
            return name, err, r.array(part)

        topics = r.array(topic)
        return {"brokers": brokers, "controller": controller,
                "topics": {n: (e, ps) for n, e, ps in topics}}

    # -- CreateTopics v2: returns {name: (error_code, message)}
    def create_topics(self, topics, timeout_ms=10000, validate_only=False):
        def t(spec):
            name, parts = spec
            return string(name) + i32(parts) + i16(1) + array([]) + array([])
        body = array(topics, t) + i32(timeout_ms) + i8(1 if validate_only else 0)
        r = self.call(19, 2, body)
        r.i32()
        res = r.array(lambda r: (r.string(), r.i16(), r.string()))
        return {n: (e, m) for n, e, m in res}

    # -- DeleteTopics v1: returns {name: error_code}
    def delete_topics(self, names, timeout_ms=10000):
        r = self.call(20, 1, array(names, string) + i32(timeout_ms))
        r.i32()
        return dict(r.array(lambda r: (r.string(), r.i16())))

    # -- Produce v3, one topic/partition: returns (error_code, base_offset)
    def produce(self, topic, partition, records_bytes, acks=-1, version=3):
        body = (string(None) + i16(acks) + i32(10000) + array(
            [string(topic) + array([i32(partition) + bytes_(records_bytes)])]))
        if acks == 0:
            self.send(0, version, body)
            return None
        r = self.call(0, version, body)
        resp = r.array(lambda r: (r.string(), r.array(
            lambda r: (r.i32(), r.i16(), r.i64(), r.i64()))))
        check(len(resp) == 1 and len(resp[0][1]) == 1, "produce response shape %r" % (resp,))
        _idx, err, base, _lat = resp[0][1][0]
        return err, base

    # -- Fetch v4, one partition: returns (error_code, high_watermark, records bytes)
    def fetch(self, topic, partition, offset, max_bytes=8 << 20, max_wait_ms=100, version=4):
        """Fetch v4 or v11 (v11 may carry zstd), one partition."""
        check(version in (4, 11), "harness speaks Fetch v4 and v11")
        part = i32(partition)
        if version >= 9:
            part += i32(-1)  # current_leader_epoch
        part += i64(offset)
        if version >= 5:
            part += i64(-1)  # log_start_offset (followers only)
        part += i32(max_bytes)
        body = i32(-1) + i32(max_wait_ms) + i32(1) + i32(max_bytes) + i8(0)
        if version >= 7:
            body += i32(0) + i32(-1)  # no fetch session
        body += array([string(topic) + array([part])])
        if version >= 7:
            body += array([])  # forgotten topics
        if version >= 11:
            body += string("")  # rack id
        r = self.call(1, version, body)
        r.i32()
        if version >= 7:
            top_err = r.i16()
            check(top_err == 0, "fetch v%d: top-level error %d" % (version, top_err))
            r.i32()  # session id

        def part_resp(r):
            idx, err, hw, _lso = r.i32(), r.i16(), r.i64(), r.i64()
            if version >= 5:
                r.i64()  # log_start_offset
            r.array(lambda r: (r.i64(), r.i64()))
            if version >= 11:
                r.i32()  # preferred_read_replica
            return idx, err, hw, r.bytes_()

        resp = r.array(lambda r: (r.string(), r.array(part_resp)))
        check(len(resp) == 1 and len(resp[0][1]) == 1, "fetch response shape")
        _idx, err, hw, recs = resp[0][1][0]
        return err, hw, recs or b""

    def batch_codecs(self, topic, partition):
        """[(base_offset, record_count, codec)] of every stored batch, via Fetch v11."""
        out = []
        off = 0
        while True:
            err, hw, data = self.fetch(topic, partition, off, version=11)
            check(err == 0, "fetch v11 %s/%d@%d: error %d" % (topic, partition, off, err))
            batches = batch_headers(data)
            for b in batches:
                if b[0] + b[1] > off:
                    out.append(b)
                    off = b[0] + b[1]
            if off >= hw:
                return out
            check(batches, "fetch v11 made no progress at %d (hw %d)" % (off, hw))

    def fetch_all(self, topic, partition, start=0):
        """Every record from start to the high watermark, via repeated Fetch v4."""
        out = []
        off = start
        for _ in range(10000):
            err, hw, data = self.fetch(topic, partition, off)
            check(err == 0, "fetch %s/%d@%d: error %d" % (topic, partition, off, err))
            recs = [x for x in parse_batches(data) if x["offset"] >= off]
            out += recs
            if recs:
                off = recs[-1]["offset"] + 1
            if off >= hw:
                return out, hw
            check(recs, "fetch made no progress at %d (hw %d)" % (off, hw))
        raise TestFailure("fetch_all did not finish")

    # -- ListOffsets v1, one partition: returns (error_code, timestamp, offset)
    def list_offsets(self, topic, partition, ts):
        body = i32(-1) + array([string(topic) + array([i32(partition) + i64(ts)])])
        r = self.call(2, 1, body)
        resp = r.array(lambda r: (r.string(), r.array(
            lambda r: (r.i32(), r.i16(), r.i64(), r.i64()))))
        _idx, err, rts, off = resp[0][1][0]
        return err, rts, off


def wait_for(pred, timeout=15.0, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise TestFailure("timed out waiting for " + what)
        time.sleep(0.1)
