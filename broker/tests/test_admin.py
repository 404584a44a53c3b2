"""Admin APIs against a real serpentlog, driven by real admin clients.

usage: test_admin.py SERPENTLOG

confluent-kafka 1.7.0 (librdkafka 2.0.2: CreateTopics v4, DeleteTopics v3,
CreatePartitions v1, DescribeConfigs v1, AlterConfigs v1) and kafka-python
2.0.2's KafkaAdminClient (its own older versions) create, alter, describe
and delete topics; raw frames (test_admin_wire.py) cover the newest
versions the clients do not send: CreateTopics v7, DeleteTopics v6 by id,
DescribeConfigs v4, IncrementalAlterConfigs v1, DeleteRecords v2,
DescribeCluster v1 and DescribeLogDirs v4. Every answer is checked against
state read back another way (Metadata, the data dir, watermarks), and a
restart shows that topics, partition counts, config overrides and log start
offsets persist. Exit 0 = pass, 1 = fail.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
sys.path.insert(0, HERE)

from harness import Broker, Conn, TestFailure, check, log, run_test  # noqa: E402
import test_admin_wire as W  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import (AdminClient, ConfigResource, NewPartitions,  # noqa: E402
                                   NewTopic)
from kafka.admin import ConfigResource as KConfigResource  # noqa: E402
from kafka.admin import ConfigResourceType, KafkaAdminClient  # noqa: E402
from kafka.admin import NewPartitions as KNewPartitions  # noqa: E402
from kafka.admin import NewTopic as KNewTopic  # noqa: E402
from kafka.errors import KafkaError  # noqa: E402

TOPIC, BROKER = 2, 4
ERR_NAMES = {0: "NONE", 1: "OFFSET_OUT_OF_RANGE", 3: "UNKNOWN_TOPIC_OR_PARTITION",
             17: "INVALID_TOPIC_EXCEPTION", 36: "TOPIC_ALREADY_EXISTS", 37: "INVALID_PARTITIONS",
             38: "INVALID_REPLICATION_FACTOR", 39: "INVALID_REPLICA_ASSIGNMENT",
             40: "INVALID_CONFIG", 42: "INVALID_REQUEST", 100: "UNKNOWN_TOPIC_ID"}


def futures(fs):
    """{key: error code or 0} from confluent admin futures."""
    out = {}
    for k, f in fs.items():
        try:
            f.result(timeout=30)
            out[k] = 0
        except Exception as e:  # KafkaException wrapping KafkaError
            err = e.args[0] if e.args else None
            out[k] = err.code() if hasattr(err, "code") else repr(e)
    return out


def expect(got, want, what):
    check(got == want, "%s: got %s, expected %s" % (what, ERR_NAMES.get(got, got),
                                                    ERR_NAMES.get(want, want)))


def partitions_of(admin, topic):
    # All topics: naming one in Metadata may auto-create it.
    md = admin.list_topics(timeout=10)
    t = md.topics.get(topic)
    return None if t is None or t.error is not None else len(t.partitions)


def topic_configs(admin, topic):
    res = ConfigResource("topic", topic)
    r = admin.describe_configs([res])[res].result(timeout=30)
    return {k: (v.value, int(v.source)) for k, v in r.items()}


def part_dirs(broker, topic):
    return sorted(d for d in os.listdir(broker.data_dir) if d.rsplit("-", 1)[0] == topic)


# ---------------------------------------------------------------- confluent


def confluent_topics(b, admin):
    r = futures(admin.create_topics([
        NewTopic("adm-a", 3, 1, config={"retention.ms": "3600000", "cleanup.policy": "compact"}),
        NewTopic("adm-b", 2, 1),
        NewTopic("bad name!", 1, 1),
        NewTopic("adm-rf3", 1, 3),
        NewTopic("adm-badcfg", 1, 1, config={"retention.ms": "soon"}),
        NewTopic("adm-unkcfg", 1, 1, config={"no.such.config": "1"}),
        NewTopic("adm-tinyseg", 1, 1, config={"segment.bytes": "100"}),
    ], request_timeout=30))
    expect(r["adm-a"], 0, "create adm-a")
    expect(r["adm-b"], 0, "create adm-b")
    expect(r["bad name!"], 17, "create with an illegal name")
    expect(r["adm-rf3"], 38, "replication factor 3 on one node")
    expect(r["adm-badcfg"], 40, "bad config value")
    expect(r["adm-unkcfg"], 40, "unknown config name")
    expect(r["adm-tinyseg"], 40, "segment.bytes storage cannot run")
    check(partitions_of(admin, "adm-tinyseg") is None, "adm-tinyseg exists")
    check(partitions_of(admin, "adm-a") == 3, "adm-a has no 3 partitions in Metadata")
    check(partitions_of(admin, "adm-rf3") is None, "a refused topic exists")
    check(partitions_of(admin, "adm-badcfg") is None, "a topic with a bad config exists")
    check(part_dirs(b, "adm-a") == ["adm-a-0", "adm-a-1", "adm-a-2"],
          "adm-a partition dirs: %r" % part_dirs(b, "adm-a"))

    r = futures(admin.create_topics([NewTopic("adm-a", 3, 1)]))
    expect(r["adm-a"], 36, "create an existing topic")
    r = futures(admin.create_topics([NewTopic("adm-v", 4, 1)], validate_only=True))
    expect(r["adm-v"], 0, "validate_only create")
    check(partitions_of(admin, "adm-v") is None, "validate_only created the topic")
    check(not part_dirs(b, "adm-v"), "validate_only made partition dirs")
    r = futures(admin.create_topics([NewTopic("adm-v", 4, 1, config={"segment.bytes": "x"})],
                                    validate_only=True))
    expect(r["adm-v"], 40, "validate_only with a bad config")

    # CreatePartitions: grow, refuse shrink/same, validate_only, unknown topic.
    r = futures(admin.create_partitions([NewPartitions("adm-a", 5)]))
    expect(r["adm-a"], 0, "grow adm-a to 5")
    check(partitions_of(admin, "adm-a") == 5, "adm-a not at 5 partitions")
    check(len(part_dirs(b, "adm-a")) == 5, "adm-a has no 5 partition dirs")
    produce(b, "adm-a", 4, 3)
    check(watermarks(b, "adm-a", 4) == (0, 3), "new partition 4 does not take records")
    r = futures(admin.create_partitions([NewPartitions("adm-a", 2)]))
    expect(r["adm-a"], 37, "shrink adm-a")
    r = futures(admin.create_partitions([NewPartitions("adm-a", 5)]))
    expect(r["adm-a"], 37, "same count")
    r = futures(admin.create_partitions([NewPartitions("adm-a", 9)], validate_only=True))
    expect(r["adm-a"], 0, "validate_only grow")
    check(partitions_of(admin, "adm-a") == 5, "validate_only grew adm-a")
    r = futures(admin.create_partitions([NewPartitions("adm-nope", 3)]))
    expect(r["adm-nope"], 3, "grow an unknown topic")

    # DescribeConfigs v1 (librdkafka): overrides, defaults, broker keys.
    c = topic_configs(admin, "adm-a")
    check(c["retention.ms"] == ("3600000", 1), "retention.ms %r" % (c["retention.ms"],))
    check(c["cleanup.policy"] == ("compact", 1), "cleanup.policy %r" % (c["cleanup.policy"],))
    check(c["segment.bytes"][1] in (4, 5), "segment.bytes source %r" % (c["segment.bytes"],))
    check(len(c) >= 20, "only %d topic configs described" % len(c))
    res = ConfigResource("broker", "0")
    bc = admin.describe_configs([res])[res].result(timeout=30)
    check("num.partitions" in bc and "log.retention.ms" in bc, "broker configs: %r" % list(bc))
    res = ConfigResource("topic", "adm-nope")
    r = futures(admin.describe_configs([res]))
    expect(r[res], 3, "describe an unknown topic")

    # AlterConfigs (legacy): full replace of the overrides.
    res = ConfigResource("topic", "adm-a", set_config={"retention.ms": "7200000"})
    r = futures(admin.alter_configs([res]))
    expect(r[res], 0, "alter adm-a")
    c = topic_configs(admin, "adm-a")
    check(c["retention.ms"] == ("7200000", 1), "after alter retention.ms %r" % (c["retention.ms"],))
    check(c["cleanup.policy"][1] != 1, "AlterConfigs kept cleanup.policy: not a full replace")
    res = ConfigResource("topic", "adm-a", set_config={"retention.ms": "-5"})
    r = futures(admin.alter_configs([res]))
    expect(r[res], 40, "alter with an invalid value")
    check(topic_configs(admin, "adm-a")["retention.ms"] == ("7200000", 1),
          "a refused alter changed retention.ms")
    res = ConfigResource("topic", "adm-a", set_config={"retention.ms": "1"})
    r = futures(admin.alter_configs([res], validate_only=True))
    expect(r[res], 0, "validate_only alter")
    check(topic_configs(admin, "adm-a")["retention.ms"] == ("7200000", 1),
          "validate_only alter changed retention.ms")
    # Broker (dynamic keys), legacy AlterConfigs: persisted, shown as DYNAMIC_BROKER (2),
    # inherited by topics without an override.
    res = ConfigResource("broker", "0", set_config={"log.retention.ms": "86400000",
                                                    "max.connections": "500"})
    r = futures(admin.alter_configs([res]))
    expect(r[res], 0, "alter broker configs")
    res = ConfigResource("broker", "0")
    bc = admin.describe_configs([res])[res].result(timeout=30)
    check((bc["log.retention.ms"].value, int(bc["log.retention.ms"].source)) == ("86400000", 2),
          "broker log.retention.ms %r" % (bc["log.retention.ms"],))
    check(bc["max.connections"].value == "500", "broker max.connections")
    c = topic_configs(admin, "adm-b")
    check(c["retention.ms"] == ("86400000", 2), "adm-b inherits %r" % (c["retention.ms"],))
    res = ConfigResource("broker", "0", set_config={"node.id": "4"})
    r = futures(admin.alter_configs([res]))
    expect(r[res], 40, "alter a read-only broker config")

    # DeleteTopics: the data goes too.
    r = futures(admin.delete_topics(["adm-b", "adm-nope"], operation_timeout=30))
    expect(r["adm-b"], 0, "delete adm-b")
    expect(r["adm-nope"], 3, "delete an unknown topic")
    check(partitions_of(admin, "adm-b") is None, "adm-b still in Metadata")
    check(not part_dirs(b, "adm-b"), "adm-b dirs left: %r" % part_dirs(b, "adm-b"))
    check(not os.path.exists(os.path.join(b.data_dir, "__topics", "adm-b.meta")),
          "adm-b metadata file left")


# ---------------------------------------------------------------- kafka-python


def expect_kpy(fn, code, what):
    """kafka-python's admin raises the first error of a response."""
    try:
        fn()
    except KafkaError as e:
        expect(getattr(e, "errno", None), code, what)
        return
    check(False, "%s: no error raised (expected %s)" % (what, ERR_NAMES.get(code, code)))


