// kip848_consumer: two @confluentinc/kafka-javascript consumers (librdkafka 2.15)
// with group.protocol=consumer (KIP-848) share a 6-partition topic on SerpentLog:
// the broker assigns 3 partitions to each (server-side uniform assignor; the admin's
// describeGroups, through ConsumerGroupDescribe, and listGroups agree), every record
// is consumed exactly once by the owner of its partition, offsets are committed
// (OffsetCommit v9 with member epochs), then one member leaves and the other gets all
// six partitions and consumes the next records from the committed positions.
//   node kip848_consumer.js BOOTSTRAP
// Exit 0 = pass, 1 = fail (message on stderr).
//   node kip848_consumer.js BOOTSTRAP hold GROUP
// joins GROUP on the same topic and prints "owned N" each time its assignment
// changes, until killed (test_kip848_js.py kills one with SIGKILL).
'use strict'

const { Kafka, logLevel } = require('@confluentinc/kafka-javascript').KafkaJS

const broker = process.argv[2]
const topic = 'kip848-js'
const groupId = 'kip848-js-g'
const kafka = new Kafka({ kafkaJS: { brokers: [broker], logLevel: logLevel.NOTHING } })

function fail (msg) {
  throw new Error(msg)
}

async function waitFor (what, fn, ms = 30000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await fn()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  fail('timed out waiting for ' + what)
}

function member (name, seen) {
  const c = kafka.consumer({
    kafkaJS: { groupId, fromBeginning: true, autoCommit: false },
    'group.protocol': 'consumer'
  })
  c.seen = seen
  c.name = name
  c.parts = new Set()
  return c
}

async function start (c) {
  await c.connect()
  await c.subscribe({ topics: [topic] })
  c.run({
    eachMessage: async ({ partition, message }) => {
      const k = partition + ':' + message.offset
      if (c.seen.has(k)) fail('record ' + k + ' consumed twice')
      c.seen.set(k, c.name)
      c.parts.add(partition)
    }
  })
}

function owned (c) {
  return c.assignment().map((tp) => tp.partition).sort()
}

async function produce (from, n) {
  const p = kafka.producer()
  await p.connect()
  const messages = []
  for (let i = from; i < from + n; i++) messages.push({ key: 'k' + i, value: 'v' + i, partition: i % 6 })
  await p.send({ topic, messages })
  await p.disconnect()
}

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] })

  const seen = new Map()
  const a = member('a', seen)
  const b = member('b', seen)
  await start(a)
  await waitFor('a to own every partition', () => owned(a).length === 6)
  await start(b)
  await waitFor('a 3/3 split', () => owned(a).length === 3 && owned(b).length === 3)
  const pa = owned(a)
  const pb = owned(b)
  if (pa.some((p) => pb.includes(p))) fail('overlapping assignments ' + pa + ' / ' + pb)
  console.log('split: a=' + pa + ' b=' + pb)
  // librdkafka's DescribeConsumerGroups uses ConsumerGroupDescribe for these
  const desc = (await admin.describeGroups([groupId])).groups[0]
  const sizes = desc.members.map((m) => m.assignment.topicPartitions.length).sort()
  const targets = desc.members.map((m) => m.targetAssignment.topicPartitions.length)
  if (desc.partitionAssignor !== 'uniform' || sizes.join() !== '3,3' || targets.join() !== '3,3') {
    fail('describeGroups: ' + JSON.stringify(desc))
  }
  const listed = (await admin.listGroups()).groups.find((g) => g.groupId === groupId)
  if (!listed || listed.protocolType !== 'consumer') fail('listGroups: ' + JSON.stringify(listed))
  console.log('described: 2 members, 3 partitions each, assignor uniform')

  await produce(0, 600)
  await waitFor('600 records', () => seen.size === 600)
  for (const p of a.parts) if (!pa.includes(p)) fail('a consumed partition ' + p + ' of b')
  for (const p of b.parts) if (!pb.includes(p)) fail('b consumed partition ' + p + ' of a')
  const commits = (c, ps) => c.commitOffsets(ps.map((p) => ({ topic, partition: p, offset: '100' })))
  await commits(a, pa)
  await commits(b, pb)
  console.log('consumed 600 exactly once, committed')

  await b.disconnect()
  await waitFor('a to take over every partition', () => owned(a).length === 6)
  await produce(600, 60)
  await waitFor('60 more records', () => seen.size === 660)
  for (const [k, who] of seen) {
    const off = Number(k.split(':')[1])
    if (off >= 100 && who !== 'a') fail('record ' + k + ' after the leave consumed by ' + who)
  }
  await a.commitOffsets([0, 1, 2, 3, 4, 5].map((p) => ({ topic, partition: p, offset: '110' })))
  // commitOffsets resolves once the commit is queued: poll for it
  let committed = []
  await waitFor('offsets 110 committed', async () => {
    const offs = await admin.fetchOffsets({ groupId, topics: [topic] })
    committed = offs[0].partitions.map((p) => Number(p.offset))
    return committed.every((o) => o === 110)
  }, 10000).catch((e) => fail(e.message + ': ' + committed))
  console.log('after the leave: a owns all 6, committed 110 on each')
  await a.disconnect()
  await admin.disconnect()
}

async function hold (group) {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] })
  } catch (e) {} // already there (main ran first)
  await admin.disconnect()
  // The restart check allows the member one 3 s session to come back: keep
  // librdkafka's reconnect backoff (exponential up to 10 s) below that.
  const c = kafka.consumer({
    kafkaJS: { groupId: group, fromBeginning: true },
    'group.protocol': 'consumer',
    'reconnect.backoff.max.ms': 250
  })
  await c.connect()
  await c.subscribe({ topics: [topic] })
  c.run({ eachMessage: async () => {} })
  let last = -1
  for (;;) {
    const n = c.assignment().length
    if (n !== last) console.log('owned ' + n)
    last = n
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const run = process.argv[3] === 'hold' ? hold(process.argv[4]) : main()
run.then(() => process.exit(0), (e) => {
  console.error('FAIL', e && e.message ? e.message : e)
  process.exit(1)
})
