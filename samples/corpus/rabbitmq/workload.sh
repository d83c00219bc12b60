#!/usr/bin/env bash
# Training (a smoke test): declare a queue, publish and get one message.
source "$(dirname "$0")/../lib.sh"
corpus_init rabbitmq 19008
amqp() { client python3 - "$port" "$@" < "$(dirname "$0")/amqp.py"; }
step "smoke"; amqp smoke || fail "publish/get"
echo "rabbitmq workload: ok"
