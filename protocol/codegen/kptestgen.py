"""protocol/codegen/kptestgen.py — generates the round-trip test table.

For every spec it writes a fill function per struct that sets every field
present in a given version to a non-default value (tagged fields included,
arrays with two elements, nested structs filled), and a table of cases
(rt_cases[]) with void* wrappers around the spec's init/decode/size/encode.
protocol/tests/test_roundtrip.c walks the table at every valid version:
fill, encode, decode, re-encode, compare bytes and sizes.
"""
import os

from kpemit import Emitter, c_strlit


RANGES = {"int8": (-128, 127), "int16": (-32768, 32767), "uint16": (0, 65535),
          "int32": (-(1 << 31), (1 << 31) - 1), "uint32": (0, (1 << 32) - 1),
          "int64": (-(1 << 63), (1 << 63) - 1)}


def int_value(f, k):
    d = getattr(f, "default_int", 0)
    lo, hi = RANGES[f.kind]
    v = d + 3 + k % 7
    if v > hi:
        v = d - 3 - k % 7
    assert lo <= v <= hi and v != d
    if f.kind == "int64":
        return "INT64_C(%d)" % v
    if f.kind == "uint32":
        return "%du" % v
    if f.kind == "int32" and v == -(1 << 31):
        return "INT32_MIN"
    return str(v)


class TestGen:
    def __init__(self, spec):
        self.s = spec
        self.e = Emitter(spec)
        self.k = 0

    def fname(self, st):
        return "fill_" + st.cname[3:]

    def value(self, f, kind):
        """C expression for a non-default scalar value of f's (element) kind."""
        self.k += 1
        k = self.k
        if kind == "bool":
            return "true" if f.default in (None, "false") or f.is_array else "false"
        if kind in RANGES:
            return int_value(f, k) if not f.is_array else str(3 + k % 7)
        if kind == "float64":
            return "%d.5" % (1 + k % 5)
        if kind == "uuid":
            return "(kp_uuid){{%s}}" % ", ".join(str((k * 17 + i) % 251 + 1) for i in range(16))
        if kind == "string":
            text = "%s-%d" % (f.name.lower(), k)
            return "(kp_str){%s, %d}" % (c_strlit(text), len(text))
        if kind in ("bytes", "records"):
            return "(kp_bytes){rt_blob, %d}" % (3 + k % 5)
        raise AssertionError(kind)

    def fill_fn(self, st):
        e = self.e
        L = ["static void %s(%s *m, int16_t version, kp_arena *a)" % (self.fname(st), st.cname), "{",
             "\t(void)version;", "\t(void)a;", "\t(void)m;"]
        for f in st.fields:
            present = e.field_conds(st, f)[0]
            if present == "0":
                continue
            lv = "m->" + f.cname
            if f.kind == "array":
                el = "%s[i]" % lv
                if f.struct:
                    inner = ["%s_init(&%s);" % (f.struct.cname, el), "%s(&%s, version, a);" % (self.fname(f.struct), el)]
                else:
                    inner = ["%s = %s;" % (el, self.value(f, f.base))]
                body = ["%s = kp_arena_alloc(a, 2, sizeof(*%s));" % (lv, lv), "%s_count = 2;" % lv,
                        "for (int i = 0; i < 2; i++) {"] + ["\t" + x for x in inner] + ["}"]
            elif f.kind == "struct":
                body = ["%s(&%s, version, a);" % (self.fname(f.struct), lv)]
                if e.has_present(f):
                    body.append("%s_present = true;" % lv)
            else:
                body = ["%s = %s;" % (lv, self.value(f, f.kind))]
            if present == "1":
                L += ["\t{"] + ["\t\t" + x for x in body] + ["\t}"]
            else:
                L += ["\tif (%s) {" % present] + ["\t\t" + x for x in body] + ["\t}"]
        return L + ["}"]

    def emit(self):
        s, e = self.s, self.e
        T, b = s.cname, s.cname[3:]
        L = ["/* %s */" % s.name]
        for st in e.used:
            L.append("static void %s(%s *m, int16_t version, kp_arena *a);" % (self.fname(st), st.cname))
        for st in e.used:
            L += self.fill_fn(st)
        L += ["static void rt_init_%s(void *m)" % b, "{", "\t%s_init(m);" % T, "}",
              "static void rt_fill_%s(void *m, int16_t v, kp_arena *a)" % b, "{",
              "\t%s(m, v, a);" % self.fname(s.top), "}",
              "static int rt_decode_%s(kp_rd *rd, int16_t v, void *m)" % b, "{",
              "\treturn %s_decode(rd, v, m);" % T, "}",
              "static size_t rt_size_%s(const void *m, int16_t v)" % b, "{",
              "\treturn %s_size(m, v);" % T, "}",
              "static int rt_encode_%s(kp_wr *wr, int16_t v, const void *m)" % b, "{",
              "\treturn %s_encode(wr, v, m);" % T, "}", ""]
        row = "\t{\"%s\", \"%s\", %d, sizeof(%s), %d, %d, rt_init_%s, rt_fill_%s, rt_decode_%s, rt_size_%s, rt_encode_%s}," % (
            s.name, s.type, -1 if s.api_key is None else s.api_key, T, s.valid[0], s.valid[1], b, b, b, b, b)
        return L, row


def emit_tests(specs, out):
    from kpgen import banner, write
    os.makedirs(out, exist_ok=True)
    H = [banner("all specs"),
         "/* Round-trip test table: per spec, a filler that sets every field present in a",
         " * version to a non-default value, plus void* wrappers of the spec's codec. */",
         "#ifndef KP_RT_CASES_H", "#define KP_RT_CASES_H", "", "#include \"gen/kp_messages.h\"", "",
         "typedef struct rt_case {",
         "\tconst char *name, *type;",
         "\tint16_t api_key; /* -1 for header and data specs */",
         "\tsize_t struct_size;",
         "\tint16_t min_version, max_version;",
         "\tvoid (*init)(void *m);",
         "\tvoid (*fill)(void *m, int16_t version, kp_arena *a);",
         "\tint (*decode)(kp_rd *rd, int16_t version, void *m);",
         "\tsize_t (*size)(const void *m, int16_t version);",
         "\tint (*encode)(kp_wr *wr, int16_t version, const void *m);",
         "} rt_case;", "",
         "extern const rt_case rt_cases[];",
         "extern const size_t rt_cases_count;",
         "const rt_case *rt_case_find(const char *name);", "", "#endif"]
    C = [banner("all specs"),
         "/* Round-trip fillers and case table; see rt_cases.h. */",
         "#include \"rt_cases.h\"", "", "#include <string.h>", "",
         "static const uint8_t rt_blob[8] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04};", ""]
    rows = []
    for s in sorted(specs, key=lambda s: s.cname):
        lines, row = TestGen(s).emit()
        C += lines
        rows.append(row)
    C += ["const rt_case rt_cases[] = {"] + rows + ["};",
          "const size_t rt_cases_count = sizeof(rt_cases) / sizeof(rt_cases[0]);", "",
          "const rt_case *rt_case_find(const char *name)", "{",
          "\tfor (size_t i = 0; i < rt_cases_count; i++)",
          "\t\tif (strcmp(rt_cases[i].name, name) == 0)",
          "\t\t\treturn &rt_cases[i];", "\treturn NULL;", "}"]
    write(out, "rt_cases.h", H)
    write(out, "rt_cases.c", C)

