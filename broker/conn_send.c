/* broker/conn_send.c — one write of a connection's finished responses.
 *
 * Gathers the head of the response queue, from where the last write stopped,
 * and writes it once: consecutive finished responses' headers and memory
 * pieces go in one writev. A file range (Fetch record bytes) goes by the
 * backend's send_file, alone, or, for a connection that copies
 * (fetch.send.mode, send_mode.c), is pread into the shard's staging buffer
 * and joins the same writev. conn.c advances the queue over what was written. */
#include "conn_int.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define IOV_MAX_BATCH 64

/* The shard's staging buffer for copied file ranges, allocated on first use
 * and freed by sl_conn_send_buffers_free when the shard stops. */
static _Thread_local uint8_t *t_tx;

void sl_conn_send_buffers_free(void)
{
        free(t_tx);
        t_tx = NULL;
}

/* Copies up to `room` bytes of file piece sg from off into the staging
 * buffer at `at`. Returns the bytes copied (short only at the file's end),
 * or -errno. A short socket write later drops the copy of what did not go
 * out; the next write reads it again, at most one staging buffer's worth
 * per full socket. */
static ssize_t stage_file(const sl_seg *sg, size_t off, size_t at, size_t room)
{
        if (!t_tx && !(t_tx = malloc(SL_SHARD_TX_STAGE_BYTES)))
                return -ENOMEM;
        size_t want = sg->len - off < room ? sg->len - off : room, done = 0;
        while (done < want) {
                ssize_t r =
                    pread(sg->fd, t_tx + at + done, want - done, sg->off + (int64_t)(off + done));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        break;
                done += (size_t)r;
        }
        return (ssize_t)done;
}

ssize_t sl_conn_send_ready(sl_conn *c)
{
        sl_net *net = &c->shard->net;
        sl_request *r = c->q_head;
        /* Gather memory pieces of consecutive done responses. */
        struct iovec iov[IOV_MAX_BATCH];
        int n = 0;
        sl_request *q = r;
        int seg = r->send_seg;
        size_t off = r->send_off;
        size_t staged = 0; /* bytes of t_tx in iov */
        bool file_first = false;
        ssize_t stage_err = 0;
        while (q && n < IOV_MAX_BATCH && q->state == SL_REQ_DONE) {
                if (seg < 0) {
                        iov[n++] = (struct iovec){q->resp_hdr + off, q->resp_hdr_len - off};
                        seg = 0;
                        off = 0;
                        continue;
                }
                if (seg >= q->nsegs) {
                        q = q->next;
                        seg = -1;
                        off = 0;
                        continue;
                }
                sl_seg *sg = &q->segs[seg];
                if (sg->fd >= 0 && c->copy_send) {
                        size_t room = SL_SHARD_TX_STAGE_BYTES - staged;
                        ssize_t got = room ? stage_file(sg, off, staged, room) : 0;
                        if (got <= 0) {
                                if (!n)
                                        stage_err = got ? got : -EIO;
                                break;
                        }
                        iov[n++] = (struct iovec){t_tx + staged, (size_t)got};
                        staged += (size_t)got;
                        if ((size_t)got < sg->len - off)
                                break; /* the rest goes in the next writev */
                        seg++;
                        off = 0;
                        continue;
                }
                if (sg->fd >= 0) {
                        file_first = n == 0;
                        break;
                }
                if (sg->len > off)
                        iov[n++] = (struct iovec){(void *)(sg->p + off), sg->len - off};
                seg++;
                off = 0;
        }
        ssize_t w;
        if (stage_err) {
                w = stage_err; /* unreadable, or shorter than promised */
        } else if (file_first) {
                sl_seg *sg = &r->segs[r->send_seg];
                w = net->ops->send_file(net, c->sock, sg->fd, sg->off + (int64_t)r->send_off,
                                        sg->len - r->send_off);
                if (w == 0)
                        w = -EIO; /* file shorter than promised */
        } else if (n) {
                w = net->ops->writev(net, c->sock, iov, n);
        } else {
                w = 0;
        }
        return w;
}
