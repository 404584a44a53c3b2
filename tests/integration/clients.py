"""One adapter per real Kafka client, all with the same five operations.

create(topic, partitions) · delete(topic) · produce(topic, start, count, codec, ts0)
-> {i: (partition, offset)} or None when the client does not report offsets ·
consume(topic, partitions, total) -> [record dicts, see dataset.py] ·
offset(topic, partition, ts) -> offset (ts -2 earliest, -1 latest; None when no
record has a timestamp >= ts).

kafka-python and confluent-kafka run in this process; kcat, the librdkafka C
program, sarama and KafkaJS run as child processes that print JSON
lines. Adding a client = one adapter class plus an entry in ADAPTERS.
"""

import json
import os
import subprocess
import time

import dataset
import harness
from harness import TestFailure, check

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("SL_IT_WORK") or os.path.join(HERE, "..", "..", "build-integ",
                                                   "tests", "integration")


def run(args, timeout=240, env=None, input_data=None):
    p = subprocess.run(args, input=input_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=env)
    if p.returncode != 0:
        raise TestFailure("%s exited %d:\n%s" % (" ".join(args[:3]), p.returncode,
                                                 p.stderr.decode(errors="replace")[-3000:]))
    return p.stdout.decode()


def parse_acks(out):
    acks = {}
    for line in out.splitlines():
        i, p, o = (int(x) for x in line.split())
        acks[i] = (p, o)
    return acks


def parse_records(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


class Adapter:
    name = "?"
    codecs = dataset.CODECS
    sets_timestamps = True  # producer sets record timestamps ts0 + i
    per_record_headers = True  # producer can vary headers per record
    offsets_for_times = True  # client can query offsets by timestamp
    librdkafka = False  # built on librdkafka (its codec feature detection applies)

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap

    def raw_create(self, topic, partitions):
        c = harness.Conn(self.bootstrap)
        try:
            res = c.create_topics([(topic, partitions)])
        finally:
            c.close()
        check(res.get(topic, (None,))[0] == 0, "CreateTopics %s: %r" % (topic, res))

    def raw_delete(self, topic):
        c = harness.Conn(self.bootstrap)
        try:
            res = c.delete_topics([topic])
        finally:
            c.close()
        check(res.get(topic) == 0, "DeleteTopics %s: %r" % (topic, res))


class ExternalAdapter(Adapter):
    """A client program with the rdk_client command line (see rdk_client.c)."""

    def cmd(self):
        raise NotImplementedError

    def create(self, topic, partitions):
        run(self.cmd() + ["create", self.bootstrap, topic, str(partitions)])

    def delete(self, topic):
        run(self.cmd() + ["delete", self.bootstrap, topic])

    def produce(self, topic, start, count, codec, ts0):
        out = run(self.cmd() + ["produce", self.bootstrap, topic, str(start), str(count), codec,
                                str(ts0)])
        return parse_acks(out)

    def consume(self, topic, partitions, total):
        return parse_records(run(self.cmd() + ["consume", self.bootstrap, topic, str(partitions),
                                               str(total)]))

    def offset(self, topic, partition, ts):
        v = int(run(self.cmd() + ["offset", self.bootstrap, topic, str(partition), str(ts)]))
        return None if v < 0 else v


class RdkAdapter(ExternalAdapter):
    name = "rdk"
    librdkafka = True

    def cmd(self):
        return [os.environ.get("SL_RDK_CLIENT") or os.path.join(WORK, "rdk_client")]


def go_build(name):
    """Build tests/integration/go/<name>.go offline against Debian's Go packages."""
    out = os.path.join(WORK, name)
    src = os.path.join(HERE, "go", name + ".go")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="", GOPATH="/usr/share/gocode:" +
               os.path.join(WORK, "gopath"), GOCACHE=os.path.join(WORK, "gocache"),
               GOPROXY="off")
    tmp = "%s.tmp%d" % (out, os.getpid())  # tests may build it concurrently
    run(["go", "build", "-o", tmp, src], env=env, timeout=280)
    os.replace(tmp, out)
    return out


class SaramaAdapter(ExternalAdapter):
    """sarama 1.22.1 sends zstd batches in Produce v3, which Kafka (and serpentlog)
    must refuse (UNSUPPORTED_COMPRESSION_TYPE), so zstd is not in its codec list."""
    name = "sarama"
    codecs = ("none", "gzip", "snappy", "lz4")

    def cmd(self):
        return [go_build("sarama_client")]


