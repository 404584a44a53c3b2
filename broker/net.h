/* broker/net.h — the network backend interface (kernel sockets or DPDK).
 *
 * Everything above this table (connections, listeners) moves bytes only
 * through it, so a userspace TCP stack can replace kernel sockets without
 * changes elsewhere (Redis ConnectionType). A socket is a small int handle
 * owned by one shard's backend instance; readiness is reported through the
 * shard's reactor callbacks (watch / set_mask), SL_READABLE, SL_WRITABLE and
 * SL_HANGUP as in reactor.h.
 * Return values: >= 0 success; -EAGAIN would block; other -errno failures. */
#ifndef SL_NET_H
#define SL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "reactor.h"

typedef struct sl_net sl_net;

typedef struct sl_net_ops {
        const char *name;
        /* Listens on host:port (port 0: any; SO_REUSEPORT so every shard can
         * listen on the same port). `first`: the broker's first listener on
         * this port; fail with -EADDRINUSE if anything else already uses it
         * (another broker would otherwise share the port). Returns a socket. */
        int (*listen)(sl_net *n, const char *host, uint16_t port, int backlog, bool first);
        /* Local port of a socket, or -errno. */
        int (*local_port)(sl_net *n, int sock);
        /* Accepts one connection (nonblocking); peer gets "ip:port". */
        int (*accept)(sl_net *n, int lsock, char *peer, size_t peer_len);
        /* Reads up to len bytes: > 0 bytes read, 0 peer closed, -errno. */
        ssize_t (*read)(sl_net *n, int sock, void *buf, size_t len);
        /* Writes an iovec list: bytes written (maybe partial) or -errno. */
        ssize_t (*writev)(sl_net *n, int sock, const struct iovec *iov, int iovcnt);
        /* Sends len bytes of file fd at off (sendfile, or copy on userspace
         * stacks): bytes sent (maybe partial) or -errno. */
        ssize_t (*send_file)(sl_net *n, int sock, int fd, int64_t off, size_t len);
        /* Readiness callbacks for a socket, through the shard's reactor. */
        int (*watch)(sl_net *n, int sock, int mask, sl_fd_fn *fn, void *arg);
        int (*set_mask)(sl_net *n, int sock, int mask);
        /* Stops watching and closes. */
        void (*close)(sl_net *n, int sock);
} sl_net_ops;

/* One backend instance per shard. */
struct sl_net {
        const sl_net_ops *ops;
        sl_reactor *reactor; /* the shard's loop */
        void *priv;          /* backend state */
};

/* Kernel sockets: epoll readiness, writev, sendfile. */
extern const sl_net_ops sl_net_posix_ops;

/* The table for network.backend (enum sl_net_backend): kernel sockets, or the
 * DPDK backend when one is linked in (dpdk/ defines sl_net_dpdk_ops); NULL
 * when the configured backend is not built. */
const sl_net_ops *sl_net_ops_for(int backend);

#endif
