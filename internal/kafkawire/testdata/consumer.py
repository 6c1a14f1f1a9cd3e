from kafka import KafkaConsumer
consumer = KafkaConsumer('tes',
                          bootstrap_servers='192.168.43.123:9092')
if(consumer.bootstrap_connected()):
    print("connected")
else:
    print("failed to connect")
print("listening to kafka")
for message in consumer:
    print("new message received")
    print ("%s:%d:%d: key=%s value=%s" % (message.topic, message.partition,
                                          message.offset, message.key,
                                          message.value))

