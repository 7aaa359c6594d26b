#!/usr/bin/env bash
# Integration test of deploy/local/azurite-tls: the HTTPS Azurite answers
# only to clients that trust the generated CA, accepts a bearer token with
# the storage audience when started with --oauth, and `stop` ends it.
set -euo pipefail
tls="$LEASEHOLD_SOURCE_DIR/deploy/local/azurite-tls"
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="https://127.0.0.1:$port/devstoreaccount1?comp=list"

fail() { echo "FAIL: $*"; exit 1; }
cleanup() { "$tls" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

# An unsigned JWT: Azurite's `--oauth basic` checks audience, issuer form and
# expiry, not the signature. $1 = seconds until expiry (negative: expired).
token() {
  python3 - "$1" <<'PY'
import base64, json, sys, time
part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")
now = int(time.time())
tenant = "ab1f708d-50f6-404c-a006-d71b2ac7a606"
print(part({"alg": "RS256", "typ": "JWT"}) + "." + part({
    "aud": "https://storage.azure.com", "iss": f"https://sts.windows.net/{tenant}/", "tid": tenant,
    "oid": "leasehold-test", "iat": now - 60, "nbf": now - 60, "exp": now + int(sys.argv[1])}) + ".c2ln")
PY
}

ca=$("$tls" start "$dir" "$port")
[ "$ca" = "$dir/ca.pem" ] || fail "printed CA path '$ca', expected $dir/ca.pem"
code=$(curl -s --cacert "$ca" -o /dev/null -w '%{http_code}' "$url")
[ "$code" = 403 ] || fail "unauthenticated list over HTTPS: HTTP $code, expected 403"
rc=0
curl -s -o /dev/null "$url" || rc=$?
[ "$rc" = 60 ] || fail "client without the CA: curl exit $rc, expected 60 (certificate not trusted)"
echo "ok - HTTPS Azurite answers to clients that trust the generated CA only"

"$tls" stop "$dir"
rc=0
curl -s --cacert "$ca" -o /dev/null --max-time 2 "$url" || rc=$?
[ "$rc" = 7 ] || fail "after stop: curl exit $rc, expected 7 (connection refused)"
echo "ok - stop ends it"

ca=$("$tls" start "$dir" "$port" --oauth)
code=$(curl -s --cacert "$ca" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(token 3600)" \
  -H 'x-ms-version: 2021-08-06' "$url")
[ "$code" = 200 ] || fail "valid bearer token: HTTP $code, expected 200"
code=$(curl -s --cacert "$ca" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(token -3600)" \
  -H 'x-ms-version: 2021-08-06' "$url")
[ "$code" = 403 ] || fail "expired bearer token: HTTP $code, expected 403"
echo "ok - --oauth accepts a valid bearer token and refuses an expired one"
