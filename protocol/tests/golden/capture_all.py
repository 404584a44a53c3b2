#!/usr/bin/python3
"""protocol/tests/golden/capture_all.py — regenerates the golden request frames.

Starts librdkafka's mock cluster (bench/mock_cluster, one broker, topic
"golden" with one partition), puts capture.py in front of it, and runs real
clients through the proxy: kcat (librdkafka 2.0.2) producing under each codec,
consuming and listing metadata; kafka-python 2.0.2 (/usr/bin/python3) producing
under each codec and consuming; KafkaJS producing (none, gzip) and consuming in
a group (needs `npm install kafkajs` in --kafkajs-dir); sarama 1.22.1 (Debian's
Go package, built offline) producing under each codec. The frames chosen are
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

    live = []  # proxies still running, stopped on the way out

    def __init__(self, upstream, work, name):
        self.dir = os.path.join(work, name)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "capture.py"), "--upstream", upstream,
             "--out", self.dir], stdout=subprocess.PIPE, text=True)
        self.addr = self.proc.stdout.readline().strip()
        Capture.live.append(self.proc)

    def stop(self):
        time.sleep(0.3)
        self.proc.terminate()
        self.proc.wait()
        Capture.live.remove(self.proc)
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


SARAMA = r"""
package main

import (
	"os"
	"time"

	"github.com/Shopify/sarama"
)

func main() {
	c := sarama.NewConfig()
	c.ClientID = "golden-sarama"
	c.Version = sarama.V0_11_0_0
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Flush.Messages = %d
	c.Producer.Flush.Frequency = 200 * time.Millisecond
	codecs := map[string]sarama.CompressionCodec{"none": sarama.CompressionNone,
		"gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
		"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}
	c.Producer.Compression = codecs[os.Args[2]]
	p, err := sarama.NewSyncProducer([]string{os.Args[1]}, c)
	if err != nil {
		panic(err)
	}
	var msgs []*sarama.ProducerMessage
	for _, kv := range [][2]string{%s} {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: "%s", Partition: 0,
			Key: sarama.StringEncoder(kv[0]), Value: sarama.StringEncoder(kv[1])})
	}
	if err := p.SendMessages(msgs); err != nil {
		panic(err)
	}
	p.Close()
}
"""


def capture_sarama(upstream, work, manifest):
    """sarama 1.22.1 (Debian golang-github-shopify-sarama-dev), built offline in
    GOPATH mode. Version V0_11_0_0 selects record batch v2 with Produce v3 and
    Metadata v1 (V1_0_0_0 and later send Metadata v5, which the librdkafka
    2.0.2 mock rejects). sarama 1.22.1 does not stop zstd below Produce v7, so
    its zstd frame is the broker's UNSUPPORTED_COMPRESSION_TYPE case."""
    import json
    out = os.path.join(HERE, "sarama")
    src = os.path.join(work, "gopath", "src", "goldensarama")
    os.makedirs(src, exist_ok=True)
    pairs = ", ".join("{%s, %s}" % (json.dumps(k), json.dumps(v)) for k, v in messages())
    with open(os.path.join(src, "main.go"), "w") as f:
        f.write(SARAMA % (COUNT, pairs, TOPIC))
    binary = os.path.join(work, "golden_sarama")
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="",
               GOPATH="/usr/share/gocode:" + os.path.join(work, "gopath"),
               GOCACHE=os.path.join(work, "gocache"))
    subprocess.run(["go", "build", "-o", binary, "goldensarama"], check=True, env=env,
                   timeout=600)
    for codec in CODECS:
        cap = Capture(upstream, work, "sarama_produce_" + codec)
        run([binary, cap.addr, codec])
        files = cap.stop()
        name = cap.pick(files, "produce", out, "produce_v{v}_%s.bin" % codec)
        manifest.append(("sarama", name, "produce", codec, COUNT))
        if codec == "none":
            manifest.append(("sarama", cap.pick(files, "metadata", out), "metadata", "-", 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mock-cluster", required=True)
    ap.add_argument("--kafkajs-dir", default="")
    ap.add_argument("--clients", default="librdkafka,kafka-python,kafkajs,sarama",
                    help="comma-separated subset to capture")
    args = ap.parse_args()
    clients = args.clients.split(",")
    for d in clients:
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
    mock = subprocess.Popen([args.mock_cluster, "--topic", "%s:1" % TOPIC],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    upstream = mock.stdout.readline().strip().split(",")[0]
    manifest = []
    work = tempfile.mkdtemp(prefix="golden-")
    try:
        if "librdkafka" in clients:
            capture_kcat(upstream, work, manifest)
        if "kafka-python" in clients:
            capture_kafka_python(upstream, work, manifest)
        if "kafkajs" in clients and args.kafkajs_dir:
            capture_kafkajs(upstream, work, manifest, args.kafkajs_dir)
        if "sarama" in clients:
            capture_sarama(upstream, work, manifest)
    finally:
        for p in Capture.live:
            p.terminate()
        mock.stdin.close()
        mock.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    path = os.path.join(HERE, "MANIFEST")
    if os.path.exists(path):
        with open(path) as f:
            kept = [tuple(l.split()) for l in f if l.strip() and not l.startswith("#")]
        manifest = [(c, fi, a, co, int(n)) for c, fi, a, co, n in kept
                    if c not in clients] + manifest
    with open(path, "w") as f:
        f.write("# client file api codec records  (regenerate: capture_all.py)\n")
        f.write("# produced records: key \"key-<i>\", value \"value-<i> \" + filler, "
                "i = 0..records-1; topic %s, partition 0\n" % TOPIC)
        f.write("# filler: %r\n" % FILLER)
        for row in manifest:
            f.write("%s %s %s %s %d\n" % row)
    print("captured %d frames" % len(manifest))


if __name__ == "__main__":
    sys.exit(main())
