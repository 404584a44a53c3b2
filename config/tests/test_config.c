/* config/tests/test_config.c — unit tests of the broker config: defaults,
 * every key round-tripping through a YAML file, the exact file:line:column
 * error texts (unknown key, bad value, YAML syntax, duplicate), value syntax
 * (suffixes, ranges, HOST:PORT), flag precedence, help text, and the
 * DescribeConfigs/AlterConfigs(BROKER) view. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "kafka_errors.h"

static char err[512];

static int load(sl_config *cfg, const char *yaml)
{
        err[0] = '\0';
        return sl_config_load_buffer(cfg, "serpentlog.yaml", yaml, strlen(yaml), err, sizeof(err));
}

static const char *value_of(const sl_config *cfg, const char *name, sl_config_entry *e)
{
        for (size_t i = 0; i < sl_config_key_count(); i++) {
                sl_config_describe(cfg, i, e);
                if (strcmp(e->name, name) == 0)
                        return e->value;
        }
        fail_msg("no key %s", name);
        return NULL;
}

static void test_defaults(void **state)
{
        (void)state;
        sl_config c;
        sl_config_defaults(&c);
        assert_string_equal(c.listen, "127.0.0.1:9092");
        assert_string_equal(c.data_dir, "./serpentlog-data");
        assert_string_equal(c.advertised_listen, "");
        assert_string_equal(c.admin_listen, "127.0.0.1:9644");
        assert_string_equal(c.cluster_id, "");
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        assert_int_equal(c.cores, n < 1 ? 1 : n);
        assert_int_equal(c.node_id, 0);
        assert_int_equal(c.num_partitions, 1);
        assert_int_equal(c.default_replication_factor, 1);
        assert_true(c.auto_create_topics_enable);
        assert_true(c.delete_topic_enable);
        assert_int_equal(c.socket_request_max_bytes, 104857600);
        assert_int_equal(c.message_max_bytes, 1048588);
        assert_int_equal(c.log_segment_bytes, 1073741824);
        assert_int_equal(c.log_roll_ms, 604800000);
        assert_int_equal(c.log_retention_ms, 604800000);
        assert_int_equal(c.log_retention_bytes, -1);
        assert_int_equal(c.log_index_interval_bytes, 4096);
        assert_int_equal(c.log_flush_interval_messages, INT64_MAX);
        assert_int_equal(c.log_cleanup_policy, SL_CLEANUP_DELETE);
        assert_int_equal(c.log_message_timestamp_type, SL_TS_CREATE_TIME);
        assert_int_equal(c.compression_type, SL_COMPRESSION_PRODUCER);
        assert_int_equal(c.network_backend, SL_NET_KERNEL);
        assert_int_equal(c.log_level, SL_LOG_INFO);
        assert_int_equal(c.offsets_topic_num_partitions, 50);
        assert_int_equal(c.group_initial_rebalance_delay_ms, 3000);
        assert_int_equal(c.group_min_session_timeout_ms, 6000);
        assert_int_equal(c.group_max_session_timeout_ms, 1800000);
        for (size_t i = 0; i < sl_config_key_count(); i++)
                assert_int_equal(c.source[i], SL_CONFIG_SOURCE_DEFAULT);
        /* An empty file and an empty document both mean "all defaults". */
        sl_config d = c;
        assert_int_equal(load(&d, ""), 0);
        assert_memory_equal(&c, &d, sizeof(c));
        assert_int_equal(load(&d, "---\n# nothing\n"), 0);
        assert_memory_equal(&c, &d, sizeof(c));
}

