#!/usr/bin/python3
"""protocol/tests/golden/capture_all.py — regenerates the golden request frames.

Starts librdkafka's mock cluster (bench/mock_cluster, one broker, topic
"golden" with one partition), puts capture.py in front of it, and runs real
clients through the proxy: kcat (librdkafka 2.0.2) producing under each codec,
consuming and listing metadata; kafka-python 2.0.2 (/usr/bin/python3) producing
under each codec and consuming; KafkaJS producing (none, gzip) and consuming in
a group (needs `npm install kafkajs` in --kafkajs-dir). The frames chosen are
copied to <client>/<api>_v<version>[_<codec>].bin and listed in MANIFEST.

Every produced batch holds COUNT records: key "key-<i>", value
"value-<i> " + FILLER, so the tests can check contents without the manifest
repeating them.

Usage: capture_all.py --mock-cluster build-x/bench/mock_cluster [--kafkajs-dir /tmp/kjs]
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOPIC = "golden"
COUNT = 20
FILLER = "serpentlog golden record, compressible filler text " * 3
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def messages():
    return [("key-%d" % i, "value-%d %s" % (i, FILLER)) for i in range(COUNT)]


class Capture:
    """A proxy process recording into its own directory."""

    def __init__(self, upstream, work, name):
        self.dir = os.path.join(work, name)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "capture.py"), "--upstream", upstream,
             "--out", self.dir], stdout=subprocess.PIPE, text=True)
        self.addr = self.proc.stdout.readline().strip()

    def stop(self):
        time.sleep(0.3)
        self.proc.terminate()
        self.proc.wait()
        return sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else []

    def pick(self, files, api, dest_dir, dest_name=None, nth=0):
        """Copies the nth captured frame of api; returns the name used."""
        found = [f for f in files if f.split("_", 1)[1].rsplit("_v", 1)[0] == api]
        if len(found) <= nth:
            raise SystemExit("no %s frame captured in %s" % (api, self.dir))
        src = found[nth]
        version = src.rsplit("_v", 1)[1][:-4]
        name = dest_name or "%s_v%s.bin" % (api, version)
        name = name.replace("{v}", version)
        os.makedirs(dest_dir, exist_ok=True)
        shutil.copyfile(os.path.join(self.dir, src), os.path.join(dest_dir, name))
        return name


def run(cmd, **kw):
    subprocess.run(cmd, check=True, timeout=60, **kw)


def capture_kcat(upstream, work, manifest):
    out = os.path.join(HERE, "librdkafka")
    payload = "".join("%s:%s\n" % kv for kv in messages())
    for codec in CODECS:
        cap = Capture(upstream, work, "kcat_produce_" + codec)
        run(["kcat", "-b", cap.addr, "-P", "-t", TOPIC, "-p", "0", "-K:", "-z", codec,
             "-X", "linger.ms=100"], input=payload, text=True)
        files = cap.stop()
        produces = [f for f in files if "_produce_" in f]
        if len(produces) != 1:
            raise SystemExit("kcat %s: expected one Produce frame, got %s" % (codec, produces))
        name = cap.pick(files, "produce", out, "produce_v{v}_%s.bin" % codec)
        manifest.append(("librdkafka", name, "produce", codec, COUNT))
        if codec == "none":
            for api in ("api_versions", "metadata"):
                manifest.append(("librdkafka", cap.pick(files, api, out), api, "-", 0))
    cap = Capture(upstream, work, "kcat_consume")
    run(["kcat", "-b", cap.addr, "-C", "-t", TOPIC, "-p", "0", "-o", "beginning", "-e", "-q"],
        stdout=subprocess.DEVNULL)
    files = cap.stop()
    for api in ("list_offsets", "fetch"):
        try:
            manifest.append(("librdkafka", cap.pick(files, api, out), api, "-", 0))
        except SystemExit as e:
            print("kcat consume:", e, file=sys.stderr)


KPY_PRODUCE = """
import sys
from kafka import KafkaProducer
codec = sys.argv[2]
p = KafkaProducer(bootstrap_servers=sys.argv[1], linger_ms=100, client_id="golden-kpy",
                  compression_type=None if codec == "none" else codec)
for k, v in %r:
    p.send(%r, key=k.encode(), value=v.encode(), partition=0)
p.flush()
p.close()
"""

KPY_CONSUME = """
import sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1], client_id="golden-kpy",
                  consumer_timeout_ms=3000, auto_offset_reset="earliest")
