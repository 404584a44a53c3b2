"""0001: the broker starts, negotiates versions and describes itself.

Usage: test_0001_smoke.py SERPENTLOG
ApiVersions v0 and v3 (flexible body, header v0 response) must agree and list
ApiVersions and Metadata; Metadata v1 and v4 must name exactly this broker as
broker and controller and answer UNKNOWN_TOPIC_OR_PARTITION for a missing
topic when auto-creation is not allowed; kcat, kafka-python (whose version probe
pipelines ApiVersions v0 and Metadata v0) and confluent-kafka must all list the
cluster; SIGTERM must exit 0 and a restart on the same data dir must serve again.
"""

import clients
import harness
from harness import Conn, check, compact_string, log

UNKNOWN_TOPIC_OR_PARTITION = 3


def api_versions_v3(c):
    body = compact_string("sl-integ") + compact_string("1.0") + b"\x00"
    r = c.call(18, 3, body, flexible_header=True)  # response header stays v0
    err = r.i16()
    n = r.uvarint() - 1
    ranges = {}
    for _ in range(n):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        r.uvarint()
        ranges[k] = (lo, hi)
    r.i32()  # throttle
    return err, ranges


def check_versions(c):
    err, v0 = c.api_versions(0)
    check(err == 0, "ApiVersions v0 error %d" % err)
    check(18 in v0 and v0[18][0] == 0 and v0[18][1] >= 3, "ApiVersions range %r" % (v0.get(18),))
    check(3 in v0 and v0[3][1] >= 4, "Metadata range %r" % (v0.get(3),))
    for k, (lo, hi) in v0.items():
        check(0 <= lo <= hi, "api %d advertised %d..%d" % (k, lo, hi))
    err, v3 = api_versions_v3(c)
    check(err == 0, "ApiVersions v3 error %d" % err)
    check(v3 == v0, "ApiVersions v3 %r differs from v0 %r" % (v3, v0))
    return v0


def check_metadata(broker):
    c = Conn(broker.bootstrap)
    try:
        versions = check_versions(c)
        log("advertised:", " ".join("%d:%d-%d" % (k, lo, hi) for k, (lo, hi) in
                                    sorted(versions.items())))
        for v in (1, 4):
            md = c.metadata(None, version=v)
            check(len(md["brokers"]) == 1, "Metadata v%d brokers %r" % (v, md["brokers"]))
            node, host, port, _rack = md["brokers"][0]
            check((host, port) == ("127.0.0.1", broker.port),
                  "Metadata v%d advertises %s:%d, not %s" % (v, host, port, broker.bootstrap))
            check(md["controller"] == node, "Metadata v%d controller %d is not broker %d" %
                  (v, md["controller"], node))
        md = c.metadata(["no-such-topic"], version=4, allow_auto_create=False)
        err = md["topics"].get("no-such-topic", (None,))[0]
        check(err == UNKNOWN_TOPIC_OR_PARTITION, "missing topic answered %r" % (err,))
    finally:
        c.close()


def check_clients(broker):
    out = clients.run(["kcat", "-L", "-b", broker.bootstrap, "-m", "10"], timeout=30)
    check(" 1 brokers:" in out and broker.bootstrap in out, "kcat -L printed:\n" + out)
    from kafka import KafkaConsumer
    kc = KafkaConsumer(bootstrap_servers=broker.bootstrap, client_id="sl-integ-kpy")
    try:
        check(isinstance(kc.topics(), set), "kafka-python could not list topics")
    finally:
        kc.close()
    from confluent_kafka.admin import AdminClient
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    check(len(md.brokers) == 1, "confluent-kafka sees brokers %r" % (md.brokers,))
    log("kcat, kafka-python and confluent-kafka list the cluster")


def main(exe, args):
    broker = harness.Broker(exe)
    try:
        broker.start()
        check_metadata(broker)
        check_clients(broker)
        broker.restart()
        check_metadata(broker)
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
