"""protocol/codegen/kpemit.py — emits the C codec for one validated spec.

For every struct of a spec (kpspec.Struct) it writes the C typedef and the
static init / decode / size / encode functions (plus is_default where a tagged
or version-limited struct field needs it), then the public kp_<msg>_* wrappers.
Version rules (ENCODING.md 1.7) become run-time tests on 'version', folded away
where the struct's own version range makes them constant. Minimum encoded sizes
per struct and version are computed here and emitted as tables so decoders can
check array counts against the bytes left before allocating.
"""
from kpspec import MAXV, PRIMS, contains, inter

FIXED_RD = {"bool": "kp_rd_bool", "int8": "kp_rd_i8", "int16": "kp_rd_i16", "uint16": "kp_rd_u16",
            "int32": "kp_rd_i32", "uint32": "kp_rd_u32", "int64": "kp_rd_i64",
            "float64": "kp_rd_f64", "uuid": "kp_rd_uuid"}
FIXED_WR = {k: v.replace("kp_rd_", "kp_wr_") for k, v in FIXED_RD.items()}


def cond(r, ctx):
    """C test for 'version in r' given that version is known to be in ctx."""
    if r is None or inter(r, ctx) is None:
        return "0"
    if contains(r, ctx):
        return "1"
    lo, hi = r
    parts = []
    if lo > ctx[0]:
        parts.append("version >= %d" % lo)
    if hi < ctx[1]:
        parts.append("version <= %d" % hi)
    return " && ".join(parts)


def c_and(a, b):
    if a == "0" or b == "0":
        return "0"
    if a == "1":
        return b
    if b == "1":
        return a
    return "(%s) && (%s)" % (a, b)


def c_not(a):
    return {"0": "1", "1": "0"}.get(a, "!(%s)" % a)


def c_strlit(s):
    out = []
    for ch in s.encode("utf-8"):
        c = chr(ch)
        if c in '"\\':
            out.append("\\" + c)
        elif 32 <= ch < 127 and c != "?":
            out.append(c)
        else:
            out.append("\\%03o" % ch)
    return '"' + "".join(out) + '"'


def cb(x):
    """A C condition used as a bool argument: literal 1/0 become true/false."""
    return {"1": "true", "0": "false"}.get(x, x)


def in_range(v, r):
    return r is not None and r[0] <= v <= r[1]


