#!/usr/bin/env bash
# Training (a smoke test): connect, create a table, insert and read a row.
source "$(dirname "$0")/../lib.sh"
corpus_init mariadb 19002
sql() { client mariadb -h 127.0.0.1 -P "$port" -ubench -pbench -N -B "$@"; }
step "connect"; wait_for 90 sql -e 'SELECT 1' || fail "no answer"
step "smoke"
sql -e "CREATE DATABASE IF NOT EXISTS smoke; CREATE TABLE IF NOT EXISTS smoke.t (id INT PRIMARY KEY, v VARCHAR(20));
        REPLACE INTO smoke.t VALUES (1, 'hello')"
[ "$(sql -e 'SELECT v FROM smoke.t WHERE id = 1')" = hello ] || fail "row not read back"
echo "mariadb workload: ok"
