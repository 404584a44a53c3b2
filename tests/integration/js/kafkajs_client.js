// kafkajs_client: the KafkaJS 2.2.4 client of the integration tests. Same command line
// and output as rdk_client.c:
//   node kafkajs_client.js create|delete|produce|consume|offset BOOTSTRAP TOPIC ...
// Codecs: gzip is built in; snappy via kafkajs-snappy; lz4 and zstd through small
// wrappers around pure-JS packages (lz4js, zstd-codec) because the usual KafkaJS codec
// packages need native builds. KafkaJS has no assign() consumer (only consumer groups),
// so "consume" drives KafkaJS's own cluster/broker layer: its Fetch v11 request, record
// batch decoder and codecs, from offset 0 of each partition to the high watermark.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const lz4 = require('lz4js')
const xxh32 = require('lz4js/xxh32')
const { ZstdCodec } = require('zstd-codec')

CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')

// lz4js writes FLG 0x40 (dependent blocks) with 4 MiB blocks; Kafka's reader wants the
// independent-blocks bit (FLG 0x60). A batch (< 1 MiB) is a single block, so setting the
// bit is truthful; the header checksum is byte 1 of xxHash32(FLG, BD).
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  async compress (encoder) {
    const out = Buffer.from(lz4.compress(encoder.buffer))
    if (encoder.buffer.length > (4 << 20)) throw new Error('lz4 wrapper: batch too large')
    out[4] |= 0x20
    out[6] = (xxh32.hash(0, out, 4, 2) >> 8) & 0xff
    return out
  },
  async decompress (buffer) {
    return Buffer.from(lz4.decompress(buffer))
  }
})

function zstdReady () {
  return new Promise(resolve => ZstdCodec.run(z => resolve(new z.Streaming())))
}

const codecTypes = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD
}

const key = i => 'k' + String(i).padStart(6, '0')
const value = i => 'v' + String(i).padStart(6, '0') + '-' + 'serpentlog-'.repeat(8 + (i % 5))

function die (msg) {
  process.stderr.write('kafkajs_client: ' + msg + '\n')
  process.exit(1)
}

function client (bootstrap) {
  return new Kafka({
    clientId: 'sl-integ-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    retry: { retries: 5 }
  })
}

function cluster (kafka) {
  const sym = Object.getOwnPropertySymbols(kafka).find(
    s => s.toString() === 'Symbol(private:Kafka:createCluster)')
  return kafka[sym]({})
}

async function admin (bootstrap, fn) {
  const a = client(bootstrap).admin()
  await a.connect()
  try {
    await fn(a)
  } finally {
    await a.disconnect()
  }
}

async function produce (bootstrap, topic, start, count, codec, ts0) {
  const { Partitioners } = require('kafkajs')
  const chosen = new Map()
  const inner = Partitioners.DefaultPartitioner()
  // Remember each record's partition so acks can be mapped to offsets.
  const partitioner = () => args => {
    const p = inner(args)
    chosen.set(args.message.key, p)
    return p
  }
  const producer = client(bootstrap).producer({ createPartitioner: partitioner, maxInFlightRequests: 1 })
  await producer.connect()
  const chunk = 500
  const out = []
  for (let s = start; s < start + count; s += chunk) {
    const msgs = []
    for (let i = s; i < Math.min(s + chunk, start + count); i++) {
      msgs.push({
        key: key(i),
        value: value(i),
        headers: { codec, idx: String(i) },
        timestamp: String(ts0 + i)
      })
    }
    const res = await producer.send({ topic, acks: -1, compression: codecTypes[codec], messages: msgs })
    const next = new Map()
    for (const r of res) {
      if (r.errorCode !== 0) die('partition ' + r.partition + ' error ' + r.errorCode)
      next.set(r.partition, BigInt(r.baseOffset))
    }
    for (const m of msgs) {
      const p = chosen.get(m.key)
      if (!next.has(p)) die('no ack for partition ' + p)
      out.push(Number(m.key.slice(1)) + ' ' + p + ' ' + next.get(p))
      next.set(p, next.get(p) + 1n)
    }
  }
  await producer.disconnect()
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''))
}

