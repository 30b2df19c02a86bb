#!/usr/bin/env bash
# orderdeck benchmark: builds release, seeds stores of several sizes, serves each, and measures the
# pages and API with wrk over loopback, next to a bare actix-web hello-world (the machine's ceiling).
# Writes bench/RESULTS.md. Not part of the test suite.
#
#   bash bench/run.sh                      # sizes 10000 100000 1000000
#   SIZES="10000 100000" bash bench/run.sh # fewer sizes
#   DURATION=10s CONNECTIONS=32 bash bench/run.sh
#   bash bench/run.sh --backend postgres   # the embedded store and PostgreSQL side by side
#                                          # (bench/backends.sh; sizes 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}:${2:-}" in
  :|--backend:sled|--backend:embedded) ;;
  --backend:postgres) exec bash bench/backends.sh ;;
  *) echo "usage: bash bench/run.sh [--backend sled|postgres]" >&2; exit 2 ;;
esac
ROOT=$PWD
SIZES=${SIZES:-"10000 100000 1000000"}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/orderdeck-bench.XXXXXX)}
OUT=${BENCH_OUT:-$ROOT/bench/RESULTS.md}
FIGURES=$WORK/figures.tsv
PORT=18765

source "$ROOT/bench/lib.sh"
prepare_bench 18766

# The side-by-side section of `--backend postgres` and the footprint section of bench/lean.sh are kept.
KEEP=$(sed -n '/<!-- \(backends\|lean\) -->/,/<!-- \/\(backends\|lean\) -->/p' "$OUT" 2>/dev/null || true)
{
  echo "# orderdeck benchmark results"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); commit: $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, $(uname -sr)"
  : > "$FIGURES"
  echo "- wrk: 2 threads, $CONNECTIONS connections, $DURATION per row; req/s counts 2xx answers only; hello-world ceiling: $CEILING req/s"
  echo
} > "$OUT"

for N in $SIZES; do
  DATA=$WORK/data-$N
  if [ ! -d "$DATA/db" ]; then
    START=$(date +%s)
    "$BIN" demo --orders "$N" --data-dir "$DATA" >/dev/null
    SEED=$(( $(date +%s) - START ))
  else
    SEED="(reused)"
  fi
  TOKEN=$("$BIN" token create --name bench --data-dir "$DATA" 2>/dev/null | tail -1)
  T0=$(date +%s%N)
  RUST_LOG=warn "$BIN" serve --bind 127.0.0.1:$PORT --data-dir "$DATA" > "$WORK/server-$N.log" 2>&1 & SPID=$!
  until curl -s -o /dev/null "http://127.0.0.1:$PORT/api/v1/orders"; do sleep 0.01; done
  FIRST=$(( ($(date +%s%N) - T0) / 1000000 ))
  prepare_requests "$PORT" "$N" "$TOKEN" "$WORK/server-$N.log"
  B=http://127.0.0.1:$PORT
  # Intake runs three times as long so that the payment row has enough unpaid orders to pay.
  LONG=$(( ${DURATION%s} * 3 ))s
  {
    echo "## $N orders (seeded in ${SEED}s, first response ${FIRST} ms)"
    echo
    echo "| what | req/s | % of hello-world | p50 | p99 | non-2xx |"
    echo "|---|---|---|---|---|---|"
    for row in \
      "page_default|$(measure 'orders page, default' "$B/orders" "$WORK/cookie.lua")" \
      "page_paid|$(measure 'orders page, payment=paid' "$B/orders?payment_status=paid" "$WORK/cookie.lua")" \
      "page_total|$(measure 'orders page, sorted by total' "$B/orders?sort=-total" "$WORK/cookie.lua")" \
      "page_search|$(measure "orders page, search '$NAME'" "$B/orders?q=$QNAME" "$WORK/cookie.lua")" \
      "order|$(measure 'order page' "$B/orders/$MID" "$WORK/cookie.lua")" \
      "api|$(measure 'GET /api/v1/orders?fulfillment_status=delivered' "$B/api/v1/orders?fulfillment_status=delivered" "$WORK/auth.lua")" \
      "intake|$(measure 'POST /api/v1/orders (durable; runs 3x as long to make orders to pay)' "$B/api/v1/orders" "$WORK/post.lua" "$LONG")" \
      "payment|$(measure 'payment: status change + template + outbox' "$B" "$WORK/pay.lua")"; do
      IFS='|' read -r id name rps p50 p99 bad <<<"$row"
      pct=$(awk -v a="$rps" -v b="$CEILING" 'BEGIN { if (b > 0) printf "%.1f %%", 100 * a / b; else print "-" }')
      echo "| $name | $rps | $pct | $p50 | $p99 | $bad |"
      printf 'row\t%s\t%s\t%s\t%s\t%s\n' "$N" "$id" "$rps" "$p50" "$p99" >> "$FIGURES"
    done
    # Bulk: one request each, 1,000 orders (tagging applies to any order): the dry run asks the
    # rules for every order; the apply writes each order on its own, with its webhooks.
    LIST=$(seq 1001 2000 | paste -sd, -)
    for mode in true false; do
      T=$(curl -s -o "$WORK/bulk.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' \
        -d "{\"action\":\"tag\",\"orders\":[$LIST],\"params\":{\"tag\":\"bench\"},\"dry_run\":$mode}" \
        "$B/api/v1/orders/bulk")
      OKS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["ok"])' "$WORK/bulk.json")
      MS=$(awk -v t="$T" 'BEGIN { printf "%.0fms", t * 1000 }')
      if [ "$mode" = true ]; then id=bulk_preview; name="bulk preview: 1,000 orders (dry run, $OKS ok)"; else id=bulk_apply; name="bulk apply: 1,000 orders ($OKS ok)"; fi
      echo "| $name | - | - | $MS | $MS | - |"
      printf 'row\t%s\t%s\t%s\t%s\t%s\n' "$N" "$id" "0" "$MS" "$MS" >> "$FIGURES"
    done
    RSS_KB=$(ps -o rss= -p $SPID | tr -d ' ')
    echo
    echo "RSS after the run: $(( RSS_KB / 1024 )) MB; data directory: $(du -shL "$DATA" | cut -f1)."
    echo
    printf 'size\t%s\t%s\t%s\t%s\n' "$N" "$SEED" "$FIRST" "$(( RSS_KB / 1024 ))" >> "$FIGURES"
  } >> "$OUT"
  kill $SPID; wait $SPID 2>/dev/null || true
