#!/usr/bin/env bash
# Production: dnsperf (4 clients, 10 s, mixed names and types, some NXDOMAIN), AXFR over TCP,
# dynamic updates (nsupdate) written to the zone journal, rndc (status, sync, reload) inside
# the container, an updated record that must survive `docker restart`.
source "$(dirname "$0")/../lib.sh"
corpus_init bind9 19007
q() { client dig +short +time=2 +tries=2 -p "$port" @127.0.0.1 "$@"; }
ready() { [ "$(q www.corpus.test A)" = 127.0.0.10 ]; }
marker="m$RANDOM$RANDOM"
step "connect"; wait_for 60 ready || fail "no answer"
step "dnsperf 4 clients"
printf '%s\n' 'www.corpus.test A' 'mail.corpus.test A' 'corpus.test MX' 'txt.corpus.test TXT' \
    'corpus.test NS' 'corpus.test SOA' 'missing.corpus.test A' 'www.corpus.test AAAA' > /tmp/corpus-dns.$$
client_args=(-v "/tmp/corpus-dns.$$:/queries:ro")
out="$(client dnsperf -s 127.0.0.1 -p "$port" -d /queries -c 4 -l 10 -Q 3000 2>&1)" || fail "dnsperf: $(tail -n 5 <<<"$out")"
client_args=()
rm -f /tmp/corpus-dns.$$
grep -E 'Queries (sent|completed|lost)' <<<"$out" | sed 's/^/  /'
lost="$(sed -n 's/.*Queries lost: *\([0-9]*\).*/\1/p' <<<"$out")"
sent="$(sed -n 's/.*Queries sent: *\([0-9]*\).*/\1/p' <<<"$out")"
[ -n "$sent" ] && [ "$sent" -gt 0 ] || fail "dnsperf sent nothing"
[ "${lost:-0}" -le $((sent / 100)) ] || fail "dnsperf lost $lost of $sent queries"
step "AXFR over TCP"
client dig +time=5 -p "$port" @127.0.0.1 corpus.test AXFR | grep -q 'www.corpus.test' || fail "AXFR"
step "dynamic update"
printf 'server 127.0.0.1 %s\nzone corpus.test\nupdate add %s.corpus.test 300 A 127.0.0.42\nupdate add %s.corpus.test 300 TXT "kept"\nsend\n' \
    "$port" "$marker" "$marker" | client nsupdate -t 10 || fail "nsupdate"
[ "$(q "$marker.corpus.test" A)" = 127.0.0.42 ] || fail "updated record not served"
step "rndc inside the container"
inside rndc status >/dev/null || fail "rndc status"
inside rndc sync corpus.test >/dev/null || fail "rndc sync"
inside rndc reload >/dev/null || fail "rndc reload"
wait_for 20 ready || fail "no answer after rndc reload"
restart_container ready
step "data after the restart"
[ "$(q "$marker.corpus.test" A)" = 127.0.0.42 ] || fail "record added before the restart is lost"
echo "bind9 production: ok"
