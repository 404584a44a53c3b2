/* config/config_file.c — the small `name=value` files config/ keeps besides
 * the YAML: a topic's overrides (topic_config.c) and the broker's dynamic
 * values set by AlterConfigs (here), so both survive a restart. Files are
 * replaced atomically (write tmp, fsync, rename, fsync the directory): after a
 * crash the old or the new file is there, never a torn one. Reads are bounded
 * because the bytes come from disk and are parsed like any other input. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"
#include "kafka_errors.h"

#define DYNAMIC_FILE_MAX 65536

static char *trim(char *s, char *end)
{
        while (s < end && (*s == ' ' || *s == '\t'))
                s++;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                end--;
        *end = '\0';
        return s;
}

int cfg_kv_parse(const char *origin, const char *text, size_t len, cfg_kv_fn fn, void *ctx,
                 char *err, size_t errlen)
{
        char line[512], why[384];
        size_t lineno = 0;
        for (size_t pos = 0; pos < len;) {
                const char *src = text + pos;
                const char *nl = memchr(src, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - src) : len - pos;
                pos += n + (nl ? 1 : 0);
                lineno++;
                if (n >= sizeof(line) || memchr(src, '\0', n)) {
                        cfg_errf(err, errlen, "%s:%zu: line too long or contains a NUL byte",
                                 origin, lineno);
                        return -EINVAL;
                }
                memcpy(line, src, n);
                char *s = trim(line, line + n);
                if (*s == '\0' || *s == '#')
                        continue;
                char *eq = strchr(s, '=');
                if (!eq) {
                        cfg_errf(err, errlen, "%s:%zu: expected name=value", origin, lineno);
                        return -EINVAL;
                }
                char *value = trim(eq + 1, eq + 1 + strlen(eq + 1));
                char *name = trim(s, eq);
                int rc = fn(ctx, name, value, why, sizeof(why));
                if (rc != 0) {
                        cfg_errf(err, errlen, "%s:%zu: %s", origin, lineno, why);
                        return rc;
                }
        }
        return 0;
}

int cfg_file_read(const char *path, size_t max, char **text, size_t *len)
{
        int rc = 0;
        FILE *f = fopen(path, "rb");
        if (!f)
                return -errno;
        char *buf = malloc(max + 1);
        if (!buf) {
                rc = -ENOMEM;
                goto out_file;
        }
        size_t n = fread(buf, 1, max + 1, f);
        if (ferror(f) || n > max) {
                rc = ferror(f) ? -EIO : -EFBIG;
                free(buf);
                goto out_file;
        }
        *text = buf;
        *len = n;
out_file:
        fclose(f);
        return rc;
}

static int fsync_dir_of(const char *path)
{
        char copy[4096];
        snprintf(copy, sizeof(copy), "%s", path);
        int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int rc = fsync(fd) == 0 ? 0 : -errno;
        close(fd);
        return rc;
}

int cfg_file_replace(const char *path, const char *text, size_t len)
{
        char tmp[4096];
        int rc;
        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
                return -ENAMETOOLONG;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        for (size_t off = 0; off < len;) {
                ssize_t w = write(fd, text + off, len - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        rc = -errno;
                        goto fail_fd;
                }
                off += (size_t)w;
        }
        if (fsync(fd) != 0) { /* contents durable before the rename publishes them */
                rc = -errno;
                goto fail_fd;
        }
        if (close(fd) != 0) {
                rc = -errno;
                goto fail_tmp;
        }
        if (rename(tmp, path) != 0) {
                rc = -errno;
                goto fail_tmp;
        }
        return fsync_dir_of(path); /* the rename itself durable */
fail_fd:
        close(fd);
fail_tmp:
        unlink(tmp);
        return rc;
}

size_t sl_config_format_dynamic(const sl_config *cfg, char *buf, size_t buflen)
{
        char vbuf[64];
        size_t need = 0;
        if (buflen)
                buf[0] = '\0';
        for (size_t i = 0; i < cfg_nkeys; i++) {
                if (cfg->source[i] != SL_CONFIG_SOURCE_DYNAMIC_BROKER)
                        continue;
                const char *v = cfg_key_text(cfg, i, vbuf, sizeof(vbuf));
                int n = snprintf(need < buflen ? buf + need : NULL,
                                 need < buflen ? buflen - need : 0, "%s=%s\n", cfg_keys[i].name, v);
                need += (size_t)n;
        }
        return need;
}

int sl_config_save_dynamic(const sl_config *cfg, const char *path, char *err, size_t errlen)
{
        char text[4096];
        size_t len = sl_config_format_dynamic(cfg, text, sizeof(text));
        int rc = len < sizeof(text) ? cfg_file_replace(path, text, len) : -EOVERFLOW;
        if (rc != 0)
                cfg_errf(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
}

struct dyn_ctx {
        sl_config next; /* applied here, copied out only if all lines are valid */
        const sl_config *static_cfg;
        uint64_t seen; /* bit i: key i already in the file */
};

static int alter_line(void *ctx, const char *name, const char *value, char *why, size_t whylen)
{
        struct dyn_ctx *d = ctx;
        int idx = cfg_key_find(name);
        if (idx >= 0 && (d->seen >> idx) & 1) {
                cfg_errf(why, whylen, "%s: duplicate", name);
                return -EINVAL;
        }
        if (idx >= 0)
                d->seen |= 1ULL << idx;
        if (sl_config_alter(&d->next, d->static_cfg, name, value, why, whylen) != KP_ERR_NONE)
                return -EINVAL;
        return 0;
}

int sl_config_load_dynamic(sl_config *cfg, const char *path, char *err, size_t errlen)
{
        char *text;
        size_t len;
        int rc = cfg_file_read(path, DYNAMIC_FILE_MAX, &text, &len);
        if (rc == -ENOENT)
                return 0;
        if (rc != 0) {
                cfg_errf(err, errlen, "%s: %s", path, strerror(-rc));
                return rc;
        }
        struct dyn_ctx *d = malloc(sizeof(*d));
        if (!d) {
                rc = -ENOMEM;
                cfg_errf(err, errlen, "%s: out of memory", path);
                goto out_text;
        }
        d->next = *cfg;
        d->static_cfg = cfg;
        d->seen = 0;
        rc = cfg_kv_parse(path, text, len, alter_line, d, err, errlen);
        if (rc == 0)
                *cfg = d->next;
        free(d);
out_text:
        free(text);
        return rc;
}