/* A non-default value for every key, and its canonical text. */
static const struct {
        const char *key, *yaml, *text;
} every_key[] = {
    {"node.id", "7", "7"},
    {"cluster.id", "MkU3OEVBNTcwNTJENDM2Qk", "MkU3OEVBNTcwNTJENDM2Qk"},
    {"listen", "0.0.0.0:19092", "0.0.0.0:19092"},
    {"advertised.listen", "kafka.example.com:9093", "kafka.example.com:9093"},
    {"admin.listen", "off", ""},
    {"data.dir", "/var/lib/serpentlog", "/var/lib/serpentlog"},
    {"cores", "97", "97"},
    {"network.backend", "dpdk", "dpdk"},
    {"fetch.send.mode", "copy", "copy"},
    {"log.level", "debug", "debug"},
    {"num.partitions", "12", "12"},
    {"default.replication.factor", "3", "3"},
    {"auto.create.topics.enable", "false", "false"},
    {"delete.topic.enable", "FALSE", "false"},
    {"socket.request.max.bytes", "10MiB", "10485760"},
    {"max.connections", "500", "500"},
    {"connection.max.unanswered.bytes", "1MB", "1000000"},
    {"message.max.bytes", "2097152", "2097152"},
    {"compression.type", "zstd", "zstd"},
    {"min.insync.replicas", "2", "2"},
    {"log.segment.bytes", "512MiB", "536870912"},
    {"log.roll.ms", "1h", "3600000"},
    {"log.retention.ms", "-1", "-1"},
    {"log.retention.bytes", "5TiB", "5497558138880"},
    {"log.index.interval.bytes", "8KiB", "8192"},
    {"log.flush.interval.messages", "1000", "1000"},
    {"log.flush.interval.ms", "30s", "30000"},
    {"log.message.timestamp.type", "LogAppendTime", "LogAppendTime"},
    {"log.cleanup.policy", "compact, delete", "delete,compact"},
    {"log.page.cache.retain.bytes", "256MiB", "268435456"},
    {"offsets.topic.num.partitions", "1", "1"},
    {"group.initial.rebalance.delay.ms", "0", "0"},
    {"group.min.session.timeout.ms", "1s", "1000"},
    {"group.max.session.timeout.ms", "10m", "600000"},
    {"group.max.size", "250", "250"},
    {"offsets.retention.minutes", "1440", "1440"},
    {"offset.metadata.max.bytes", "1KiB", "1024"},
    {"group.consumer.heartbeat.interval.ms", "2s", "2000"},
    {"group.consumer.session.timeout.ms", "10s", "10000"},
    {"group.consumer.assignors", "range", "range"},
    {"group.consumer.max.size", "8", "8"},
};

static void test_every_key_round_trips(void **state)
{
        (void)state;
        size_t n = sizeof(every_key) / sizeof(every_key[0]);
        assert_int_equal(n, sl_config_key_count()); /* the table covers every key */
        char yaml[4096] = "# every key\n";
        for (size_t i = 0; i < n; i++) {
                size_t off = strlen(yaml);
                snprintf(yaml + off, sizeof(yaml) - off, "%s: %s\n", every_key[i].key,
                         every_key[i].yaml);
        }
        sl_config c, d;
        sl_config_defaults(&c);
        sl_config_defaults(&d);
        assert_int_equal(load(&c, yaml), 0);
        sl_config_entry e, f;
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(value_of(&c, every_key[i].key, &e), every_key[i].text);
                assert_int_equal(e.source, SL_CONFIG_SOURCE_STATIC_BROKER);
                assert_string_not_equal(value_of(&d, every_key[i].key, &f), e.value);
        }
        assert_int_equal(c.cores, 97);
        assert_int_equal(c.network_backend, SL_NET_DPDK);
        assert_int_equal(c.log_cleanup_policy, SL_CLEANUP_DELETE | SL_CLEANUP_COMPACT);
        assert_false(c.delete_topic_enable);

        /* Describe's text, quoted back into YAML, loads to the same config. */
        char again[4096] = "";
        for (size_t i = 0; i < n; i++) {
                sl_config_describe(&c, i, &e);
                size_t off = strlen(again);
                snprintf(again + off, sizeof(again) - off, "%s: \"%s\"\n", e.name, e.value);
        }
        sl_config_defaults(&d);
        assert_int_equal(load(&d, again), 0);
        assert_memory_equal(&c, &d, sizeof(c));
}

static void expect_error(const char *yaml, int rc, const char *msg)
{
        sl_config c, before;
        sl_config_defaults(&c);
        assert_int_equal(load(&c, "log.level: warn\n"), 0);
        before = c;
        assert_int_equal(load(&c, yaml), rc);
        assert_string_equal(err, msg);
        assert_memory_equal(&c, &before, sizeof(c)); /* nothing half-applied */
}

