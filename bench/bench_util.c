/*
 * bench_util.c: clocks, loopback TCP pairs and a discarding receiver thread for the
 * micro-benchmarks. CPU time per thread comes from CLOCK_THREAD_CPUTIME_ID, so each
 * side of a transfer is charged only for its own work (syscalls and copies).
 */
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t id)
{
        struct timespec ts;

        clock_gettime(id, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sl_bench_wall_s(void)
{
        return clock_s(CLOCK_MONOTONIC);
}

double sl_bench_thread_cpu_s(void)
{
        return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

double sl_bench_process_cpu_s(void)
{
        return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

int sl_bench_tcp_pair(int *client_fd, int *server_fd)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t alen = sizeof(a);
        int lfd, cfd = -1, sfd = -1, one = 1, rc;

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0)
                return -errno;
        if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1) ||
            getsockname(lfd, (struct sockaddr *)&a, &alen))
                goto fail;
        cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof(a)))
                goto fail;
        sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (sfd < 0)
                goto fail;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        close(lfd);
        *client_fd = cfd;
        *server_fd = sfd;
        return 0;
fail:
        rc = -errno;
        if (cfd >= 0)
                close(cfd);
        close(lfd);
        return rc ? rc : -EIO;
}

static void *drain_main(void *arg)
{
        sl_bench_drain *d = arg;
        char *buf = malloc(d->buf_bytes);
        double c0 = sl_bench_thread_cpu_s();

        if (!buf) {
                d->err = -ENOMEM;
                return NULL;
        }
        for (;;) {
                ssize_t n = recv(d->fd, buf, d->buf_bytes, 0);

                if (n > 0) {
                        __atomic_add_fetch(&d->bytes, (uint64_t)n, __ATOMIC_RELAXED);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        d->err = -errno;
                break;
        }
        d->cpu_s = sl_bench_thread_cpu_s() - c0;
        free(buf);
        return NULL;
}

int sl_bench_drain_start(sl_bench_drain *d, int fd, size_t buf_bytes)
{
        memset(d, 0, sizeof(*d));
        d->fd = fd;
        d->buf_bytes = buf_bytes;
        return -pthread_create(&d->tid, NULL, drain_main, d);
}

void sl_bench_drain_join(sl_bench_drain *d)
{
        pthread_join(d->tid, NULL);
}
