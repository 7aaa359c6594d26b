#!/usr/bin/env bash
# Integration test of deploy/local/services, run under the `services`
# fixture (so Azurite and Kafka already answer):
#   - `up` of a new session reuses both, records no pid, and its `down`
#     stops nothing; `status` reports both up;
#   - the application's topics exist with 6 partitions;
#   - a session that does start something (an Azurite on a spare port, via
#     LEASEHOLD_AZURITE_PORT) records its pid, and its `down` stops exactly
#     that process and leaves the reused Kafka running;
#   - a private broker (LEASEHOLD_KAFKA_PORT, --persistent) runs beside the
#     shared one on its own ports and files, keeps a message across a
#     restart, and its `down` stops it and removes its scratch folder.
set -euo pipefail
svc="$LEASEHOLD_SOURCE_DIR/deploy/local/services"
sessions="$LEASEHOLD_SOURCE_DIR/.services/sessions"
reuse="test-services-reuse-$$"
own="test-services-own-$$"
kown="test-services-kafka-$$"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A free port whose successor is free too (the broker's controller).
kport=$(python3 -c '
import socket
while True:
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        p = a.getsockname()[1]
        try:
            b.bind(("127.0.0.1", p + 1))
        except OSError:
            continue
        print(p)
        break')
kdata=$(mktemp -d)

fail() { echo "FAIL: $*"; exit 1; }
cleanup() {
  LEASEHOLD_AZURITE_PORT=$port "$svc" down --session "$own" >/dev/null 2>&1 || true
  "$svc" down --session "$kown" >/dev/null 2>&1 || true
  rm -rf "$kdata" "$LEASEHOLD_SOURCE_DIR/.services/logs/kafka-$kport.log"
}
trap cleanup EXIT

out=$("$svc" up --session "$reuse" 2>&1)
grep -q 'Azurite already answers on 127.0.0.1:10000; reusing it' <<<"$out" || fail "Azurite not reused: $out"
grep -q 'Kafka already answers on 127.0.0.1:9092; reusing it' <<<"$out" || fail "Kafka not reused: $out"
[ -z "$(ls "$sessions/$reuse" 2>/dev/null)" ] || fail "reusing session recorded a pid: $(ls "$sessions/$reuse")"
out=$("$svc" down --session "$reuse" 2>&1)
[ "$out" = "[services] session '$reuse' started nothing; nothing to stop" ] || fail "down of a reusing session: $out"
echo "ok - up reuses running services, down of that session stops nothing"

out=$("$svc" status)
grep -q '^azurite: up   http://127.0.0.1:10000' <<<"$out" || fail "status: $out"
grep -q '^kafka:   up   127.0.0.1:9092' <<<"$out" || fail "status: $out"
echo "ok - status reports both services up"

for t in inventory.reservations inventory.releases inventory.admin inventory.events inventory.dlq; do
  out=$(kcat -L -b 127.0.0.1:9092 -m 5 -t "$t")
  grep -q "topic \"$t\" with 6 partitions:" <<<"$out" || fail "topic $t missing or not 6 partitions: $out"
done
echo "ok - application topics exist with 6 partitions"

out=$(LEASEHOLD_AZURITE_PORT=$port "$svc" up --session "$own" 2>&1)
grep -q "Azurite started by session '$own'" <<<"$out" || fail "Azurite on $port not started: $out"
grep -q 'Kafka already answers' <<<"$out" || fail "Kafka not reused: $out"
read -r pid _ <"$sessions/$own/azurite-$port.pid"
kill -0 "$pid" || fail "recorded Azurite pid $pid is not running"
[ ! -e "$sessions/$own/kafka-9092.pid" ] || fail "session $own recorded a Kafka it did not start"
out=$(LEASEHOLD_AZURITE_PORT=$port "$svc" status)
grep -q "^azurite: up   http://127.0.0.1:$port  started by session '$own' (pid $pid)" <<<"$out" \
  || fail "status does not name session $own: $out"
LEASEHOLD_AZURITE_PORT=$port "$svc" down --session "$own" >/dev/null 2>&1
! kill -0 "$pid" 2>/dev/null || fail "Azurite pid $pid still running after down"
[ ! -e "$sessions/$own" ] || fail "session folder $own left behind"
curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" && fail "port $port still answers after down"
"$svc" status >/dev/null || fail "down of session $own disturbed the shared services"
echo "ok - down stops exactly what its session started"

kup() { LEASEHOLD_KAFKA_PORT=$kport "$svc" up --session "$kown" --persistent "$kdata" 2>&1; }
out=$(kup)
grep -q "Kafka started by session '$kown'" <<<"$out" || fail "Kafka on $kport not started: $out"
grep -q 'Azurite already answers' <<<"$out" || fail "Azurite not reused: $out"
read -r kpid _ <"$sessions/$kown/kafka-$kport.pid"
out=$(LEASEHOLD_KAFKA_PORT=$kport "$svc" status)
grep -q "^kafka:   up   127.0.0.1:$kport  started by session '$kown' (pid $kpid)" <<<"$out" \
  || fail "status does not name session $kown: $out"
grep -q "^listeners=PLAINTEXT://127.0.0.1:$kport,CONTROLLER://127.0.0.1:$((kport + 1))$" \
  "$LEASEHOLD_SOURCE_DIR/.services/kafka-$kport/server.properties" || fail "listeners of the broker on $kport"
echo "kept" | kcat -P -b "127.0.0.1:$kport" -t "$kown"
"$svc" down --session "$kown" >/dev/null 2>&1
! kill -0 "$kpid" 2>/dev/null || fail "Kafka pid $kpid still running after down"
[ ! -e "$LEASEHOLD_SOURCE_DIR/.services/kafka-$kport" ] || fail ".services/kafka-$kport left behind"
"$svc" status >/dev/null || fail "down of session $kown disturbed the shared services"
out=$(kup)
grep -q "Kafka started by session '$kown'" <<<"$out" || fail "Kafka on $kport not restarted: $out"
out=$(kcat -C -b "127.0.0.1:$kport" -t "$kown" -o beginning -e -q)
[ "$out" = kept ] || fail "message after a restart with --persistent: '$out'"
"$svc" down --session "$kown" >/dev/null 2>&1
echo "ok - LEASEHOLD_KAFKA_PORT runs a private broker; --persistent keeps its data across a restart"