static void test_errors_name_file_line_column(void **state)
{
        (void)state;
        expect_error(
            "listen: 0.0.0.0:9092\n# comment\nnum.partitions: 3\n\n\n\n"
            "log.retention.ms: abc\n",
            -EINVAL,
            "serpentlog.yaml:7:19: log.retention.ms: expected an integer >= -1, got \"abc\"");
        expect_error("node.id: 1\n  \nlog.retension.ms: 5\n", -EINVAL,
                     "serpentlog.yaml:3:1: log.retension.ms: unknown key");
        expect_error("log.retention.ms: 1\nnode.id: 2\nlog.retention.ms: 3\n", -EINVAL,
                     "serpentlog.yaml:3:1: log.retention.ms: duplicate key (first set at line 1)");
        expect_error("node.id: 1\nlisten: \"127.0.0.1:9092\n", -EINVAL,
                     "serpentlog.yaml:3:1: YAML syntax error: found unexpected end of stream "
                     "(while scanning a quoted scalar at line 2 column 9)");
        expect_error("{node.id: 1\n", -EINVAL,
                     "serpentlog.yaml:2:1: YAML syntax error: did not find expected ',' or '}' "
                     "(while parsing a flow mapping at line 1 column 1)");
        expect_error("cores: 0\n", -EINVAL,
                     "serpentlog.yaml:1:8: cores: expected an integer in [1, 1024], got \"0\"");
        expect_error("auto.create.topics.enable: yes\n", -EINVAL,
                     "serpentlog.yaml:1:28: auto.create.topics.enable: expected true or false, "
                     "got \"yes\"");
        expect_error(
            "network.backend: xdp\n", -EINVAL,
            "serpentlog.yaml:1:18: network.backend: expected one of kernel, dpdk, got \"xdp\"");
        expect_error("log.cleanup.policy: delete,,compact\n", -EINVAL,
                     "serpentlog.yaml:1:21: log.cleanup.policy: expected a comma-separated list of "
                     "delete, compact, got \"delete,,compact\"");
        expect_error("listen: 9092\n", -EINVAL,
                     "serpentlog.yaml:1:9: listen: expected HOST:PORT with PORT in [0, 65535], got "
                     "\"9092\"");
        expect_error(
            "admin.listen: localhost:70000\n", -EINVAL,
            "serpentlog.yaml:1:15: admin.listen: expected HOST:PORT or off with PORT in [0, "
            "65535], got \"localhost:70000\"");
        expect_error("data.dir: \"\"\n", -EINVAL,
                     "serpentlog.yaml:1:11: data.dir: expected 1 to 1023 characters, got \"\"");
        expect_error("cluster.id: a/b\n", -EINVAL,
                     "serpentlog.yaml:1:13: cluster.id: expected 0 to 63 characters from "
                     "[A-Za-z0-9_-], got \"a/b\"");
        expect_error("cores:\n", -EINVAL,
                     "serpentlog.yaml:1:7: cores: missing value (write \"\" for an empty string)");
        expect_error("log:\n  retention.ms: 1\n", -EINVAL,
                     "serpentlog.yaml:1:1: log: unknown key (keys are flat dotted names, e.g. "
                     "log.retention.ms: 1d)");
        expect_error("listen: [a, b]\n", -EINVAL,
                     "serpentlog.yaml:1:9: listen: expected a scalar value, got a sequence");
        expect_error("- listen\n", -EINVAL,
                     "serpentlog.yaml:1:1: expected a mapping of config keys, got a sequence");
        expect_error("node.id: 1\n---\nnode.id: 2\n", -EINVAL,
                     "serpentlog.yaml:2:1: expected one YAML document, found a second");
        expect_error("? [a]\n: 1\n", -EINVAL,
                     "serpentlog.yaml:1:3: expected a key name, got a sequence");
        expect_error("a: &x 1\nnode.id: *x\n", -EINVAL, "serpentlog.yaml:1:1: a: unknown key");
        expect_error("node.id: &x 1\ncores: *x\n", -EINVAL,
                     "serpentlog.yaml:2:8: cores: expected a scalar value, got an alias");
}

