/* config/config_value.c — parses and formats config values from text: the
 * one validator behind YAML keys, command-line flags, AlterConfigs and the
 * topic config file, so all of them accept and reject the same strings.
 * Integers take optional unit suffixes (sizes: B KB MB GB TB KiB MiB GiB TiB;
 * durations: ms s m h d). Error text is `expected ..., got "text"`. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_int.h"

void cfg_errf(char *err, size_t errlen, const char *fmt, ...)
{
        if (!err || errlen == 0)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
}

struct unit_suffix {
        const char *sfx;
        int64_t mul;
};

static const struct unit_suffix byte_suffixes[] = {
    {"B", 1},           {"KB", 1000},          {"MB", 1000000},
    {"GB", 1000000000}, {"TB", 1000000000000}, {"KiB", 1LL << 10},
    {"MiB", 1LL << 20}, {"GiB", 1LL << 30},    {"TiB", 1LL << 40},
    {NULL, 0},
};

static const struct unit_suffix ms_suffixes[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0},
};

/* Decimal int64 with an optional unit suffix; false on syntax or overflow. */
static bool parse_i64(const char *s, uint8_t unit, int64_t *out)
{
        bool neg = *s == '-';
        if (neg)
                s++;
        if (*s < '0' || *s > '9')
                return false;
        int64_t v = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
                int d = *s - '0';
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_sub_overflow(v, d, &v))
                        return false; /* accumulate negatively: INT64_MIN parses */
        }
        if (!neg && __builtin_mul_overflow(v, -1, &v))
                return false;
        if (*s == '\0') {
                *out = v;
                return true;
        }
        const struct unit_suffix *u = unit == CU_BYTES ? byte_suffixes
                                      : unit == CU_MS  ? ms_suffixes
                                                       : NULL;
        for (; u && u->sfx; u++) {
                if (strcmp(s, u->sfx) == 0)
                        return !__builtin_mul_overflow(v, u->mul, out);
        }
        return false;
}

static bool id_chars_ok(const char *s)
{
        for (; *s; s++) {
                char c = *s;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_'))
                        return false;
        }
        return true;
}

static int name_index(const char *const *names, const char *s, size_t len)
{
        for (int i = 0; names[i]; i++) {
                if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0)
                        return i;
        }
        return -1;
}

static void names_join(const char *const *names, char *buf, size_t len)
{
        size_t off = 0;
        buf[0] = '\0';
        for (int i = 0; names[i] && off < len; i++)
                off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
}

static bool parse_list(const cfg_spec *sp, const char *s, int64_t *mask)
{
        *mask = 0;
        for (;;) {
                while (*s == ' ')
                        s++;
                size_t n = strcspn(s, ",");
                size_t t = n;
                while (t > 0 && s[t - 1] == ' ')
                        t--;
                int i = name_index(sp->names, s, t);
                if (i < 0)
                        return false;
                *mask |= 1LL << i;
                if (s[n] == '\0')
                        return true;
                s += n + 1;
        }
}

static bool parse_double(const char *s, double *out)
{
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || *end != '\0' || errno != 0 || !isfinite(d))
                return false;
        *out = d;
        return true;
}

int sl_config_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
        const char *colon, *h = s;
        size_t hlen;
        if (*s == '[') {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                h = s + 1;
                hlen = (size_t)(close - h);
                colon = close + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon || memchr(s, ':', (size_t)(colon - s)))
                        return -EINVAL; /* bare IPv6 needs brackets */
                hlen = (size_t)(colon - s);
        }
        int64_t p;
        if (hlen == 0 || hlen >= hostlen || !parse_i64(colon + 1, CU_NONE, &p) || p < 0 ||
            p > 65535 || colon[1] == '-')
                return -EINVAL;
        for (size_t i = 0; i < hlen; i++) {
                if (h[i] == ' ' || h[i] == '/' || h[i] == '[' || h[i] == ']')
                        return -EINVAL;
        }
        memcpy(host, h, hlen);
        host[hlen] = '\0';
        *port = (uint16_t)p;
        return 0;
}

