#!/usr/bin/env python3
"""protocol/tests/kafka_python_crosscheck.py — our encodings vs an independent codec.

Usage: kafka_python_crosscheck.py KP_RT_CORPUS_BINARY
Runs `kp_rt_corpus --bodies` (every request/response version with every field
set to a non-default value), then decodes each body that kafka-python 2.0.2
also defines with kafka-python's own structs, requires that the whole body is
consumed, and that kafka-python re-encodes it to the identical bytes. This
checks field order, widths and nullability of the generated codec against a
codec written by other people from the Java sources. Exit 77 (skipped) when
kafka-python is not importable (it ships as python3-kafka for /usr/bin/python3).
"""
import importlib
import io
import os
import pkgutil
import subprocess
import sys
import tempfile

try:
    import kafka.protocol as kproto
    from kafka.protocol.api import Request, Response
except ImportError:
    print("kafka-python not installed: skipped")
    sys.exit(77)

# kafka-python definitions known to differ from Kafka's specs (not our bugs).
KNOWN_DIFFS = {
    (0, "response", 8): "record_errors/error_message outside the partitions array (misplaced parenthesis)",
    (1, "request", 7): "FetchRequest v7+ forgotten_topics_data uses String without an encoding: cannot decode",
    (1, "request", 8): "same as v7",
    (1, "request", 9): "same as v7",
    (1, "request", 10): "same as v7",
    (1, "request", 11): "same as v7",
    (2, "request", 4): "current_leader_epoch declared Int64 (spec: int32)",
    (2, "request", 5): "same as v4",
    (10, "response", 1): "FindCoordinator v1 response lacks throttle_time_ms",
    (15, "response", 3): "authorized_operations outside the groups array (misplaced parenthesis)",
    (32, "response", 1): "config_source (int8) declared Boolean: same width, re-encodes 4 as 1",
    (33, "response", 1): "AlterConfigsResponse_v1.SCHEMA is the request's schema",
}


def kafka_python_tables():
    tables = {}
    for m in pkgutil.iter_modules(kproto.__path__):
        mod = importlib.import_module("kafka.protocol." + m.name)
        for v in vars(mod).values():
            if isinstance(v, list) and v and isinstance(v[0], type) and issubclass(v[0], (Request, Response)):
                kind = "request" if issubclass(v[0], Request) else "response"
                tables[(v[0].API_KEY, kind)] = v
    return tables


def main():
    tables = kafka_python_tables()
    checked, failed = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.argv[1], "--bodies", tmp], check=True, stdout=subprocess.DEVNULL)
        for name in sorted(os.listdir(tmp)):
            key, kind, ver = name[:-4].split("_")
            key, ver = int(key[1:]), int(ver[1:])
            classes = tables.get((key, kind))
            if not classes or ver >= len(classes) or classes[ver].API_VERSION != ver:
                continue
            if (key, kind, ver) in KNOWN_DIFFS:
                continue
            with open(os.path.join(tmp, name), "rb") as fh:
                data = fh.read()
            buf = io.BytesIO(data)
            try:
                obj = classes[ver].decode(buf)
                again = obj.encode()
            except Exception as ex:  # kafka-python raises plain errors on short input
                failed.append("%s: kafka-python cannot decode: %r" % (name, ex))
                continue
            if buf.tell() != len(data):
                failed.append("%s: kafka-python read %d of %d bytes" % (name, buf.tell(), len(data)))
            elif again != data:
                failed.append("%s: kafka-python re-encodes differently" % name)
            checked += 1
    for f in failed:
        print("FAIL", f)
    print("kafka-python cross-check: %d bodies checked, %d failed" % (checked, len(failed)))
    return 1 if failed or checked < 100 else 0


if __name__ == "__main__":
    sys.exit(main())
