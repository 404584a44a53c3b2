/* storage/tests/test_corrupt.c — corruption is detected and located exactly.
 *
 * Many seeds: a random bit anywhere in a random sealed segment is flipped and
 * sl_verify_dir must name that file, the byte position where the damaged
 * header, batch or seal starts, and the offset there; after flipping it back
 * the log verifies again. Also: a batch rewritten with a valid CRC (only the
 * chain notices), index damage that is not log damage,
 * a deleted middle segment and two swapped segments. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "batchgen.h"
#include "format_int.h"
#include "log.h"
#include "verify.h"

#define FLIPS_PER_SEED 40
#define SEEDS          12

typedef struct seg_map {
        int64_t base;
        int64_t size;
        int nb;
        int64_t pos[512]; /* batch start positions */
        int64_t off[512]; /* batch base offsets */
        int64_t seal_pos; /* == data end */
        int64_t next;     /* offset after the last batch */
} seg_map;

static seg_map maps[64];
static int nmaps;

static void build(const char *dir, uint64_t seed)
{
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 6000 + (int64_t)(seed % 5) * 1000;
        cfg.index_interval_bytes = 300;
        sl_log *log = NULL;
        assert_int_equal(sl_log_open(dir, &cfg, 1000, &log, NULL), 0);
        uint8_t buf[8192];
        int n = 120 + (int)(seed % 40);
        for (int i = 0; i < n; i++) {
                size_t len = bg_batch(buf, sizeof(buf), 1 + (int)(bg_rand(&seed) % 5),
                                      bg_rand(&seed) % 400, 1000 + i, (uint32_t)i);
                sl_append_result res;
                assert_int_equal(sl_log_append(log, buf, len, 1 + i / 25, 1000, &res), 0);
        }
        sl_log_close(log);
}

/* Walks the (clean) segment files to learn where every batch is. */
static void map_segments(const char *dir)
{
        int64_t bases[64];
        nmaps = bg_list_segments(dir, bases, 64);
        for (int i = 0; i < nmaps; i++) {
                seg_map *m = &maps[i];
                char p[4096];
                bg_seg_path(p, sizeof(p), dir, bases[i], "log");
                m->base = bases[i];
                m->size = bg_file_size(p);
                m->nb = 0;
                int fd = open(p, O_RDONLY);
                int64_t pos = SL_SEG_HDR_BYTES, next = bases[i];
                uint8_t h[27];
                while (pos < m->size && pread(fd, h, sizeof(h), pos) == (ssize_t)sizeof(h) &&
                       !sl_seal_prefix(h)) {
                        m->pos[m->nb] = pos;
                        m->off[m->nb++] = (int64_t)sl_be64(h);
                        next = (int64_t)sl_be64(h) + (int32_t)sl_be32(h + 23) + 1;
                        pos += 12 + (int32_t)sl_be32(h + 8);
                }
                m->seal_pos = pos;
                m->next = next;
                close(fd);
        }
}

static void expect_located(const char *dir, const seg_map *m, int64_t at)
{
        int64_t want_pos, want_off;
        if (at < SL_SEG_HDR_BYTES) {
                want_pos = 0;
                want_off = m->base;
        } else if (at >= m->seal_pos) {
                want_pos = m->seal_pos;
                want_off = m->next;
        } else {
                int b = m->nb - 1;
                while (m->pos[b] > at)
                        b--;
                want_pos = m->pos[b];
                want_off = m->off[b];
        }
        sl_verify_report rep;
        int rc = sl_verify_dir(dir, &rep);
        char name[64];
        snprintf(name, sizeof(name), "%020lld.log", (long long)m->base);
        if (rc != SL_ECORRUPT || strcmp(rep.file, name) != 0 || rep.position != want_pos ||
            rep.offset != want_off)
                fail_msg("flip at %s:%lld: want position %lld offset %lld, got rc %d: %s", name,
                         (long long)at, (long long)want_pos, (long long)want_off, rc, rep.message);
}

static void test_bit_flips_located(void **state)
{
        (void)state;
        for (uint64_t seed = 1; seed <= SEEDS; seed++) {
                char *dir = bg_tempdir();
                build(dir, seed);
                map_segments(dir);
                assert_true(nmaps >= 4);
                sl_verify_report rep;
                assert_int_equal(sl_verify_dir(dir, &rep), 0);
                uint64_t rs = seed * 7919;
                for (int f = 0; f < FLIPS_PER_SEED; f++) {
                        const seg_map *m = &maps[bg_rand(&rs) % (uint32_t)(nmaps - 1)]; /* sealed */
                        int64_t at = (int64_t)(bg_rand(&rs) % (uint64_t)m->size);
                        int bit = (int)(bg_rand(&rs) % 8);
                        char p[4096];
                        bg_seg_path(p, sizeof(p), dir, m->base, "log");
                        bg_flip_bit(p, at, bit);
                        expect_located(dir, m, at);
                        bg_flip_bit(p, at, bit);
                }
                assert_int_equal(sl_verify_dir(dir, &rep), 0);
                bg_rmdir(dir);
                free(dir);
        }
}

