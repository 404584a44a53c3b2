/* storage/crc32c_tmp.c — TEMPORARY table CRC-32C until protocol/crc32c.h lands
 * in sl_protocol; deleted then (storage must not keep a second CRC32C). */
#include <stddef.h>
#include <stdint.h>

uint32_t sl_tmp_crc32c(uint32_t crc, const void *buf, size_t len);

uint32_t sl_tmp_crc32c(uint32_t crc, const void *buf, size_t len)
{
        static uint32_t table[256];
        if (!table[1]) {
                for (uint32_t n = 0; n < 256; n++) {
                        uint32_t c = n;
                        for (int k = 0; k < 8; k++)
                                c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
                        table[n] = c;
                }
        }
        const uint8_t *p = buf;
        crc = ~crc;
        while (len--)
                crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return ~crc;
}
