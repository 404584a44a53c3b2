/* protocol/tests/golden/golden_manifest.h — reads golden/MANIFEST and the
 * captured frames for the golden tests (test_golden_*.c). Header-only test
 * helper: the manifest lists "client file api codec records" per line, and a
 * "# filler: '...'" comment gives the text every produced value ends with.
 * SL_GOLDEN_DIR is set by wirelayer.cmake. */
#ifndef GOLDEN_MANIFEST_H
#define GOLDEN_MANIFEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_MAX_ROWS 64

typedef struct golden_row {
        char client[32]; /* directory: librdkafka, kafka-python, kafkajs */
        char file[64];   /* frame file name */
        char api[32];    /* api name as in the file name, e.g. produce */
        char codec[16];  /* produce: codec name, else "-" */
        int records;     /* produce: records in the batch */
} golden_row;

typedef struct golden_manifest {
        golden_row rows[GOLDEN_MAX_ROWS];
        int count;
        char filler[512]; /* shared value suffix */
} golden_manifest;

/* Loads the manifest; returns 0 or -1. */
static inline int golden_load(golden_manifest *m)
{
        FILE *f = fopen(SL_GOLDEN_DIR "/MANIFEST", "r");
        if (!f)
                return -1;
        char line[1024];
        m->count = 0;
        m->filler[0] = 0;
        while (fgets(line, sizeof(line), f)) {
                if (!strncmp(line, "# filler: '", 11)) {
                        char *end = strrchr(line, '\'');
                        if (end && end > line + 11) {
                                size_t n = (size_t)(end - (line + 11));
                                if (n >= sizeof(m->filler))
                                        n = sizeof(m->filler) - 1;
                                memcpy(m->filler, line + 11, n);
                                m->filler[n] = 0;
                        }
                        continue;
                }
                if (line[0] == '#' || m->count == GOLDEN_MAX_ROWS)
                        continue;
                golden_row *r = &m->rows[m->count];
                if (sscanf(line, "%31s %63s %31s %15s %d", r->client, r->file, r->api, r->codec,
                           &r->records) == 5)
                        m->count++;
        }
        fclose(f);
        return 0;
}

/* Reads a frame file into a malloc'd buffer; NULL on failure. */
static inline unsigned char *golden_read(const golden_row *r, size_t *len)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s/%s", SL_GOLDEN_DIR, r->client, r->file);
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *buf = n > 0 ? malloc((size_t)n) : NULL;
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
        }
        fclose(f);
        *len = buf ? (size_t)n : 0;
        return buf;
}

#endif