/* Replaces the batch at pos with other bytes of the same length that pass
 * every per-batch check: only the chain can tell. */
static void rewrite_batch_validly(const char *path, int64_t pos)
{
        int fd = open(path, O_RDWR);
        uint8_t h[12];
        assert_int_equal(pread(fd, h, 12, pos), 12);
        size_t size = 12 + (size_t)(int32_t)sl_be32(h + 8);
        uint8_t *b = malloc(size);
        assert_int_equal(pread(fd, b, size, pos), (ssize_t)size);
        b[size - 2] ^= 0x5a;
        sl_batch_crc_store(b, size);
        assert_int_equal(pwrite(fd, b, size, pos), (ssize_t)size);
        free(b);
        close(fd);
}

static void test_chain_only_damage(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        build(dir, 77);
        map_segments(dir);
        const seg_map *m = &maps[1];
        char p[4096], cmd[9000];
        bg_seg_path(p, sizeof(p), dir, m->base, "log");
        snprintf(cmd, sizeof(cmd), "cp %s %s.orig", p, p);
        assert_int_equal(system(cmd), 0);
        int victim = m->nb / 2;
        rewrite_batch_validly(p, m->pos[victim]);
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), SL_ECORRUPT);
        char name[64];
        snprintf(name, sizeof(name), "%020lld.log", (long long)m->base);
        assert_string_equal(rep.file, name);
        assert_non_null(strstr(rep.message, "chain"));
        /* Located to the stretch between two index entries that holds it. */
        assert_true(rep.position <= m->pos[victim]);
        assert_true(m->pos[victim] - rep.position < 300 + 8192);
        snprintf(cmd, sizeof(cmd), "cp %s.orig %s", p, p);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        bg_rmdir(dir);
        free(dir);
}

static void test_index_damage_is_not_log_damage(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        build(dir, 5);
        map_segments(dir);
        char p[4096];
        bg_seg_path(p, sizeof(p), dir, maps[1].base, "index");
        bg_flip_bit(p, 45, 3); /* second entry */
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        assert_true(rep.ok);
        assert_true(rep.index_problems > 0);
        /* Open rebuilds it on first use, and reads stay correct. */
        sl_log *log;
        assert_int_equal(sl_log_open(dir, NULL, 1, &log, NULL), 0);
        sl_file_range r[4];
        int n;
        assert_int_equal(sl_log_read(log, maps[1].off[3], INT64_MAX, 1, r, 4, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(r[0].pos, maps[1].pos[3]);
        sl_log_release_ranges(log, r, n);
        sl_log_close(log);
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        assert_int_equal(rep.index_problems, 0);
        bg_rmdir(dir);
        free(dir);
}

static void test_missing_and_swapped_segments(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        build(dir, 3);
        map_segments(dir);
        char a[4096], b[4096], cmd[9000], name[64];
        sl_verify_report rep;
        /* Swapped contents of two sealed segments, names kept. */
        bg_seg_path(a, sizeof(a), dir, maps[1].base, "log");
        bg_seg_path(b, sizeof(b), dir, maps[2].base, "log");
        snprintf(cmd, sizeof(cmd), "mv %s %s.x && mv %s %s && mv %s.x %s", a, a, b, a, a, b);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(sl_verify_dir(dir, &rep), SL_ECORRUPT);
        snprintf(name, sizeof(name), "%020lld.log", (long long)maps[1].base);
        assert_string_equal(rep.file, name);
        assert_int_equal(rep.position, 0);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        /* Indexes gone too: detection must not depend on them. */
        snprintf(cmd, sizeof(cmd), "rm %s/*.index %s/*.timeindex", dir, dir);
        assert_int_equal(system(cmd), 0);
        /* A deleted middle segment. */
        assert_int_equal(unlink(b), 0);
        assert_int_equal(sl_verify_dir(dir, &rep), SL_ECORRUPT);
        snprintf(name, sizeof(name), "%020lld.log", (long long)maps[3].base);
        assert_string_equal(rep.file, name);
        assert_int_equal(rep.offset, maps[3].base);
        assert_int_equal(rep.position, 0);
        assert_non_null(strstr(rep.message, "missing"));
        sl_log *log = NULL;
        sl_log_error err;
        assert_int_equal(sl_log_open(dir, NULL, 1, &log, &err), SL_ECORRUPT);
        assert_string_equal(err.file, name);
        bg_rmdir(dir);
        free(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bit_flips_located),
            cmocka_unit_test(test_chain_only_damage),
            cmocka_unit_test(test_index_damage_is_not_log_damage),
            cmocka_unit_test(test_missing_and_swapped_segments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