async function consume (bootstrap, topic, parts) {
  const c = cluster(client(bootstrap))
  await c.connect()
  await c.addTargetTopic(topic)
  const meta = c.findTopicPartitionMetadata(topic)
  const lines = []
  for (let p = 0; p < parts; p++) {
    const pm = meta.find(m => m.partitionId === p)
    if (!pm) die('no metadata for partition ' + p)
    const broker = await c.findBroker({ nodeId: pm.leader })
    let offset = 0n
    for (;;) {
      const res = await broker.fetch({
        replicaId: -1,
        isolationLevel: 1,
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes: 4 << 20,
        topics: [{ topic, partitions: [{ partition: p, fetchOffset: String(offset), maxBytes: 1 << 20 }] }]
      })
      const pr = res.responses[0].partitions[0]
      if (pr.errorCode !== 0) die('fetch p' + p + ' error ' + pr.errorCode)
      const hw = BigInt(pr.highWatermark)
      for (const m of pr.messages) {
        const o = BigInt(m.offset)
        if (o < offset || m.isControlRecord) continue
        const h = Object.entries(m.headers || {}).map(([k, v]) => [k, v.toString()])
        lines.push(JSON.stringify({
          p,
          o: Number(o),
          ts: Number(m.timestamp),
          k: m.key === null ? null : m.key.toString(),
          v: m.value === null ? null : m.value.toString(),
          h
        }))
        offset = o + 1n
      }
      if (offset >= hw) break
      if (pr.messages.length === 0) die('fetch p' + p + ' made no progress at ' + offset)
    }
  }
  await c.disconnect()
  process.stdout.write(lines.join('\n') + (lines.length ? '\n' : ''))
}

async function offset (bootstrap, topic, part, ts) {
  // Cluster-level ListOffsets gives Kafka's raw answer (-1 when no record is that late);
  // admin.fetchTopicOffsetsByTimestamp would substitute the high watermark.
  const c = cluster(client(bootstrap))
  await c.connect()
  await c.addTargetTopic(topic)
  const r = await c.fetchTopicsOffset([{ topic, partitions: [{ partition: part }], fromTimestamp: ts }])
  await c.disconnect()
  process.stdout.write(r[0].partitions[0].offset + '\n')
}

async function main () {
  const [cmd, boot, topic, ...rest] = process.argv.slice(2)
  const zstd = await zstdReady()
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    async compress (encoder) {
      return Buffer.from(zstd.compress(encoder.buffer, 3))
    },
    async decompress (buffer) {
      return Buffer.from(zstd.decompress(buffer))
    }
  })
  if (cmd === 'create' && rest.length === 1) {
    await admin(boot, async a => {
      const created = await a.createTopics({
        topics: [{ topic, numPartitions: Number(rest[0]), replicationFactor: 1 }],
        waitForLeaders: true,
        timeout: 30000
      })
      if (!created) die('topic already existed')
    })
  } else if (cmd === 'delete' && rest.length === 0) {
    await admin(boot, a => a.deleteTopics({ topics: [topic], timeout: 30000 }))
  } else if (cmd === 'produce' && rest.length === 4) {
    await produce(boot, topic, Number(rest[0]), Number(rest[1]), rest[2], Number(rest[3]))
  } else if (cmd === 'consume' && rest.length === 2) {
    await consume(boot, topic, Number(rest[0]))
  } else if (cmd === 'offset' && rest.length === 2) {
    await offset(boot, topic, Number(rest[0]), Number(rest[1]))
  } else {
    die('usage: create|delete|produce|consume|offset BOOTSTRAP TOPIC ...')
  }
}

main().catch(e => die(e.stack || String(e)))
