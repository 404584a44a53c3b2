/* config/config_int.h — private to config/: value specs (type + validator),
 * the text parser/formatter shared by broker keys and topic configs, and the
 * broker key table. Never included from outside config/. */
#ifndef SL_CONFIG_INT_H
#define SL_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum cfg_kind {
        CK_INT,    /* int64 in [min, max], optional unit suffix */
        CK_BOOL,   /* true/false, any case */
        CK_ENUM,   /* one of names[]; value = index */
        CK_LIST,   /* comma list of names[]; value = mask, bit i = names[i] */
        CK_STR,    /* string of min..max bytes */
        CK_ADDR,   /* HOST:PORT; min = 1: "" allowed, min = 2: "" or "off" */
        CK_DOUBLE, /* number in [dmin, dmax] */
};
enum cfg_unit { CU_NONE, CU_BYTES, CU_MS };

typedef struct cfg_spec {
        uint8_t kind;             /* enum cfg_kind */
        uint8_t unit;             /* enum cfg_unit, CK_INT only */
        bool id_chars;            /* CK_STR: only [A-Za-z0-9_-] */
        int64_t min, max;         /* CK_INT range; CK_STR length; CK_ADDR see above */
        double dmin, dmax;        /* CK_DOUBLE range */
        const char *const *names; /* CK_ENUM / CK_LIST, NULL-terminated */
} cfg_spec;

typedef struct cfg_val {
        int64_t i;     /* CK_INT, CK_BOOL (0/1), CK_ENUM, CK_LIST */
        double d;      /* CK_DOUBLE */
        const char *s; /* CK_STR / CK_ADDR: points into the parsed text ("off" -> "") */
} cfg_val;

/* Parse text per spec. 0 or -EINVAL with why = `expected ..., got "text"`. */
int cfg_parse(const cfg_spec *sp, const char *text, cfg_val *out, char *why, size_t whylen);
/* Canonical text of a numeric/enum/list/bool/double value. */
const char *cfg_format(const cfg_spec *sp, const cfg_val *v, char *buf, size_t buflen);
/* Bounded formatted append into err (never overflows, always terminated). */
void cfg_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* `name=value` text: blank lines and '#' comments skipped, blanks around
 * name and value trimmed; fn is called per pair and its why is reported as
 * "origin:line: why". 0 or the first non-zero fn result / -EINVAL. */
typedef int (*cfg_kv_fn)(void *ctx, const char *name, const char *value, char *why, size_t whylen);
int cfg_kv_parse(const char *origin, const char *text, size_t len, cfg_kv_fn fn, void *ctx,
                 char *err, size_t errlen);
/* Whole file into a malloc'd buffer (caller frees); -EFBIG above max; -errno. */
int cfg_file_read(const char *path, size_t max, char **text, size_t *len);
/* Atomically replace path: write path.tmp, fsync, rename, fsync the directory. */
int cfg_file_replace(const char *path, const char *text, size_t len);

/* Broker keys: where each lives in sl_config. */
enum cfg_store { ST_I64, ST_BOOL, ST_INT, ST_STR };

typedef struct cfg_key {
        const char *name;  /* YAML key, Kafka's name where Kafka has one */
        cfg_spec spec;     /* type and validator */
        uint8_t store;     /* enum cfg_store */
        uint16_t offset;   /* offsetof(sl_config, field) */
        uint16_t size;     /* ST_STR: field size */
        const char *def;   /* default as text; NULL = computed (cores) */
        int8_t kafka_type; /* enum sl_config_type */
        bool dynamic;      /* alterable by AlterConfigs */
        const char *flag;  /* command-line flag, or NULL */
        const char *doc;   /* one line */
} cfg_key;

/* Value names shared by broker keys and topic configs (order = enum). */
extern const char *const cfg_compression_names[]; /* enum sl_compression */
extern const char *const cfg_ts_names[];          /* enum sl_timestamp_type */
extern const char *const cfg_cleanup_names[];     /* bits of enum sl_cleanup_policy */

extern const cfg_key cfg_keys[];
extern const size_t cfg_nkeys;

int cfg_key_find(const char *name); /* index, or -1 */
/* Parse text and store it into cfg's field for key idx. 0 or -EINVAL (why). */
int cfg_key_apply(sl_config *cfg, size_t idx, const char *text, char *why, size_t whylen);
/* Numeric view of an ST_I64/ST_BOOL/ST_INT field. */
int64_t cfg_key_i64(const sl_config *cfg, size_t idx);
/* Current value as text (points into cfg for strings, else into buf). */
const char *cfg_key_text(const sl_config *cfg, size_t idx, char *buf, size_t buflen);
/* Copy key idx's value and source from src to dst. */
void cfg_key_copy(sl_config *dst, const sl_config *src, size_t idx);

#endif