def kafka_python(b):
    k = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=30000)
    try:
        r = k.create_topics([KNewTopic("adm-k", 2, 1, topic_configs={"retention.bytes": "1048576"})])
        expect(r.topic_errors[0][1], 0, "kafka-python create adm-k")
        expect_kpy(lambda: k.create_topics([KNewTopic("adm-a", 1, 1)]), 36,
                   "kafka-python create existing")
        r = k.create_topics([KNewTopic("adm-kv", 2, 1)], validate_only=True)
        expect(r.topic_errors[0][1], 0, "kafka-python validate_only create")

        r = k.describe_configs([KConfigResource(ConfigResourceType.TOPIC, "adm-k",
                                                {"retention.bytes": None, "nonexistent": None})],
                               include_synonyms=True)
        ents = r[0].resources[0][4]
        check(len(ents) == 1 and ents[0][0] == "retention.bytes" and ents[0][1] == "1048576" and
              ents[0][3] == 1, "kafka-python describe adm-k: %r" % (ents,))
        syn = ents[0][5]
        check(syn and syn[0][0] == "retention.bytes" and syn[0][2] == 1 and
              any(s[0] == "log.retention.bytes" for s in syn), "synonyms %r" % (syn,))

        r = k.alter_configs([KConfigResource(ConfigResourceType.TOPIC, "adm-k",
                                             {"retention.bytes": "2097152",
                                              "segment.ms": "3600000"})])
        expect(r.resources[0][0], 0, "kafka-python alter adm-k")
        r = k.create_partitions({"adm-k": KNewPartitions(4)})
        expect(r.topic_errors[0][1], 0, "kafka-python grow adm-k")
        expect_kpy(lambda: k.create_partitions({"adm-k": KNewPartitions(3)}), 37,
                   "kafka-python shrink adm-k")
        expect_kpy(lambda: k.delete_topics(["adm-kv"]), 3,
                   "kafka-python delete a validate_only topic")
    finally:
        k.close()


