/* broker/server.h — starting and stopping the whole broker runtime in this
 * process: the shards (threads, reactors, listeners, rings), the topic
 * registry and every partition log. Used by main.c and by tests that run a
 * broker in-process. One broker per process. */
#ifndef SL_SERVER_H
#define SL_SERVER_H

#include <stdint.h>

#include "config.h"

/* Loads the registry from cfg->data_dir, opens every partition log on its
 * owner shard, listens on cfg->listen (port 0: any free port) and runs.
 * Returns 0 or -errno / SL_E* (logged). */
int sl_server_start(const sl_config *cfg);

/* The bound listen port. */
uint16_t sl_server_port(void);

/* Graceful stop: stop accepting, let connections finish what they sent (up
 * to drain_ms), sync and close every log, join the threads, free all. */
void sl_server_stop(int64_t drain_ms);

#endif
