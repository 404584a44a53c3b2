/* broker/shard_lanes.h — where a shard's threads run, and the second lane
 * of its disk helpers (implemented in shard.c). Private to broker/.
 *
 * A shard's reactor thread is pinned to one CPU of the set the process was
 * allowed at startup (sched_getaffinity); its disk helpers (the I/O helper
 * thread "sl-ioN", the commit lane "sl-commitN", and the group commit's
 * short-lived fdatasync workers "sl-syncN" that they start) get every other
 * allowed CPU, so write-behind, drop-behind and fdatasync system calls never
 * take the reactor's CPU. With a single allowed CPU they share it.
 *
 * Lanes: lane 0 is the I/O helper's FIFO (sl_shard_offload). Lane 1 is a
 * second helper thread that only group commits use, so one commit batch can
 * run while the previous one is still in fdatasync (partition.c). Both lanes
 * report through the same completion queue; done() runs on the shard. */
#ifndef SL_SHARD_LANES_H
#define SL_SHARD_LANES_H

#include <sched.h>

#include "shard.h"

#define SL_SHARD_LANES 2

/* The CPU the shard's reactor thread is pinned to, or -1 (affinity unknown). */
int sl_shard_cpu(const sl_shard *s);
/* The CPUs of the shard's helper threads: every allowed CPU but the shard's
 * (just the shard's when it is the only one allowed). 0, or -1 when unknown. */
int sl_shard_helper_cpus(const sl_shard *s, cpu_set_t *out);
/* What the kernel reports for a running helper thread (lane 0 or 1): 0 or
 * an errno from pthread_getaffinity_np. For tests. */
int sl_shard_lane_affinity(const sl_shard *s, int lane, cpu_set_t *out);
/* sl_shard_offload on a given lane (0: the I/O helper's FIFO). With early
 * set, the job's run will also hand `early` back to the shard before it ends
 * (sl_shard_io_post): both done() run on the shard, early's first. */
void sl_shard_offload_lane(sl_xcall *x, int lane, sl_xcall *early);
/* From a helper's run: queues x's done() for the shard now. */
void sl_shard_io_post(sl_shard *s, sl_xcall *x);

#endif
