/*
 * sendfile_bench: how fast can bytes go from a page-cached file to a loopback TCP socket?
 *
 * This is the floor under a broker's Fetch path: a segment file already in page cache,
 * sent with sendfile(2) (zero copy from user space's view) or with pread+send (one extra
 * copy through a user buffer) to a receiver thread that recv()s and discards. Reports
 * GB/s and the CPU seconds per GB of sender and receiver threads separately.
 *
 * Usage: sendfile_bench [--mode sendfile|copy|both] [--file-mb N] [--seconds S]
 *                       [--chunk-kb K] [--dir DIR]
 * Last line(s): "RESULT mode=... gb_per_s=... send_cpu_s_per_gb=... recv_cpu_s_per_gb=..."
 */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

struct opts {
        const char *mode;
        const char *dir;
        size_t file_bytes;
        size_t chunk_bytes;
        double seconds;
};

/* Create an unlinked temp file of the given size, filled with non-zero data. */
static int make_file(const char *dir, size_t bytes)
{
        char path[4096];
        size_t chunk = 1 << 20, done = 0;
        char *buf;
        int fd;

        snprintf(path, sizeof(path), "%s/sl-sendfile-XXXXXX", dir);
        fd = mkstemp(path);
        if (fd < 0)
                return -1;
        unlink(path);
        buf = malloc(chunk);
        if (!buf) {
                close(fd);
                return -1;
        }
        for (size_t i = 0; i < chunk; i++)
                buf[i] = (char)(i * 131 + 7);
        while (done < bytes) {
                size_t n = bytes - done < chunk ? bytes - done : chunk;
                ssize_t w = write(fd, buf, n);

                if (w <= 0) {
                        free(buf);
                        close(fd);
                        return -1;
                }
                done += (size_t)w;
        }
        /* Read it back once so every page is certainly cached. */
        for (off_t off = 0; pread(fd, buf, chunk, off) > 0; off += (off_t)chunk)
                ;
        free(buf);
        return fd;
}

/* Send the file in chunks, round after round, for `seconds`. Returns bytes sent. */
static uint64_t pump(int sock, int fd, const struct opts *o, int use_sendfile, char *buf,
                     double seconds, int *err)
{
        double t_end = sl_bench_wall_s() + seconds;
        uint64_t sent = 0;

        *err = 0;
        while (sl_bench_wall_s() < t_end) {
                off_t off = 0;

                while ((size_t)off < o->file_bytes) {
                        size_t want = o->file_bytes - (size_t)off;
                        ssize_t n;

                        if (want > o->chunk_bytes)
                                want = o->chunk_bytes;
                        if (use_sendfile) {
                                n = sendfile(sock, fd, &off, want);
                        } else {
                                ssize_t r = pread(fd, buf, want, off), w = 0;

                                while (r > 0 && w < r) {
                                        ssize_t k = send(sock, buf + w, (size_t)(r - w), 0);

                                        if (k < 0 && errno == EINTR)
                                                continue;
                                        if (k < 0) {
                                                w = -1;
                                                break;
                                        }
                                        w += k;
                                }
                                n = r <= 0 ? r : w;
                                if (n > 0)
                                        off += n;
                        }
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                *err = n < 0 ? errno : EIO;
                                return sent;
                        }
                        sent += (uint64_t)n;
                }
        }
        return sent;
}

