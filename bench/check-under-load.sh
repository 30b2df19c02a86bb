#!/usr/bin/env bash
# orderdeck check on a running 100k-order store while orders keep arriving (4 connections):
# intake latency alone, then during the check. Run from the repository root after cargo build --release.
set -e
B=${ORDERDECK_BIN:-target/release/orderdeck}
D=${DATA_DIR:-/tmp/orderdeck-check-bench}
[ -d $D/db ] || { time $B demo --orders 100000 --data-dir $D >/dev/null; }
TOKEN=$($B token create --name bench --data-dir $D | tail -1 | awk '{print $NF}')
$B serve --bind 127.0.0.1:18099 --data-dir $D > "$D.server.log" 2>&1 &
SP=$!
sleep 2
BODY='{"customer":{"name":"Bench Buyer","email":"bench@example.com","phone":"+1 555 0100"},"shipping_address":{"name":"Bench Buyer","line1":"1 Main St","city":"Portland","region":"OR","postal_code":"97205","country":"US"},"items":[{"sku":"TEE-M","name":"T-Shirt","unit_price":"20.00","quantity":2}],"shipping":{"method":"Standard","price":"5.00"},"payment":{"method":"card"}}'
printf 'wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\n' "$BODY" "$TOKEN" > "$D.post.lua"
echo "--- intake alone (10 s, 4 connections)"
wrk -t1 -c4 -d10s --latency -s "$D.post.lua" http://127.0.0.1:18099/api/v1/orders | grep -E "Latency|99%|Requests/sec|Non-2xx"
echo "--- intake while orderdeck check runs"
( wrk -t1 -c4 -d70s --latency -s "$D.post.lua" http://127.0.0.1:18099/api/v1/orders > "$D.wrk.txt" ) &
WP=$!
sleep 1
/usr/bin/time -f "check took %e s, max RSS %M KB" $B check --data-dir $D 2> "$D.check.err" | tail -3
tail -2 "$D.check.err"
wait $WP || true
grep -E "Latency|99%|Requests/sec|Non-2xx|Max" "$D.wrk.txt"
kill $SP; wait $SP || true
