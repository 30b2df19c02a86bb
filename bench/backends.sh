#!/usr/bin/env bash
# The embedded store and PostgreSQL side by side (`bash bench/run.sh --backend postgres` runs
# this): for each size, the same rows as bench/run.sh on the embedded store, on PostgreSQL with
# one instance, and with two instances behind HAProxy (round-robin), on one machine. Writes the
# "Embedded store and PostgreSQL" section of bench/RESULTS.md. Not part of the test suite.
#
#   SIZES="100000 1000000" bash bench/backends.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZES=${SIZES:-"100000 1000000"}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/orderdeck-backends.XXXXXX)}
PORT=18765
PGPORT=${PGPORT:-54329}
PGBIN=/usr/lib/postgresql/15/bin
REPORT=$WORK/backends.md
FIGURES=$WORK/backends.tsv

write_report() { # the section, from $FIGURES, into bench/RESULTS.md
python3 - "$FIGURES" "$(git rev-parse --short HEAD)" "$DURATION" "$CONNECTIONS" > "$REPORT" <<'PY'
import sys, datetime
figs, commit, dur, conns = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows, info, names, sizes = {}, {}, {}, []
ceiling = float("nan")
for line in open(figs):
    f = line.rstrip("\n").split("\t")
    if f[0] == "ceiling":
        ceiling = float(f[1])
        continue
    n = int(f[1])
    if n not in sizes:
        sizes.append(n)
    if f[0] == "row":
        rows[(n, f[2], f[3])] = (float(f[5]), f[6], f[7], f[8])
        names[f[3]] = f[4]
    else:
        info[(n, f[2])] = f[3:]
def ms(t):
    for unit, k in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if t.endswith(unit):
            return float(t[: -len(unit)]) * k
    return float("nan")
configs = [("embedded", "embedded"), ("postgres1", "PostgreSQL, 1 instance"), ("postgres2", "PostgreSQL, 2 instances")]
out = ["<!-- backends -->", "## Embedded store and PostgreSQL side by side", "",
       "- date: %s; commit: %s; `bash bench/run.sh --backend postgres`" % (datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%MZ"), commit),
       "- one machine (2 cores) runs wrk, HAProxy, PostgreSQL 15 and the instances (two instances: `--workers 1 --database-pool 8` each, half the machine; one instance: the defaults, two workers and 16 connections); wrk %s connections, %s per row (intake 3x), each read row after a 1 s warm-up; hello-world ceiling %s" % (conns, dur, "%.0f req/s" % ceiling if ceiling == ceiling else "not recorded"), ""]
for n in sizes:
    out += ["### %d orders" % n, "", "| what | " + " | ".join("%s req/s | p99" % c for _, c in configs) + " |",
            "|---|" + "---|---|" * len(configs)]
    for rid, name in names.items():
        cells = []
        for key, _ in configs:
            r = rows.get((n, key, rid))
            cells.append("%.0f | %s" % (r[0], r[2]) + (" (%s non-2xx)" % r[3] if r and r[3] != "0" else "") if r else "- | -")
        out.append("| %s | %s |" % (name, " | ".join(cells)))
    out += ["", "| | seeding | first response | RSS per instance (MB) | store size (MB) |", "|---|---|---|---|---|"]
    for key, label in configs:
        i = info.get((n, key))
        if i:
            seed = i[0] + (" s" if i[0].isdigit() else "")
            out.append("| %s | %s | %s ms | %s | %s |" % (label, seed, i[1], i[2], i[3]))
    out.append("")
big = max(sizes)
out += ["### Targets at %d orders (PostgreSQL)" % big, "", "| target | measured | met |", "|---|---|---|"]
for key, label in configs[1:]:
    for rid in ("page_default", "page_total", "page_search"):
        r = rows.get((big, key, rid))
        if r:
            out.append("| %s, %s: p99 < 25 ms | %s | %s |" % (label, names[rid], r[2], "yes" if ms(r[2]) < 25 else "**no**"))
    r, s = rows.get((big, key, "intake")), rows.get((big, "embedded", "intake"))
    if r and s:
        out.append("| %s: intake at least the embedded store's | %.0f vs %.0f /s | %s |" % (label, r[0], s[0], "yes" if r[0] >= s[0] else "**no**"))
out += ["<!-- /backends -->"]
print("\n".join(out))
PY
# Into bench/RESULTS.md, replacing the section of an earlier run.
python3 - "$ROOT/bench/RESULTS.md" "$REPORT" <<'PY'
import sys, re
path, new = sys.argv[1], open(sys.argv[2]).read().strip()
old = open(path).read() if __import__("os").path.exists(path) else "# orderdeck benchmark results\n"
if "<!-- backends -->" in old:
    old = re.sub(r"<!-- backends -->.*<!-- /backends -->", lambda m: new, old, flags=re.S)
else:
    old = old.rstrip() + "\n\n" + new + "\n"
open(path, "w").write(old)
PY
}

# REPORT_ONLY=1 (with BENCH_DIR) writes the report from the figures of an earlier, perhaps
# interrupted, run without measuring again.
if [ -n "${REPORT_ONLY:-}" ]; then
  write_report; echo "wrote the backends section of bench/RESULTS.md"; exit 0
fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -x $PGBIN/initdb ] && [ -x /usr/sbin/haproxy ] || {
  apt-get update -qq && apt-get install -y -qq postgresql postgresql-contrib haproxy >/dev/null
}
cargo build --release -q
BIN=$ROOT/target/release/orderdeck
source "$ROOT/bench/lib.sh"
build_hello

