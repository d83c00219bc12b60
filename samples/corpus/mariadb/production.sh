#!/usr/bin/env bash
# Production: mysqlslap (mixed auto-generated load, 16 and 32 clients), a database created,
# DDL (ALTER TABLE, indexes), a big sort into a temporary table, mariadb-admin inside the
# container, a row that must survive `docker restart`.
source "$(dirname "$0")/../lib.sh"
corpus_init mariadb 19002
sql() { client mariadb -h 127.0.0.1 -P "$port" -ubench -pbench -N -B "$@"; }
marker="survives-$RANDOM$RANDOM"
step "connect"; wait_for 90 sql -e 'SELECT 1' || fail "no answer"
step "mysqlslap 16/32 clients"
out="$(client mysqlslap -h 127.0.0.1 -P "$port" -ubench -pbench --concurrency=16,32 --iterations=2 \
    --number-of-queries=4000 --auto-generate-sql --auto-generate-sql-load-type=mixed \
    --auto-generate-sql-add-autoincrement --engine=innodb 2>&1)" || fail "mysqlslap: $(tail -n 5 <<<"$out")"
grep -E 'Average number of seconds' <<<"$out" | sed 's/^/  /'
step "CREATE DATABASE and DDL"
sql -e "DROP DATABASE IF EXISTS corpus; CREATE DATABASE corpus;
  USE corpus;
  CREATE TABLE corpus.t (id INT AUTO_INCREMENT PRIMARY KEY, a INT, b VARCHAR(200)) ENGINE=InnoDB;
  INSERT INTO corpus.t (a, b) SELECT seq % 1000, REPEAT(MD5(seq), 5) FROM seq_1_to_200000;
  ALTER TABLE corpus.t ADD COLUMN c DATETIME DEFAULT NOW(), ADD INDEX ia (a);
  CREATE TABLE corpus.keep (k VARCHAR(64) PRIMARY KEY) ENGINE=InnoDB;
  INSERT INTO corpus.keep VALUES ('$marker');" || fail "DDL"
step "big sort and temporary table"
sql -e "SET SESSION sort_buffer_size = 32768, tmp_memory_table_size = 16384, max_heap_table_size = 16384;
  SELECT COUNT(*) FROM (SELECT b, COUNT(*) FROM corpus.t GROUP BY b ORDER BY b DESC) x;" >/dev/null || fail "big sort"
step "mariadb-admin inside the container"
inside mariadb-admin -ubench -pbench -h 127.0.0.1 status >/dev/null || fail "mariadb-admin status"
inside mariadb-admin -ubench -pbench -h 127.0.0.1 flush-logs >/dev/null || fail "mariadb-admin flush-logs"
restart_container sql -e 'SELECT 1'
step "data after the restart"
[ "$(sql -e "SELECT COUNT(*) FROM corpus.keep WHERE k = '$marker'")" = 1 ] || fail "row written before the restart is lost"
[ "$(sql -e "SELECT COUNT(*) FROM corpus.t")" = 200000 ] || fail "table rows lost"
echo "mariadb production: ok"
