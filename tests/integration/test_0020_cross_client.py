"""0020: records written by one client are read back by others.

Usage: test_0020_cross_client.py SERPENTLOG PRODUCER CONSUMER[,CONSUMER...] [TOTAL]
The producer writes TOTAL keyed records with headers under each of its codecs
to a 6-partition topic; every consumer must see exactly those records (key,
value, headers, timestamp, the offsets the producer was acknowledged, order per
partition), and all consumers must agree record for record.
"""

import time

import clients
import dataset
import harness
from harness import check, log

PARTITIONS = 6


def main(exe, args):
    check(len(args) >= 2, "usage: SERPENTLOG PRODUCER CONSUMER[,CONSUMER...] [TOTAL]")
    prod_name, cons_names = args[0], args[1].split(",")
    total = int(args[2]) if len(args) > 2 else 2500
    topic = "x-%s-%d" % (prod_name, int(time.time()))
    broker = harness.Broker(exe, mock_topics=["%s:%d" % (topic, PARTITIONS)])
    try:
        broker.start()
        prod = clients.adapter(prod_name, broker.bootstrap)
        if not broker.is_mock:
            prod.raw_create(topic, PARTITIONS)
        ts0 = int(time.time() * 1000) - 600000
        plan = dataset.plan_for(prod.codecs, total)
        delivered = {}
        for start, count, codec in plan:
            acks = prod.produce(topic, start, count, codec, ts0)
            if acks is not None:
                check(len(acks) == count, "%s acknowledged %d of %d" % (prod_name, len(acks),
                                                                        count))
                delivered.update(acks)
        log("%s produced %d records (%s)" % (prod_name, total,
                                             ",".join(c for _s, _n, c in plan)))
        kw = dict(ts0=ts0 if prod.sets_timestamps else None, delivered=delivered or None,
                  per_record_headers=prod.per_record_headers)
        first = None
        for name in cons_names:
            cons = clients.adapter(name, broker.bootstrap)
            recs = cons.consume(topic, PARTITIONS, total)
            dataset.verify(recs, plan, PARTITIONS, what="%s->%s" % (prod_name, name), **kw)
            if first is None:
                first = recs
            else:
                dataset.same_records(first, recs, "%s vs %s" % (cons_names[0], name))
            log("%s read all %d records correctly" % (name, total))
        if not broker.is_mock:
            broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
