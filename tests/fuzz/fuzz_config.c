/* tests/fuzz/fuzz_config.c — libFuzzer harness for config/: arbitrary bytes
 * as the broker's YAML file (sl_config_load_buffer) and as a topic's
 * name=value config file (sl_topic_config_parse). Never crashes or leaks;
 * whatever loads must round-trip through its own text form unchanged, and a
 * rejected input must leave the config untouched and explain itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "topic_config.h"

static void check_broker(const char *data, size_t size)
{
        char err[512];
        sl_config cfg, before, again;
        sl_config_defaults(&cfg);
        before = cfg;
        err[0] = '\0';
        if (sl_config_load_buffer(&cfg, "fuzz.yaml", data, size, err, sizeof(err)) != 0) {
                if (memcmp(&cfg, &before, sizeof(cfg)) != 0 || err[0] == '\0')
                        abort();
                return;
        }
        /* Every described value is accepted back and gives the same config. */
        again = before;
        for (size_t i = 0; i < sl_config_key_count(); i++) {
                sl_config_entry e;
                sl_config_describe(&cfg, i, &e);
                if (e.source != SL_CONFIG_SOURCE_STATIC_BROKER)
                        continue;
                if (sl_config_set(&again, e.name, e.value, "fuzz", err, sizeof(err)) != 0)
                        abort();
        }
        if (memcmp(&cfg, &again, sizeof(cfg)) != 0)
                abort();
}

static void check_topic(const char *data, size_t size)
{
        char err[512], text[4096];
        sl_topic_config tc, back;
        sl_topic_config_init(&tc);
        if (sl_topic_config_parse(&tc, "fuzz", data, size, err, sizeof(err)) != 0) {
                if (tc.set != 0 || err[0] == '\0')
                        abort();
                return;
        }
        size_t len = sl_topic_config_format(&tc, text, sizeof(text));
        if (len >= sizeof(text))
                abort();
        if (sl_topic_config_parse(&back, "fuzz", text, len, err, sizeof(err)) != 0 ||
            memcmp(&back, &tc, sizeof(tc)) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        check_broker((const char *)data, size);
        check_topic((const char *)data, size);
        return 0;
}
