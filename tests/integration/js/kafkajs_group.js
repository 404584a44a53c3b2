// kafkajs_group: one KafkaJS 2.2.4 consumer-group member, as a process, for the group
// integration tests (the KafkaJS twin of group_member_ck.py, same output):
//   node kafkajs_group.js BOOTSTRAP GROUP TOPIC SESSION_MS ASSIGNOR
// ASSIGNOR: "kafkajs" = KafkaJS's default (its round robin under the protocol name
// "RoundRobinAssigner"); "roundrobin" = the same assignor under the protocol name
// librdkafka and the Java client use, so KafkaJS and librdkafka members can share a
// group (the broker picks a protocol every member supports). Each batch is processed
// (printed) and its next offset committed before the next batch:
//   A p,p,...  assignment after each join   C p off key val  record processed
//   B p off    about to commit               K p off          commit succeeded
//   E text     an error
// SIGTERM: disconnect (LeaveGroup) and exit 0.
'use strict'

const { Kafka, logLevel, PartitionAssigners } = require('kafkajs')

const out = line => process.stdout.write(line + '\n') // synchronous on a pipe (Linux)

async function main () {
  const [bootstrap, groupId, topic, sessionMs, assignor] = process.argv.slice(2)
  const kafka = new Kafka({
    clientId: 'sl-integ-kafkajs-member',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 }
  })
  const rr = PartitionAssigners.roundRobin
  const named = ({ cluster }) => ({ ...rr({ cluster }), name: 'roundrobin' })
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: Number(sessionMs),
    heartbeatInterval: 300,
    rebalanceTimeout: 20000,
    maxWaitTimeInMs: 100,
    partitionAssigners: [assignor === 'roundrobin' ? named : rr],
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 }
  })
  consumer.on(consumer.events.GROUP_JOIN, e => {
    const parts = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b)
    out('A ' + parts.join(','))
  })
  consumer.on(consumer.events.CRASH, e => out('E crash ' + String(e.payload.error).replace(/\n/g, ' ')))
  let stopping = false
  process.on('SIGTERM', async () => {
    if (stopping) return
    stopping = true
    try {
      await consumer.disconnect()
    } catch (e) {
      out('E disconnect ' + e.message)
    }
    out('E closed')
    process.exit(0)
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      let last = null
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break
        out(`C ${batch.partition} ${m.offset} ${m.key} ${m.value}`)
        resolveOffset(m.offset)
        last = m.offset
      }
      if (last === null) return
      const next = (BigInt(last) + 1n).toString()
      out(`B ${batch.partition} ${next}`)
      try {
        await consumer.commitOffsets([{ topic, partition: batch.partition, offset: next }])
        out(`K ${batch.partition} ${next}`)
      } catch (e) {
        out('E commit ' + (e.type || e.message))
      }
      await heartbeat()
    }
  })
}

main().catch(e => {
  process.stderr.write('kafkajs_group: ' + (e.stack || String(e)) + '\n')
  process.exit(1)
})
