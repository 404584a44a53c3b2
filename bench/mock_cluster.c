/*
 * mock_cluster: a standalone librdkafka mock cluster for benchmarks and tests.
 *
 * librdkafka ships an in-process Kafka broker (rdkafka_mock.h). This wraps it in a
 * process so scripts can compare SerpentLog against a known-good Kafka speaker on the
 * same machine: it prints the bootstrap address on stdout (one line, flushed) and runs
 * until SIGTERM/SIGINT or EOF on stdin. Stdin is watched only when it is a pipe, socket
 * or terminal, so `mock_cluster &` in a script (stdin = /dev/null) keeps running.
 *
 * Usage: mock_cluster [--brokers N] [--topic NAME:PARTITIONS]... [--no-stdin]
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 64

struct topic_spec {
        char name[256];
        int partitions;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static void usage(const char *argv0)
{
        fprintf(stderr,
                "usage: %s [--brokers N] [--topic NAME:PARTITIONS]... [--no-stdin]\n"
                "Runs librdkafka's mock cluster, prints its bootstrap address on stdout and\n"
                "serves until SIGTERM/SIGINT or stdin EOF (stdin is watched only if it is a\n"
                "pipe, socket or terminal; --no-stdin never watches it).\n",
                argv0);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi)
                return -1;
        *out = (int)v;
        return 0;
}

static int parse_topic(const char *arg, struct topic_spec *t)
{
        const char *colon = strrchr(arg, ':');
        size_t nlen;

        t->partitions = 1;
        nlen = colon ? (size_t)(colon - arg) : strlen(arg);
        if (nlen == 0 || nlen >= sizeof(t->name))
                return -1;
        memcpy(t->name, arg, nlen);
        t->name[nlen] = '\0';
        if (colon && parse_int(colon + 1, 1, 100000, &t->partitions))
                return -1;
        return 0;
}

/* True when stdin is something whose EOF means "the parent went away". */
static int stdin_is_watchable(void)
{
        struct stat st;

        if (fstat(0, &st))
                return 0;
        return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(0);
}

/* Block until a signal arrives or (if watched) stdin reaches EOF or errors. */
static void wait_for_stop(int stdin_open)
{
        char buf[512];

        while (!stop_requested) {
                struct pollfd pfd = {.fd = 0, .events = POLLIN};
                int n = poll(&pfd, stdin_open ? 1 : 0, 500);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                if (n == 0 || !stdin_open)
                        continue;
                if (pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
                        ssize_t r = read(0, buf, sizeof(buf));

                        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                                return;
                }
        }
}

int main(int argc, char **argv)
{
        struct topic_spec topics[MAX_TOPICS];
        int ntopics = 0, brokers = 1, rc = 1, watch_stdin = 1;
        char errstr[512];
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk = NULL;
        rd_kafka_mock_cluster_t *mc = NULL;
        struct sigaction sa;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
                        if (parse_int(argv[++i], 1, 64, &brokers)) {
                                fprintf(stderr, "mock_cluster: bad --brokers '%s'\n", argv[i]);
                                return 2;
                        }
                } else if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
                        if (ntopics == MAX_TOPICS || parse_topic(argv[++i], &topics[ntopics])) {
                                fprintf(stderr, "mock_cluster: bad --topic '%s'\n", argv[i]);
                                return 2;
                        }
                        ntopics++;
                } else if (!strcmp(argv[i], "--no-stdin")) {
                        watch_stdin = 0;
                } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(argv[0]);
                        return 0;
                } else {
                        usage(argv[0]);
                        return 2;
                }
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* The mock cluster needs a parent rd_kafka_t; a producer handle costs nothing. */
        conf = rd_kafka_conf_new();
        /* Quiet the "no bootstrap.servers" notice: this handle never connects. */
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "mock_cluster: rd_kafka_new: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        mc = rd_kafka_mock_cluster_new(rk, brokers);
        if (!mc) {
                fprintf(stderr, "mock_cluster: rd_kafka_mock_cluster_new failed\n");
                goto out;
        }
        for (int i = 0; i < ntopics; i++) {
                int rf = brokers < 3 ? brokers : 3;
                rd_kafka_resp_err_t err =
                    rd_kafka_mock_topic_create(mc, topics[i].name, topics[i].partitions, rf);

                if (err) {
                        fprintf(stderr, "mock_cluster: create topic %s: %s\n", topics[i].name,
                                rd_kafka_err2str(err));
                        goto out;
                }
        }

        printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);

        wait_for_stop(watch_stdin && stdin_is_watchable());
        rc = 0;
out:
        if (mc)
                rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return rc;
}
