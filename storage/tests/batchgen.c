/* storage/tests/batchgen.c — see batchgen.h: valid record batches and small
 * file helpers for the storage tests. */
#include "batchgen.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "format_int.h"

size_t bg_put_varint(uint8_t *p, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 0;
        while (z >= 0x80) {
                p[n++] = (uint8_t)(z | 0x80);
                z >>= 7;
        }
        p[n++] = (uint8_t)z;
        return n;
}

size_t bg_batch(uint8_t *buf, size_t cap, int nrec, size_t value_len, int64_t base_ts,
                uint32_t seed)
{
        size_t need = 61 + (size_t)nrec * (value_len + 40);
        if (need > cap || nrec < 1)
                return 0;
        memset(buf, 0, 61);
        size_t off = 61;
        uint8_t rec[64];
        for (int i = 0; i < nrec; i++) {
                size_t body = 0;
                rec[body++] = 0;                       /* attributes */
                body += bg_put_varint(rec + body, i);  /* timestampDelta */
                body += bg_put_varint(rec + body, i);  /* offsetDelta */
                body += bg_put_varint(rec + body, -1); /* key: null */
                body += bg_put_varint(rec + body, (int64_t)value_len);
                off += bg_put_varint(buf + off, (int64_t)(body + value_len + 1));
                memcpy(buf + off, rec, body);
                off += body;
                for (size_t k = 0; k < value_len; k++)
                        buf[off + k] = (uint8_t)(seed * 31u + (uint32_t)i * 7u + (uint32_t)k);
                off += value_len;
                buf[off++] = 0; /* header count varint 0 */
        }
        sl_put64(buf, 0);
        sl_put32(buf + 8, (uint32_t)(off - 12));
        sl_put32(buf + 12, UINT32_MAX); /* producers send -1 */
        buf[16] = 2;
        sl_put16(buf + 21, 0);
        sl_put32(buf + 23, (uint32_t)(nrec - 1));
        sl_put64(buf + 27, (uint64_t)base_ts);
        sl_put64(buf + 35, (uint64_t)(base_ts + nrec - 1));
        sl_put64(buf + 43, UINT64_MAX);
        sl_put16(buf + 51, UINT16_MAX);
        sl_put32(buf + 53, UINT32_MAX);
        sl_put32(buf + 57, (uint32_t)nrec);
        sl_put32(buf + 17, kp_crc32c(0, buf + 21, off - 21));
        return off;
}

uint8_t *bg_read_ranges(const sl_file_range *r, int n, size_t *len)
{
        size_t total = 0;
        for (int i = 0; i < n; i++)
                total += (size_t)r[i].len;
        uint8_t *buf = malloc(total ? total : 1);
        size_t off = 0;
        for (int i = 0; i < n; i++) {
                ssize_t got = pread(r[i].fd, buf + off, (size_t)r[i].len, r[i].pos);
                if (got != r[i].len) {
                        free(buf);
                        return NULL;
                }
                off += (size_t)got;
        }
        *len = total;
        return buf;
}

char *bg_tempdir(void)
{
        const char *base = getenv("TMPDIR");
        char tmpl[4096];
        snprintf(tmpl, sizeof(tmpl), "%s/sl-storage-XXXXXX", base ? base : "/tmp");
        char *d = mkdtemp(tmpl);
        return d ? strdup(d) : NULL;
}

void bg_rmdir(const char *dir)
{
        sl_log_remove_dir(dir);
}

uint32_t bg_rand(uint64_t *s)
{
        /* splitmix64 */
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return (uint32_t)((z ^ (z >> 31)) >> 32);
}

void bg_seg_path(char *buf, size_t cap, const char *dir, int64_t base, const char *ext)
{
        snprintf(buf, cap, "%s/%020" PRId64 ".%s", dir, base, ext);
}

static int cmp64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

int bg_list_segments(const char *dir, int64_t *out, int cap)
{
        DIR *d = opendir(dir);
        int n = 0;
        struct dirent *e;
        while (d && (e = readdir(d))) {
                int64_t base;
                if (sl_seg_name_parse(e->d_name, "log", &base) && n < cap)
                        out[n++] = base;
        }
        if (d)
                closedir(d);
        qsort(out, (size_t)n, sizeof(*out), cmp64);
        return n;
}

void bg_flip_bit(const char *path, int64_t pos, int bit)
{
        int fd = open(path, O_RDWR);
        uint8_t b;
        if (fd < 0)
                abort();
        if (pread(fd, &b, 1, pos) != 1)
                abort();
        b ^= (uint8_t)(1u << bit);
        if (pwrite(fd, &b, 1, pos) != 1)
                abort();
        close(fd);
}

int64_t bg_file_size(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}
