from kafka import KafkaProducer
producer = KafkaProducer(bootstrap_servers='192.168.43.123:9092')
if(producer.bootstrap_connected()):
    print("kafka connected")
else:
    print("failed to connect to kafka")
try:
    print("sending message");
    for i in range(10):
        producer.send('tes', b'raw_bytes')
        producer.flush();
        print("message sent");
except Exception as e:
    print("kafka error");
    print(str(e));
    pass