static void test_load_file(void **state)
{
        (void)state;
        char dir[] = "/tmp/sl_config_testXXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/s.yaml", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("log.segment.bytes: 64MiB\nbogus: 1\n", f);
        fclose(f);
        sl_config c;
        sl_config_defaults(&c);
        assert_int_equal(sl_config_load_file(&c, path, err, sizeof(err)), -EINVAL);
        char want[512];
        snprintf(want, sizeof(want), "%s:2:1: bogus: unknown key", path);
        assert_string_equal(err, want);
        f = fopen(path, "w");
        fputs("log.segment.bytes: 64MiB\n", f);
        fclose(f);
        assert_int_equal(sl_config_load_file(&c, path, err, sizeof(err)), 0);
        assert_int_equal(c.log_segment_bytes, 64 << 20);
        unlink(path);
        assert_int_equal(sl_config_load_file(&c, path, err, sizeof(err)), -ENOENT);
        snprintf(want, sizeof(want), "%s: No such file or directory", path);
        assert_string_equal(err, want);
        rmdir(dir);
}

static void test_value_syntax(void **state)
{
        (void)state;
        sl_config c;
        sl_config_defaults(&c);
        assert_int_equal(load(&c, "log.retention.ms: 2d\nlog.retention.bytes: 1GB\n"), 0);
        assert_int_equal(c.log_retention_ms, 2 * 86400000LL);
        assert_int_equal(c.log_retention_bytes, 1000000000LL);
        assert_int_equal(load(&c, "log.retention.bytes: \"9223372036854775807\"\n"), 0);
        assert_int_equal(c.log_retention_bytes, INT64_MAX);
        assert_int_equal(load(&c, "log.retention.bytes: 9223372036854775808\n"), -EINVAL);
        assert_int_equal(load(&c, "log.retention.bytes: 9007199254740992KiB\n"), -EINVAL);
        assert_int_equal(load(&c, "log.retention.ms: 1.5\n"), -EINVAL);
        assert_int_equal(load(&c, "log.retention.ms: 5 d\n"), -EINVAL);
        assert_int_equal(load(&c, "log.retention.ms: 5GiB\n"), -EINVAL); /* not a duration */
        assert_int_equal(load(&c, "num.partitions: 1s\n"), -EINVAL);     /* no unit */
        assert_int_equal(load(&c, "log.retention.ms: -2\n"), -EINVAL);
        assert_int_equal(load(&c, "log.segment.bytes: 2GiB\n"), -EINVAL); /* > INT32_MAX */
        assert_int_equal(load(&c, "listen: \"[::1]:0\"\nadvertised.listen: \"\"\n"), 0);
        char host[64];
        uint16_t port;
        assert_int_equal(sl_config_split_hostport("[::1]:9092", host, sizeof(host), &port), 0);
        assert_string_equal(host, "::1");
        assert_int_equal(port, 9092);
        assert_int_equal(sl_config_split_hostport("example.org:1", host, sizeof(host), &port), 0);
        assert_string_equal(host, "example.org");
        assert_int_equal(sl_config_split_hostport("::1:9092", host, sizeof(host), &port), -EINVAL);
        assert_int_equal(sl_config_split_hostport(":9092", host, sizeof(host), &port), -EINVAL);
        assert_int_equal(sl_config_split_hostport("h:-1", host, sizeof(host), &port), -EINVAL);
        assert_int_equal(sl_config_split_hostport("h:", host, sizeof(host), &port), -EINVAL);
        assert_int_equal(sl_config_split_hostport("h:65536", host, sizeof(host), &port), -EINVAL);
        assert_int_equal(sl_config_split_hostport("toolong:1", host, 4, &port), -EINVAL);
}

static int args(sl_config *c, int argc, const char **argv)
{
        err[0] = '\0';
        return sl_config_parse_args(c, argc, (char **)argv, err, sizeof(err));
}

