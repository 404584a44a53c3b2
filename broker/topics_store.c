/* broker/topics_store.c — the topic registry on disk, and snapshot building.
 *
 * One file per topic, `<data>/__topics/<name>.meta`, text:
 *     # serpentlog topic v1
 *     id=<32 hex digits, the UUIDv4>
 *     partitions=<count>
 *     <config override lines name=value, config/topic_config.h format>
 * Rules: the file name (minus .meta) is the topic name and must pass
 * sl_topic_name_check; id must be 32 hex digits and not all zero; partitions
 * must be 1..SL_TOPIC_PARTITIONS_MAX; anything else makes startup fail with
 * the file named (we refuse to guess). Written as <name>.meta.tmp, fsynced,
 * renamed, then the directory fsynced, so a crash leaves the old or the new
 * file, never half of one. Loading also removes what an interrupted deletion
 * left: `<topic>-<n>.<tag>.deleted` partition directories. Called on shard
 * 0's I/O helper thread or before the shards start; nothing here touches
 * shard state. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker_int.h"

#define TOPICS_DIR     "__topics"
#define META_MAX_BYTES 65536

kp_uuid sl_uuid_random(void)
{
        kp_uuid u;
        if (getrandom(u.b, sizeof(u.b), 0) != (ssize_t)sizeof(u.b)) {
                /* getrandom of 16 bytes does not fail short on Linux >= 3.17;
                 * fall back to something unique rather than abort. */
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                memset(u.b, 0, sizeof(u.b));
                memcpy(u.b, &ts, sizeof(ts) < 16 ? sizeof(ts) : 16);
        }
        u.b[6] = (uint8_t)((u.b[6] & 0x0f) | 0x40); /* version 4 */
        u.b[8] = (uint8_t)((u.b[8] & 0x3f) | 0x80); /* variant 10 */
        return u;
}

