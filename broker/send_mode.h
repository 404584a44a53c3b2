/* broker/send_mode.h — whether a connection's Fetch file ranges leave
 * through sendfile or copied through the shard's staging buffer
 * (fetch.send.mode; conn.c sends either way). */
#ifndef SL_SEND_MODE_H
#define SL_SEND_MODE_H

#include <stdbool.h>

/* mode: enum sl_fetch_send; peer: "ip:port" as the backend's accept gives it.
 * True when the connection's file ranges are copied. */
bool sl_send_mode_copies(int mode, const char *peer);

#endif
