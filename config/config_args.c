/* config/config_args.c — the `serpentlog start` command line and its help.
 * Precedence: built-in defaults < the --config YAML file < flags, applied in
 * command-line order; --config is found first wherever it appears so a flag
 * before it still wins. Flags reuse the key validators (config_value.c), so a
 * flag and its YAML key accept the same values. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"

static int flag_key(const char *flag, size_t len)
{
        for (size_t i = 0; i < cfg_nkeys; i++) {
                const char *f = cfg_keys[i].flag;
                if (f && strlen(f) == len && strncmp(f, flag, len) == 0)
                        return (int)i;
        }
        return -1;
}

/* Splits argv[*i] into flag and value ("--x=v" or "--x v"); advances *i. */
static int flag_value(int argc, char **argv, int *i, size_t *flen, const char **val, char *err,
                      size_t errlen)
{
        const char *arg = argv[*i];
        const char *eq = strchr(arg, '=');
        *flen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (eq) {
                *val = eq + 1;
                return 0;
        }
        if (*i + 1 >= argc) {
                cfg_errf(err, errlen, "%s: missing value", arg);
                return -EINVAL;
        }
        *val = argv[++*i];
        return 0;
}

static bool is_flag(const char *arg, const char *name)
{
        size_t n = strlen(name);
        return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Cross-key rules that no single validator can check. */
static int check_consistency(const sl_config *cfg, char *err, size_t errlen)
{
        if (cfg->group_min_session_timeout_ms > cfg->group_max_session_timeout_ms) {
                cfg_errf(err, errlen,
                         "group.min.session.timeout.ms (%lld) is larger than "
                         "group.max.session.timeout.ms (%lld)",
                         (long long)cfg->group_min_session_timeout_ms,
                         (long long)cfg->group_max_session_timeout_ms);
                return -EINVAL;
        }
        return 0;
}

int sl_config_parse_args(sl_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
        const char *path = NULL, *val;
        size_t flen;
        int rc;

        sl_config_defaults(cfg);
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                        return SL_CONFIG_HELP;
        }
        for (int i = 1; i < argc; i++) {
                if (!is_flag(argv[i], "--config"))
                        continue;
                if ((rc = flag_value(argc, argv, &i, &flen, &val, err, errlen)) != 0)
                        return rc;
                path = val;
        }
        if (path && (rc = sl_config_load_file(cfg, path, err, errlen)) != 0)
                return rc;
        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i];
                if (strncmp(arg, "--", 2) != 0) {
                        cfg_errf(err, errlen, "unexpected argument \"%s\" (see --help)", arg);
                        return -EINVAL;
                }
                if ((rc = flag_value(argc, argv, &i, &flen, &val, err, errlen)) != 0)
                        return rc;
                if (flen == 8 && strncmp(arg, "--config", 8) == 0)
                        continue;
                if (flen == 5 && strncmp(arg, "--set", 5) == 0) {
                        char key[128];
                        const char *eq = strchr(val, '=');
                        if (!eq || (size_t)(eq - val) >= sizeof(key)) {
                                cfg_errf(err, errlen, "--set: expected KEY=VALUE, got \"%s\"", val);
                                return -EINVAL;
                        }
                        memcpy(key, val, (size_t)(eq - val));
                        key[eq - val] = '\0';
                        if ((rc = sl_config_set(cfg, key, eq + 1, "--set", err, errlen)) != 0)
                                return rc;
                        continue;
                }
                int idx = flag_key(arg, flen);
                if (idx < 0) {
                        cfg_errf(err, errlen, "unknown option \"%.*s\" (see --help)", (int)flen,
                                 arg);
                        return -EINVAL;
                }
                char why[320];
                if (cfg_key_apply(cfg, (size_t)idx, val, why, sizeof(why)) != 0) {
                        cfg_errf(err, errlen, "%s: %s", cfg_keys[idx].flag, why);
                        return -EINVAL;
                }
                cfg->source[idx] = SL_CONFIG_SOURCE_STATIC_BROKER;
        }
        return check_consistency(cfg, err, errlen);
}

void sl_config_print_help(FILE *out)
{
        char buf[64];
        sl_config d;
        sl_config_defaults(&d);
        fprintf(out, "Usage: serpentlog start [OPTIONS]\n"
                     "\n"
                     "Runs a broker. Every setting has a default, so no file is needed; a YAML\n"
                     "file (--config) overrides the defaults and flags override the file.\n"
                     "\n"
                     "Options:\n"
                     "  --config FILE           YAML file of the keys below (default: none)\n");
        for (size_t i = 0; i < cfg_nkeys; i++) {
                const cfg_key *k = &cfg_keys[i];
                if (!k->flag)
                        continue;
                snprintf(buf, sizeof(buf), "%s %s", k->flag,
                         k->spec.kind == CK_ADDR  ? "HOST:PORT"
                         : k->spec.kind == CK_INT ? "N"
                                                  : "DIR");
                fprintf(out, "  %-23s same as key %s\n", buf, k->name);
        }
        fprintf(out, "  --set KEY=VALUE         set any key below (repeatable)\n"
                     "  -h, --help              this help\n"
                     "\n"
                     "YAML keys: one flat mapping of dotted names, Kafka's broker config names\n"
                     "where Kafka has one, e.g.\n"
                     "    listen: 0.0.0.0:9092\n"
                     "    log.retention.ms: 3d\n"
                     "Sizes take B KB MB GB TB KiB MiB GiB TiB suffixes (1GiB = 1073741824);\n"
                     "durations take ms s m h d (plain numbers are milliseconds).\n"
                     "Keys marked [dynamic] can be changed at run time with AlterConfigs.\n"
                     "\n");
        for (size_t i = 0; i < cfg_nkeys; i++) {
                const cfg_key *k = &cfg_keys[i];
                const char *def = k->def ? (k->def[0] ? k->def : "\"\"") : NULL;
                if (def)
                        fprintf(out, "  %s (default %s)%s\n      %s\n", k->name, def,
                                k->dynamic ? " [dynamic]" : "", k->doc);
                else
                        fprintf(out, "  %s (default: online CPUs, %s here)%s\n      %s\n", k->name,
                                cfg_key_text(&d, i, buf, sizeof(buf)),
                                k->dynamic ? " [dynamic]" : "", k->doc);
        }
}