def old_versions(b):
    """v0 forms (fields later versions added must be absent), via kafka-python's codec."""
    import kafka.protocol.admin as A
    k = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=30000)

    def send(req):
        f = k._send_request_to_node(k._client.least_loaded_node(), req)
        k._wait_for_futures([f])
        return f.value

    try:
        r = send(A.CreateTopicsRequest[0](create_topic_requests=[
            ("adm-o", 2, 1, [], [("retention.ms", "5000")])], timeout=30000))
        check(r.topic_errors == [("adm-o", 0)], "CreateTopics v0 %r" % (r.topic_errors,))
        r = send(A.DescribeConfigsRequest[0](resources=[
            (TOPIC, "adm-o", ["retention.ms", "segment.bytes"])]))
        ents = {e[0]: e for e in r.resources[0][4]}
        check(ents["retention.ms"][1] == "5000" and not ents["retention.ms"][3] and
              ents["segment.bytes"][3], "DescribeConfigs v0 is_default: %r" % (ents,))
        r = send(A.AlterConfigsRequest[0](resources=[(TOPIC, "adm-o", [("segment.ms", "100000")])],
                                          validate_only=False))
        expect(r.resources[0][0], 0, "AlterConfigs v0")
        r = send(A.DescribeConfigsRequest[0](resources=[(TOPIC, "adm-o", None)]))
        ents = {e[0]: e for e in r.resources[0][4]}
        check(ents["segment.ms"][1] == "100000" and ents["retention.ms"][1] != "5000",
              "AlterConfigs v0 did not replace the overrides: %r" % (ents["retention.ms"],))
        r = send(A.CreatePartitionsRequest[0](topic_partitions=[("adm-o", (4, [[0], [0]]))],
                                              timeout=30000, validate_only=False))
        expect(r.topic_errors[0][1], 0, "CreatePartitions v0 with assignments")
        r = send(A.CreatePartitionsRequest[0](topic_partitions=[("adm-o", (6, [[0], [3]]))],
                                              timeout=30000, validate_only=False))
        expect(r.topic_errors[0][1], 39, "CreatePartitions v0 assignment to broker 3")
        r = send(A.CreatePartitionsRequest[0](topic_partitions=[("adm-o", (7, [[0]]))],
                                              timeout=30000, validate_only=False))
        expect(r.topic_errors[0][1], 39, "CreatePartitions v0 too few assignments")
        r = send(A.DeleteTopicsRequest[0](topics=["adm-o", "adm-o2"], timeout=30000))
        check(sorted(r.topic_error_codes) == [("adm-o", 0), ("adm-o2", 3)],
              "DeleteTopics v0 %r" % (r.topic_error_codes,))
        check(not part_dirs(b, "adm-o"), "adm-o dirs left")
    finally:
        k.close()


