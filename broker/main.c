/* broker/main.c — the `serpentlog` command.
 *
 *   serpentlog start [--config FILE] [flags]   run a broker until SIGTERM/SIGINT
 *   serpentlog verify DIR                      check a partition dir or a data dir
 *   serpentlog --help | start --help | version
 *
 * Signals: SIGTERM and SIGINT are blocked in every thread and taken here with
 * sigwait, so shard threads never run handlers; on either the broker stops
 * accepting, answers what it already received, syncs and closes every log and
 * exits 0. SIGPIPE is ignored (a peer that vanished is seen as EPIPE). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "server.h"
#include "verify.h"

#define DRAIN_MS 10000

static void usage(FILE *out)
{
        fprintf(out,
                "usage: serpentlog <command> [options]\n"
                "\n"
                "commands:\n"
                "  start [--config FILE] [flags]  run a Kafka-compatible broker\n"
                "                                 (serpentlog start --help lists flags and keys)\n"
                "  verify DIR                     verify a partition directory, or every\n"
                "                                 partition of a data directory\n"
                "  version                        print the version\n");
}

static int cmd_start(int argc, char **argv)
{
        sl_config cfg;
        char err[512];
        int rc = sl_config_parse_args(&cfg, argc, argv, err, sizeof(err));
        if (rc == SL_CONFIG_HELP) {
                sl_config_print_help(stdout);
                return 0;
        }
        if (rc < 0) {
                fprintf(stderr, "serpentlog: %s\n", err);
                return 2;
        }
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread */
        signal(SIGPIPE, SIG_IGN);
        rc = sl_server_start(&cfg);
        if (rc) {
                fprintf(stderr, "serpentlog: startup failed\n");
                return 1;
        }
        /* A line tests and scripts can wait for (the port may have been 0). */
        fprintf(stdout, "serpentlog ready port=%u\n", (unsigned)sl_server_port());
        fflush(stdout);
        int sig = 0;
        sigwait(&set, &sig);
        fprintf(stderr, "serpentlog: %s received, shutting down\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT");
        sl_server_stop(DRAIN_MS);
        return 0;
}

static int verify_one(const char *dir)
{
        sl_verify_report rep;
        int rc = sl_verify_dir(dir, &rep);
        if (rc == 0) {
                printf("%s: ok, %lld segments, %lld batches, offsets [%lld, %lld)%s\n", dir,
                       (long long)rep.segments, (long long)rep.batches, (long long)rep.first_offset,
                       (long long)rep.next_offset,
                       rep.torn_tail ? ", torn tail (recoverable)" : "");
                return 0;
        }
        if (rc < 0 && rc != -1000)
                printf("%s: cannot read: %s\n", dir, strerror(-rc));
        else
                printf("%s: DAMAGED: %s\n", dir, rep.message);
        return 1;
}

/* A data dir holds <topic>-<partition> directories. */
static bool is_partition_dir(const char *name)
{
        const char *dash = strrchr(name, '-');
        if (!dash || dash == name || !dash[1])
                return false;
        for (const char *p = dash + 1; *p; p++)
                if (*p < '0' || *p > '9')
                        return false;
        return true;
}

/* `<topic>-<n>.<tag>.deleted`: a deleted partition's directory, set aside
 * while fetches still read it; a crash can leave it, the next start removes
 * it (broker/topics_store.c). Not data: never verified. */
static bool is_deleted_leftover(const char *name)
{
        size_t l = strlen(name);
        return l > 8 && !strcmp(name + l - 8, ".deleted") && strchr(name, '-');
}

static int cmd_verify(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: serpentlog verify DIR\n");
                return 2;
        }
        const char *dir = argv[1];
        size_t dl = strlen(dir);
        while (dl > 1 && dir[dl - 1] == '/')
                dl--;
        char trimmed[4096];
        snprintf(trimmed, sizeof(trimmed), "%.*s", (int)dl, dir);
        const char *base = strrchr(trimmed, '/');
        base = base ? base + 1 : trimmed;
        if (is_deleted_leftover(base)) {
                printf("%s: left by a topic deletion, not data (the next start removes it)\n", dir);
                return 0;
        }
        if (is_partition_dir(base))
                return verify_one(dir);
        DIR *d = opendir(dir);
        if (!d) {
                fprintf(stderr, "serpentlog: %s: %s\n", dir, strerror(errno));
                return 2;
        }
        int bad = 0, n = 0, leftovers = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                bool leftover = is_deleted_leftover(de->d_name);
                if (!leftover && !is_partition_dir(de->d_name))
                        continue;
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                struct stat st;
                if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (leftover) {
                        leftovers++;
                        continue;
                }
                bad += verify_one(path);
                n++;
        }
        closedir(d);
        printf("%d partitions verified, %d damaged", n, bad);
        if (leftovers)
                printf(", %d left by topic deletions skipped", leftovers);
        printf("\n");
        return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        const char *cmd = argv[1];
        if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
                usage(stdout);
                return 0;
        }
        if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
                printf("serpentlog 0.1.0\n");
                return 0;
        }
        if (!strcmp(cmd, "start"))
                return cmd_start(argc - 1, argv + 1);
        if (!strcmp(cmd, "verify"))
                return cmd_verify(argc - 1, argv + 1);
        fprintf(stderr, "serpentlog: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
}