int16_t sl_topic_name_check(kp_str name)
{
        if (name.len <= 0 || name.len > SL_TOPIC_NAME_MAX)
                return KP_ERR_INVALID_TOPIC_EXCEPTION;
        if ((name.len == 1 && name.p[0] == '.') ||
            (name.len == 2 && name.p[0] == '.' && name.p[1] == '.'))
                return KP_ERR_INVALID_TOPIC_EXCEPTION;
        for (int32_t i = 0; i < name.len; i++) {
                char c = name.p[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                if (!ok)
                        return KP_ERR_INVALID_TOPIC_EXCEPTION;
        }
        return 0;
}

/* --- snapshots --- */

static int cmp_info(const void *a, const void *b)
{
        const sl_topic_info *x = *(const sl_topic_info *const *)a;
        const sl_topic_info *y = *(const sl_topic_info *const *)b;
        int32_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
        int c = memcmp(x->name.p, y->name.p, (size_t)n);
        if (c)
                return c;
        return (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

/* One allocation: header, topic array, names. The inputs may be freed after. */
sl_topics_snap *sl_topics_snap_build(const sl_topic_info *const *topics, int32_t n,
                                     uint64_t version)
{
        const sl_topic_info **sorted = malloc((size_t)(n ? n : 1) * sizeof(*sorted));
        if (!sorted)
                return NULL;
        if (n)
                memcpy(sorted, topics, (size_t)n * sizeof(*sorted));
        qsort(sorted, (size_t)n, sizeof(*sorted), cmp_info);
        size_t names = 0;
        for (int32_t i = 0; i < n; i++)
                names += (size_t)sorted[i]->name.len + 1;
        size_t bytes = sizeof(sl_topics_snap) + (size_t)n * sizeof(sl_topic_info) + names;
        sl_topics_snap *s = calloc(1, bytes);
        if (!s) {
                free(sorted);
                return NULL;
        }
        sl_topic_info *arr = (sl_topic_info *)(s + 1);
        char *np = (char *)(arr + n);
        for (int32_t i = 0; i < n; i++) {
                arr[i] = *sorted[i];
                memcpy(np, sorted[i]->name.p, (size_t)sorted[i]->name.len);
                np[sorted[i]->name.len] = 0;
                arr[i].name.p = np;
                arr[i].internal = sorted[i]->name.len >= 2 && np[0] == '_' && np[1] == '_';
                np += sorted[i]->name.len + 1;
        }
        free(sorted);
        s->version = version;
        s->count = n;
        s->topics = arr;
        return s;
}

void sl_topics_snap_free(sl_topics_snap *s)
{
        free(s);
}

const sl_topic_info *sl_topics_find(const sl_topics_snap *s, kp_str name)
{
        if (!s || name.len < 0)
                return NULL;
        int32_t lo = 0, hi = s->count - 1;
        sl_topic_info key = {.name = name};
        const sl_topic_info *kp = &key;
        while (lo <= hi) {
                int32_t mid = lo + (hi - lo) / 2;
                const sl_topic_info *mp = &s->topics[mid];
                int c = cmp_info(&kp, &mp);
                if (!c)
                        return mp;
                if (c < 0)
                        hi = mid - 1;
                else
                        lo = mid + 1;
        }
        return NULL;
}

const sl_topic_info *sl_topics_find_id(const sl_topics_snap *s, kp_uuid id)
{
        if (!s)
                return NULL;
        for (int32_t i = 0; i < s->count; i++)
                if (!memcmp(s->topics[i].id.b, id.b, 16))
                        return &s->topics[i];
        return NULL;
}

/* --- files --- */

static void meta_path(const char *data_dir, kp_str name, const char *suffix, char *buf, size_t len)
{
        snprintf(buf, len, "%s/%s/%.*s.meta%s", data_dir, TOPICS_DIR, (int)name.len, name.p,
                 suffix);
}

static int fsync_dir(const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int rc = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return rc;
}

int sl_topics_store_save(const char *data_dir, const sl_topic_info *t)
{
        char path[SL_CONFIG_PATH_MAX + 300], tmp[SL_CONFIG_PATH_MAX + 300],
            dir[SL_CONFIG_PATH_MAX + 16];
        meta_path(data_dir, t->name, "", path, sizeof(path));
        meta_path(data_dir, t->name, ".tmp", tmp, sizeof(tmp));
        snprintf(dir, sizeof(dir), "%s/%s", data_dir, TOPICS_DIR);
        char *buf = malloc(META_MAX_BYTES);
        if (!buf)
                return -ENOMEM;
        int n = snprintf(buf, META_MAX_BYTES, "# serpentlog topic v1\nid=");
        for (int i = 0; i < 16; i++)
                n += snprintf(buf + n, (size_t)(META_MAX_BYTES - n), "%02x", t->id.b[i]);
        n += snprintf(buf + n, (size_t)(META_MAX_BYTES - n), "\npartitions=%d\n", t->partitions);
        size_t cl = sl_topic_config_format(&t->config, buf + n, (size_t)(META_MAX_BYTES - n));
        int rc = 0;
        if (cl >= (size_t)(META_MAX_BYTES - n)) {
                rc = -E2BIG;
                goto out_free;
        }
        size_t total = (size_t)n + cl;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                rc = -errno;
                goto out_free;
        }
        size_t off = 0;
        while (off < total) {
                ssize_t w = write(fd, buf + off, total - off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        rc = -errno;
                        break;
                }
                off += (size_t)w;
        }
        if (!rc && fsync(fd) < 0)
                rc = -errno;
        close(fd);
        if (!rc && rename(tmp, path) < 0)
                rc = -errno;
        if (!rc)
                rc = fsync_dir(dir);
        if (rc)
                unlink(tmp);
out_free:
        free(buf);
        return rc;
}

int sl_topics_store_remove(const char *data_dir, kp_str name)
{
        char path[SL_CONFIG_PATH_MAX + 300], dir[SL_CONFIG_PATH_MAX + 16];
        meta_path(data_dir, name, "", path, sizeof(path));
        snprintf(dir, sizeof(dir), "%s/%s", data_dir, TOPICS_DIR);
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return fsync_dir(dir);
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Parses one meta file into t (name set by the caller). */
static int parse_meta(const char *path, char *text, size_t len, sl_topic_info *t)
{
        bool have_id = false, have_parts = false;
        char *cfg_start = NULL;
        char *p = text, *end = text + len;
        while (p < end) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *le = nl ? nl : end;
                if (!strncmp(p, "id=", 3) && le - p == 3 + 32) {
                        bool zero = true;
                        for (int i = 0; i < 16; i++) {
                                int hi = hexval(p[3 + 2 * i]), lo = hexval(p[4 + 2 * i]);
                                if (hi < 0 || lo < 0)
                                        goto bad;
                                t->id.b[i] = (uint8_t)(hi << 4 | lo);
                                zero = zero && !t->id.b[i];
                        }
                        if (zero)
                                goto bad;
                        have_id = true;
                } else if (!strncmp(p, "partitions=", 11)) {
                        char *e;
                        long v = strtol(p + 11, &e, 10);
                        if (e != le || v < 1 || v > 1000000)
                                goto bad;
                        t->partitions = (int32_t)v;
                        have_parts = true;
                } else if (p[0] != '#' && le > p) {
                        cfg_start = p;
                        break;
                }
                p = nl ? nl + 1 : end;
        }
        if (!have_id || !have_parts)
                goto bad;
        sl_topic_config_init(&t->config);
        if (cfg_start) {
                char err[256];
                if (sl_topic_config_parse(&t->config, path, cfg_start, (size_t)(end - cfg_start),
                                          err, sizeof(err)) < 0) {
                        SL_ERROR("%s", err);
                        return -EINVAL;
                }
        }
        return 0;
bad:
        SL_ERROR("%s: malformed topic metadata (need id=<32 hex> and partitions=<1..>)", path);
        return -EINVAL;
}

static int read_small(const char *path, char **out, size_t *len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        char *buf = malloc(META_MAX_BYTES + 1);
        size_t n = 0;
        int rc = buf ? 0 : -ENOMEM;
        while (!rc && n < META_MAX_BYTES) {
                ssize_t r = read(fd, buf + n, META_MAX_BYTES - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        rc = -errno;
                if (r <= 0)
                        break;
                n += (size_t)r;
        }
        close(fd);
        if (rc) {
                free(buf);
                return rc;
        }
        buf[n] = 0;
        *out = buf;
        *len = n;
        return 0;
}

/* `<topic>-<index>.<tag>.deleted`: the name partition.c gives a deleted
 * partition's directory while fetches still read from it. */
static bool is_deleted_partition_dir(const char *name)
{
        size_t l = strlen(name);
        if (l <= 8 || strcmp(name + l - 8, ".deleted"))
                return false;
        l -= 8;
        const char *tag = memrchr(name, '.', l);
        if (!tag || tag == name || (size_t)(tag - name) + 1 == l)
                return false;
        const char *dash = memrchr(name, '-', (size_t)(tag - name));
        if (!dash || dash + 1 == tag)
                return false;
        for (const char *p = dash + 1; p < tag; p++)
                if (*p < '0' || *p > '9')
                        return false;
        return sl_topic_name_check((kp_str){name, (int32_t)(dash - name)}) == 0;
}

/* A deleted partition's directory is removed when its last fetch lets go of
 * it; a crash before that leaves it behind, renamed aside. Nothing refers to
 * it any more (the topic's meta file went first): remove it. */
static void sweep_deleted(const char *data_dir)
{
        DIR *d = opendir(data_dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!is_deleted_partition_dir(de->d_name))
                        continue;
                char path[SL_CONFIG_PATH_MAX + 300];
                snprintf(path, sizeof(path), "%s/%s", data_dir, de->d_name);
                struct stat st;
                if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                int rc = sl_log_remove_dir(path);
                if (rc < 0)
                        SL_WARN("%s: removing a deleted partition's leftover: %s", path,
                                sl_log_strerror(rc));
                else
                        SL_INFO("%s: removed (a topic deletion interrupted by a stop or crash)",
                                path);
        }
        closedir(d);
}

int sl_topics_load(const char *data_dir, sl_topics_snap **out)
{
        char dir[SL_CONFIG_PATH_MAX + 16];
        snprintf(dir, sizeof(dir), "%s/%s", data_dir, TOPICS_DIR);
        if (mkdir(data_dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        sl_topic_info *infos = NULL;
        char **names = NULL;
        int32_t n = 0, cap = 0;
        int rc = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l > 9 && !strcmp(de->d_name + l - 9, ".meta.tmp")) {
                        char p[SL_CONFIG_PATH_MAX + 300];
                        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                        unlink(p); /* an interrupted save: the old file (if any) stands */
                        continue;
                }
                if (l <= 5 || strcmp(de->d_name + l - 5, ".meta"))
                        continue;
                kp_str name = {de->d_name, (int32_t)(l - 5)};
                if (sl_topic_name_check(name)) {
                        SL_ERROR("%s/%s: not a valid topic name", dir, de->d_name);
                        rc = -EINVAL;
                        break;
                }
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        sl_topic_info *ni = realloc(infos, (size_t)cap * sizeof(*ni));
                        char **nn = realloc(names, (size_t)cap * sizeof(*nn));
                        if (ni)
                                infos = ni;
                        if (nn)
                                names = nn;
                        if (!ni || !nn) {
                                rc = -ENOMEM;
                                break;
                        }
                }
                char path[SL_CONFIG_PATH_MAX + 300];
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                char *text;
                size_t len;
                rc = read_small(path, &text, &len);
                if (rc) {
                        SL_ERROR("%s: %s", path, strerror(-rc));
                        break;
                }
                memset(&infos[n], 0, sizeof(infos[n]));
                names[n] = strndup(name.p, (size_t)name.len);
                infos[n].name = (kp_str){names[n], name.len};
                rc = parse_meta(path, text, len, &infos[n]);
                free(text);
                if (!names[n] && !rc)
                        rc = -ENOMEM;
                n++;
                if (rc)
                        break;
        }
        closedir(d);
        if (!rc)
                sweep_deleted(data_dir);
        if (!rc) {
                const sl_topic_info **ptrs = malloc((size_t)(n ? n : 1) * sizeof(*ptrs));
                if (!ptrs) {
                        rc = -ENOMEM;
                } else {
                        for (int32_t i = 0; i < n; i++)
                                ptrs[i] = &infos[i];
                        *out = sl_topics_snap_build(ptrs, n, 1);
                        if (!*out)
                                rc = -ENOMEM;
                        free(ptrs);
                }
        }
        for (int32_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        free(infos);
        return rc;
}