# ---------------------------------------------------------------- raw frames


def raw_create_delete(b, conn):
    r = W.create_topics_v7(conn, [
        ("adm-r", -1, -1, {"max.message.bytes": "65536"}, None),
        ("adm-asg", -1, -1, None, [(0, [0]), (1, [0])]),
        ("adm-asg-bad", -1, -1, None, [(0, [0]), (1, [7])]),
        ("adm-asg-gap", -1, -1, None, [(0, [0]), (2, [0])]),
        ("adm-zero", 0, 1, None, None),
        ("adm-nullcfg", 1, 1, {"retention.ms": None}, None),
        ("adm-dup", 1, 1, None, None),
        ("adm-dup", 2, 1, None, None),
    ])
    a = r["adm-r"]
    expect(a["error"], 0, "v7 create adm-r")
    check(a["id"] != bytes(16), "v7 create: zero topic id")
    check(a["partitions"] == 1 and a["rf"] == 1, "v7 create: %r" % (a,))  # num.partitions=1
    check(a["configs"].get("max.message.bytes") == ("65536", 1),
          "v7 configs: %r" % (a["configs"].get("max.message.bytes"),))
    check(a["configs"]["retention.ms"] == ("86400000", 2), "v7 inherited source %r" %
          (a["configs"]["retention.ms"],))
    expect(r["adm-asg"]["error"], 0, "manual assignment on node 0")
    check(r["adm-asg"]["partitions"] == 2, "assignment partition count %r" % (r["adm-asg"],))
    expect(r["adm-asg-bad"]["error"], 39, "assignment to broker 7")
    expect(r["adm-asg-gap"]["error"], 39, "assignment with a gap")
    expect(r["adm-zero"]["error"], 37, "0 partitions")
    expect(r["adm-nullcfg"]["error"], 40, "a null config value")
    expect(r["adm-dup"]["error"], 42, "a name twice in one request")
    W.create_topics_v7(conn, [("adm_asg", 1, 1, None, None)])
    r = W.create_topics_v7(conn, [("adm.asg", 1, 1, None, None)])
    expect(r["adm.asg"]["error"], 17, "a name colliding with adm_asg up to '.'/'_'")
    check("adm_asg" in (r["adm.asg"]["message"] or ""), "collision message %r" %
          (r["adm.asg"]["message"],))
    check(partitions_of_raw(conn, "adm-dup") is None, "duplicated name was created")

    v = W.create_topics_v7(conn, [("adm-val", 3, 1, {"cleanup.policy": "compact"}, None)],
                           validate_only=True)["adm-val"]
    expect(v["error"], 0, "v7 validate_only")
    check(v["id"] == bytes(16) and v["partitions"] == 3, "v7 validate_only answer %r" % (v,))
    check(v["configs"]["cleanup.policy"] == ("compact", 1), "v7 validate_only configs")

    # DeleteTopics v6 by id, unknown id, name and id together.
    gone = bytes(range(1, 17))
    d = W.delete_topics_v6(conn, [(None, a["id"]), (None, gone), ("adm-asg", a["id"])])
    check(d[0][0] == "adm-r" and d[0][1] == a["id"] and d[0][2] == 0, "delete by id: %r" % (d[0],))
    expect(d[1][2], 100, "delete an unknown id")
    expect(d[2][2], 42, "name and id together")
    check(not part_dirs(b, "adm-r"), "adm-r dirs left after delete by id")
    d = W.delete_topics_v6(conn, [("adm-asg", bytes(16))])
    expect(d[0][2], 0, "v6 delete by name")


def partitions_of_raw(conn, topic):
    md = conn.metadata(None)  # all topics: naming one may auto-create it
    err, parts = md["topics"].get(topic, (3, []))
    return None if err else len(parts)


