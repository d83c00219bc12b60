#!/usr/bin/env bash
# Production: 4 publishers (confirms, persistent) and 4 consumers (acks) over 10,000 messages;
# rabbitmqctl inside the container (vhost, user, permissions, list_queues, status); a persistent
# message in a durable queue that must survive `docker restart`.
source "$(dirname "$0")/../lib.sh"
corpus_init rabbitmq 19008
amqp() { client python3 - "$port" "$@" < "$(dirname "$0")/amqp.py"; }
ctl() { inside rabbitmqctl -q "$@"; }
marker="survives-$RANDOM$RANDOM"
step "connect"; amqp smoke || fail "no answer"
step "4 publishers, 4 consumers"; amqp load || fail "load"
step "rabbitmqctl inside the container"
ctl add_vhost corpus-$marker >/dev/null || fail "rabbitmqctl add_vhost"
ctl add_user u-$marker pw >/dev/null || fail "rabbitmqctl add_user"
ctl set_permissions -p corpus-$marker u-$marker '.*' '.*' '.*' >/dev/null || fail "rabbitmqctl set_permissions"
ctl list_queues name messages >/dev/null || fail "rabbitmqctl list_queues"
ctl status >/dev/null || fail "rabbitmqctl status"
ctl delete_vhost corpus-$marker >/dev/null || fail "rabbitmqctl delete_vhost"
step "persistent message"; amqp put "$marker" || fail "publish the persistent message"
restart_container amqp smoke
step "data after the restart"
amqp get "$marker" || fail "persistent message lost"
# rabbitmqctl may answer before the restarted node has loaded its user table (AMQP is up
# first): ask for 30 s before calling the user lost; a lost user stays lost.
for _ in $(seq 30); do
    users=$(ctl list_users 2>&1) && grep -q "u-$marker" <<<"$users" && break
    sleep 1
done
grep -q "u-$marker" <<<"$users" || fail "user added before the restart is lost ($(tail -n 1 <<<"$users"))"
echo "rabbitmq production: ok"
