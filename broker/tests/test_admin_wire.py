"""Raw Kafka frames for the admin APIs' flexible versions (test_admin.py).

The Python clients on Debian 12 (confluent-kafka 1.7.0, kafka-python 2.0.2)
send CreateTopics <= v4, DeleteTopics <= v3, DescribeConfigs <= v2 and none
of DeleteRecords, IncrementalAlterConfigs, DescribeCluster (as its own API)
or DescribeLogDirs, so these encoders build the newest versions by hand:
compact strings/arrays, tagged-field sections, request header v2 (client id
as a plain nullable string, then tags) and response header v1.
"""

from harness import Reader, check, i8, i16, i32, i64, string, uvarint


def cstr(s):
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carray(items, enc):
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


TAGS = uvarint(0)


class FlexReader(Reader):
    def cstr(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def carray(self, fn):
        n = self.uvarint()
        return None if n == 0 else [fn(self) for _ in range(n - 1)]

    def uuid(self):
        return self.take(16)

    def boolean(self):
        return self.take(1) != b"\x00"

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def call(conn, api_key, version, body):
    """Flexible request (header v2) and response (header v1): a FlexReader."""
    conn.corr += 1
    hdr = i16(api_key) + i16(version) + i32(conn.corr) + string(conn.client_id) + TAGS
    payload = hdr + body
    conn.send_raw(i32(len(payload)) + payload)
    r = FlexReader(conn.recv_frame())
    got = r.i32()
    check(got == conn.corr, "correlation id %d, expected %d" % (got, conn.corr))
    r.tags()
    return r


# ---- CreateTopics v7


def create_topics_v7(conn, topics, validate_only=False, version=7):
    """topics: list of (name, partitions, rf, {config: value}, assignments or None).

    Returns {name: dict(error, message, id, partitions, rf, configs)}."""

    def topic(t):
        name, parts, rf, cfg, assign = t
        return (cstr(name) + i32(parts) + i16(rf) +
                carray(assign or [], lambda a: i32(a[0]) + carray(a[1], i32) + TAGS) +
                carray(sorted((cfg or {}).items()), lambda kv: cstr(kv[0]) + cstr(kv[1]) + TAGS)
                + TAGS)

    body = carray(topics, topic) + i32(30000) + i8(1 if validate_only else 0) + TAGS
    r = call(conn, 19, version, body)
    r.i32()

    def cfg(r):
        e = (r.cstr(), r.cstr(), r.boolean(), r.i8(), r.boolean())
        r.tags()
        return e

    def res(r):
        name = r.cstr()
        tid = r.uuid()
        err = r.i16()
        msg = r.cstr()
        nparts, rf = r.i32(), r.i16()
        cfgs = r.carray(cfg)
        r.tags()
        return name, dict(error=err, message=msg, id=tid, partitions=nparts, rf=rf,
                          configs={c[0]: (c[1], c[3]) for c in cfgs or []})

    out = dict(r.carray(res))
    r.tags()
    return out


# ---- DeleteTopics v6 (by name or id)


def delete_topics_v6(conn, entries):
    """entries: list of (name or None, 16-byte id). Returns list of (name, id, err, msg)."""
    body = carray(entries, lambda e: cstr(e[0]) + e[1] + TAGS) + i32(30000) + TAGS
    r = call(conn, 20, 6, body)
    r.i32()

    def res(r):
        e = (r.cstr(), r.uuid(), r.i16(), r.cstr())
        r.tags()
        return e

    out = r.carray(res)
    r.tags()
    return out


# ---- DescribeConfigs v4


def describe_configs_v4(conn, resources, synonyms=True, docs=True):
    """resources: list of (type, name, keys or None). Returns list of
    (err, msg, type, name, {config: dict(value, read_only, source, synonyms, type, doc)})."""
    body = (carray(resources, lambda x: i8(x[0]) + cstr(x[1]) + carray(x[2], cstr) + TAGS) +
            i8(1 if synonyms else 0) + i8(1 if docs else 0) + TAGS)
    r = call(conn, 32, 4, body)
    r.i32()

    def syn(r):
        e = (r.cstr(), r.cstr(), r.i8())
        r.tags()
        return e

    def entry(r):
        name, value, ro, src, _sens = r.cstr(), r.cstr(), r.boolean(), r.i8(), r.boolean()
        syns = r.carray(syn)
        ctype, doc = r.i8(), r.cstr()
        r.tags()
        return name, dict(value=value, read_only=ro, source=src, synonyms=syns, type=ctype,
                          doc=doc)

    def result(r):
        err, msg, rtype, rname = r.i16(), r.cstr(), r.i8(), r.cstr()
        cfgs = r.carray(entry)
        r.tags()
        return err, msg, rtype, rname, dict(cfgs or [])

    out = r.carray(result)
    r.tags()
    return out


# ---- IncrementalAlterConfigs v1

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def incremental_alter_v1(conn, resources, validate_only=False):
    """resources: list of (type, name, [(config, op, value)]). Returns [(err, msg, type, name)]."""
    body = (carray(resources, lambda x: i8(x[0]) + cstr(x[1]) + carray(
        x[2], lambda c: cstr(c[0]) + i8(c[1]) + cstr(c[2]) + TAGS) + TAGS) +
            i8(1 if validate_only else 0) + TAGS)
    r = call(conn, 44, 1, body)
    r.i32()

    def res(r):
        e = (r.i16(), r.cstr(), r.i8(), r.cstr())
        r.tags()
        return e

    out = r.carray(res)
    r.tags()
    return out


# ---- DeleteRecords v2


def delete_records_v2(conn, topic, offsets):
    """offsets: {partition: offset}. Returns {partition: (low_watermark, err)}."""
    body = (carray([topic], lambda t: cstr(t) + carray(
        sorted(offsets.items()), lambda po: i32(po[0]) + i64(po[1]) + TAGS) + TAGS) + i32(30000) +
            TAGS)
    r = call(conn, 21, 2, body)
    r.i32()

    def part(r):
        e = (r.i32(), r.i64(), r.i16())
        r.tags()
        return e

    def top(r):
        name = r.cstr()
        parts = r.carray(part)
        r.tags()
        return name, parts

    tops = r.carray(top)
    r.tags()
    check(len(tops) == 1 and tops[0][0] == topic, "DeleteRecords answered %r" % (tops,))
    return {p: (low, err) for p, low, err in tops[0][1]}


# ---- DescribeCluster v1


def describe_cluster_v1(conn, endpoint_type=1, include_ops=False):
    r = call(conn, 60, 1, i8(1 if include_ops else 0) + i8(endpoint_type) + TAGS)
    out = dict(throttle=r.i32(), error=r.i16(), message=r.cstr(), endpoint_type=r.i8(),
               cluster_id=r.cstr(), controller=r.i32())

    def broker(r):
        e = (r.i32(), r.cstr(), r.i32(), r.cstr())
        r.tags()
        return e

    out["brokers"] = r.carray(broker)
    out["ops"] = r.i32()
    r.tags()
    return out


# ---- DescribeLogDirs v4


def describe_log_dirs_v4(conn, topics=None):
    """topics: None (all) or {name: [partitions]}. Returns (top error, [dir dicts])."""
    req = None if topics is None else sorted(topics.items())
    body = carray(req, lambda t: cstr(t[0]) + carray(t[1], i32) + TAGS) + TAGS
    r = call(conn, 35, 4, body)
    r.i32()
    top_err = r.i16()

    def part(r):
        e = (r.i32(), r.i64(), r.i64(), r.boolean())
        r.tags()
        return e

    def topic(r):
        name = r.cstr()
        parts = r.carray(part)
        r.tags()
        return name, {p[0]: p[1] for p in parts}

    def result(r):
        err, d = r.i16(), r.cstr()
        tops = dict(r.carray(topic))
        total, usable = r.i64(), r.i64()
        r.tags()
        return dict(error=err, dir=d, topics=tops, total=total, usable=usable)

    out = r.carray(result)
    r.tags()
    return top_err, out