def raw_configs(conn):
    W.create_topics_v7(conn, [("adm-inc", 1, 1, {"retention.ms": "100000"}, None)])
    r = W.incremental_alter_v1(conn, [(TOPIC, "adm-inc", [
        ("segment.bytes", W.SET, "1048576"),
        ("retention.ms", W.DELETE, None),
        ("cleanup.policy", W.APPEND, "compact"),
    ])])
    expect(r[0][0], 0, "incremental SET/DELETE/APPEND")
    res = W.describe_configs_v4(conn, [(TOPIC, "adm-inc", None)])
    err, _msg, _t, _n, cfg = res[0]
    expect(err, 0, "describe v4")
    check(cfg["segment.bytes"]["value"] == "1048576" and cfg["segment.bytes"]["source"] == 1,
          "segment.bytes %r" % (cfg["segment.bytes"],))
    check(cfg["retention.ms"]["source"] != 1, "retention.ms still overridden after DELETE")
    check(cfg["cleanup.policy"]["value"] == "delete,compact", "APPEND gave %r" %
          (cfg["cleanup.policy"]["value"],))
    check(cfg["cleanup.policy"]["type"] == 7, "cleanup.policy type %r (LIST=7)" %
          (cfg["cleanup.policy"]["type"],))
    check(cfg["segment.bytes"]["doc"], "no documentation in v4 with include_documentation")
    check(cfg["retention.ms"]["synonyms"] and
          cfg["retention.ms"]["synonyms"][0][0] == "log.retention.ms",
          "retention.ms synonyms %r" % (cfg["retention.ms"]["synonyms"],))

    r = W.incremental_alter_v1(conn, [(TOPIC, "adm-inc", [("cleanup.policy", W.SUBTRACT,
                                                            "delete")])])
    expect(r[0][0], 0, "incremental SUBTRACT")
    cfg = W.describe_configs_v4(conn, [(TOPIC, "adm-inc", ["cleanup.policy"])])[0][4]
    check(list(cfg) == ["cleanup.policy"] and cfg["cleanup.policy"]["value"] == "compact",
          "SUBTRACT gave %r" % (cfg,))
    r = W.incremental_alter_v1(conn, [
        (TOPIC, "adm-inc", [("segment.bytes", W.APPEND, "1")]),
        (TOPIC, "adm-nope", [("segment.bytes", W.SET, "1048576")]),
        (TOPIC, "adm-inc2", [("a", W.SET, "1"), ("a", W.SET, "2")]),
        (BROKER, "", [("log.retention.ms", W.SET, "1000")]),
        (BROKER, "5", [("log.retention.ms", W.SET, "1000")]),
        (BROKER, "0", [("log.segment.bytes", W.SET, "2097152"),
                       ("log.cleanup.policy", W.APPEND, "compact")]),
    ])
    expect(r[0][0], 40, "APPEND on a non-list config")
    expect(r[1][0], 3, "incremental on an unknown topic")
    expect(r[2][0], 42, "duplicate keys")
    expect(r[3][0], 42, "incremental on the cluster default")
    expect(r[4][0], 42, "incremental on another broker id")
    expect(r[5][0], 0, "incremental on this broker")
    r = W.incremental_alter_v1(conn, [(TOPIC, "adm-inc", [("segment.bytes", W.SET, "100")]),
                                      (BROKER, "0", [("log.segment.bytes", W.SET, "100")])])
    expect(r[0][0], 40, "topic segment.bytes storage cannot run")
    expect(r[1][0], 40, "broker log.segment.bytes storage cannot run")
    r = W.incremental_alter_v1(conn, [(BROKER, "0", [("log.cleanup.policy", W.DELETE, None)])])
    expect(r[0][0], 0, "incremental DELETE on the broker")
    cfg = W.describe_configs_v4(conn, [(BROKER, "0", ["log.segment.bytes", "log.cleanup.policy",
                                                       "log.retention.ms"])])[0][4]
    check(cfg["log.segment.bytes"]["value"] == "2097152" and
          cfg["log.segment.bytes"]["source"] == 2, "log.segment.bytes %r" %
          (cfg["log.segment.bytes"],))
    check(cfg["log.cleanup.policy"]["value"] == "delete" and
          cfg["log.cleanup.policy"]["source"] != 2, "DELETE did not restore log.cleanup.policy")
    check(cfg["log.retention.ms"]["value"] == "86400000", "incremental lost log.retention.ms")
    syn = cfg["log.retention.ms"]["synonyms"]
    check([x[2] for x in syn] == [2, 5] and syn[0][1] == "86400000" and syn[1][1] == "604800000",
          "dynamic broker key synonyms %r" % (syn,))
    syn = W.describe_configs_v4(conn, [(TOPIC, "adm-inc", ["retention.ms"])])[0][4][
        "retention.ms"]["synonyms"]
    check([(x[0], x[2]) for x in syn] == [("log.retention.ms", 2), ("log.retention.ms", 5)],
          "topic synonyms over a dynamic broker default %r" % (syn,))
    r = W.incremental_alter_v1(conn, [(TOPIC, "adm-inc", [("segment.bytes", W.SET, "2097152")])],
                               validate_only=True)
    expect(r[0][0], 0, "incremental validate_only")
    cfg = W.describe_configs_v4(conn, [(TOPIC, "adm-inc", ["segment.bytes"])])[0][4]
    check(cfg["segment.bytes"]["value"] == "1048576", "validate_only changed segment.bytes")

    res = W.describe_configs_v4(conn, [(BROKER, "0", ["num.partitions", "node.id"]),
                                       (BROKER, "", None), (BROKER, "5", None), (7, "x", None)])
    err, _m, _t, _n, cfg = res[0]
    expect(err, 0, "describe broker 0")
    check(set(cfg) == {"num.partitions", "node.id"}, "broker key filter: %r" % list(cfg))
    check(cfg["node.id"]["read_only"] and cfg["node.id"]["value"] == "0", "node.id %r" %
          (cfg["node.id"],))
    check(res[1][0] == 0 and res[1][4] == {}, "cluster default broker configs %r" % (res[1],))
    expect(res[2][0], 42, "describe another broker id")
    expect(res[3][0], 42, "describe an unknown resource type")