class Emitter:
    def __init__(self, spec):
        self.s = spec
        self.min_cache = {}
        self.need_default = set()
        self.used = []
        self.find_used(spec.top, set())
        for st in self.used:
            for f in st.fields:
                if f.struct and f.kind == "struct" and (f.tagged or not contains(f.versions, self.ctx(st))):
                    self.mark_default(f.struct)

    def ctx(self, st):
        return st.versions or self.s.valid

    def find_used(self, st, seen):
        if st.name in seen:
            return
        seen.add(st.name)
        for f in st.fields:
            if f.struct and f.eff is not None:
                self.find_used(f.struct, seen)
        self.used.append(st)

    def mark_default(self, st):
        if st.name in self.need_default:
            return
        self.need_default.add(st.name)
        for f in st.fields:
            if f.struct and f.kind == "struct":
                self.mark_default(f.struct)

    # ---- version facts -------------------------------------------------
    def compact_r(self, f):
        return self.s.flex if f.flex_override == "msg" else f.flex_override

    def min_size(self, st, v):
        key = (st.name, v)
        if key in self.min_cache:
            return self.min_cache[key]
        self.min_cache[key] = 0  # recursion guard
        n = 0
        for f in st.fields:
            if not in_range(v, f.versions) or in_range(v, f.tagged):
                continue
            n += self.field_min(f, v)
        if in_range(v, self.s.flex):
            n += 1
        self.min_cache[key] = n
        return n

    def field_min(self, f, v):
        compact = in_range(v, self.compact_r(f))
        if f.kind in PRIMS and PRIMS[f.kind][1]:
            return PRIMS[f.kind][1]
        if f.kind == "string":
            return 1 if compact else 2
        if f.kind in ("bytes", "records", "array"):
            return 1 if compact else 4
        if f.kind == "struct":
            return 1 if in_range(v, f.nullable) else self.min_size(f.struct, v)
        raise AssertionError(f.kind)

    # ---- C fragments ---------------------------------------------------
    def ctype(self, f):
        return f.struct.cname if f.struct else PRIMS[f.base][0]

    def default_expr(self, f):
        d = f.default
        k = f.kind
        if k == "bool":
            return d or "false"
        if k in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
            v = getattr(f, "default_int", 0)
            if k == "int64":
                return "INT64_MIN" if v == -(1 << 63) else "INT64_C(%d)" % v
            if k == "int32" and v == -(1 << 31):
                return "INT32_MIN"
            if k == "uint32":
                return "%du" % v
            return "%d" % v
        if k == "float64":
            return d if d is not None else "0.0"
        if k == "uuid":
            return "(kp_uuid){{0}}"
        if k == "string":
            if d == "null":
                return "KP_STR_NULL"
            d = d or ""
            return "(kp_str){%s, %d}" % (c_strlit(d), len(d.encode("utf-8")))
        if k in ("bytes", "records"):
            null = d == "null" or (k == "records" and d is None)
            return "KP_BYTES_NULL" if null else "(kp_bytes){NULL, 0}"
        raise AssertionError(k)

    def has_present(self, f):
        return f.kind == "struct" and f.nullable is not None

    def present_default(self, f):
        return "false" if f.default == "null" else "true"

    def init_lines(self, f, lv):
        if f.kind == "array":
            return ["%s = NULL;" % lv, "%s_count = %s;" % (lv, "-1" if f.default == "null" else "0")]
        if f.kind == "struct":
            out = ["%s_init(&%s);" % (f.struct.cname, lv)]
            if self.has_present(f):
                out.append("%s_present = %s;" % (lv, self.present_default(f)))
            return out
        return ["%s = %s;" % (lv, self.default_expr(f))]

    def nondefault(self, f, lv):
        k = f.kind
        if k == "array":
            return "%s_count >= 0" % lv if f.default == "null" else "%s_count != 0" % lv
        if k == "struct":
            e = "!%s_is_default(&%s)" % (f.struct.sname, lv)
            if self.has_present(f):
                pd = self.present_default(f)
                return "%s_present != %s || (%s_present && %s)" % (lv, pd, lv, e)
            return e
        if k == "uuid":
            return "!kp_uuid_is_zero(%s)" % lv
        if k == "string":
            if f.default == "null":
                return "%s.len >= 0" % lv
            return "!kp_str_eq(%s, %s)" % (lv, self.default_expr(f))
        if k in ("bytes", "records"):
            if self.default_expr(f) == "KP_BYTES_NULL":
                return "%s.len >= 0" % lv
            return "%s.len != 0" % lv
        return "%s != %s" % (lv, self.default_expr(f))

    def is_null(self, f, lv):
        if f.kind == "array":
            return "%s_count < 0" % lv
        if f.kind == "struct":
            return "!%s_present" % lv
        return "%s.len < 0" % lv

    def elem_min(self, f, compact):
        if f.struct:
            return "%s_min[version]" % f.struct.sname
        if PRIMS[f.base][1]:
            return str(PRIMS[f.base][1])
        if f.base == "string":
            return "(%s) ? 1 : 2" % compact if compact not in "01" else ("1" if compact == "1" else "2")
        return "(%s) ? 1 : 4" % compact if compact not in "01" else ("1" if compact == "1" else "4")

    # decode one value (not tagged-section logic); R = reader expression
    def dec_value(self, f, lv, R, compact, nullable, tagged, what):
        k = f.kind
        if k in FIXED_RD:
            return ["%s = %s(%s, \"%s\");" % (lv, FIXED_RD[k], R, what)]
        if k == "string":
            return ["%s = kp_rd_string(%s, %s, %s, \"%s\");" % (lv, R, cb(compact), cb(nullable), what)]
        if k in ("bytes", "records"):
            return ["%s = kp_rd_bytes(%s, %s, %s, \"%s\");" % (lv, R, cb(compact), cb(nullable), what)]
        if k == "struct":
            sub = "%s_decode(%s, version, &%s);" % (f.struct.sname, R, lv)
            if nullable == "0":
                out = [sub]
                if self.has_present(f):
                    out.append("%s_present = true;" % lv)
                return out
            marker = ("kp_rd_uvarint(%s, \"%s\") == 0" if tagged else "kp_rd_i8(%s, \"%s\") < 0") % (R, what)
            body = ["if (%s) {" % marker, "\t%s_present = false;" % lv, "} else {",
                    "\t%s_present = true;" % lv, "\t" + sub, "}"]
            if nullable == "1":
                return body
            plain = [sub, "%s_present = true;" % lv]
            return ["if (%s) {" % nullable] + ["\t" + x for x in body] + ["} else {"] + \
                ["\t" + x for x in plain] + ["}"]
        # arrays
        out = ["{",
               "\tint32_t cnt = kp_rd_array_len(%s, %s, %s, %s, \"%s\");" % (
                   R, cb(compact), cb(nullable), self.elem_min(f, compact), what),
               "\t%s_count = cnt;" % lv,
               "\tif (cnt > 0) {",
               "\t\t%s = kp_rd_alloc(%s, (size_t)cnt, sizeof(*%s), \"%s\");" % (lv, R, lv, what),
               "\t\tfor (int32_t i = 0; i < cnt && !%s->err; i++) {" % R]
        el = "%s[i]" % lv
        if f.struct:
            out += ["\t\t\t%s_init(&%s);" % (f.struct.cname, el),
                    "\t\t\t%s_decode(%s, version, &%s);" % (f.struct.sname, R, el)]
        elif f.base in FIXED_RD:
            out += ["\t\t\t%s = %s(%s, \"%s\");" % (el, FIXED_RD[f.base], R, what)]
        elif f.base == "string":
            out += ["\t\t\t%s = kp_rd_string(%s, %s, false, \"%s\");" % (el, R, cb(compact), what)]
        else:
            out += ["\t\t\t%s = kp_rd_bytes(%s, %s, false, \"%s\");" % (el, R, cb(compact), what)]
        out += ["\t\t}", "\t}", "}"]
        return out

    # size of one value as a C expression list added to 'acc'
    def size_value(self, f, lv, compact, nullable, tagged, acc):
        k = f.kind
        if k in FIXED_RD:
            return ["%s += %d;" % (acc, PRIMS[k][1])]
        if k == "string":
            return ["%s += kp_string_size(%s, %s);" % (acc, cb(compact), lv)]
        if k in ("bytes", "records"):
            return ["%s += kp_bytes_size(%s, %s);" % (acc, cb(compact), lv)]
        if k == "struct":
            sub = "%s += %s_size(&%s, version);" % (acc, f.struct.sname, lv)
            if nullable == "0":
                return [sub]
            out = ["%s += 1;" % acc] if nullable == "1" else ["if (%s)" % nullable, "\t%s += 1;" % acc]
            return out + ["if (%s_present)" % lv, "\t" + sub]
        out = ["%s += kp_len_size(%s, true, %s_count);" % (acc, cb(compact), lv)]
        if f.struct:
            out += ["for (int32_t i = 0; i < %s_count; i++)" % lv,
                    "\t%s += %s_size(&%s[i], version);" % (acc, f.struct.sname, lv)]
        elif f.base in FIXED_RD:
            out += ["if (%s_count > 0)" % lv, "\t%s += (size_t)%s_count * %d;" % (acc, lv, PRIMS[f.base][1])]
        else:
            fn = "kp_string_size" if f.base == "string" else "kp_bytes_size"
            out += ["for (int32_t i = 0; i < %s_count; i++)" % lv,
                    "\t%s += %s(%s, %s[i]);" % (acc, fn, cb(compact), lv)]
        return out

    def enc_value(self, f, lv, compact, nullable, tagged, what):
        k = f.kind
        out = []
        if nullable != "1" and (k in ("string", "bytes", "records", "array") or self.has_present(f)):
            test = c_and(c_not(nullable), self.is_null(f, lv))
            if test != "0":
                out += ["if (%s) {" % test, "\tkp_wr_fail(wr, \"%s: null in a non-nullable version\");" % what,
                        "\treturn;", "}"]
        if k in FIXED_WR:
            return out + ["%s(wr, %s);" % (FIXED_WR[k], lv)]
        if k == "string":
            return out + ["kp_wr_string(wr, %s, %s);" % (cb(compact), lv)]
        if k in ("bytes", "records"):
            return out + ["kp_wr_bytes(wr, %s, %s);" % (cb(compact), lv)]
        if k == "struct":
            sub = "%s_encode(wr, version, &%s);" % (f.struct.sname, lv)
            if nullable == "0":
                return out + [sub]
            mk = ("kp_wr_uvarint(wr, %s_present ? 1 : 0);" if tagged else "kp_wr_i8(wr, %s_present ? 1 : -1);") % lv
            body = [mk, "if (%s_present)" % lv, "\t" + sub]
            if nullable == "1":
                return out + body
            return out + ["if (%s) {" % nullable] + ["\t" + x for x in body] + ["} else {", "\t" + sub, "}"]
        out.append("kp_wr_len(wr, %s, true, %s_count);" % (cb(compact), lv))
        out.append("for (int32_t i = 0; i < %s_count; i++)" % lv)
        if f.struct:
            out.append("\t%s_encode(wr, version, &%s[i]);" % (f.struct.sname, lv))
        elif f.base in FIXED_WR:
            out.append("\t%s(wr, %s[i]);" % (FIXED_WR[f.base], lv))
        else:
            fn = "kp_wr_string" if f.base == "string" else "kp_wr_bytes"
            out.append("\t%s(wr, %s, %s[i]);" % (fn, cb(compact), lv))
        return out

    # ---- per-struct functions -------------------------------------------
    def field_conds(self, st, f):
        ctx = self.ctx(st)
        present = cond(f.versions, ctx)
        if f.tagged:  # taggedVersions is open-ended: inline below it, tagged from it
            t = f.tagged[0]
            tagged = cond(inter(f.versions, f.tagged), ctx)
            inline = cond(inter(f.versions, (0, t - 1)) if t > 0 else None, ctx)
        else:
            tagged, inline = "0", present
        return present, tagged, inline, cond(self.compact_r(f), ctx), cond(f.nullable, ctx)

    def what(self, st, f):
        return "%s.%s" % (st.name, f.name)

    def typedef(self, st):
        L = ["/* %s: struct of %s, versions %s. */" % (st.name, self.s.name, vr(self.ctx(st))),
             "typedef struct %s {" % st.cname]
        for f in st.fields:
            notes = ["v" + vr(f.versions)]
            if f.nullable:
                notes.append("nullable v" + vr(f.nullable))
            if f.tagged:
                notes.append("tag %d v%s" % (f.tag, vr(f.tagged)))
            if f.default is not None:
                notes.append("default %s" % f.default.replace("*/", "* /"))
            note = " /* %s */" % ", ".join(notes)
            t = self.ctype(f)
            if f.kind == "array":
                L.append("\t%s *%s;%s" % (t, f.cname, note))
                L.append("\tint32_t %s_count;%s" % (f.cname, " /* -1 = null */" if f.nullable else ""))
            else:
                L.append("\t%s %s;%s" % (t, f.cname, note))
                if self.has_present(f):
                    L.append("\tbool %s_present; /* false = null */" % f.cname)
        if not st.fields:
            L.append("\tchar unused_; /* no fields in any version */")
        L.append("} %s;" % st.cname)
        return L

    def protos(self, st):
        T, n = st.cname, st.sname
        out = ["static void %s_decode(kp_rd *rd, int16_t version, %s *m);" % (n, T),
               "static size_t %s_size(const %s *m, int16_t version);" % (n, T),
               "static void %s_encode(kp_wr *wr, int16_t version, const %s *m);" % (n, T)]
        if st.name in self.need_default:
            out.append("static bool %s_is_default(const %s *m);" % (n, T))
        return out

    def fn_init(self, st):
        L = ["void %s_init(%s *m)" % (st.cname, st.cname), "{"]
        if not st.fields:
            L.append("\t(void)m;")
        for f in st.fields:
            L += ["\t" + x for x in self.init_lines(f, "m->" + f.cname)]
        return L + ["}"]

    def fn_is_default(self, st):
        L = ["static bool %s_is_default(const %s *m)" % (st.sname, st.cname), "{", "\t(void)m;"]
        for f in st.fields:
            L += ["\tif (%s)" % self.nondefault(f, "m->" + f.cname), "\t\treturn false;"]
        return L + ["\treturn true;", "}"]

    def tagged_fields(self, st):
        return sorted([f for f in st.fields if f.tagged], key=lambda f: f.tag)

    def fn_decode(self, st):
        L = ["static void %s_decode(kp_rd *rd, int16_t version, %s *m)" % (st.sname, st.cname), "{",
             "\t(void)version;", "\t(void)m;"]
        for f in st.fields:
            _, _, inline, compact, nullable = self.field_conds(st, f)
            if inline == "0":
                continue
            body = self.dec_value(f, "m->" + f.cname, "rd", compact, nullable, False, self.what(st, f))
            L += block(inline, body, 1)
        flex = cond(self.s.flex, self.ctx(st))
        if flex != "0":
            w = st.name
            body = ["uint32_t ntags = kp_rd_uvarint(rd, \"%s: tagged fields\");" % w,
                    "int64_t last = -1;",
                    "for (uint32_t t = 0; t < ntags && !rd->err; t++) {",
                    "\tuint32_t tag = kp_rd_uvarint(rd, \"%s: tag\");" % w,
                    "\tuint32_t tsz = kp_rd_uvarint(rd, \"%s: tag size\");" % w,
                    "\tif (rd->err || !kp_rd_need(rd, tsz, \"%s: tag size\"))" % w,
                    "\t\tbreak;",
                    "\tif ((int64_t)tag <= last) {",
                    "\t\tkp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, \"%s: tags not ascending\");" % w,
                    "\t\tbreak;", "\t}", "\tlast = tag;"]
            tf = self.tagged_fields(st)
            if tf:
                body += ["\tkp_rd sub = *rd;", "\tsub.end = rd->p + tsz;", "\tswitch (tag) {"]
                for f in tf:
                    _, tagged, _, _, nullable = self.field_conds(st, f)
                    what = self.what(st, f)
                    body += ["\tcase %d:" % f.tag]
                    if tagged != "1":
                        body += ["\t\tif (%s) {" % c_not(tagged),
                                 "\t\t\tkp_rd_fail(&sub, KP_ERR_CORRUPT_MESSAGE, \"%s: tag not valid in this version\");" % what,
                                 "\t\t\tbreak;", "\t\t}"]
                    body += ["\t\t" + x for x in self.dec_value(f, "m->" + f.cname, "(&sub)", "1", nullable, True, what)]
                    body += ["\t\tif (sub.p != sub.end)",
                             "\t\t\tkp_rd_fail(&sub, KP_ERR_CORRUPT_MESSAGE, \"%s: tagged field size\");" % what,
                             "\t\tbreak;"]
                body += ["\tdefault:", "\t\tbreak;", "\t}",
                         "\tif (sub.err) {", "\t\tkp_rd_fail(rd, sub.err, sub.why);", "\t\tbreak;", "\t}"]
            body += ["\trd->p += tsz;", "}"]
            L += block(flex, body, 1)
        return L + ["}"]

    def fn_size(self, st):
        L = ["static size_t %s_size(const %s *m, int16_t version)" % (st.sname, st.cname), "{",
             "\tsize_t n = 0;", "\t(void)m;", "\t(void)version;"]
        for f in st.fields:
            _, _, inline, compact, nullable = self.field_conds(st, f)
            if inline != "0":
                L += block(inline, self.size_value(f, "m->" + f.cname, compact, nullable, False, "n"), 1)
        flex = cond(self.s.flex, self.ctx(st))
        if flex != "0":
            body = ["uint32_t ntags = 0;"]
            for f in self.tagged_fields(st):
                _, tagged, _, _, nullable = self.field_conds(st, f)
                lv = "m->" + f.cname
                t = c_and(tagged, self.nondefault(f, lv) if tagged == "1" else "(%s)" % self.nondefault(f, lv))
                if t == "0":
                    continue
                inner = ["size_t v = 0;"] + self.size_value(f, lv, "1", nullable, True, "v") + \
                    ["n += kp_uvarint_size(%d) + kp_uvarint_size((uint32_t)v) + v;" % f.tag, "ntags++;"]
                body += ["if (%s) {" % t] + ["\t" + x for x in inner] + ["}"]
            body.append("n += kp_uvarint_size(ntags);")
            L += block(flex, body, 1)
        return L + ["\treturn n;", "}"]

    def fn_encode(self, st):
        L = ["static void %s_encode(kp_wr *wr, int16_t version, const %s *m)" % (st.sname, st.cname), "{",
             "\t(void)m;", "\t(void)version;"]
        for f in st.fields:
            present = self.field_conds(st, f)[0]
            if f.ignorable or present == "1":
                continue
            t = c_and(c_not(present), "(%s)" % self.nondefault(f, "m->" + f.cname))
            L += ["\tif (%s) {" % t,
                  "\t\tkp_wr_fail(wr, \"%s: non-default value in a version without it\");" % self.what(st, f),
                  "\t\treturn;", "\t}"]
        for f in st.fields:
            _, _, inline, compact, nullable = self.field_conds(st, f)
            if inline != "0":
                L += block(inline, self.enc_value(f, "m->" + f.cname, compact, nullable, False, self.what(st, f)), 1)
        flex = cond(self.s.flex, self.ctx(st))
        if flex != "0":
            body = ["uint32_t ntags = 0;"]
            emit = []
            for f in self.tagged_fields(st):
                _, tagged, _, _, nullable = self.field_conds(st, f)
                lv = "m->" + f.cname
                t = c_and(tagged, "(%s)" % self.nondefault(f, lv))
                if t == "0":
                    continue
                body += ["if (%s)" % t, "\tntags++;"]
                inner = ["size_t v = 0;"] + self.size_value(f, lv, "1", nullable, True, "v") + \
                    ["kp_wr_uvarint(wr, %d);" % f.tag, "kp_wr_uvarint(wr, (uint32_t)v);"] + \
                    self.enc_value(f, lv, "1", nullable, True, self.what(st, f))
                emit += ["if (%s) {" % t] + ["\t" + x for x in inner] + ["}"]
            body += ["kp_wr_uvarint(wr, ntags);"] + emit
            L += block(flex, body, 1)
        return L + ["}"]

    def min_table(self, st):
        vals = [self.min_size(st, v) for v in range(0, self.s.valid[1] + 1)]
        return ["static const uint32_t %s_min[%d] = {%s};" % (st.sname, len(vals), ", ".join(map(str, vals)))]

    def array_elem_structs(self):
        names = set()
        for st in self.used:
            for f in st.fields:
                if f.kind == "array" and f.struct:
                    names.add(f.struct.name)
        return names


def vr(r):
    if r is None:
        return "none"
    if r[1] == MAXV:
        return "%d+" % r[0]
    return "%d" % r[0] if r[0] == r[1] else "%d-%d" % r


def block(c, body, depth):
    ind = "\t" * depth
    if c == "1":
        return [ind + "{"] + [ind + "\t" + x for x in body] + [ind + "}"] if any(
            x.startswith(("int", "uint", "size_t", "kp_rd sub")) for x in body) else [ind + x for x in body]
    return [ind + "if (%s) {" % c] + [ind + "\t" + x for x in body] + [ind + "}"]
