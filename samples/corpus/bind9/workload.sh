#!/usr/bin/env bash
# Training (a smoke test): a few queries over UDP and TCP.
source "$(dirname "$0")/../lib.sh"
corpus_init bind9 19007
q() { client dig +short +time=2 +tries=1 -p "$port" @127.0.0.1 "$@"; }
step "connect"; wait_for 60 sh -c "[ -n \"\$(docker run --rm --network host --entrypoint '' $image dig +short +time=1 +tries=1 -p $port @127.0.0.1 www.corpus.test)\" ]" || fail "no answer"
step "smoke"
[ "$(q www.corpus.test A)" = 127.0.0.10 ] || fail "A over UDP"
[ "$(q +tcp mail.corpus.test A)" = 127.0.0.11 ] || fail "A over TCP"
echo "bind9 workload: ok"