ADVERTISED = {19: (0, 7), 20: (0, 6), 21: (0, 2), 32: (0, 4), 33: (0, 2), 35: (1, 4), 37: (0, 3),
              44: (0, 1), 60: (0, 1)}


def raw_api_versions(b):
    conn = Conn(b.bootstrap)
    err, keys = conn.api_versions(0)
    expect(err, 0, "ApiVersions")
    for k, rng in ADVERTISED.items():
        check(keys.get(k) == rng, "ApiVersions key %d: %r, expected %r" % (k, keys.get(k), rng))
    # DescribeLogDirs v0 is not served: the connection closes.
    conn.send(35, 0, W.i32(-1))
    conn.expect_closed()
    conn.close()


def dynamic_log_level(b, conn):
    """log.level=debug takes effect at once: a closed connection is logged at DEBUG."""
    r = W.incremental_alter_v1(conn, [(BROKER, "0", [("log.level", W.SET, "debug")])])
    expect(r[0][0], 0, "set log.level")
    for _ in range(4):
        Conn(b.bootstrap).close()
    deadline = time.time() + 10
    while "DEBUG" not in b.log_tail(400) and time.time() < deadline:
        time.sleep(0.1)
    check("DEBUG" in b.log_tail(400), "no DEBUG line after log.level=debug")
    r = W.incremental_alter_v1(conn, [(BROKER, "0", [("log.level", W.DELETE, None)])])
    expect(r[0][0], 0, "delete log.level")


def raw_cluster(b, conn):
    c = W.describe_cluster_v1(conn, include_ops=True)
    check(c["error"] == 0 and c["controller"] == 0 and c["endpoint_type"] == 1,
          "DescribeCluster %r" % (c,))
    check(c["brokers"] == [(0, "127.0.0.1", b.port, None)], "brokers %r" % (c["brokers"],))
    check(c["cluster_id"] and c["ops"] > 0, "cluster id / ops %r" % (c,))
    cfg = W.describe_configs_v4(conn, [(BROKER, "0", ["cluster.id"])])[0][4]
    check(cfg["cluster.id"]["value"] == c["cluster_id"], "cluster.id config %r vs %r" %
          (cfg["cluster.id"]["value"], c["cluster_id"]))
    md_cluster = conn.metadata([], version=4)
    check(md_cluster["controller"] == 0, "metadata controller")
    c = W.describe_cluster_v1(conn, endpoint_type=2)
    expect(c["error"], 42, "controller endpoints from a broker")


def produce(b, topic, partition, n):
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    errors = []

    def report(err, _msg):
        if err is not None:
            errors.append(err)

    for i in range(n):
        # Keyed: compacted topics refuse records without a key.
        p.produce(topic, key=b"k%05d" % i, value=b"v%05d" % i, partition=partition,
                  on_delivery=report)
        if i % 50 == 49:
            p.flush(30)
    check(p.flush(30) == 0 and not errors, "records not delivered: %r" % errors[:3])


def watermarks(b, topic, partition):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "adm-wm",
                  "enable.auto.commit": False})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    finally:
        c.close()


