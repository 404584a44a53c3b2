#!/usr/bin/env python3
"""protocol/codegen/test_kpspec.py — unit tests of the generator's spec checks.

Every malformed construct Kafka's own generator refuses must stop kpgen.py
(unknown keys, version syntax, nullability, defaults, tags, types), comments
must be stripped outside strings only, names must map mechanically, and the
minimum encoded sizes used for the count check must be right.
Run: python3 protocol/codegen/test_kpspec.py (registered with ctest).
"""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kpemit import Emitter, cond  # noqa: E402
from kpspec import Loader, SpecError, snake, strip_comments  # noqa: E402


def spec(fields, **top):
    d = {"apiKey": 99, "type": "request", "name": "FooRequest", "validVersions": "0-3",
         "flexibleVersions": "2+", "fields": fields}
    d.update(top)
    return d


def load(d, text=None):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        fh.write(text if text is not None else json.dumps(d))
        path = fh.name
    try:
        return Loader(path).load()
    finally:
        os.unlink(path)


class SpecChecks(unittest.TestCase):
    def bad(self, d):
        with self.assertRaises(SpecError):
            load(d)

    def test_valid_spec_loads(self):
        s = load(spec([{"name": "A", "type": "int32", "versions": "0+"},
                       {"name": "T", "type": "string", "versions": "2+", "nullableVersions": "2+",
                        "default": "null", "tag": 0, "taggedVersions": "2+"}]))
        self.assertEqual(s.cname, "kp_foo_request")
        self.assertEqual([f.cname for f in s.top.fields], ["a", "t"])

    def test_unknown_keys(self):
        self.bad(spec([], surprise=1))
        self.bad(spec([{"name": "A", "type": "int32", "versions": "0+", "weird": True}]))

    def test_version_ranges(self):
        self.bad(spec([], validVersions="0+"))
        self.bad(spec([], flexibleVersions="2-3"))
        self.bad(spec([{"name": "A", "type": "int32", "versions": "3-1"}]))
        self.bad(spec([{"name": "A", "type": "int32", "versions": "x"}]))

    def test_types(self):
        self.bad(spec([{"name": "A", "type": "int128", "versions": "0+"}]))
        self.bad(spec([{"name": "A", "type": "[][]int32", "versions": "0+"}]))
        self.bad(spec([{"name": "A", "type": "Missing", "versions": "0+"}]))
        self.bad(spec([{"name": "A", "type": "int32", "versions": "0+"},
                       {"name": "A", "type": "int32", "versions": "0+"}]))

    def test_nullability_and_defaults(self):
        self.bad(spec([{"name": "A", "type": "int32", "versions": "0+", "nullableVersions": "0+"}]))
        self.bad(spec([{"name": "A", "type": "uuid", "versions": "0+", "nullableVersions": "0+"}]))
        self.bad(spec([{"name": "A", "type": "string", "versions": "0+", "nullableVersions": "1+",
                        "default": "null"}]))
        self.bad(spec([{"name": "A", "type": "int8", "versions": "0+", "default": "300"}]))
        self.bad(spec([{"name": "A", "type": "bool", "versions": "0+", "default": "yes"}]))
        self.bad(spec([{"name": "A", "type": "bytes", "versions": "0+", "default": "abc"}]))
        s = load(spec([{"name": "A", "type": "int32", "versions": "0+", "default": "0x7fffffff"},
                       {"name": "B", "type": "int64", "versions": "0+", "default": -1}]))
        self.assertEqual(s.top.fields[0].default_int, 0x7FFFFFFF)
        self.assertEqual(s.top.fields[1].default_int, -1)

    def test_tags(self):
        tagged = {"name": "A", "type": "int32", "versions": "2+", "tag": 1, "taggedVersions": "2+"}
        self.bad(spec([tagged]))  # tags must start at 0
        self.bad(spec([dict(tagged, tag=0, taggedVersions="1+")]))  # outside flexible range
        self.bad(spec([dict(tagged, tag=0, taggedVersions="2-3")]))  # not open-ended
        self.bad(spec([dict(tagged, tag=0, type="records")]))
        load(spec([dict(tagged, tag="0")]))  # Jackson-style "0" is accepted

    def test_flexible_override(self):
        self.bad(spec([{"name": "A", "type": "int32", "versions": "0+", "flexibleVersions": "none"}]))
        load(spec([{"name": "A", "type": "string", "versions": "0+", "flexibleVersions": "none"}]))

    def test_comments_stripped_outside_strings(self):
        text = '{ // lead\n "apiKey": 99, "type": "request", "name": "FooRequest",\n' \
               '// whole line\n "validVersions": "0", "flexibleVersions": "none", "fields": [\n' \
               '{"name": "A", "type": "string", "versions": "0+", "about": "a // b \\" // c"}]}\n'
        self.assertIn('"a // b \\" // c"', strip_comments(text))
        s = load(None, text)
        self.assertEqual(s.top.fields[0].about, 'a // b " // c')

    def test_names(self):
        self.assertEqual(snake("ThrottleTimeMs"), "throttle_time_ms")
        self.assertEqual(snake("TopicData"), "topic_data")
        self.assertEqual(snake("KRaftVersionRecord"), "k_raft_version_record")
        self.assertEqual(snake("Default"), "default_")

    def test_min_sizes_and_conditions(self):
        s = load(spec([{"name": "S", "type": "string", "versions": "0+"},
                       {"name": "N", "type": "int64", "versions": "1+"},
                       {"name": "L", "type": "[]Sub", "versions": "0+", "fields": [
                           {"name": "X", "type": "int16", "versions": "0+"}]}]))
        e = Emitter(s)
        self.assertEqual([e.min_size(s.top, v) for v in range(4)], [6, 14, 11, 11])
        self.assertEqual(cond((1, 32767), (0, 3)), "version >= 1")
        self.assertEqual(cond((0, 32767), (0, 3)), "1")
        self.assertEqual(cond((5, 32767), (0, 3)), "0")


if __name__ == "__main__":
    unittest.main()
