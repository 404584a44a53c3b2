"""Checks shared by the stop-under-load tests (0040 SIGKILL, 0083 SIGTERM/SIGINT).

After a restart, every record the producer saw acknowledged must be at its
acknowledged (partition, offset) with its key and value, and each partition's
offsets must run from 0 without holes.
"""

import clients
import dataset
from harness import check, log


def check_acknowledged(rdk, bootstrap, topic, partitions, acked, label):
    """acked maps record index -> (partition, offset). Returns the index of the
    first record the next round may produce (past everything stored)."""
    out = clients.run([rdk, "consume", bootstrap, topic, str(partitions), str(len(acked))])
    recs = clients.parse_records(out)
    at = {(r["p"], r["o"]): r for r in recs}
    for i, (p, o) in sorted(acked.items()):
        r = at.get((p, o))
        check(r is not None, "%s: acknowledged record %d (p%d o%d) is gone" % (label, i, p, o))
        check(r["k"] == dataset.key(i) and r["v"] == dataset.value(i),
              "%s: p%d o%d holds %s, acknowledged as %s" % (label, p, o, r["k"], dataset.key(i)))
    for p in range(partitions):
        offs = sorted(o for (pp, o) in at if pp == p)
        check(offs == list(range(len(offs))), "%s: p%d has holes in its offsets" % (label, p))
    log("%s: all %d acknowledged records present after restart (%d stored)" %
        (label, len(acked), len(recs)))
    return max(int(r["k"][1:]) for r in recs) + 1
