"""AMQP client for the rabbitmq workloads (python3-pika, run from the app's image):
amqp.py PORT smoke | load | put MARKER | get MARKER."""
import sys
import threading
import time

import pika

port, what = int(sys.argv[1]), sys.argv[2]
params = pika.ConnectionParameters("127.0.0.1", port, connection_attempts=30, retry_delay=1,
                                   blocked_connection_timeout=60)


def channel():
    # docker-proxy accepts before the broker listens and then drops the connection, which pika
    # reports as a protocol error (not retried by connection_attempts): retry for 120 s.
    deadline = time.time() + 120
    while True:
        try:
            conn = pika.BlockingConnection(params)
            return conn, conn.channel()
        except pika.exceptions.AMQPConnectionError:
            if time.time() > deadline:
                raise
            time.sleep(1)


if what == "smoke":
    conn, ch = channel()
    ch.queue_declare("smoke")
    ch.basic_publish("", "smoke", b"hello")
    for _ in range(50):
        m = ch.basic_get("smoke", auto_ack=True)
        if m[0]:
            assert m[2] == b"hello"
            break
        time.sleep(0.1)
    else:
        sys.exit("smoke message not received")
    conn.close()
elif what == "load":
    # 4 publishers x 2500 persistent messages with publisher confirms; 4 consumers with acks.
    N, P = 2500, 4
    conn, ch = channel()
    ch.queue_declare("work", durable=True)
    ch.queue_purge("work")
    conn.close()
    got, errors, lock = [0], [], threading.Lock()

    def publish(i):
        try:
            c, ch = channel()
            ch.confirm_delivery()
            for n in range(N):
                ch.basic_publish("", "work", b"x" * 512 + f"{i}:{n}".encode(),
                                 pika.BasicProperties(delivery_mode=2))
            c.close()
        except Exception as e:  # reported below
            errors.append(repr(e))

    def consume():
        try:
            c, ch = channel()
            ch.basic_qos(prefetch_count=50)
            deadline = time.time() + 90
            for method, _props, _body in ch.consume("work", inactivity_timeout=3):
                if method is None:
                    with lock:
                        if got[0] >= N * P or time.time() > deadline:
                            break
                    continue
                ch.basic_ack(method.delivery_tag)
                with lock:
                    got[0] += 1
            ch.cancel()
            c.close()
        except Exception as e:
            errors.append(repr(e))

    ts = [threading.Thread(target=publish, args=(i,)) for i in range(P)]
    ts += [threading.Thread(target=consume) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"  consumed {got[0]} of {N * P}")
    if errors:
        sys.exit(f"client errors: {errors[:3]}")
    if got[0] != N * P:
        sys.exit(f"consumed {got[0]} of {N * P} messages")
elif what == "put":
    conn, ch = channel()
    ch.confirm_delivery()
    ch.queue_declare("keep", durable=True)
    ch.queue_purge("keep")
    ch.basic_publish("", "keep", sys.argv[3].encode(), pika.BasicProperties(delivery_mode=2))
    conn.close()
elif what == "get":
    conn, ch = channel()
    ch.queue_declare("keep", durable=True)
    m = ch.basic_get("keep", auto_ack=True)
    if not m[0] or m[2] != sys.argv[3].encode():
        sys.exit(f"persistent message lost (got {m[2]!r})")
    conn.close()