class KafkaJSAdapter(ExternalAdapter):
    name = "kafkajs"

    def cmd(self):
        js = os.path.join(HERE, "js")
        check(os.path.isdir(os.path.join(js, "node_modules")),
              "tests/integration/js/node_modules missing: run ./dev deps (npm ci)")
        return ["node", os.path.join(js, "kafkajs_client.js")]


class KcatAdapter(Adapter):
    """kcat 1.7.1: no admin API (topics via raw CreateTopics/DeleteTopics), one
    header set per run, CreateTime set by librdkafka at produce time."""
    name = "kcat"
    librdkafka = True
    sets_timestamps = False
    per_record_headers = False

    def create(self, topic, partitions):
        self.raw_create(topic, partitions)

    def delete(self, topic):
        self.raw_delete(topic)

    def produce(self, topic, start, count, codec, ts0):
        lines = "".join("%s|%s\n" % (dataset.key(i), dataset.value(i))
                        for i in range(start, start + count))
        run(["kcat", "-P", "-b", self.bootstrap, "-t", topic, "-K", "|", "-H", "codec=" + codec,
             "-X", "compression.codec=" + codec, "-X", "acks=all", "-X", "linger.ms=20",
             "-X", "max.in.flight.requests.per.connection=1"], input_data=lines.encode())
        return None

    def consume(self, topic, partitions, total):
        out = run(["kcat", "-C", "-b", self.bootstrap, "-t", topic, "-o", "beginning", "-e", "-J",
                   "-q"])
        recs = []
        for line in out.splitlines():
            j = json.loads(line)
            h = j.get("headers") or []
            recs.append({"p": j["partition"], "o": j["offset"], "ts": j["ts"], "k": j["key"],
                         "v": j["payload"], "h": [[h[n], h[n + 1]] for n in range(0, len(h), 2)]})
        return recs

    def offset(self, topic, partition, ts):
        out = run(["kcat", "-Q", "-b", self.bootstrap, "-t", "%s:%d:%d" % (topic, partition, ts)])
        parts = out.split()
        check(len(parts) == 4 and parts[2] == "offset", "kcat -Q printed %r" % out)
        v = int(parts[3])
        return None if v < 0 else v


class KafkaPythonAdapter(Adapter):
    name = "kpy"

    def create(self, topic, partitions):
        from kafka.admin import KafkaAdminClient, NewTopic
        a = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="sl-integ-kpy")
        try:
            resp = a.create_topics([NewTopic(topic, partitions, 1)], timeout_ms=30000)
            errs = [e[1] for e in resp.topic_errors]
            check(errs == [0], "kafka-python create_topics: %r" % (resp.topic_errors,))
        finally:
            a.close()

    def delete(self, topic):
        from kafka.admin import KafkaAdminClient
        a = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="sl-integ-kpy")
        try:
            resp = a.delete_topics([topic], timeout_ms=30000)
            errs = [e[1] for e in resp.topic_error_codes]
            check(errs == [0], "kafka-python delete_topics: %r" % (resp.topic_error_codes,))
        finally:
            a.close()

    def produce(self, topic, start, count, codec, ts0):
        from kafka import KafkaProducer
        p = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=20,
                          compression_type=None if codec == "none" else codec,
                          max_in_flight_requests_per_connection=1, client_id="sl-integ-kpy")
        futs = []
        for i in range(start, start + count):
            hdrs = [(k, v.encode()) for k, v in dataset.headers(i, codec)]
            futs.append((i, p.send(topic, key=dataset.key(i).encode(),
                                   value=dataset.value(i).encode(), headers=hdrs,
                                   timestamp_ms=ts0 + i)))
        p.flush(60)
        acks = {}
        for i, f in futs:
            md = f.get(timeout=60)
            acks[i] = (md.partition, md.offset)
        p.close()
        return acks

    def _consumer(self):
        from kafka import KafkaConsumer
        return KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                             enable_auto_commit=False, client_id="sl-integ-kpy")

    def consume(self, topic, partitions, total):
        from kafka import TopicPartition
        c = self._consumer()
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning()
        ends = c.end_offsets(tps)
        recs = []
        deadline = time.time() + 120
        while any(c.position(tp) < ends[tp] for tp in tps):
            check(time.time() < deadline, "kafka-python consume stalled at %d" % len(recs))
            for _tp, msgs in c.poll(timeout_ms=500).items():
                for m in msgs:
                    recs.append({"p": m.partition, "o": m.offset, "ts": m.timestamp,
                                 "k": m.key.decode() if m.key is not None else None,
                                 "v": m.value.decode() if m.value is not None else None,
                                 "h": [[k, v.decode()] for k, v in m.headers]})
        c.close()
        return recs

    def offset(self, topic, partition, ts):
        from kafka import TopicPartition
        c = self._consumer()
        tp = TopicPartition(topic, partition)
        try:
            if ts == -2:
                return c.beginning_offsets([tp])[tp]
            if ts == -1:
                return c.end_offsets([tp])[tp]
            r = c.offsets_for_times({tp: ts})[tp]
            return None if r is None else r.offset
        finally:
            c.close()


