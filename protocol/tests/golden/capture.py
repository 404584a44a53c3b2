#!/usr/bin/python3
"""protocol/tests/golden/capture.py — a recording Kafka TCP proxy.

Sits between a real client and a Kafka-protocol broker (librdkafka's mock
cluster) and saves every request frame, size prefix included, as
<out>/<seq>_<api>_v<version>.bin. Brokers advertise their own host:port in
Metadata and FindCoordinator responses; the proxy rewrites those ports (fixed
4-byte fields, so frame sizes do not change) to its own, so a client's later
connections come back through it too. Single-broker upstreams only: every
connection is forwarded to the one upstream address.

Usage: capture.py --upstream 127.0.0.1:PORT --out DIR
Prints the proxy's 127.0.0.1:PORT on stdout and serves until killed.
Standard library only.
"""
import argparse
import os
import socket
import struct
import sys
import threading

API_NAMES = {
    0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata", 8: "offset_commit",
    9: "offset_fetch", 10: "find_coordinator", 11: "join_group", 12: "heartbeat",
    13: "leave_group", 14: "sync_group", 15: "describe_groups", 16: "list_groups",
    17: "sasl_handshake", 18: "api_versions", 19: "create_topics", 20: "delete_topics",
    22: "init_producer_id", 32: "describe_configs", 36: "sasl_authenticate",
}
# First flexible version of the APIs whose responses are rewritten.
FLEXIBLE = {3: 9, 10: 3}


def api_name(key):
    return API_NAMES.get(key, "api%d" % key)


class Reader:
    """Cursor over a response body, just enough to find broker ports."""

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos

    def i16(self):
        v = struct.unpack_from(">h", self.buf, self.pos)[0]
        self.pos += 2
        return v

    def i32(self):
        v = struct.unpack_from(">i", self.buf, self.pos)[0]
        self.pos += 4
        return v

    def uvarint(self):
        shift = v = 0
        while True:
            b = self.buf[self.pos]
            self.pos += 1
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def string(self, flexible):
        n = self.uvarint() - 1 if flexible else self.i16()
        if n > 0:
            self.pos += n

    def count(self, flexible):
        return self.uvarint() - 1 if flexible else self.i32()

    def tags(self, flexible):
        if not flexible:
            return
        for _ in range(self.uvarint()):
            self.uvarint()
            self.pos += self.uvarint()

    def set_port(self, port):
        struct.pack_into(">i", self.buf, self.pos, port)
        self.pos += 4


def patch_response(frame, key, version, port):
    """Rewrites broker ports in a Metadata/FindCoordinator response frame."""
    flexible = version >= FLEXIBLE.get(key, 1 << 15)
    r = Reader(frame, 4 + 4)  # size prefix, correlation id
    r.tags(flexible)  # response header v1
    if key == 3:
        if version >= 3:
            r.i32()  # throttle_time_ms
        for _ in range(r.count(flexible)):
            r.i32()  # node_id
            r.string(flexible)  # host
            r.set_port(port)
            if version >= 1:
                r.string(flexible)  # rack
            r.tags(flexible)
    elif key == 10:
        if version >= 1:
            r.i32()  # throttle_time_ms
        if version >= 4:
            for _ in range(r.count(True)):
                r.string(True)  # key
                r.i32()  # node_id
                r.string(True)  # host
                r.set_port(port)
                r.i16()
                r.string(True)
                r.tags(True)
            return
        r.i16()  # error_code
        if version >= 1:
            r.string(flexible)  # error_message
        r.i32()  # node_id
        r.string(flexible)  # host
        r.set_port(port)


class Proxy:
    def __init__(self, upstream, out):
        self.upstream = upstream
        self.out = out
        self.seq = 0
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]

    def save(self, frame, key, version):
        with self.lock:
            self.seq += 1
            name = "%04d_%s_v%d.bin" % (self.seq, api_name(key), version)
        with open(os.path.join(self.out, name), "wb") as f:
            f.write(frame)

    def serve(self):
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(self.upstream)
            inflight = {}
            threading.Thread(target=self.pump_requests, args=(client, server, inflight),
                             daemon=True).start()
            threading.Thread(target=self.pump_responses, args=(server, client, inflight),
                             daemon=True).start()

    @staticmethod
    def frames(sock):
        buf = bytearray()
        while True:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
            while len(buf) >= 4:
                size = struct.unpack_from(">i", buf, 0)[0]
                if len(buf) < 4 + size:
                    break
                yield bytearray(buf[:4 + size])
                del buf[:4 + size]

    def pump_requests(self, client, server, inflight):
        try:
            for frame in self.frames(client):
                key, version, corr = struct.unpack_from(">hhi", frame, 4)
                inflight[corr] = (key, version)
                self.save(frame, key, version)
                server.sendall(frame)
        except OSError:
            pass
        finally:
            for s in (client, server):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def pump_responses(self, server, client, inflight):
        try:
            for frame in self.frames(server):
                corr = struct.unpack_from(">i", frame, 4)[0]
                key, version = inflight.pop(corr, (-1, -1))
                if key in (3, 10):
                    patch_response(frame, key, version, self.port)
                client.sendall(frame)
        except OSError:
            pass
        finally:
            for s in (client, server):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the broker")
    ap.add_argument("--out", required=True, help="directory for captured frames")
    args = ap.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    os.makedirs(args.out, exist_ok=True)
    proxy = Proxy((host, int(port)), args.out)
    print("127.0.0.1:%d" % proxy.port, flush=True)
    proxy.serve()


if __name__ == "__main__":
    sys.exit(main())
