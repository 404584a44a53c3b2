/* tests/fuzz/fuzz_record_batch.c — libFuzzer harness for record batch v2
 * parsing (protocol/record_batch.h) with decompression and record iteration.
 *
 * The input is a records area (batches end to end, as in a Produce partition
 * or a segment). Every batch goes through kp_batch_verify in both modes, and
 * also — skipping the CRC, which random mutations almost never satisfy — its
 * records are decompressed and walked with headers, so the codecs and the
 * record decoder see mutated data. The whole input also goes through
 * kp_batch_validate_produce. Seeded with batches captured from real clients
 * (tests/fuzz/corpus/record_batch/). The codec context is reused across runs
 * as a shard would, with a 4 MiB output cap. */
#include <stddef.h>
#include <stdint.h>

#include "record_batch.h"

static kp_codec_ctx *cc;

/* Walks records and headers without the CRC or header rules. */
static void walk_records(const kp_batch *b)
{
        const uint8_t *area = b->records.p;
        size_t area_len = (size_t)b->records.len;
        const char *why = NULL;
        if (kp_batch_codec(b) != KP_CODEC_NONE &&
            kp_decompress(cc, kp_batch_codec(b), b->records.p, (size_t)b->records.len, &area,
                          &area_len, &why) != 0)
                return;
        int32_t count = b->records_count;
        if (count < 0 || (size_t)count > area_len)
                return;
        kp_record_iter it;
        kp_record r;
        kp_record_iter_init(&it, area, area_len, count);
        volatile uint32_t sink = 0;
        while (kp_record_next(&it, &r)) {
                if (r.key.len > 0)
                        sink += r.key.p[r.key.len - 1];
                if (r.value.len > 0)
                        sink += r.value.p[0];
                kp_header_iter hi;
                kp_header h;
                kp_header_iter_init(&hi, &r);
                while (kp_header_next(&hi, &h))
                        sink += (uint32_t)h.key.len;
                int16_t type;
                if (kp_control_record_type(&r, &type, &why) == 0)
                        sink += (uint32_t)type;
        }
        (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!cc)
                cc = kp_codec_ctx_new(4 << 20);
        if (!cc)
                return 0;
        kp_batch_iter bi;
        kp_batch b;
        kp_batch_iter_init(&bi, data, size);
        while (kp_batch_next(&bi, &b)) {
                kp_batch_info info;
                const char *why = NULL;
                kp_batch_verify(&b, cc, 0, &info, &why);
                kp_batch_verify(&b, cc, KP_VERIFY_PRODUCE, &info, &why);
                walk_records(&b);
        }
        kp_batch pb;
        const char *why = NULL;
        kp_batch_validate_produce((kp_bytes){data, (int32_t)(size > INT32_MAX ? INT32_MAX : size)},
                                  9, cc, &pb, NULL, &why);
        return 0;
}