# One PostgreSQL server for the run (as the postgres user: initdb refuses root), stopped at exit.
PGDATA=$WORK/pg
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"; [ "$(id -u)" = 0 ] && chown postgres: "$PGDATA" "$WORK"
  as_pg "$PGBIN/initdb -D $PGDATA -A trust -U postgres --no-sync >/dev/null"
fi
as_pg "$PGBIN/pg_ctl -D $PGDATA -w -l $PGDATA/log start -o '-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDATA -c shared_buffers=512MB -c max_connections=200'" >/dev/null
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  as_pg "$PGBIN/pg_ctl -D $PGDATA -m fast stop" >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$HELLO/target/release/hello" 127.0.0.1:18766 & HPID=$!
sleep 1
CEILING=$(measure hello http://127.0.0.1:18766/ | cut -d'|' -f2)
kill $HPID; wait $HPID 2>/dev/null || true
printf 'ceiling\t%s\n' "$CEILING" > "$FIGURES"

wait_up() { until curl -s -o /dev/null "http://127.0.0.1:$1/healthz"; do sleep 0.01; done; }

# rows CONFIG N PORT: measures every row against the server(s) answering on PORT.
rows() {
  local config=$1 N=$2 P=$3 B=http://127.0.0.1:$3
  local LONG=$(( ${DURATION%s} * 3 ))s
  # A second of each read first: a server just started prepares its statements and fills its
  # caches (both backends alike); the rows measure it warm.
  for u in "/orders" "/orders?sort=-total" "/orders?q=$QNAME" "/orders/$MID"; do
    wrk -t2 -c"$CONNECTIONS" -d1s -s "$WORK/cookie.lua" "$B$u" >/dev/null
  done
  wrk -t2 -c"$CONNECTIONS" -d1s -s "$WORK/auth.lua" "$B/api/v1/orders?fulfillment_status=delivered" >/dev/null
  for row in \
    "page_default|$(measure 'orders page, default' "$B/orders" "$WORK/cookie.lua")" \
    "page_total|$(measure 'orders page, sorted by total' "$B/orders?sort=-total" "$WORK/cookie.lua")" \
    "page_search|$(measure "orders page, search a common first name" "$B/orders?q=$QNAME" "$WORK/cookie.lua")" \
    "order|$(measure 'order page' "$B/orders/$MID" "$WORK/cookie.lua")" \
    "api|$(measure 'GET /api/v1/orders?fulfillment_status=delivered' "$B/api/v1/orders?fulfillment_status=delivered" "$WORK/auth.lua")" \
    "intake|$(measure 'POST /api/v1/orders (durable)' "$B/api/v1/orders" "$WORK/post.lua" "$LONG")" \
    "payment|$(measure 'payment: status change + template + outbox' "$B" "$WORK/pay.lua")"; do
    IFS='|' read -r id name rps p50 p99 bad <<<"$row"
    printf 'row\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$config" "$id" "$name" "$rps" "$p50" "$p99" "$bad" >> "$FIGURES"
  done
}

rss_mb() { echo $(( $(ps -o rss= -p "$1" | tr -d ' ') / 1024 )); }

for N in $SIZES; do
  # --- the embedded store
  DATA=$WORK/data-$N
  SEED="(reused)"
  if [ ! -d "$DATA/db" ]; then
    S=$(date +%s); "$BIN" demo --orders "$N" --data-dir "$DATA" >/dev/null; SEED=$(( $(date +%s) - S ))
  fi
  TOKEN=$("$BIN" token create --name bench --data-dir "$DATA" 2>/dev/null | tail -1)
  T0=$(date +%s%N)
  RUST_LOG=warn "$BIN" serve --bind 127.0.0.1:$PORT --data-dir "$DATA" > "$WORK/sled-$N.log" 2>&1 & SPID=$!; PIDS+=($SPID)
  wait_up $PORT; FIRST=$(( ($(date +%s%N) - T0) / 1000000 ))
  # The payment row pays the orders the intake row makes: numbered after the newest (a reused
  # store holds an earlier run's intake orders, already paid).
  TOP=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/orders?sort=-number&limit=1" | grep -o '"number":[0-9]*' | head -1 | cut -d: -f2)
  prepare_requests $PORT "$N" "$TOKEN" "$WORK/sled-$N.log" $(( TOP + 1 ))
  rows embedded "$N" $PORT
  printf 'info\t%s\tembedded\t%s\t%s\t%s\t%s\n' "$N" "$SEED" "$FIRST" "$(rss_mb $SPID)" "$(du -sm "$DATA" | cut -f1)" >> "$FIGURES"
  kill $SPID; wait $SPID 2>/dev/null || true

  # --- PostgreSQL, one instance
  URL="postgres://postgres@127.0.0.1:$PGPORT/bench_$N"
  SEED="(reused)"
  if ! as_pg "$PGBIN/psql -h $PGDATA -p $PGPORT -U postgres -lqt" | cut -d'|' -f1 | grep -qw "bench_$N"; then
    as_pg "$PGBIN/createdb -h $PGDATA -p $PGPORT -U postgres bench_$N"
    S=$(date +%s); "$BIN" demo --orders "$N" --database-url "$URL" >/dev/null; SEED=$(( $(date +%s) - S ))
    as_pg "$PGBIN/psql -h $PGDATA -p $PGPORT -U postgres -q -d bench_$N -c 'VACUUM ANALYZE'"
  fi
  TOKEN=$("$BIN" token create --name bench --database-url "$URL" 2>/dev/null | tail -1)
  T0=$(date +%s%N)
  RUST_LOG=warn "$BIN" serve --bind 127.0.0.1:$PORT --database-url "$URL" > "$WORK/pg1-$N.log" 2>&1 & SPID=$!; PIDS+=($SPID)
  wait_up $PORT; FIRST=$(( ($(date +%s%N) - T0) / 1000000 ))
  TOP=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/orders?sort=-number&limit=1" | grep -o '"number":[0-9]*' | head -1 | cut -d: -f2)
  prepare_requests $PORT "$N" "$TOKEN" "$WORK/pg1-$N.log" $(( TOP + 1 ))
  rows postgres1 "$N" $PORT
  DBMB=$(as_pg "$PGBIN/psql -h $PGDATA -p $PGPORT -U postgres -qtA -d bench_$N -c \"SELECT pg_database_size('bench_$N') / 1048576\"")
  printf 'info\t%s\tpostgres1\t%s\t%s\t%s\t%s\n' "$N" "$SEED" "$FIRST" "$(rss_mb $SPID)" "$DBMB" >> "$FIGURES"
  kill $SPID; wait $SPID 2>/dev/null || true

  # --- PostgreSQL, two instances behind HAProxy, each with half the machine (one worker, eight
  # connections): what the README advises for servers sharing one machine
  cat > "$WORK/haproxy.cfg" <<CFG
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:$PORT
  default_backend orderdeck
backend orderdeck
  balance roundrobin
  option httpchk GET /readyz
  server a 127.0.0.1:$((PORT + 1)) check
  server b 127.0.0.1:$((PORT + 2)) check
CFG
  T0=$(date +%s%N)
  RUST_LOG=warn "$BIN" serve --bind 127.0.0.1:$((PORT + 1)) --workers 1 --database-pool 8 --database-url "$URL" > "$WORK/pg2a-$N.log" 2>&1 & A=$!; PIDS+=($A)
  RUST_LOG=warn "$BIN" serve --bind 127.0.0.1:$((PORT + 2)) --workers 1 --database-pool 8 --database-url "$URL" > "$WORK/pg2b-$N.log" 2>&1 & Bp=$!; PIDS+=($Bp)
  wait_up $((PORT + 1)); wait_up $((PORT + 2)); FIRST=$(( ($(date +%s%N) - T0) / 1000000 ))
  /usr/sbin/haproxy -f "$WORK/haproxy.cfg" > "$WORK/haproxy-$N.log" 2>&1 & HA=$!; PIDS+=($HA)
  wait_up $PORT; sleep 1
  TOP=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/orders?sort=-number&limit=1" | grep -o '"number":[0-9]*' | head -1 | cut -d: -f2)
  prepare_requests $PORT "$N" "$TOKEN" "$WORK/pg2a-$N.log" $(( TOP + 1 ))
  rows postgres2 "$N" $PORT
  printf 'info\t%s\tpostgres2\t-\t%s\t%s + %s\t-\n' "$N" "$FIRST" "$(rss_mb $A)" "$(rss_mb $Bp)" >> "$FIGURES"
  kill $HA $A $Bp; wait $HA $A $Bp 2>/dev/null || true
done

write_report
echo "wrote the backends section of bench/RESULTS.md ($REPORT)"