c.assign([TopicPartition(%r, 0)])
n = sum(1 for _ in c)
c.close()
print(n)
"""


def capture_kafka_python(upstream, work, manifest):
    out = os.path.join(HERE, "kafka-python")
    for codec in CODECS:
        cap = Capture(upstream, work, "kpy_produce_" + codec)
        run(["/usr/bin/python3", "-c", KPY_PRODUCE % (messages(), TOPIC), cap.addr, codec])
        files = cap.stop()
        name = cap.pick(files, "produce", out, "produce_v{v}_%s.bin" % codec)
        manifest.append(("kafka-python", name, "produce", codec, COUNT))
        if codec == "none":
            for api in ("api_versions", "metadata"):
                manifest.append(("kafka-python", cap.pick(files, api, out), api, "-", 0))
    cap = Capture(upstream, work, "kpy_consume")
    run(["/usr/bin/python3", "-c", KPY_CONSUME % TOPIC, cap.addr], stdout=subprocess.DEVNULL)
    files = cap.stop()
    for api in ("list_offsets", "fetch"):
        manifest.append(("kafka-python", cap.pick(files, api, out), api, "-", 0))


KJS = """
const { Kafka, CompressionTypes, logLevel } = require('kafkajs');
const [addr, mode] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'golden-kjs', brokers: [addr], logLevel: logLevel.NOTHING });
const msgs = %s.map(([key, value]) => ({ key, value, partition: 0 }));
(async () => {
  if (mode === 'consume') {
    const c = kafka.consumer({ groupId: 'golden-group' });
    await c.connect();
    await c.subscribe({ topic: '%s', fromBeginning: true });
    let n = 0;
    await new Promise((resolve) => {
      c.run({ eachMessage: async () => { if (++n >= %d) resolve(); } });
      setTimeout(resolve, 8000);
    });
    await c.disconnect();
    return;
  }
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic: '%s', messages: msgs,
                 compression: mode === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None });
  await p.disconnect();
})().catch((e) => { console.error(e); process.exit(1); });
"""


def capture_kafkajs(upstream, work, manifest, kjs_dir):
    import json
    out = os.path.join(HERE, "kafkajs")
    script = os.path.join(kjs_dir, "golden.js")
    with open(script, "w") as f:
        f.write(KJS % (json.dumps(messages()), TOPIC, COUNT, TOPIC))
    for codec in ("none", "gzip"):
        cap = Capture(upstream, work, "kjs_produce_" + codec)
        run(["node", script, cap.addr, codec], cwd=kjs_dir)
        files = cap.stop()
        name = cap.pick(files, "produce", out, "produce_v{v}_%s.bin" % codec)
        manifest.append(("kafkajs", name, "produce", codec, COUNT))
        if codec == "none":
            for api in ("api_versions", "metadata"):
                manifest.append(("kafkajs", cap.pick(files, api, out), api, "-", 0))
    cap = Capture(upstream, work, "kjs_consume")
    run(["node", script, cap.addr, "consume"], cwd=kjs_dir)
    files = cap.stop()
    for api in ("find_coordinator", "join_group", "sync_group", "fetch", "offset_commit"):
        try:
            manifest.append(("kafkajs", cap.pick(files, api, out), api, "-", 0))
        except SystemExit as e:
            print("kafkajs consume:", e, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mock-cluster", required=True)
    ap.add_argument("--kafkajs-dir", default="")
    args = ap.parse_args()
    for d in ("librdkafka", "kafka-python", "kafkajs"):
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
    mock = subprocess.Popen([args.mock_cluster, "--topic", "%s:1" % TOPIC],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    upstream = mock.stdout.readline().strip().split(",")[0]
    manifest = []
    work = tempfile.mkdtemp(prefix="golden-")
    try:
        capture_kcat(upstream, work, manifest)
        capture_kafka_python(upstream, work, manifest)
        if args.kafkajs_dir:
            capture_kafkajs(upstream, work, manifest, args.kafkajs_dir)
    finally:
        mock.stdin.close()
        mock.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    with open(os.path.join(HERE, "MANIFEST"), "w") as f:
        f.write("# client file api codec records  (regenerate: capture_all.py)\n")
        f.write("# produced records: key \"key-<i>\", value \"value-<i> \" + filler, "
                "i = 0..records-1; topic %s, partition 0\n" % TOPIC)
        f.write("# filler: %r\n" % FILLER)
        for row in manifest:
            f.write("%s %s %s %s %d\n" % row)
    print("captured %d frames" % len(manifest))


if __name__ == "__main__":
    sys.exit(main())
