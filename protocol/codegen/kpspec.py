"""protocol/codegen/kpspec.py — reads and validates Kafka's message specs.

Loads one messages/*.json file (JSON with // comments), rejects unknown keys
and every malformed construct Kafka's own generator rejects (version syntax,
types, tags, nullability, defaults), and builds the model the C emitter walks:
Spec -> Struct -> Field, with version ranges resolved to (lo, hi) pairs and the
C names derived mechanically from the JSON names.
"""
import json
import re

MAXV = 32767
PRIMS = {
    "bool": ("bool", 1),
    "int8": ("int8_t", 1),
    "int16": ("int16_t", 2),
    "uint16": ("uint16_t", 2),
    "int32": ("int32_t", 4),
    "uint32": ("uint32_t", 4),
    "int64": ("int64_t", 8),
    "float64": ("double", 8),
    "uuid": ("kp_uuid", 16),
    "string": ("kp_str", None),
    "bytes": ("kp_bytes", None),
    "records": ("kp_bytes", None),
}
NULLABLE_OK = ("string", "bytes", "records")
TOP_KEYS = {"apiKey", "type", "listeners", "name", "validVersions", "flexibleVersions",
            "deprecatedVersions", "latestVersionUnstable", "fields", "commonStructs"}
FIELD_KEYS = {"name", "type", "versions", "nullableVersions", "default", "ignorable", "tag",
              "taggedVersions", "flexibleVersions", "mapKey", "entityType", "zeroCopy",
              "about", "fields"}
COMMON_KEYS = {"name", "versions", "fields"}
C_KEYWORDS = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double",
              "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
              "register", "restrict", "return", "short", "signed", "sizeof", "static",
              "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
              "bool", "true", "false"}


class SpecError(Exception):
    pass


def strip_comments(text):
    """Removes // comments outside double-quoted strings (honours \\")."""
    out, i, n, in_str = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
    return s + "_" if s in C_KEYWORDS else s


def parse_range(text, what):
    """'3', '1-4', '2+', 'none' -> (lo, hi) or None for the empty range."""
    if not isinstance(text, str):
        raise SpecError("%s: version range must be a string" % what)
    t = text.strip()
    if t == "none":
        return None
    m = re.fullmatch(r"(\d+)\+", t)
    if m:
        return (int(m.group(1)), MAXV)
    m = re.fullmatch(r"(\d+)-(\d+)", t)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise SpecError("%s: empty range %r" % (what, text))
        return (lo, hi)
    m = re.fullmatch(r"\d+", t)
    if m:
        return (int(t), int(t))
    raise SpecError("%s: bad version range %r" % (what, text))


def inter(a, b):
    if a is None or b is None:
        return None
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo <= hi else None


def contains(outer, inner):
    return inner is None or (outer is not None and outer[0] <= inner[0] and inner[1] <= outer[1])


class Field:
    pass


class Struct:
    def __init__(self, name, cname, sname, versions):
        self.name, self.cname, self.sname = name, cname, sname
        self.versions = versions  # struct-level range (field's or common's)
        self.fields = []


class Spec:
    pass


