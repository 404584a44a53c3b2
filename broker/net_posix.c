/* broker/net_posix.c — kernel-socket backend of broker/net.h.
 *
 * Nonblocking TCP sockets with SO_REUSEPORT listeners (one per shard on the
 * same port; the kernel spreads connections), TCP_NODELAY on accepted sockets
 * (responses are written whole with writev, so Nagle only adds latency),
 * readiness from the shard's epoll reactor, and sendfile for file ranges so
 * Fetch record bytes never enter user space. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* True when a plain bind (no SO_REUSEPORT) to the address fails as in use:
 * a process already listens there, even one that set SO_REUSEPORT. */
static bool address_taken(const struct addrinfo *ai)
{
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* TIME_WAIT is fine */
        bool taken = bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno == EADDRINUSE;
        close(fd);
        return taken;
}

static int posix_listen(sl_net *n, const char *host, uint16_t port, int backlog, bool first)
{
        (void)n;
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        char portstr[8];
        snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
        int gai = getaddrinfo(host && *host ? host : NULL, portstr, &hints, &res);
        if (gai != 0)
                return gai == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
        int err = -EADDRNOTAVAIL;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                if (first && port != 0 && address_taken(ai)) {
                        err = -EADDRINUSE;
                        continue;
                }
                int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        err = -errno;
                        continue;
                }
                int one = 1;
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
                    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
                        err = -errno;
                        close(fd);
                        continue;
                }
                freeaddrinfo(res);
                return fd;
        }
        freeaddrinfo(res);
        return err;
}

static int posix_local_port(sl_net *n, int sock)
{
        (void)n;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (getsockname(sock, (struct sockaddr *)&ss, &len) < 0)
                return -errno;
        if (ss.ss_family == AF_INET)
                return ntohs(((struct sockaddr_in *)&ss)->sin_port);
        if (ss.ss_family == AF_INET6)
                return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        return -EAFNOSUPPORT;
}

static int posix_accept(sl_net *n, int lsock, char *peer, size_t peer_len)
{
        (void)n;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(lsock, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (peer && peer_len) {
                char host[INET6_ADDRSTRLEN] = "?";
                unsigned port = 0;
                if (ss.ss_family == AF_INET) {
                        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
                        port = ntohs(a->sin_port);
                } else if (ss.ss_family == AF_INET6) {
                        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
                        port = ntohs(a->sin6_port);
                }
                snprintf(peer, peer_len, "%s:%u", host, port);
        }
        return fd;
}

static ssize_t posix_read(sl_net *n, int sock, void *buf, size_t len)
{
        (void)n;
        ssize_t r;
        do
                r = read(sock, buf, len);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        return r;
}

static ssize_t posix_writev(sl_net *n, int sock, const struct iovec *iov, int iovcnt)
{
        (void)n;
        ssize_t r;
        do
                r = writev(sock, iov, iovcnt);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        return r;
}

static ssize_t posix_send_file(sl_net *n, int sock, int fd, int64_t off, size_t len)
{
        (void)n;
        off_t o = (off_t)off;
        ssize_t r;
        do
                r = sendfile(sock, fd, &o, len);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        return r;
}

static int posix_watch(sl_net *n, int sock, int mask, sl_fd_fn *fn, void *arg)
{
        return sl_reactor_watch(n->reactor, sock, mask, fn, arg);
}

static int posix_set_mask(sl_net *n, int sock, int mask)
{
        return sl_reactor_set_mask(n->reactor, sock, mask);
}

static void posix_close(sl_net *n, int sock)
{
        sl_reactor_unwatch(n->reactor, sock);
        close(sock);
}

const sl_net_ops sl_net_posix_ops = {
    .name = "posix",
    .listen = posix_listen,
    .local_port = posix_local_port,
    .accept = posix_accept,
    .read = posix_read,
    .writev = posix_writev,
    .send_file = posix_send_file,
    .watch = posix_watch,
    .set_mask = posix_set_mask,
    .close = posix_close,
};