static void test_flags_override_file(void **state)
{
        (void)state;
        char dir[] = "/tmp/sl_config_testXXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/s.yaml", dir);
        FILE *f = fopen(path, "w");
        fputs("listen: 10.0.0.1:9092\ndata.dir: /from/file\ncores: 2\nnum.partitions: 4\n", f);
        fclose(f);

        sl_config c;
        const char *a1[] = {"start", "--listen",  "0.0.0.0:9999", "--config",
                            path,    "--cores=1", "--set",        "log.retention.ms=1h"};
        assert_int_equal(args(&c, 8, a1), 0);
        assert_string_equal(c.listen, "0.0.0.0:9999"); /* flag before --config still wins */
        assert_string_equal(c.data_dir, "/from/file");
        assert_int_equal(c.cores, 1);
        assert_int_equal(c.num_partitions, 4);
        assert_int_equal(c.log_retention_ms, 3600000);

        const char *a2[] = {"start", "--config=", "--data-dir", "/x"};
        assert_int_equal(args(&c, 4, a2), -ENOENT);
        assert_string_equal(err, ": No such file or directory");
        const char *a3[] = {"start", "--advertised", "nope"};
        assert_int_equal(args(&c, 3, a3), -EINVAL);
        assert_string_equal(
            err, "--advertised: expected HOST:PORT with PORT in [0, 65535], got \"nope\"");
        const char *a4[] = {"start", "--cores"};
        assert_int_equal(args(&c, 2, a4), -EINVAL);
        assert_string_equal(err, "--cores: missing value");
        const char *a5[] = {"start", "--port", "1"};
        assert_int_equal(args(&c, 3, a5), -EINVAL);
        assert_string_equal(err, "unknown option \"--port\" (see --help)");
        const char *a6[] = {"start", "--set", "no.such=1"};
        assert_int_equal(args(&c, 3, a6), -EINVAL);
        assert_string_equal(err, "--set: no.such: unknown key");
        const char *a7[] = {"start", "--set", "novalue"};
        assert_int_equal(args(&c, 3, a7), -EINVAL);
        assert_string_equal(err, "--set: expected KEY=VALUE, got \"novalue\"");
        const char *a8[] = {"start", "extra"};
        assert_int_equal(args(&c, 2, a8), -EINVAL);
        assert_string_equal(err, "unexpected argument \"extra\" (see --help)");
        const char *a9[] = {"start", "--cores", "x", "--help"};
        assert_int_equal(args(&c, 4, a9), SL_CONFIG_HELP);
        const char *a10[] = {"start", "--set", "group.min.session.timeout.ms=1h", "--set",
                             "group.max.session.timeout.ms=30m"};
        assert_int_equal(args(&c, 5, a10), -EINVAL);
        assert_string_equal(err, "group.min.session.timeout.ms (3600000) is larger than "
                                 "group.max.session.timeout.ms (1800000)");
        const char *a11[] = {"start"};
        assert_int_equal(args(&c, 1, a11), 0);
        assert_string_equal(c.listen, "127.0.0.1:9092");
        unlink(path);
        rmdir(dir);
}

static void test_help_lists_every_key(void **state)
{
        (void)state;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        sl_config_print_help(f);
        fclose(f);
        sl_config c;
        sl_config_defaults(&c);
        for (size_t i = 0; i < sl_config_key_count(); i++) {
                sl_config_entry e;
                sl_config_describe(&c, i, &e);
                char line[256];
                snprintf(line, sizeof(line), "  %s (default %s)", e.name,
                         e.value[0] ? e.value : "\"\"");
                if (strcmp(e.name, "cores") == 0)
                        snprintf(line, sizeof(line), "  cores (default: online CPUs, %s here)",
                                 e.value);
                assert_non_null(strstr(text, line));
                assert_non_null(strstr(text, e.doc));
        }
        for (const char *const *fl =
                 (const char *const[]){"--config FILE", "--listen HOST:PORT",
                                       "--advertised HOST:PORT", "--data-dir DIR", "--cores N",
                                       "--set KEY=VALUE", NULL};
             *fl; fl++)
                assert_non_null(strstr(text, *fl));
        free(text);
}

static void test_alter_broker(void **state)
{
        (void)state;
        sl_config start, live;
        sl_config_defaults(&start);
        assert_int_equal(load(&start, "log.retention.ms: 1h\n"), 0);
        live = start;
        sl_config_entry e;
        assert_int_equal(sl_config_alter(&live, &start, "log.retention.ms", "2h", err, sizeof(err)),
                         KP_ERR_NONE);
        assert_string_equal(value_of(&live, "log.retention.ms", &e), "7200000");
        assert_int_equal(e.source, SL_CONFIG_SOURCE_DYNAMIC_BROKER);
        assert_false(e.read_only);
        assert_int_equal(e.type, SL_CONFIG_TYPE_LONG);
        assert_int_equal(sl_config_alter(&live, &start, "log.retention.ms", "x", err, sizeof(err)),
                         KP_ERR_INVALID_CONFIG);
        assert_string_equal(err, "log.retention.ms: expected an integer >= -1, got \"x\"");
        assert_int_equal(live.log_retention_ms, 7200000);
        assert_int_equal(sl_config_alter(&live, &start, "listen", "1.1.1.1:1", err, sizeof(err)),
                         KP_ERR_INVALID_CONFIG);
        assert_string_equal(err, "listen: cannot be updated dynamically (read-only)");
        assert_true(value_of(&live, "listen", &e) && e.read_only);
        assert_int_equal(sl_config_alter(&live, &start, "nope", "1", err, sizeof(err)),
                         KP_ERR_INVALID_CONFIG);
        assert_string_equal(err, "nope: unknown broker config");
        assert_int_equal(sl_config_alter(&live, &start, "log.retention.ms", NULL, err, sizeof(err)),
                         KP_ERR_NONE);
        assert_string_equal(value_of(&live, "log.retention.ms", &e), "3600000");
        assert_int_equal(e.source, SL_CONFIG_SOURCE_STATIC_BROKER);
        assert_int_equal(sl_config_alter(&live, &start, "log.level", "trace", err, sizeof(err)),
                         KP_ERR_NONE);
        assert_int_equal(live.log_level, SL_LOG_TRACE);
}