def norm_default(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return v
    raise SpecError("default must be a string, number or bool")


def check_default(f, where):
    """Validates f.default for f.type; stores the normalised text or None."""
    d = f.default
    if d is None:
        return
    if d == "null":
        if f.kind not in ("string", "bytes", "records", "array", "struct"):
            raise SpecError("%s: null default on %s" % (where, f.type))
        if not contains(f.nullable, f.versions):
            raise SpecError("%s: null default but not nullable in all versions" % where)
        return
    if f.kind in ("bytes", "records", "array", "struct"):
        if d != "":
            raise SpecError("%s: %s field can only default to empty or null" % (where, f.kind))
        return
    if f.kind == "bool":
        if d.lower() not in ("true", "false"):
            raise SpecError("%s: bad bool default %r" % (where, d))
        f.default = d.lower()
        return
    if f.kind in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
        try:
            v = int(d, 16) if re.fullmatch(r"-?0x[0-9a-fA-F]+", d) else int(d, 10)
        except ValueError:
            raise SpecError("%s: bad integer default %r" % (where, d))
        bits = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint16": 16, "uint32": 32}[f.kind]
        lo, hi = (0, (1 << bits) - 1) if f.kind.startswith("u") else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        if not lo <= v <= hi:
            raise SpecError("%s: default %r out of range" % (where, d))
        f.default_int = v
        return
    if f.kind == "float64":
        float(d)
        return
    if f.kind == "uuid":
        if d not in ("", "AAAAAAAAAAAAAAAAAAAAAA"):
            raise SpecError("%s: unsupported uuid default %r" % (where, d))
        f.default = None
        return
    if f.kind == "string":
        if len(d.encode()) > 32767:
            raise SpecError("%s: default too long" % where)


class Loader:
    def __init__(self, path):
        with open(path, encoding="utf-8") as fh:
            raw = json.loads(strip_comments(fh.read()))
        self.raw = raw
        self.path = path

    def load(self):
        raw = self.raw
        unknown = set(raw) - TOP_KEYS
        if unknown:
            raise SpecError("%s: unknown top-level keys %s" % (self.path, sorted(unknown)))
        s = Spec()
        s.name = raw["name"]
        s.type = raw["type"]
        if s.type not in ("request", "response", "header", "data"):
            raise SpecError("%s: unknown type %r" % (self.path, s.type))
        s.api_key = raw.get("apiKey")
        if (s.api_key is None) != (s.type in ("header", "data")):
            raise SpecError("%s: apiKey presence does not match type" % self.path)
        s.valid = parse_range(raw["validVersions"], "validVersions")
        if s.valid is None or s.valid[1] == MAXV:
            raise SpecError("%s: validVersions must be bounded" % self.path)
        s.flex = parse_range(raw["flexibleVersions"], "flexibleVersions")
        if s.flex is not None and s.flex[1] != MAXV:
            raise SpecError("%s: flexibleVersions must be open-ended" % self.path)
        if "deprecatedVersions" in raw:
            parse_range(raw["deprecatedVersions"], "deprecatedVersions")
        s.unstable = bool(raw.get("latestVersionUnstable", False))
        s.cname = "kp_" + snake(s.name)
        s.structs = []  # every struct, children before parents
        self.spec = s
        self.defined = {}
        self.common = {}
        for c in raw.get("commonStructs", []):
            unknown = set(c) - COMMON_KEYS
            if unknown:
                raise SpecError("%s: unknown commonStruct keys %s" % (self.path, sorted(unknown)))
            self.common[c["name"]] = c
        top = Struct(s.name, s.cname, snake(s.name), s.valid)
        self.fill(top, raw["fields"], s.valid)
        s.top = top
        s.structs.append(top)
        for name in self.common:
            if name not in self.defined:
                # unused common structs are still validated and emitted
                self.build_common(name)
        return s

    def build_common(self, name):
        if name in self.defined:
            return self.defined[name]
        c = self.common[name]
        v = inter(parse_range(c["versions"], name), self.spec.valid)
        st = Struct(name, "%s_%s" % (self.spec.cname, snake(name)), snake(name), v)
        self.defined[name] = st
        self.fill(st, c["fields"], v)
        self.spec.structs.append(st)
        return st

    def fill(self, st, fields, ctx):
        names, tags = set(), set()
        s = self.spec
        for j in fields:
            where = "%s.%s.%s" % (s.name, st.name, j.get("name"))
            unknown = set(j) - FIELD_KEYS
            if unknown:
                raise SpecError("%s: unknown field keys %s" % (where, sorted(unknown)))
            f = Field()
            f.name = j["name"]
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", f.name) or f.name in names:
                raise SpecError("%s: bad or duplicate field name" % where)
            names.add(f.name)
            f.cname = snake(f.name)
            f.type = j["type"]
            f.versions = parse_range(j.get("versions", j.get("taggedVersions", "none")), where)
            f.eff = inter(f.versions, ctx)  # effective presence inside this struct
            f.nullable = parse_range(j.get("nullableVersions", "none"), where)
            f.ignorable = bool(j.get("ignorable", False))
            f.map_key = bool(j.get("mapKey", False))
            f.tag = j.get("tag")
            if isinstance(f.tag, str) and f.tag.isdigit():
                f.tag = int(f.tag)  # Jackson coerces "0" to 0; so do we
            f.tagged = parse_range(j["taggedVersions"], where) if "taggedVersions" in j else None
            f.flex_override = parse_range(j["flexibleVersions"], where) if "flexibleVersions" in j else "msg"
            f.default = norm_default(j["default"]) if "default" in j else None
            f.about = j.get("about", "")
            t = f.type
            f.is_array = t.startswith("[]")
            base = t[2:] if f.is_array else t
            if base.startswith("[]"):
                raise SpecError("%s: arrays of arrays" % where)
            f.base = base
            f.struct = None
            if base in PRIMS:
                if "fields" in j:
                    raise SpecError("%s: primitive with fields" % where)
                f.kind = "array" if f.is_array else base
            elif re.fullmatch(r"[A-Z][A-Za-z0-9]*", base):
                f.kind = "array" if f.is_array else "struct"
                if "fields" in j:
                    if base in self.defined or base in self.common:
                        raise SpecError("%s: struct %s defined twice" % (where, base))
                    sub = Struct(base, "%s_%s" % (s.cname, snake(base)), snake(base), f.eff)
                    self.defined[base] = sub
                    self.fill(sub, j["fields"], f.eff)
                    s.structs.append(sub)
                    f.struct = sub
                elif base in self.common:
                    f.struct = self.build_common(base)
                else:
                    raise SpecError("%s: unknown struct type %s" % (where, base))
            else:
                raise SpecError("%s: unknown type %s" % (where, t))
            # checks of ENCODING.md 1.12
            if f.nullable is not None and not (base in NULLABLE_OK or f.is_array or f.struct):
                raise SpecError("%s: nullableVersions on %s" % (where, t))
            if f.flex_override != "msg":
                if base not in ("string", "bytes") or f.is_array:
                    raise SpecError("%s: flexibleVersions override on %s" % (where, t))
                if not contains(s.flex, f.flex_override):
                    raise SpecError("%s: field flexibleVersions outside message range" % where)
            if (f.tag is None) != (f.tagged is None):
                raise SpecError("%s: tag and taggedVersions must come together" % where)
            if f.tag is not None:
                if not isinstance(f.tag, int) or f.tag < 0 or f.tag in tags:
                    raise SpecError("%s: bad or duplicate tag" % where)
                tags.add(f.tag)
                if f.tagged[1] != MAXV or not contains(f.versions, f.tagged) or not contains(s.flex, f.tagged):
                    raise SpecError("%s: bad taggedVersions" % where)
                if base == "records" or f.map_key:
                    raise SpecError("%s: records or mapKey field cannot be tagged" % where)
                if f.nullable is not None and inter(f.nullable, f.tagged) not in (None, f.tagged):
                    raise SpecError("%s: tagged field partly nullable" % where)
            if f.map_key and st.name == s.name:
                raise SpecError("%s: mapKey at top level" % where)
            check_default(f, where)
            st.fields.append(f)
        if tags and sorted(tags) != list(range(len(tags))):
            raise SpecError("%s.%s: tags not contiguous from 0" % (s.name, st.name))
