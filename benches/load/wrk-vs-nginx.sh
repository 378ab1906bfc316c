#!/usr/bin/env bash
# Load benchmark: lenta against nginx serving the very same bytes as a static file.
# A benchmark, not a test (CI does not run it); numbers only mean something relative to the
# nginx baseline measured in the same run on the same machine.
#
#   benches/load/wrk-vs-nginx.sh [path/to/lenta] [seconds] [connections]
#
# Defaults: target/release/lenta (build it with `cargo build --release`), 10 s, 32 connections.
# Needs (Debian): wrk, nginx, curl; taskset is in util-linux.
#
# Scenarios, each run against lenta and then nginx:
#   a) GET of a cached 50-item feed (/feed.rss, the default page of 50), Accept-Encoding: gzip,
#      200 responses. nginx serves lenta's gzip body as a static file with gzip_static.
#   b) the same with If-None-Match (each server's own ETag): 304 responses.
# The server (lenta or nginx, one worker) is pinned to one core and wrk to another
# (SERVER_CPU / WRK_CPU, default 0 and 1), with keep-alive connections. Both servers log one
# line per request to a file, as in production (ACCESS_LOGS=off turns both off: lenta with
# LENTA_LOG=warn, nginx with access_log off), so the comparison stays like for like. Prints the median requests/s of ROUNDS (default 3) runs of each, alternating,
# and the median of the per-round ratios lenta/nginx.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LENTA=$(realpath "${1:-$ROOT/target/release/lenta}")
DURATION=${2:-10}
CONNECTIONS=${3:-32}
ACCESS_LOGS=${ACCESS_LOGS:-on}
if [ "$ACCESS_LOGS" = off ]; then
    export LENTA_LOG=warn
    NGINX_ACCESS_LOG="access_log off;"
else
    unset LENTA_LOG
    NGINX_ACCESS_LOG="access_log @T@/nginx/access.log;"
fi
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
for tool in wrk nginx curl taskset; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk nginx curl)" >&2; exit 2; }
done
[ -x "$LENTA" ] || { echo "no lenta binary at $LENTA (cargo build --release)" >&2; exit 2; }

