/* tests/fuzz/fuzz_segment_corpus.c — writes the seed corpus of fuzz_segment:
 * real partition directories made by the storage library (one segment; rolled
 * sealed segments; several leader epochs; a torn tail; a missing index),
 * packed in the harness's input format. Run by hand when the format changes:
 *   fuzz_segment_corpus tests/fuzz/corpus/segment */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batchgen.h"
#include "format_int.h"
#include "log.h"

static void pack_file(FILE *out, const char *dir, const char *name, int kind, int slot)
{
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        FILE *f = fopen(p, "rb");
        if (!f)
                return;
        static uint8_t buf[65535];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        uint8_t h[4] = {(uint8_t)kind, (uint8_t)slot, (uint8_t)(n >> 8), (uint8_t)n};
        fwrite(h, 1, 4, out);
        fwrite(buf, 1, n, out);
}

static void pack(const char *dir, const char *out_path, bool skip_index)
{
        FILE *out = fopen(out_path, "wb");
        int64_t bases[4];
        int n = bg_list_segments(dir, bases, 4);
        for (int i = 0; i < n; i++) {
                char name[64];
                static const char *ext[3] = {"log", "index", "timeindex"};
                for (int k = 0; k < 3; k++) {
                        if (skip_index && k > 0)
                                continue;
                        sl_seg_name(name, sizeof(name), bases[i], ext[k]);
                        pack_file(out, dir, name, k, i);
                }
        }
        pack_file(out, dir, "leader-epoch-checkpoint", 3, 0);
        pack_file(out, dir, "log-start-offset", 4, 0);
        fclose(out);
}

static void build(const char *dir, int batches, int64_t seg_bytes, int epochs)
{
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = seg_bytes;
        cfg.index_interval_bytes = 128;
        sl_log *log;
        if (sl_log_open(dir, &cfg, 1000, &log, NULL) != 0)
                exit(1);
        uint8_t buf[4096];
        for (int i = 0; i < batches; i++) {
                size_t len =
                    bg_batch(buf, sizeof(buf), 1 + i % 3, 20 + i % 50, 1000 + i, (uint32_t)i);
                sl_append_result res;
                sl_log_append(log, buf, len, 1 + i * epochs / batches, 1000, &res);
        }
        sl_log_close(log);
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
                return 2;
        }
        char out[4096];
        struct {
                const char *name;
                int batches;
                int64_t seg_bytes;
                int epochs;
                int torn;
                bool skip_index;
        } cases[] = {
            {"one_segment", 12, 1 << 20, 1, 0, false}, {"rolled", 40, 1400, 1, 0, false},
            {"epochs", 30, 1500, 3, 0, false},         {"torn_tail", 20, 1 << 20, 1, 37, false},
            {"no_index", 25, 1500, 2, 0, true},
        };
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
                char *dir = bg_tempdir();
                build(dir, cases[c].batches, cases[c].seg_bytes, cases[c].epochs);
                if (cases[c].torn) {
                        int64_t bases[4];
                        int n = bg_list_segments(dir, bases, 4);
                        char p[4096];
                        bg_seg_path(p, sizeof(p), dir, bases[n - 1], "log");
                        if (truncate(p, bg_file_size(p) - cases[c].torn) != 0)
                                return 1;
                }
                snprintf(out, sizeof(out), "%s/%s", argv[1], cases[c].name);
                pack(dir, out, cases[c].skip_index);
                bg_rmdir(dir);
                free(dir);
        }
        return 0;
}