/* One measured run on a fresh connection. Prints a line; returns 0 or -1. */
static int run(const struct opts *o, int fd, int use_sendfile, double seconds, int quiet)
{
        const char *name = use_sendfile ? "sendfile" : "copy";
        sl_bench_drain d;
        int cfd, sfd, err;
        char *buf = malloc(o->chunk_bytes);
        double w0, c0, wall, scpu;
        uint64_t sent;

        if (!buf || sl_bench_tcp_pair(&cfd, &sfd)) {
                free(buf);
                fprintf(stderr, "sendfile_bench: loopback connect failed\n");
                return -1;
        }
        if (sl_bench_drain_start(&d, sfd, 1 << 20)) {
                close(cfd);
                close(sfd);
                free(buf);
                return -1;
        }
        w0 = sl_bench_wall_s();
        c0 = sl_bench_thread_cpu_s();
        sent = pump(cfd, fd, o, use_sendfile, buf, seconds, &err);
        scpu = sl_bench_thread_cpu_s() - c0;
        shutdown(cfd, SHUT_WR);
        sl_bench_drain_join(&d);
        wall = sl_bench_wall_s() - w0;
        close(cfd);
        close(sfd);
        free(buf);
        if (err || d.err || d.bytes != sent) {
                fprintf(stderr, "sendfile_bench: %s failed: %s (sent %llu, received %llu)\n", name,
                        strerror(err ? err : -d.err), (unsigned long long)sent,
                        (unsigned long long)d.bytes);
                return -1;
        }
        if (!quiet) {
                double gb = (double)sent / 1e9;

                printf("%-8s %7.2f GB/s  sender %.3f CPU s/GB  receiver %.3f CPU s/GB"
                       "  (%.2f GB in %.2f s)\n",
                       name, gb / wall, scpu / gb, d.cpu_s / gb, gb, wall);
                printf("RESULT mode=%s gb_per_s=%.3f send_cpu_s_per_gb=%.4f "
                       "recv_cpu_s_per_gb=%.4f bytes=%llu seconds=%.3f\n",
                       name, gb / wall, scpu / gb, d.cpu_s / gb, (unsigned long long)sent, wall);
                fflush(stdout);
        }
        return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
        for (int i = 1; i < argc; i += 2) {
                const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                char *end = NULL;

                if (!v)
                        return -1;
                if (!strcmp(k, "--mode"))
                        o->mode = v;
                else if (!strcmp(k, "--dir"))
                        o->dir = v;
                else if (!strcmp(k, "--file-mb"))
                        o->file_bytes = (size_t)strtoul(v, &end, 10) << 20;
                else if (!strcmp(k, "--chunk-kb"))
                        o->chunk_bytes = (size_t)strtoul(v, &end, 10) << 10;
                else if (!strcmp(k, "--seconds"))
                        o->seconds = strtod(v, &end);
                else
                        return -1;
                if (end && *end)
                        return -1;
        }
        if (!o->file_bytes || !o->chunk_bytes || o->seconds <= 0)
                return -1;
        if (strcmp(o->mode, "sendfile") && strcmp(o->mode, "copy") && strcmp(o->mode, "both"))
                return -1;
        return 0;
}

int main(int argc, char **argv)
{
        struct opts o = {.mode = "both",
                         .dir = "/tmp",
                         .file_bytes = 64u << 20,
                         .chunk_bytes = 1u << 20,
                         .seconds = 2.0};
        int fd, rc = 0;

        if (parse(argc, argv, &o)) {
                fprintf(stderr, "usage: sendfile_bench [--mode sendfile|copy|both] "
                                "[--file-mb N] [--seconds S] [--chunk-kb K] [--dir DIR]\n");
                return 2;
        }
        fd = make_file(o.dir, o.file_bytes);
        if (fd < 0) {
                fprintf(stderr, "sendfile_bench: cannot create file in %s: %s\n", o.dir,
                        strerror(errno));
                return 1;
        }
        printf("file %zu MiB (page cache), chunk %zu KiB, loopback TCP, %.1f s per mode\n",
               o.file_bytes >> 20, o.chunk_bytes >> 10, o.seconds);
        /* Warm-up: code paths, socket buffers, TCP autotuning. */
        if (run(&o, fd, 1, 0.3, 1))
                rc = 1;
        if (!rc && strcmp(o.mode, "copy"))
                rc = run(&o, fd, 1, o.seconds, 0) ? 1 : 0;
        if (!rc && strcmp(o.mode, "sendfile"))
                rc = run(&o, fd, 0, o.seconds, 0) ? 1 : 0;
        close(fd);
        return rc;
}