T=$(mktemp -d /tmp/lenta-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_http() {
    for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "no answer from $1" >&2
    return 1
}

# ---- lenta with the demo corpus (5,000 articles), on SERVER_CPU.
LP=$(free_port)
LENTA_URL="http://127.0.0.1:$LP"
taskset -c "$SERVER_CPU" "$LENTA" serve --demo --data-dir "$T/data" --addr "127.0.0.1:$LP" \
    --max-connections-per-ip 1024 >"$T/lenta.log" 2>&1 &
PIDS+=($!)
wait_http "$LENTA_URL/healthz"
FEED=/feed.rss

# The exact bytes and ETag lenta serves for gzip; this also puts them in its render cache.
curl -fs -H 'Accept-Encoding: gzip' -D "$T/lenta.h" -o "$T/feed.rss.gz" "$LENTA_URL$FEED"
LENTA_ETAG=$(grep -i '^etag:' "$T/lenta.h" | cut -d' ' -f2- | tr -d '\r')
ITEMS=$(gzip -dc "$T/feed.rss.gz" | grep -o '<item>' | wc -l)

# ---- nginx serving the same bytes statically (gzip_static), one worker on SERVER_CPU.
NP=$(free_port)
NGINX_URL="http://127.0.0.1:$NP"
mkdir -p "$T/www" "$T/nginx/tmp"
cp "$T/feed.rss.gz" "$T/www/feed.rss.gz"
gzip -dc "$T/feed.rss.gz" >"$T/www/feed.rss"
touch -r "$T/www/feed.rss.gz" "$T/www/feed.rss"
cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
worker_cpu_affinity auto;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
$([ "$(id -u)" = 0 ] && echo "user root;")
events { worker_connections 1024; }
http {
    ${NGINX_ACCESS_LOG//@T@/$T}
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path $T/nginx/tmp/proxy;
    fastcgi_temp_path $T/nginx/tmp/fastcgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    scgi_temp_path $T/nginx/tmp/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NP;
        root $T/www;
        location = $FEED {
            default_type "application/rss+xml; charset=utf-8";
            gzip_static on;
            add_header Cache-Control "public, max-age=300";
            add_header Vary Accept-Encoding;
        }
    }
}
EOF
taskset -c "$SERVER_CPU" nginx -e "$T/nginx/error.log" -p "$T/nginx" -c "$T/nginx/nginx.conf" &
PIDS+=($!)
wait_http "$NGINX_URL$FEED"
curl -fs -H 'Accept-Encoding: gzip' -D "$T/nginx.h" -o "$T/nginx.body" "$NGINX_URL$FEED"
NGINX_ETAG=$(grep -i '^etag:' "$T/nginx.h" | cut -d' ' -f2- | tr -d '\r')
cmp -s "$T/nginx.body" "$T/feed.rss.gz" || { echo "nginx does not serve lenta's bytes" >&2; exit 1; }

# expect URL STATUS [headers...]: the scenario really gives STATUS before it is measured.
expect() {
    local url=$1 want=$2
    shift 2
    local got
    got=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url")
    [ "$got" = "$want" ] || { echo "$url: expected $want, got $got" >&2; exit 1; }
}

# rps URL [headers...]: "requests/s p50 p99" of one wrk run (after a 2 s warm-up) on WRK_CPU.
# With EXPECT_304=1 every response must be a 304 (wrk counts those as non-2xx), else none.
rps() {
    local url=$1
    shift
    local args=()
    for h in "$@"; do args+=(-H "$h"); done
    taskset -c "$WRK_CPU" wrk -t1 -c"$CONNECTIONS" -d2s "${args[@]}" "$url" >/dev/null
    taskset -c "$WRK_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${args[@]}" "$url" >"$T/wrk.out"
    local total non2xx
    total=$(awk '/requests in/ { print $1 }' "$T/wrk.out")
    non2xx=$(awk '/Non-2xx/ { print $NF }' "$T/wrk.out")
    if [ "${EXPECT_304:-0}" = 1 ] && [ "${non2xx:-0}" != "$total" ] \
        || [ "${EXPECT_304:-0}" != 1 ] && [ -n "$non2xx" ] \
        || grep -q 'Socket errors' "$T/wrk.out"; then
        cat "$T/wrk.out" >&2
        echo "unexpected responses from $url" >&2
        exit 1
    fi
    echo "$(awk '/^Requests\/sec:/ { print $2 }' "$T/wrk.out")" \
        "$(awk '$1 == "50%" { print $2 }' "$T/wrk.out")" "$(awk '$1 == "99%" { print $2 }' "$T/wrk.out")"
}

# median of the numbers on stdin
median() {
    sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ROUNDS=${ROUNDS:-3}
echo "lenta:  $("$LENTA" --version) at $LENTA_URL, $FEED = $ITEMS items, $(stat -c %s "$T/feed.rss.gz") bytes gzip"
echo "nginx:  $(nginx -v 2>&1 | cut -d/ -f2) at $NGINX_URL (static file, gzip_static)"
echo "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores;" \
    "server on core $SERVER_CPU, wrk on core $WRK_CPU"
echo "logs:   one access-log line per request on both servers: $ACCESS_LOGS"
echo "load:   wrk -t1 -c$CONNECTIONS -d${DURATION}s, keep-alive; $ROUNDS rounds alternating lenta and nginx;" \
    "median req/s (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
echo

GZ="Accept-Encoding: gzip"
expect "$LENTA_URL$FEED" 200 -H "$GZ"
expect "$NGINX_URL$FEED" 200 -H "$GZ"
expect "$LENTA_URL$FEED" 304 -H "$GZ" -H "If-None-Match: $LENTA_ETAG"
expect "$NGINX_URL$FEED" 304 -H "$GZ" -H "If-None-Match: $NGINX_ETAG"

# scenario NAME EXPECT_304 LENTA_HEADERS... -- NGINX_HEADERS...: one result line.
scenario() {
    local name=$1 e304=$2
    shift 2
    local lh=() nh=() side=l
    for a in "$@"; do
        if [ "$a" = -- ]; then side=n; elif [ $side = l ]; then lh+=("$a"); else nh+=("$a"); fi
    done
    : >"$T/l.rps"
    : >"$T/n.rps"
    local out
    for _ in $(seq "$ROUNDS"); do
        out=$(EXPECT_304=$e304 rps "$LENTA_URL$FEED" "${lh[@]}")
        echo "$out" >>"$T/l.rps"
        out=$(EXPECT_304=$e304 rps "$NGINX_URL$FEED" "${nh[@]}")
        echo "$out" >>"$T/n.rps"
    done
    local l n ratio
    l=$(cut -d' ' -f1 "$T/l.rps" | median)
    n=$(cut -d' ' -f1 "$T/n.rps" | median)
    # The ratio is the median of each round's lenta/nginx: on a shared machine the rounds drift
    # together, and a pair run back to back is the fairest comparison.
    ratio=$(paste -d' ' "$T/l.rps" "$T/n.rps" | awk '{ print $1 / $4 }' | median)
    printf '%-30s %11.0f %11.0f %7.2f   %s | %s\n' "$name" "$l" "$n" "$ratio" \
        "$(cut -d' ' -f1 "$T/l.rps" | xargs printf '%.0f ')" "$(cut -d' ' -f1 "$T/n.rps" | xargs printf '%.0f ')"
    echo "$(printf '%-30s' '')   p50/p99 of last round: lenta $(tail -n1 "$T/l.rps" | cut -d' ' -f2-)," \
        "nginx $(tail -n1 "$T/n.rps" | cut -d' ' -f2-)"
}

printf '%-30s %11s %11s %7s   %s\n' scenario "lenta rps" "nginx rps" ratio "each round: lenta | nginx"
scenario "a) 50-item feed, gzip, 200" 0 "$GZ" -- "$GZ"
scenario "b) same, If-None-Match, 304" 1 "$GZ" "If-None-Match: $LENTA_ETAG" -- "$GZ" "If-None-Match: $NGINX_ETAG"