def raw_records(b, conn):
    W.create_topics_v7(conn, [("adm-dr", 2, 1, {"segment.bytes": "1048576"}, None)])
    produce(b, "adm-dr", 0, 300)
    produce(b, "adm-dr", 1, 10)
    check(watermarks(b, "adm-dr", 0) == (0, 300), "watermarks before %r" %
          (watermarks(b, "adm-dr", 0),))
    r = W.delete_records_v2(conn, "adm-dr", {0: 120, 1: -1, 7: 0})
    check(r[0] == (120, 0), "DeleteRecords p0 %r" % (r[0],))
    check(r[1] == (10, 0), "DeleteRecords p1 to HW %r" % (r[1],))
    expect(r[7][1], 3, "DeleteRecords on a missing partition")
    check(watermarks(b, "adm-dr", 0) == (120, 300), "watermarks after %r" %
          (watermarks(b, "adm-dr", 0),))
    r = W.delete_records_v2(conn, "adm-dr", {0: 301})
    expect(r[0][1], 1, "DeleteRecords beyond the high watermark")
    r = W.delete_records_v2(conn, "adm-dr", {0: 50})
    check(r[0] == (120, 0), "DeleteRecords below the start %r" % (r[0],))

    # A config change reaches the open logs: small segments roll.
    r = W.incremental_alter_v1(conn, [(TOPIC, "adm-dr", [("segment.bytes", W.SET, "4096")])])
    expect(r[0][0], 0, "segment.bytes 4096")
    produce(b, "adm-dr", 1, 200)
    segs = [f for f in os.listdir(os.path.join(b.data_dir, "adm-dr-1")) if f.endswith(".log")]
    check(len(segs) >= 2, "segment.bytes=4096 did not roll segments: %r" % (segs,))

    # Consumers start at the new log start.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "adm-read",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition("adm-dr", 0, -2)])  # OFFSET_BEGINNING
        m = None
        deadline = time.time() + 20
        while m is None and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error():
                m = None
        check(m is not None and m.offset() == 120 and m.value() == b"v00120",
              "first record after DeleteRecords: %r" % (m and (m.offset(), m.value()),))
        # Topic changes while the consumer long-polls at the end of the log: the
        # fetches must not keep views into a replaced topic snapshot.
        for i in range(3):
            c.poll(0.3)
            r = W.incremental_alter_v1(conn, [(TOPIC, "adm-dr", [("flush.ms", W.SET,
                                                                  str(60000 + i))])])
            expect(r[0][0], 0, "alter during a long poll")
            W.create_topics_v7(conn, [("adm-lp%d" % i, 1, 1, None, None)])
        c.poll(0.6)
    finally:
        c.close()

    top_err, dirs = W.describe_log_dirs_v4(conn, {"adm-dr": [0, 1, 9], "adm-nope": [0]})
    check(top_err == 0 and len(dirs) == 1, "DescribeLogDirs %r" % (dirs,))
    d = dirs[0]
    check(d["error"] == 0 and os.path.samefile(d["dir"], b.data_dir), "log dir %r" % (d,))
    check(d["total"] > 0 and 0 <= d["usable"] <= d["total"], "sizes %r" % (d,))
    check(set(d["topics"]) == {"adm-dr"} and set(d["topics"]["adm-dr"]) == {0, 1},
          "described partitions %r" % (d["topics"],))
    for p in (0, 1):
        pdir = os.path.join(b.data_dir, "adm-dr-%d" % p)
        on_disk = sum(os.path.getsize(os.path.join(pdir, f)) for f in os.listdir(pdir)
                      if f.endswith(".log"))
        check(d["topics"]["adm-dr"][p] == on_disk > 0, "partition %d size %d, %d on disk" %
              (p, d["topics"]["adm-dr"][p], on_disk))
    _e, alld = W.describe_log_dirs_v4(conn, None)
    check("adm-a" in alld[0]["topics"] and len(alld[0]["topics"]["adm-a"]) == 5,
          "all-topics log dirs %r" % (sorted(alld[0]["topics"]),))


def raw_old_records(b):
    """DeleteRecords v0 and DescribeLogDirs v1 (non-flexible forms)."""
    from harness import Reader, array, i32, i64, string
    conn = Conn(b.bootstrap)
    try:
        body = array(["adm-dr"], lambda t: string(t) + array([(0, 130)], lambda p: i32(p[0]) +
                                                              i64(p[1]))) + i32(30000)
        r = conn.call(21, 0, body)
        r.i32()
        tops = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i64(), r.i16()))))
        check(tops == [("adm-dr", [(0, 130, 0)])], "DeleteRecords v0 %r" % (tops,))
        r = conn.call(35, 1, array([("adm-dr", [0])], lambda t: string(t[0]) +
                                   array(t[1], i32)))
        r.i32()

        def part(r):
            return r.i32(), r.i64(), r.i64(), r.i8()

        res = r.array(lambda r: (r.i16(), r.string(), r.array(
            lambda r: (r.string(), r.array(part)))))
        check(len(res) == 1 and res[0][0] == 0 and res[0][2][0][0] == "adm-dr" and
              res[0][2][0][1][0][0] == 0 and res[0][2][0][1][0][1] > 0,
              "DescribeLogDirs v1 %r" % (res,))
        check(isinstance(r, Reader) and r.remaining() == 0, "DescribeLogDirs v1 trailing bytes")
    finally:
        conn.close()


def concurrent_alters(b):
    """Two connections alter different keys of one topic at once: both stick."""
    W.create_topics_v7(Conn(b.bootstrap), [("adm-cc", 1, 1, None, None)])
    conns = [Conn(b.bootstrap) for _ in range(4)]
    keys = ["retention.ms", "segment.ms", "flush.ms", "delete.retention.ms"]
    bodies = []
    for i, k in enumerate(keys):
        bodies.append(W.carray([(TOPIC, "adm-cc", [(k, W.SET, str(100000 + i))])],
                               lambda x: W.i8(x[0]) + W.cstr(x[1]) + W.carray(
                                   x[2], lambda c: W.cstr(c[0]) + W.i8(c[1]) + W.cstr(c[2]) +
                                   W.TAGS) + W.TAGS) + W.i8(0) + W.TAGS)
    for c, body in zip(conns, bodies):  # all in flight before any answer is read
        c.corr += 1
        hdr = W.i16(44) + W.i16(1) + W.i32(c.corr) + W.string(c.client_id) + W.TAGS
        c.send_raw(W.i32(len(hdr) + len(body)) + hdr + body)
    for c in conns:
        r = W.FlexReader(c.recv_frame())
        r.i32()
        r.tags()
        r.i32()
        res = r.carray(lambda r: (r.i16(), r.cstr(), r.i8(), r.cstr(), r.tags()))
        expect(res[0][0], 0, "concurrent incremental alter")
        c.close()
    conn = Conn(b.bootstrap)
    cfg = W.describe_configs_v4(conn, [(TOPIC, "adm-cc", keys)])[0][4]
    conn.close()
    got = {k: (cfg[k]["value"], cfg[k]["source"]) for k in keys}
    check(got == {k: (str(100000 + i), 1) for i, k in enumerate(keys)},
          "an update was lost: %r" % (got,))


