/* protocol/tests/test_roundtrip_corpus.c — writes the request fuzzer's seed corpus.
 *
 * Usage: kp_rt_corpus DIR. For every request spec of the generated round-trip
 * table (tests/gen/rt_cases.c) and every valid version, writes DIR/<name>_v<N>.bin:
 * one size-prefixed frame (request header at the version the key/version
 * imply, client id "rt", then the body with every field of that version set).
 * The output is committed as tests/fuzz/corpus/request/ (seeds for
 * tests/fuzz/fuzz_request.c); rerun after a spec change.
 * kp_rt_corpus --bodies DIR writes bare request and response bodies instead,
 * named k<key>_<type>_v<N>.bin, for kafka_python_crosscheck.py. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/rt_cases.h"

static int write_frame(const char *dir, const rt_case *c, int16_t v, kp_arena *a, bool bare)
{
        void *m = calloc(1, c->struct_size);
        if (!m)
                return -1;
        c->init(m);
        c->fill(m, v, a);
        kp_request_header h;
        kp_request_header_init(&h);
        h.request_api_key = c->api_key;
        h.request_api_version = v;
        h.correlation_id = v + 1;
        h.client_id = kp_str_c("rt");
        int16_t hv = kp_request_header_version(c->api_key, v);
        size_t hn = bare ? 0 : kp_request_header_size(&h, hv), bn = c->size(m, v);
        size_t total = (bare ? 0 : 4) + hn + bn;
        uint8_t *buf = malloc(total);
        int rc = -1;
        if (!buf)
                goto free_m;
        kp_wr wr;
        kp_wr_init(&wr, buf, total);
        if (!bare) {
                kp_wr_i32(&wr, (int32_t)(hn + bn));
                kp_request_header_encode(&wr, hv, &h);
        }
        if (wr.err || c->encode(&wr, v, m) != 0) {
                fprintf(stderr, "%s v%d: encode failed: %s\n", c->name, v, wr.why);
                goto free_buf;
        }
        char path[4096];
        if (bare)
                snprintf(path, sizeof(path), "%s/k%d_%s_v%d.bin", dir, c->api_key, c->type, v);
        else
                snprintf(path, sizeof(path), "%s/%s_v%d.bin", dir, c->name, v);
        FILE *f = fopen(path, "wb");
        if (!f) {
                perror(path);
                goto free_buf;
        }
        rc = fwrite(buf, 1, total, f) == total ? 0 : -1;
        if (fclose(f) != 0)
                rc = -1;
free_buf:
        free(buf);
free_m:
        free(m);
        return rc;
}

int main(int argc, char **argv)
{
        bool bare = argc == 3 && strcmp(argv[1], "--bodies") == 0;
        if (argc != 2 && !bare) {
                fprintf(stderr, "usage: %s [--bodies] DIR\n", argv[0]);
                return 2;
        }
        const char *dir = argv[argc - 1];
        kp_arena a;
        kp_arena_init(&a, 1 << 16);
        int files = 0, rc = 0;
        for (size_t i = 0; i < rt_cases_count; i++) {
                const rt_case *c = &rt_cases[i];
                if (strcmp(c->type, "request") != 0 && (!bare || strcmp(c->type, "response") != 0))
                        continue;
                for (int v = c->min_version; v <= c->max_version; v++) {
                        rc |= write_frame(dir, c, (int16_t)v, &a, bare);
                        kp_arena_reset(&a);
                        files++;
                }
        }
        kp_arena_release(&a);
        printf("wrote %d files to %s\n", files, dir);
        return rc ? 1 : 0;
}
