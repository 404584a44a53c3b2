/* config/config_yaml.c — reads the broker's YAML file with libyaml's event
 * API: one document holding one flat mapping of dotted Kafka-style keys to
 * scalar values. Every error names file:line:column (libyaml marks, 1-based)
 * and the key; cfg is only changed when the whole file is valid, so a bad
 * file never leaves a half-applied config. Input is untrusted bytes: the
 * fuzzer in tests/fuzz/fuzz_config.c drives sl_config_load_buffer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_int.h"

#define CONFIG_FILE_MAX (1 << 20) /* a config file is small; refuse anything huge */

enum { EXPECT_KEY, EXPECT_VALUE };

static const char *event_what(yaml_event_type_t t)
{
        switch (t) {
        case YAML_SEQUENCE_START_EVENT:
                return "a sequence";
        case YAML_MAPPING_START_EVENT:
                return "a mapping";
        case YAML_ALIAS_EVENT:
                return "an alias";
        default:
                return "a scalar";
        }
}

static void err_at(char *err, size_t errlen, const char *name, yaml_mark_t m, const char *msg)
{
        cfg_errf(err, errlen, "%s:%zu:%zu: %s", name, m.line + 1, m.column + 1, msg);
}

static void syntax_error(const yaml_parser_t *p, const char *name, char *err, size_t errlen)
{
        char msg[256];
        if (p->context)
                snprintf(msg, sizeof(msg), "YAML syntax error: %s (%s at line %zu column %zu)",
                         p->problem ? p->problem : "unknown problem", p->context,
                         p->context_mark.line + 1, p->context_mark.column + 1);
        else
                snprintf(msg, sizeof(msg), "YAML syntax error: %s",
                         p->problem ? p->problem : "unknown problem");
        err_at(err, errlen, name, p->problem_mark, msg);
}

/* Applies one key/value pair; `first_line` records where each key was set. */
static int apply_pair(sl_config *cfg, const char *name, const char *key, yaml_mark_t km,
                      const yaml_event_t *val, size_t *first_line, char *err, size_t errlen)
{
        char msg[512], why[320];
        int idx = cfg_key_find(key);
        if (idx < 0) {
                snprintf(msg, sizeof(msg), "%.100s: unknown key%s", key,
                         val->type == YAML_MAPPING_START_EVENT
                             ? " (keys are flat dotted names, e.g. log.retention.ms: 1d)"
                             : "");
                err_at(err, errlen, name, km, msg);
                return -EINVAL;
        }
        if (first_line[idx]) {
                snprintf(msg, sizeof(msg), "%s: duplicate key (first set at line %zu)", key,
                         first_line[idx]);
                err_at(err, errlen, name, km, msg);
                return -EINVAL;
        }
        first_line[idx] = km.line + 1;
        if (val->type != YAML_SCALAR_EVENT) {
                snprintf(msg, sizeof(msg), "%s: expected a scalar value, got %s", key,
                         event_what(val->type));
                err_at(err, errlen, name, val->start_mark, msg);
                return -EINVAL;
        }
        const char *text = (const char *)val->data.scalar.value;
        if (val->data.scalar.length != strlen(text)) {
                snprintf(msg, sizeof(msg), "%s: value contains a NUL byte", key);
                err_at(err, errlen, name, val->start_mark, msg);
                return -EINVAL;
        }
        if (val->data.scalar.length == 0 && val->data.scalar.plain_implicit) {
                snprintf(msg, sizeof(msg), "%s: missing value (write \"\" for an empty string)",
                         key);
                err_at(err, errlen, name, val->start_mark, msg);
                return -EINVAL;
        }
        if (cfg_key_apply(cfg, (size_t)idx, text, why, sizeof(why)) != 0) {
                snprintf(msg, sizeof(msg), "%s: %s", key, why);
                err_at(err, errlen, name, val->start_mark, msg);
                return -EINVAL;
        }
        cfg->source[idx] = SL_CONFIG_SOURCE_STATIC_BROKER;
        return 0;
}

int sl_config_load_buffer(sl_config *cfg, const char *name, const char *data, size_t len, char *err,
                          size_t errlen)
{
        yaml_parser_t parser;
        yaml_event_t ev, key = {0};
        sl_config next = *cfg;
        size_t first_line[SL_CONFIG_MAX_KEYS] = {0};
        int depth = 0, state = EXPECT_KEY, rc = -EINVAL;
        bool have_key = false, done = false, seen_doc = false;

        if (!yaml_parser_initialize(&parser)) {
                cfg_errf(err, errlen, "%s: out of memory", name);
                return -ENOMEM;
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
        while (!done) {
                if (!yaml_parser_parse(&parser, &ev)) {
                        syntax_error(&parser, name, err, errlen);
                        goto out_parser;
                }
                switch (ev.type) {
                case YAML_STREAM_START_EVENT:
                case YAML_DOCUMENT_END_EVENT:
                        break;
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (seen_doc) {
                                err_at(err, errlen, name, ev.start_mark,
                                       "expected one YAML document, found a second");
                                goto out_event;
                        }
                        seen_doc = true;
                        break;
                case YAML_MAPPING_START_EVENT:
                        if (depth == 0) {
                                depth = 1;
                                break;
                        }
                        __attribute__((fallthrough)); /* nested: reported below */
                default:
                        if (depth == 0) {
                                /* An empty document (a null scalar) means "all defaults". */
                                if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0 &&
                                    ev.data.scalar.plain_implicit)
                                        break;
                                cfg_errf(err, errlen,
                                         "%s:%zu:%zu: expected a mapping of config keys, got %s",
                                         name, ev.start_mark.line + 1, ev.start_mark.column + 1,
                                         event_what(ev.type));
                                goto out_event;
                        }
                        if (state == EXPECT_KEY) {
                                if (ev.type != YAML_SCALAR_EVENT) {
                                        cfg_errf(err, errlen,
                                                 "%s:%zu:%zu: expected a key name, got %s", name,
                                                 ev.start_mark.line + 1, ev.start_mark.column + 1,
                                                 event_what(ev.type));
                                        goto out_event;
                                }
                                key = ev;
                                have_key = true;
                                state = EXPECT_VALUE;
                                continue; /* key keeps the event's memory */
                        }
                        if (apply_pair(&next, name, (const char *)key.data.scalar.value,
                                       key.start_mark, &ev, first_line, err, errlen) != 0)
                                goto out_event;
                        yaml_event_delete(&key);
                        have_key = false;
                        state = EXPECT_KEY;
                        break;
                case YAML_MAPPING_END_EVENT:
                        depth = 0;
                        break;
                }
                yaml_event_delete(&ev);
        }
        *cfg = next;
        rc = 0;
        goto out_parser;
out_event:
        yaml_event_delete(&ev);
out_parser:
        if (have_key)
                yaml_event_delete(&key);
        yaml_parser_delete(&parser);
        return rc;
}

int sl_config_load_file(sl_config *cfg, const char *path, char *err, size_t errlen)
{
        char *text;
        size_t len;
        int rc = cfg_file_read(path, CONFIG_FILE_MAX, &text, &len);
        if (rc != 0) {
                cfg_errf(err, errlen, "%s: %s", path, strerror(-rc));
                return rc;
        }
        rc = sl_config_load_buffer(cfg, path, text, len, err, errlen);
        free(text);
        return rc;
}