done
# The issue's targets, checked against the figures above.
python3 - "$FIGURES" "$CEILING" >> "$OUT" <<'PY'
import sys
rows, sizes = {}, {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if f[0] == "row":
        rows[(int(f[1]), f[2])] = (float(f[3]), f[4], f[5])
    else:
        sizes[int(f[1])] = (f[2], int(f[3]), int(f[4]))
ceiling = float(sys.argv[2])
def ms(t):
    for unit, k in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if t.endswith(unit):
            return float(t[: -len(unit)]) * k
    return float("nan")
big, small = max(sizes), min(sizes)
out = ["## Targets (at %d orders unless said)" % big, "", "| target | measured | met |", "|---|---|---|"]
def check(name, measured, ok):
    out.append("| %s | %s | %s |" % (name, measured, "yes" if ok else "**no**"))
for rid, label in (("page_default", "orders page, default"), ("page_paid", "orders page, payment=paid"), ("page_total", "orders page, sorted by total")):
    rps, p50, p99 = rows[(big, rid)]
    check(label + ": p99 < 10 ms, >= 10 % of hello-world", "%s p99, %.1f %%" % (p99, 100 * rps / ceiling), ms(p99) < 10 and rps >= 0.1 * ceiling)
rps, p50, p99 = rows[(big, "page_search")]
check("searched orders page: p99 < 25 ms", p99, ms(p99) < 25)
if big != small:
    for rid in ("page_default", "page_paid", "page_total", "page_search", "order"):
        a, b = ms(rows[(small, rid)][1]), ms(rows[(big, rid)][1])
        check("%s: p50 at %d within 1.5x of %d" % (rid, big, small), "%.2fx" % (b / a), b <= 1.5 * a)
check("durable intake >= 5,000 orders/s", "%.0f/s" % rows[(big, "intake")][0], rows[(big, "intake")][0] >= 5000)
check("status action + render + outbox >= 5,000/s", "%.0f/s" % rows[(big, "payment")][0], rows[(big, "payment")][0] >= 5000)
if (big, "bulk_preview") in rows:
    check("bulk preview of 1,000 orders < 1 s", rows[(big, "bulk_preview")][1], ms(rows[(big, "bulk_preview")][1]) < 1000)
    check("bulk apply of 1,000 orders < 5 s", rows[(big, "bulk_apply")][1], ms(rows[(big, "bulk_apply")][1]) < 5000)
seed, first, rss = sizes[big]
check("RSS < 200 MB", "%d MB" % rss, rss < 200)
check("first response < 1 s", "%d ms" % first, first < 1000)
if seed.isdigit():
    check("demo seeding of %d orders < 5 min (scaled to 1M: x%g)" % (big, 1e6 / big), "%s s" % seed, int(seed) * 1e6 / big < 300)
missed = sum(1 for line in out if line.endswith("**no** |"))
if missed:
    out += ["", "%d target(s) not met: `bench/PROFILE.md` shows the profile of each and what meeting it would take." % missed]
print("\n".join(out))
PY
[ -n "$KEEP" ] && printf '\n%s\n' "$KEEP" >> "$OUT"
echo "wrote $OUT"
