#!/usr/bin/env bash
# Production: pgbench (init at scale 5, then 8 clients for 15 s), a second database created,
# DDL (ALTER TABLE, CREATE INDEX CONCURRENTLY), sorts and hashes that spill to temp files,
# VACUUM/CHECKPOINT, psql inside the container, a row that must survive `docker restart`.
source "$(dirname "$0")/../lib.sh"
corpus_init postgresql 19001
psql() { client psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
pgbench() { client pgbench -h 127.0.0.1 -p "$port" -U postgres "$@"; }
marker="survives-$RANDOM$RANDOM"
step "connect"; wait_for 60 psql -c 'SELECT 1' || fail "no answer"
step "CREATE DATABASE"
psql -c 'DROP DATABASE IF EXISTS corpus' -c 'CREATE DATABASE corpus' || fail "CREATE DATABASE"
step "pgbench -i"; pgbench -i -s 5 -q corpus 2>&1 | tail -n 2 || fail "pgbench -i"
step "pgbench 8 clients"
out="$(pgbench -c 8 -j 2 -T 15 corpus 2>&1)" || fail "pgbench: $(tail -n 5 <<<"$out")"
grep -E '^(number of failed|tps)' <<<"$out" | sed 's/^/  /'
step "DDL"
psql -d corpus -c 'ALTER TABLE pgbench_accounts ADD COLUMN note text' \
     -c 'CREATE INDEX CONCURRENTLY acc_bal ON pgbench_accounts (abalance)' \
     -c 'CREATE TABLE keep (k text PRIMARY KEY, at timestamptz DEFAULT now())' \
     -c "INSERT INTO keep (k) VALUES ('$marker')" || fail "DDL"
step "sorts spilling to temp files"
psql -d corpus -c "SET work_mem = '64kB'" \
     -c 'SELECT count(*) FROM (SELECT * FROM pgbench_accounts ORDER BY filler DESC) s' \
     -c 'SELECT count(DISTINCT (aid % 100000, filler)) FROM pgbench_accounts' >/dev/null || fail "big sort"
step "VACUUM and CHECKPOINT"; psql -d corpus -c 'VACUUM ANALYZE' -c 'CHECKPOINT' || fail "VACUUM/CHECKPOINT"
step "psql inside the container"
inside su postgres -s /bin/sh -c "psql -qAt -c 'SELECT count(*) FROM pg_stat_activity'" >/dev/null \
    || fail "docker exec psql"
restart_container psql -c 'SELECT 1'
step "data after the restart"
[ "$(psql -d corpus -c "SELECT count(*) FROM keep WHERE k = '$marker'")" = 1 ] || fail "row written before the restart is lost"
step "pgbench after the restart"
out="$(pgbench -c 4 -j 2 -T 5 corpus 2>&1)" || fail "pgbench after restart: $(tail -n 5 <<<"$out")"
echo "postgresql production: ok"
