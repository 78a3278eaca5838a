// kafkajs_produce.js BOOTSTRAP TOPIC N — kafkajs 2.2.4 producer (acks=all):
// N messages with key k<i>, value v<i>, header h=<i>; prints "sent N".
// The test reads the messages back with kcat (kafkajs consumers, which
// always join a group, are exercised by test_groups.py).
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, count] = process.argv.slice(2);
(async () => {
    const kafka = new Kafka({ clientId: 'samsa-test', brokers: [bootstrap], logLevel: logLevel.ERROR });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const messages = [];
    for (let i = 0; i < Number(count); i++)
        messages.push({ key: 'k' + i, value: 'v' + i, headers: { h: String(i) } });
    await producer.send({ topic, messages, acks: -1 });
    await producer.disconnect();
    console.log('sent ' + messages.length);
})().catch((e) => {
    console.error('kafkajs: ' + e);
    process.exit(1);
});