int cfg_parse(const cfg_spec *sp, const char *text, cfg_val *out, char *why, size_t whylen)
{
        char list[160], trimmed[160];
        char host[SL_CONFIG_ADDR_MAX];
        uint16_t port;
        size_t len = strlen(text);

        /* Like Kafka's ConfigDef, ignore blanks around non-string values. */
        if (sp->kind != CK_STR && sp->kind != CK_ADDR && len < sizeof(trimmed)) {
                while (*text == ' ' || *text == '\t')
                        text++, len--;
                while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
                        len--;
                memcpy(trimmed, text, len);
                trimmed[len] = '\0';
                text = trimmed;
        }

        out->i = 0;
        out->d = 0;
        out->s = text == trimmed ? NULL : text; /* only string kinds keep text */
        switch (sp->kind) {
        case CK_INT:
                if (parse_i64(text, sp->unit, &out->i) && out->i >= sp->min && out->i <= sp->max)
                        return 0;
                if (sp->max == INT64_MAX)
                        cfg_errf(why, whylen, "expected an integer >= %lld, got \"%s\"",
                                 (long long)sp->min, text);
                else
                        cfg_errf(why, whylen, "expected an integer in [%lld, %lld], got \"%s\"",
                                 (long long)sp->min, (long long)sp->max, text);
                return -EINVAL;
        case CK_BOOL:
                if (strcasecmp(text, "true") == 0 || strcasecmp(text, "false") == 0) {
                        out->i = strcasecmp(text, "true") == 0;
                        return 0;
                }
                cfg_errf(why, whylen, "expected true or false, got \"%s\"", text);
                return -EINVAL;
        case CK_ENUM:
                out->i = name_index(sp->names, text, len);
                if (out->i >= 0)
                        return 0;
                names_join(sp->names, list, sizeof(list));
                cfg_errf(why, whylen, "expected one of %s, got \"%s\"", list, text);
                return -EINVAL;
        case CK_LIST:
                if (parse_list(sp, text, &out->i))
                        return 0;
                names_join(sp->names, list, sizeof(list));
                cfg_errf(why, whylen, "expected a comma-separated list of %s, got \"%s\"", list,
                         text);
                return -EINVAL;
        case CK_STR:
                if ((int64_t)len >= sp->min && (int64_t)len <= sp->max &&
                    (!sp->id_chars || id_chars_ok(text)))
                        return 0;
                cfg_errf(why, whylen, "expected %lld to %lld characters%s, got \"%s\"",
                         (long long)sp->min, (long long)sp->max,
                         sp->id_chars ? " from [A-Za-z0-9_-]" : "", text);
                return -EINVAL;
        case CK_ADDR:
                if ((sp->min >= 1 && len == 0) || (sp->min >= 2 && strcmp(text, "off") == 0)) {
                        out->s = "";
                        return 0;
                }
                if (len < SL_CONFIG_ADDR_MAX &&
                    sl_config_split_hostport(text, host, sizeof(host), &port) == 0)
                        return 0;
                cfg_errf(why, whylen, "expected HOST:PORT%s with PORT in [0, 65535], got \"%s\"",
                         sp->min >= 2 ? " or off" : "", text);
                return -EINVAL;
        case CK_DOUBLE:
                if (parse_double(text, &out->d) && out->d >= sp->dmin && out->d <= sp->dmax)
                        return 0;
                cfg_errf(why, whylen, "expected a number in [%g, %g], got \"%s\"", sp->dmin,
                         sp->dmax, text);
                return -EINVAL;
        }
        cfg_errf(why, whylen, "unsupported value type");
        return -EINVAL;
}

const char *cfg_format(const cfg_spec *sp, const cfg_val *v, char *buf, size_t buflen)
{
        size_t off = 0;
        switch (sp->kind) {
        case CK_BOOL:
                return v->i ? "true" : "false";
        case CK_ENUM:
                return sp->names[v->i];
        case CK_LIST:
                buf[0] = '\0';
                for (int i = 0; sp->names[i] && off < buflen; i++) {
                        if (v->i & (1LL << i))
                                off += (size_t)snprintf(buf + off, buflen - off, "%s%s",
                                                        off ? "," : "", sp->names[i]);
                }
                return buf;
        case CK_DOUBLE:
                /* shortest text that parses back to the same double */
                for (int prec = 15; prec <= 17; prec++) {
                        snprintf(buf, buflen, "%.*g", prec, v->d);
                        if (strtod(buf, NULL) == v->d)
                                break;
                }
                return buf;
        case CK_STR:
        case CK_ADDR:
                return v->s;
        default:
                snprintf(buf, buflen, "%lld", (long long)v->i);
                return buf;
        }
}
