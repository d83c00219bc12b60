#!/usr/bin/env bash
# Training (a smoke test): connect, create a table, insert and read a row.
source "$(dirname "$0")/../lib.sh"
corpus_init postgresql 19001
psql() { client psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
step "connect"; wait_for 60 psql -c 'SELECT 1' || fail "no answer"
step "smoke"
psql -c 'CREATE TABLE IF NOT EXISTS smoke (id int PRIMARY KEY, v text)' \
     -c "INSERT INTO smoke VALUES (1, 'hello') ON CONFLICT (id) DO UPDATE SET v = excluded.v"
[ "$(psql -c 'SELECT v FROM smoke WHERE id = 1')" = hello ] || fail "row not read back"
echo "postgresql workload: ok"
