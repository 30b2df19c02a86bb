# Shared by bench/run.sh and bench/backends.sh: the hello-world ceiling, wrk measuring, and the
# sign-in and request scripts a store is measured with. Expects ROOT, WORK, DURATION, CONNECTIONS.

build_hello() { # sets HELLO
# The ceiling: a bare actix-web hello-world built here, with the same actix-web version.
HELLO=$WORK/hello
if [ ! -x "$HELLO/target/release/hello" ]; then
  mkdir -p "$HELLO/src"
  ACTIX=$(grep -m1 '^name = "actix-web"' -A1 Cargo.lock | grep version | cut -d'"' -f2)
  cat > "$HELLO/Cargo.toml" <<TOML
[package]
name = "hello"
version = "0.1.0"
edition = "2021"
[dependencies]
actix-web = "=$ACTIX"
[profile.release]
debug = false
TOML
  cat > "$HELLO/src/main.rs" <<'RS'
use actix_web::{web, App, HttpServer};
#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18766".into());
    HttpServer::new(|| App::new().route("/", web::get().to(|| async { "Hello, world!" })))
        .bind(addr)?
        .run()
        .await
}
RS
  (cd "$HELLO" && cargo build --release -q)
fi
}

prepare_bench() { # PORT: installs wrk, builds release (sets BIN) and the hello-world, and
# measures the ceiling on PORT (sets CEILING)
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  cargo build --release -q
  BIN=$ROOT/target/release/orderdeck
  build_hello
  "$HELLO/target/release/hello" "127.0.0.1:$1" & local hpid=$!
  sleep 1
  CEILING=$(measure hello "http://127.0.0.1:$1/" | cut -d'|' -f2)
  kill $hpid; wait $hpid 2>/dev/null || true
}

measure() { # name url [lua] [duration]; req/s counts only 2xx answers
  local name=$1 url=$2 lua=${3:-} dur=${4:-$DURATION}
  local args=(-t2 -c"$CONNECTIONS" -d"$dur" --latency)
  [ -n "$lua" ] && args+=(-s "$lua")
  local r; r=$(wrk "${args[@]}" "$url")
  local total secs non2xx rps p50 p99
  total=$(awk '/requests in/ {print $1}' <<<"$r")
  secs=$(awk '/requests in/ {gsub(/s,?/, "", $4); print $4}' <<<"$r")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$r")
  rps=$(awk -v t="$total" -v b="${non2xx:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (t - b) / s }')
  p50=$(awk '$1=="50%" {print $2}' <<<"$r")
  p99=$(awk '$1=="99%" {print $2}' <<<"$r")
  printf '%s|%s|%s|%s|%s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

# prepare_requests PORT N TOKEN LOG [NEXT]: signs in (through the setup link in LOG on a new
# store) and writes cookie.lua, auth.lua, post.lua and pay.lua into $WORK; sets MID, NAME and
# QNAME. The payment row pays the orders the intake row creates, numbered from NEXT (by default
# the one after the N demo orders).
prepare_requests() {
  local PORT=$1 N=$2 TOKEN=$3 LOG=$4
  # Sign in to measure the pages.
  SETUP=$(grep -o 'http://[^ ]*/setup?token=[0-9a-f]*' "$LOG" | head -1 || true)
  JAR=$WORK/jar-$N; rm -f "$JAR"
  if [ -n "$SETUP" ]; then
    P=$(curl -s -c "$JAR" -b "$JAR" "$SETUP")
    CSRF=$(grep -o 'name="csrf" value="[^"]*"' <<<"$P" | head -1 | sed 's/.*value="//;s/"//')
    TOK=$(grep -o 'name="token" value="[^"]*"' <<<"$P" | sed 's/.*value="//;s/"//')
    curl -s -o /dev/null -c "$JAR" -b "$JAR" -X POST "http://127.0.0.1:$PORT/setup" --data-urlencode "csrf=$CSRF" --data-urlencode "token=$TOK" \
      -d "display_name=Bench&username=bench&store_name=Bench+Store&store_email=bench@example.com&password=bench-password-1&password_confirm=bench-password-1"
  fi
  P=$(curl -s -c "$JAR" -b "$JAR" "http://127.0.0.1:$PORT/login")
  CSRF=$(grep -o 'name="csrf" value="[^"]*"' <<<"$P" | head -1 | sed 's/.*value="//;s/"//')
  curl -s -o /dev/null -c "$JAR" -b "$JAR" -X POST "http://127.0.0.1:$PORT/login" --data-urlencode "csrf=$CSRF" -d "username=bench&password=bench-password-1&next=/orders"
  SID=$(awk '$6=="od_session" {print $6"="$7}' "$JAR")
  echo "wrk.headers[\"Cookie\"] = \"$SID\"" > "$WORK/cookie.lua"
  echo "wrk.headers[\"Authorization\"] = \"Bearer $TOKEN\"" > "$WORK/auth.lua"
  MID=$(( 1000 + N / 2 ))
  NAME=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/orders/$MID" | sed 's/.*"customer":{[^}]*"name":"\([^"]*\)".*/\1/' | awk '{print tolower($1)}')
  # Percent-encoded for the URL (names may be "chloé").
  QNAME=$(printf '%s' "$NAME" | od -An -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//; s/ /%/g; s/^/%/')
  BODY=$(sed 's/"/\\"/g' <<'JSON' | tr -d '\n'
{"customer":{"name":"Bench Buyer","email":"bench@example.com","phone":"+1 555 0100"},"shipping_address":{"name":"Bench Buyer","line1":"1 Main St","city":"Portland","region":"OR","postal_code":"97205","country":"US"},"items":[{"sku":"TEE-M","name":"T-Shirt","unit_price":"20.00","quantity":2}],"shipping":{"method":"Standard","price":"5.00"},"payment":{"method":"card"}}
JSON
)
  printf 'wrk.method = "POST"\nwrk.body = "%s"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\n' "$BODY" "$TOKEN" > "$WORK/post.lua"
  NEXT=${5:-$(( 1000 + N + 1 ))}
  cat > "$WORK/pay.lua" <<LUA
local t = 0
function setup(thread) thread:set("tid", t); t = t + 1 end
local n = 0
request = function()
  n = n + 1
  local num = $NEXT + 2 * (n - 1) + tid
  return wrk.format("POST", "/api/v1/orders/" .. num .. "/payments", {["Content-Type"]="application/json", ["Authorization"]="Bearer $TOKEN"}, "{}")
end
LUA
}
