#!/bin/sh
# First boot: create the system tables in the (empty) volume. Then exec the server.
set -e
chown mysql:mysql /var/lib/mysql
if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
fi
exec "$@"
