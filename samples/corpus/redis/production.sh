#!/usr/bin/env bash
# Production: redis-benchmark (50 clients, pipelined and not, many commands), large values,
# BGSAVE and BGREWRITEAOF (forked children writing to the volume), CONFIG and INFO through
# redis-cli inside the container, a key that must survive `docker restart` (AOF in /data).
source "$(dirname "$0")/../lib.sh"
corpus_init redis 19003
cli() { client redis-cli -h 127.0.0.1 -p "$port" "$@"; }
ping() { [ "$(cli PING)" = PONG ]; }
marker="survives-$RANDOM$RANDOM"
step "connect"; wait_for 60 ping || fail "no PONG"
step "redis-benchmark 50 clients"
out="$(client redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -n 20000 -q -t set,get,incr,lpush,lpop,sadd,hset,mset 2>&1)" \
    || fail "redis-benchmark: $(tail -n 5 <<<"$out")"
tr '\r' '\n' <<<"$out" | grep 'requests per second' | sed 's/^/  /' | head -n 8
step "pipelined, 1 KiB values"
client redis-benchmark -h 127.0.0.1 -p "$port" -c 20 -n 20000 -P 16 -d 1024 -q -t set,get >/dev/null || fail "pipelined benchmark"
step "large value"
head -c 4000000 /dev/urandom | base64 -w0 > /tmp/corpus-redis-big.$$
client redis-cli -h 127.0.0.1 -p "$port" -x SET big < /tmp/corpus-redis-big.$$ >/dev/null || fail "SET 5 MB"
[ "$(cli STRLEN big)" = "$(stat -c %s /tmp/corpus-redis-big.$$)" ] || fail "large value length"
rm -f /tmp/corpus-redis-big.$$
[ "$(cli SET keep "$marker")" = OK ] || fail "SET marker"
step "BGSAVE and BGREWRITEAOF"
cli BGSAVE >/dev/null || fail "BGSAVE"
persistence() { cli INFO persistence | tr -d '\r'; }
wait_for 60 sh -c "docker run --rm --network host --entrypoint '' $image redis-cli -h 127.0.0.1 -p $port INFO persistence | grep -q 'rdb_bgsave_in_progress:0'" || fail "BGSAVE did not end"
info="$(persistence)"
grep -q 'rdb_last_bgsave_status:ok' <<<"$info" || fail "BGSAVE failed: $(grep _status <<<"$info" | tr '\n' ' ')"
cli BGREWRITEAOF >/dev/null || fail "BGREWRITEAOF"
wait_for 60 sh -c "docker run --rm --network host --entrypoint '' $image redis-cli -h 127.0.0.1 -p $port INFO persistence | grep -q 'aof_rewrite_in_progress:0'" || fail "BGREWRITEAOF did not end"
info="$(persistence)"
grep -q 'aof_last_bgrewrite_status:ok' <<<"$info" || fail "BGREWRITEAOF failed: $(grep _status <<<"$info" | tr '\n' ' ')"
step "admin commands inside the container"
inside redis-cli CONFIG SET maxmemory 512mb >/dev/null || fail "CONFIG SET"
clients="$(inside redis-cli CLIENT LIST)" || fail "CLIENT LIST"
if grep -q 'addr=?:0' <<<"$clients"; then fail "CLIENT LIST shows client addresses as ?:0"; fi
restart_container ping
step "data after the restart"
[ "$(cli GET keep)" = "$marker" ] || fail "key written before the restart is lost"
echo "redis production: ok"
