#!/usr/bin/env bash
# The embedded store's footprint and search, at one size (default 100,000 demo orders): disk per
# order, every kind of search term under load (and whether any page comes back empty with a next
# cursor), durable intake with a distinct customer per order, RSS after the run, and the first
# response after a restart; each next to a bare actix-web hello-world of the same run.
# Prints a markdown section (also written to $BENCH_OUT when set). Not part of the test suite.
#
#   bash bench/lean.sh                         # 100000 orders, seeded in a temporary directory
#   N=1000000 bash bench/lean.sh
#   BENCH_DIR=/tmp/lean bash bench/lean.sh     # reuses the store seeded there before
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-100000}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/orderdeck-lean.XXXXXX)}
PORT=18767
mkdir -p "$WORK"

source "$ROOT/bench/lib.sh"
prepare_bench 18768

DATA=$WORK/data-$N
if [ ! -d "$DATA/db" ]; then
  START=$(date +%s)
  "$BIN" demo --orders "$N" --data-dir "$DATA" >/dev/null
  SEED="$(( $(date +%s) - START )) s"
else
  SEED="(reused)"
fi
TOKEN=$("$BIN" token create --name lean --data-dir "$DATA" 2>/dev/null | tail -1)
DISK_SEEDED=$(du -sb "$DATA" | cut -f1)

serve() { # starts the server; sets SPID and FIRST (ms to the first answered request)
  local t0; t0=$(date +%s%N)
  RUST_LOG=warn "$BIN" serve --bind 127.0.0.1:$PORT --data-dir "$DATA" >> "$WORK/server.log" 2>&1 & SPID=$!
  until curl -s -o /dev/null "http://127.0.0.1:$PORT/api/v1/orders"; do sleep 0.005; done
  FIRST=$(( ($(date +%s%N) - t0) / 1000000 ))
}
: > "$WORK/server.log"   # a reused store prints no setup link: none may be found from before
serve
stop() { kill "$SPID"; while kill -0 "$SPID" 2>/dev/null; do sleep 0.05; done; }
trap 'kill "$SPID" 2>/dev/null || true' EXIT
prepare_requests "$PORT" "$N" "$TOKEN" "$WORK/server.log"
B=http://127.0.0.1:$PORT
# Terms a merchant types, taken from the middle order so that each one matches something.
ORDER=$(curl -s -H "Authorization: Bearer $TOKEN" "$B/api/v1/orders/$MID")
FIELD() { python3 -c 'import json,sys; o=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$ORDER"; }
SURNAME=$(FIELD 'o["customer"]["name"].split()[-1].lower()')
PHONE4=$(FIELD '"".join(c for c in o["customer"]["phone"] if c.isdigit())[-4:]')
DOMAIN=$(FIELD 'o["customer"]["email"].split("@")[1]')
SKU=$(FIELD 'o["items"][0]["sku"].lower()')
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }

# Distinct customers: each request a new name, e-mail and phone.
cat > "$WORK/intake.lua" <<LUA
local t = 0
function setup(thread) thread:set("tid", t); t = t + 1 end
local n = 0
request = function()
  n = n + 1
  local k = tid * 10000000 + n
  local body = string.format('{"customer":{"name":"Lean Buyer %d","email":"lean%d@example.net","phone":"+44 20 %08d"},"shipping_address":{"name":"Lean Buyer","line1":"1 Main St","city":"Portland","region":"OR","postal_code":"97205","country":"US"},"items":[{"sku":"TEE-M","name":"T-Shirt","unit_price":"20.00","quantity":2}],"shipping":{"method":"Standard","price":"5.00"},"payment":{"method":"card"}}', k, k, k)
  return wrk.format("POST", "/api/v1/orders", {["Content-Type"]="application/json", ["Authorization"]="Bearer $TOKEN"}, body)
end
LUA

{
  echo "### $N orders, embedded store ($(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD))"
  echo
  echo "- wrk: 2 threads, $CONNECTIONS connections, $DURATION per row (intake 3x); hello-world: $CEILING req/s"
  echo "- seeded in $SEED; disk before the run: $(( DISK_SEEDED / 1048576 )) MB, $(( DISK_SEEDED / N )) bytes per order"
  echo "- first response: $FIRST ms"
  echo
  echo "| what | req/s | % of hello-world | p50 | p99 | empty page with a next cursor |"
  echo "|---|---|---|---|---|---|"
  for pair in "surname|$SURNAME" "first name|$NAME" "e-mail domain|$DOMAIN" "SKU|$SKU" \
      "full name|$NAME $SURNAME" "four phone digits|$PHONE4" "order number|$MID" "no match|zqxjv"; do
    IFS='|' read -r label term <<<"$pair"
    Q=$(enc "$term")
    # Follow the API's cursors for a few pages: none may be empty while it offers a next one.
    EMPTY=$(python3 - "$B" "$TOKEN" "$Q" <<'PY'
import json, sys, urllib.request
base, token, q = sys.argv[1:]
empty, cursor = 0, None
for _ in range(5):
    url = base + "/api/v1/orders?limit=50&q=" + q + ("&cursor=" + cursor if cursor else "")
    r = json.load(urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Bearer " + token})))
    cursor = r["next_cursor"]
    if not r["orders"] and cursor:
        empty += 1
    if not cursor:
        break
print(empty)
PY
)
    IFS='|' read -r _ rps p50 p99 bad <<<"$(measure "$label" "$B/orders?q=$Q" "$WORK/cookie.lua")"
    pct=$(awk -v a="$rps" -v b="$CEILING" 'BEGIN { printf "%.1f %%", 100 * a / b }')
    echo "| search: $label '$term' | $rps | $pct | $p50 | $p99 | $EMPTY of 5 pages |"
  done
  LONG=$(( ${DURATION%s} * 3 ))s
  IFS='|' read -r _ rps p50 p99 bad <<<"$(measure intake "$B/api/v1/orders" "$WORK/intake.lua" "$LONG")"
  pct=$(awk -v a="$rps" -v b="$CEILING" 'BEGIN { printf "%.2f %%", 100 * a / b }')
  echo "| durable intake, a new customer each | $rps | $pct | $p50 | $p99 | ($bad non-2xx) |"
  RSS_KB=$(ps -o rss= -p "$SPID" | tr -d ' ')
  stop
  serve
  stop
  DISK=$(du -sb "$DATA" | cut -f1)
  echo
  echo "RSS after the run: $(( RSS_KB / 1024 )) MB. First response after a restart: $FIRST ms."
  echo "Disk after the run: $(( DISK / 1048576 )) MB."
  echo
} > "$WORK/lean.md"
cat "$WORK/lean.md"
if [ -n "${BENCH_OUT:-}" ]; then cp "$WORK/lean.md" "$BENCH_OUT"; fi