/* AlterConfigs values persist as name=value lines and load back as dynamic. */
static void test_dynamic_persistence(void **state)
{
        (void)state;
        char dir[] = "/tmp/sl_config_testXXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256], buf[512];
        snprintf(path, sizeof(path), "%s/broker.dynamic", dir);
        sl_config start, live, restarted;
        sl_config_defaults(&start);
        assert_int_equal(sl_config_load_dynamic(&start, path, err, sizeof(err)), 0); /* none */
        live = start;
        assert_int_equal(sl_config_format_dynamic(&live, buf, sizeof(buf)), 0);
        assert_int_equal(sl_config_alter(&live, &start, "log.cleanup.policy", "compact,delete", err,
                                         sizeof(err)),
                         KP_ERR_NONE);
        assert_int_equal(sl_config_alter(&live, &start, "log.retention.ms", "1d", err, sizeof(err)),
                         KP_ERR_NONE);
        const char *want = "log.retention.ms=86400000\nlog.cleanup.policy=delete,compact\n";
        assert_int_equal(sl_config_format_dynamic(&live, buf, sizeof(buf)), strlen(want));
        assert_string_equal(buf, want);
        assert_int_equal(sl_config_save_dynamic(&live, path, err, sizeof(err)), 0);
        restarted = start;
        assert_int_equal(sl_config_load_dynamic(&restarted, path, err, sizeof(err)), 0);
        assert_memory_equal(&restarted, &live, sizeof(live));

        FILE *f = fopen(path, "w");
        fputs("# edited\nlog.retention.ms=1\nlisten=0.0.0.0:1\n", f);
        fclose(f);
        restarted = start;
        assert_int_equal(sl_config_load_dynamic(&restarted, path, err, sizeof(err)), -EINVAL);
        char msg[512];
        snprintf(msg, sizeof(msg), "%s:3: listen: cannot be updated dynamically (read-only)", path);
        assert_string_equal(err, msg);
        assert_memory_equal(&restarted, &start, sizeof(start));
        unlink(path);
        rmdir(dir);
}

/* serpentlog.example.yaml documents every key at its default value. */
static void test_example_file_is_defaults(void **state)
{
        (void)state;
        sl_config c, d;
        sl_config_defaults(&c);
        sl_config_defaults(&d);
        assert_int_equal(sl_config_load_file(&c, SL_EXAMPLE_YAML, err, sizeof(err)), 0);
        for (size_t i = 0; i < sl_config_key_count(); i++) {
                sl_config_entry e;
                sl_config_describe(&c, i, &e);
                if (strcmp(e.name, "cores") == 0) /* machine-dependent: commented out */
                        continue;
                assert_int_equal(e.source, SL_CONFIG_SOURCE_STATIC_BROKER);
                d.source[i] = SL_CONFIG_SOURCE_STATIC_BROKER;
        }
        assert_memory_equal(&c, &d, sizeof(c));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_every_key_round_trips),
            cmocka_unit_test(test_errors_name_file_line_column),
            cmocka_unit_test(test_load_file),
            cmocka_unit_test(test_value_syntax),
            cmocka_unit_test(test_flags_override_file),
            cmocka_unit_test(test_help_lists_every_key),
            cmocka_unit_test(test_alter_broker),
            cmocka_unit_test(test_example_file_is_defaults),
            cmocka_unit_test(test_dynamic_persistence),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
