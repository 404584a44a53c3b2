/* broker/send_mode.c — fetch.send.mode: sendfile, copy, or auto.
 *
 * auto copies to clients on this host and uses sendfile for the rest. A
 * client on this host copies whatever the broker sends into its own memory,
 * on this host's CPUs. With sendfile that copy reads page-cache pages nothing
 * has touched lately; with a copy through the shard's staging buffer it reads
 * socket buffers the broker just wrote, still in the CPU caches. Measured on
 * loopback (bench/sendfile_bench, 4 and 48 MiB files): the receiver's cost
 * falls from 0.25-0.33 to 0.11-0.15 CPU-s/GB for 0.03-0.06 more on the
 * sender, and librdkafka consumes 1.1-1.7x faster (README "Performance"). A
 * remote client's copy happens on its own machine, and sendfile lets the NIC
 * read the page cache with no copy here, so every other peer gets sendfile. */
#include "send_mode.h"

#include <string.h>

#include "config.h"

static bool peer_is_loopback(const char *peer)
{
        return !strncmp(peer, "127.", 4) || !strncmp(peer, "::1:", 4) ||
               !strncmp(peer, "::ffff:127.", 11);
}

bool sl_send_mode_copies(int mode, const char *peer)
{
        switch (mode) {
        case SL_FETCH_SEND_SENDFILE:
                return false;
        case SL_FETCH_SEND_COPY:
                return true;
        default:
                return peer_is_loopback(peer);
        }
}
