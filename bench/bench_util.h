/*
 * bench_util.h: small helpers shared by the micro-benchmarks (sendfile_bench, parts_bench):
 * clocks (wall, thread CPU), a connected loopback TCP pair, and a drain thread that
 * reads and discards everything from a socket while accounting its own CPU time.
 */
#ifndef SL_BENCH_UTIL_H
#define SL_BENCH_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

double sl_bench_wall_s(void);
double sl_bench_thread_cpu_s(void);
double sl_bench_process_cpu_s(void);

/* Connect a TCP socket to a fresh listener on 127.0.0.1. 0, or -errno. */
int sl_bench_tcp_pair(int *client_fd, int *server_fd);

/* A thread that recv()s from fd into a private buffer until EOF. */
typedef struct sl_bench_drain {
        pthread_t tid;
        int fd;
        size_t buf_bytes;
        uint64_t bytes; /* received so far (written by the thread) */
        double cpu_s;   /* thread CPU seconds, valid after join */
        int err;        /* -errno of a failed recv, else 0 */
} sl_bench_drain;

int sl_bench_drain_start(sl_bench_drain *d, int fd, size_t buf_bytes);
/* Waits for EOF on the socket (the peer must shut down its side first). */
void sl_bench_drain_join(sl_bench_drain *d);

#endif
