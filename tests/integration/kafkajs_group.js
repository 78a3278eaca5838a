// kafkajs_group.js BOOTSTRAP GROUP TOPIC [SESSION_MS] — one kafkajs 2.2.4
// group consumer speaking rdkafka_group's line protocol (rdkafka_group.c):
// prints "assignment P...", "record P OFFSET VALUE", "committed N",
// "error TEXT"; reads "commit" and "quit" on stdin. kafkajs' own assigner
// (protocol "RoundRobinAssigner") is the only one it has.
const { Kafka, logLevel } = require('kafkajs');
const readline = require('readline');

const [bootstrap, group, topic, sessionMs] = process.argv.slice(2);
const say = (line) => process.stdout.write(line + '\n');

(async () => {
    const kafka = new Kafka({ clientId: 'kjs-group', brokers: [bootstrap], logLevel: logLevel.NOTHING,
                              retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
    const consumer = kafka.consumer({ groupId: group, sessionTimeout: Number(sessionMs || 6000),
                                      heartbeatInterval: 500, rebalanceTimeout: 10000, metadataMaxAge: 1000,
                                      maxWaitTimeInMs: 500 });
    const consumed = new Map(); // partition -> next offset
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const parts = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b);
        say(['assignment', ...parts].join(' '));
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
            say('record ' + partition + ' ' + message.offset + ' ' + message.value.toString());
            consumed.set(partition, (BigInt(message.offset) + 1n).toString());
        },
    });
    const rl = readline.createInterface({ input: process.stdin });
    const quit = async () => {
        rl.close();
        await consumer.disconnect();
        process.exit(0);
    };
    rl.on('line', async (line) => {
        if (line === 'quit') {
            await quit();
        } else if (line === 'commit') {
            const offsets = [...consumed.entries()].map(([partition, offset]) => ({ topic, partition, offset }));
            try {
                await consumer.commitOffsets(offsets);
                say('committed ' + offsets.length);
            } catch (e) {
                say('error commit ' + e);
            }
        }
    });
    rl.on('close', quit);
})().catch((e) => {
    say('error ' + e);
    process.exit(1);
});
