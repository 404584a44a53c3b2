/* broker/tests/fuzz_conn.c — libFuzzer harness for everything a client's
 * bytes reach first: framing, header decode, dispatch, and the ApiVersions and
 * Metadata handlers with their generated decoders and encoders. Each input is
 * the byte stream of one connection on a one-shard runtime kept across
 * inputs; the harness feeds it, drains the answers, hangs up and checks that
 * the connection is freed. Sanitizers catch the rest. Metadata auto-creation
 * is off; anything else a handler writes goes to a temp data dir. */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "harness.h"

static th t;
static bool started;
static char data_dir[] = "/tmp/sl_fuzz_conn_XXXXXX";

static void remove_data_dir(void)
{
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data_dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", data_dir);
}

static void drain(int fd)
{
        uint8_t buf[65536];
        while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!started) {
                /* As serpentlog's main(): an answer written after the
                 * harness hung up must be EPIPE, not a fatal signal. */
                signal(SIGPIPE, SIG_IGN);
                sl_config cfg;
                sl_config_defaults(&cfg);
                cfg.auto_create_topics_enable = false;
                /* Handlers may still create internal topics (e.g. the group
                 * coordinator's __consumer_offsets): keep them in a temp dir. */
                if (!mkdtemp(data_dir))
                        abort();
                atexit(remove_data_dir);
                snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", data_dir);
                char topics[sizeof(data_dir) + 16];
                snprintf(topics, sizeof(topics), "%s/__topics", data_dir);
                mkdir(topics, 0755);
                sl_topic_info a = {.name = kp_str_c("fuzz"), .partitions = 2};
                a.id.b[3] = 7;
                const sl_topic_info *p = &a;
                th_start(&t, &cfg, sl_topics_snap_build(&p, 1, 1));
                close(t.client); /* the first connection is not used */
                started = true;
        }
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
                abort();
        fcntl(sv[0], F_SETFL, O_NONBLOCK);
        atomic_fetch_add(&g_sl.nconns, 1);
        if (!sl_conn_adopt(t.s, sv[0], "fuzz:1"))
                abort();
        size_t off = 0;
        for (int i = 0; i < 10000 && off < size; i++) {
                ssize_t w = send(sv[1], data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w > 0)
                        off += (size_t)w;
                else if (w < 0 && errno != EAGAIN)
                        break; /* the broker closed the connection */
                sl_reactor_turn(t.s->reactor, 0);
                drain(sv[1]);
        }
        for (int i = 0; i < 4; i++) {
                sl_reactor_turn(t.s->reactor, 0);
                drain(sv[1]);
        }
        close(sv[1]);
        /* A request waiting for the disk (a group record's fdatasync on the
         * I/O helper) keeps its connection until answered: under a busy disk
         * that takes well over 100 ms, so allow 10 s before calling it a leak. */
        for (int i = 0; i < 10000 && t.s->nconns > 1; i++)
                sl_reactor_turn(t.s->reactor, 1);
        /* Only the unused first connection may remain. */
        if (t.s->nconns > 1)
                abort();
        return 0;
}
