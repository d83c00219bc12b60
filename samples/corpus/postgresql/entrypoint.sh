#!/bin/sh
# First boot: initdb into the (empty) volume, accept password-less TCP logins (the port is
# published on 127.0.0.1 only). Every boot: drop to postgres and exec the server.
set -e
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown -R postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb --username=postgres --auth=trust --encoding=UTF8 -D "$PGDATA" >/dev/null
    echo "host all all all trust" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
fi
exec "$@"