def after_restart(b, admin, conn):
    check(partitions_of(admin, "adm-a") == 5, "adm-a partitions after restart")
    check(partitions_of(admin, "adm-b") is None, "deleted adm-b came back")
    c = topic_configs(admin, "adm-a")
    check(c["retention.ms"] == ("7200000", 1), "adm-a retention.ms after restart %r" %
          (c["retention.ms"],))
    c = topic_configs(admin, "adm-k")
    check(c["retention.bytes"] == ("2097152", 1) and c["segment.ms"] == ("3600000", 1),
          "adm-k configs after restart")
    cfg = W.describe_configs_v4(conn, [(TOPIC, "adm-inc", None)])[0][4]
    check(cfg["segment.bytes"]["value"] == "1048576" and
          cfg["cleanup.policy"]["value"] == "compact" and cfg["retention.ms"]["source"] != 1,
          "adm-inc configs after restart")
    cfg = W.describe_configs_v4(conn, [(BROKER, "0", ["log.retention.ms", "log.segment.bytes",
                                                       "max.connections", "log.level"])])[0][4]
    check({k: (v["value"], v["source"]) for k, v in cfg.items()} ==
          {"log.retention.ms": ("86400000", 2), "log.segment.bytes": ("2097152", 2),
           "max.connections": ("500", 2), "log.level": ("info", 5)},
          "broker configs after restart %r" % (cfg,))
    check(watermarks(b, "adm-dr", 0) == (130, 300), "log start after restart %r" %
          (watermarks(b, "adm-dr", 0),))


def second_broker(exe):
    """delete.topic.enable=false; a damaged broker-dynamic.conf stops startup."""
    b = Broker(exe, extra_args=["--set", "delete.topic.enable=false",
                                "--set", "auto.create.topics.enable=false"])
    try:
        b.start()
        conn = Conn(b.bootstrap)
        W.create_topics_v7(conn, [("adm-keep", 1, 1, None, None)])
        d = W.delete_topics_v6(conn, [("adm-keep", bytes(16))])
        expect(d[0][2], 73, "delete with delete.topic.enable=false")
        check(part_dirs(b, "adm-keep") == ["adm-keep-0"], "adm-keep data gone")
        conn.close()
        b.stop()
        with open(os.path.join(b.data_dir, "broker-dynamic.conf"), "w") as f:
            f.write("log.retention.ms=soon\n")
        try:
            b.start(timeout=10)
        except TestFailure as e:
            check("broker-dynamic.conf:1" in str(e), "startup error does not name the file: %s" %
                  e)
        else:
            check(False, "broker started with a damaged broker-dynamic.conf")
    finally:
        b.close()


def main(exe, _args):
    # No auto-creation: a topic a check names must not spring into being.
    b = Broker(exe, extra_args=["--set", "auto.create.topics.enable=false"])
    try:
        b.start()
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        log("confluent-kafka admin")
        confluent_topics(b, admin)
        log("kafka-python admin")
        kafka_python(b)
        log("v0 requests")
        old_versions(b)
        conn = Conn(b.bootstrap)
        log("raw CreateTopics v7 / DeleteTopics v6")
        raw_create_delete(b, conn)
        log("raw DescribeConfigs v4 / IncrementalAlterConfigs v1")
        raw_configs(conn)
        log("ApiVersions ranges")
        raw_api_versions(b)
        log("dynamic log.level")
        dynamic_log_level(b, conn)
        log("raw DescribeCluster v1")
        raw_cluster(b, conn)
        log("concurrent alters")
        concurrent_alters(b)
        log("DeleteRecords v2 / DescribeLogDirs v4")
        raw_records(b, conn)
        conn.close()
        log("DeleteRecords v0 / DescribeLogDirs v1")
        raw_old_records(b)
        log("restart")
        b.restart()
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        conn = Conn(b.bootstrap)
        after_restart(b, admin, conn)
        conn.close()
        b.stop()
        log("second broker: delete disabled, damaged dynamic config")
        second_broker(exe)
    except Exception:
        if b.alive() or b.proc is None:
            log("broker log tail:\n" + b.log_tail())
        raise
    finally:
        b.close()


if __name__ == "__main__":
    run_test(main)
