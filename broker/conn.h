/* broker/conn.h — what handlers may ask of the connection a request came on.
 * The connection itself (framing, ordering, limits) is in conn.c; handlers
 * hold it only through sl_request.conn and only on its shard. */
#ifndef SL_CONN_H
#define SL_CONN_H

#include "wire.h"

typedef struct sl_conn sl_conn;

/* Records ApiVersions v3+ ClientSoftwareName/Version (KIP-511), copied. */
void sl_conn_set_client_software(sl_conn *c, kp_str name, kp_str version);
/* "ip:port" of the client. */
const char *sl_conn_peer(const sl_conn *c);
/* The recorded software name/version ("" until ApiVersions v3+). */
const char *sl_conn_client_software(const sl_conn *c);
const char *sl_conn_client_software_version(const sl_conn *c);

#endif