class ConfluentAdapter(Adapter):
    name = "confluent"
    librdkafka = True

    def _admin_wait(self, futs, what):
        for t, f in futs.items():
            try:
                f.result(60)
            except Exception as e:  # KafkaException carrying the broker error
                raise TestFailure("confluent %s %s: %s" % (what, t, e))

    def create(self, topic, partitions):
        from confluent_kafka.admin import AdminClient, NewTopic
        a = AdminClient({"bootstrap.servers": self.bootstrap})
        self._admin_wait(a.create_topics([NewTopic(topic, partitions, 1)],
                                         operation_timeout=30), "create_topics")

    def delete(self, topic):
        from confluent_kafka.admin import AdminClient
        a = AdminClient({"bootstrap.servers": self.bootstrap})
        self._admin_wait(a.delete_topics([topic], operation_timeout=30), "delete_topics")

    def produce(self, topic, start, count, codec, ts0, acks=None, timeout_ms=60000):
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 20,
                      "compression.codec": codec, "message.timeout.ms": timeout_ms,
                      "max.in.flight.requests.per.connection": 1})
        acks = {} if acks is None else acks
        errors = []

        def dr(err, msg, i=None):
            if err is not None:
                errors.append("%s: %s" % (i, err))
            else:
                acks[i] = (msg.partition(), msg.offset())

        for i in range(start, start + count):
            hdrs = [(k, v.encode()) for k, v in dataset.headers(i, codec)]
            while True:
                try:
                    p.produce(topic, key=dataset.key(i), value=dataset.value(i), headers=hdrs,
                              timestamp=ts0 + i, on_delivery=lambda e, m, i=i: dr(e, m, i))
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
        left = p.flush(timeout_ms / 1000 + 10)
        check(left == 0 and not errors, "confluent produce: %d left, errors %r" %
              (left, errors[:5]))
        return acks

    def _consumer(self):
        from confluent_kafka import Consumer
        return Consumer({"bootstrap.servers": self.bootstrap, "group.id": "sl-integ-confluent",
                         "enable.auto.commit": False, "enable.partition.eof": True})

    def consume(self, topic, partitions, total):
        from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition
        c = self._consumer()
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        recs = []
        eof = set()
        deadline = time.time() + 120
        while not (len(recs) >= total and len(eof) == partitions):
            check(time.time() < deadline, "confluent consume stalled at %d" % len(recs))
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                # Errors not tied to a partition (e.g. the group coordinator lookup,
                # which assign() does not need) are not failures of this read.
                check(m.topic() is None, "confluent consume error on p%s: %s" %
                      (m.partition(), m.error()))
                harness.log("confluent consumer event:", m.error())
                continue
            eof.discard(m.partition())
            recs.append({"p": m.partition(), "o": m.offset(), "ts": m.timestamp()[1],
                         "k": m.key().decode() if m.key() is not None else None,
                         "v": m.value().decode() if m.value() is not None else None,
                         "h": [[k, v.decode()] for k, v in (m.headers() or [])]})
        c.close()
        return recs

    def offset(self, topic, partition, ts):
        from confluent_kafka import TopicPartition
        c = self._consumer()
        try:
            if ts < 0:
                lo, hi = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
                return lo if ts == -2 else hi
            r = c.offsets_for_times([TopicPartition(topic, partition, ts)], timeout=30)[0]
            check(r.error is None, "offsets_for_times: %s" % r.error)
            return None if r.offset < 0 else r.offset
        finally:
            c.close()


ADAPTERS = {a.name: a for a in (KcatAdapter, RdkAdapter, KafkaPythonAdapter, ConfluentAdapter,
                                SaramaAdapter, KafkaJSAdapter)}


def adapter(name, bootstrap):
    check(name in ADAPTERS, "unknown client %r (have %s)" % (name, ", ".join(ADAPTERS)))
    return ADAPTERS[name](bootstrap)
