#!/bin/bash
# Peak memory of `lenta serve` answering one maximal NDJSON batch of bad lines (issue 9, hole 1).
#
# usage: benches/load/batch_peak_rss.sh [BINARY] [PORT]     (default target/release/lenta, 18231)
#
# Do not point it at a build from before the batch line cap: the 64 MiB "x" batch then needs
# tens of GiB.
#
# For each body: a fresh data dir and server, one publisher, one POST /api/articles/batch; prints
# the idle VmRSS, the VmHWM (peak RSS) after the answer, the peak above idle and its ratio to the
# body size. Bodies: "x\n" repeated to 2 MiB and 64 MiB (over the default line cap: 413), and
# 100,000 lines of 671 bytes (64 MiB in all), unterminated JSON (400 each) or valid JSON with an empty
# title (422 each).
set -eu
BIN=${1:-target/release/lenta}
PORT=${2:-18231}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

yes x | head -c $((2 << 20)) > "$WORK/x_2mib.ndjson"
yes x | head -c $((64 << 20)) > "$WORK/x_64mib.ndjson"
pad=$(head -c 659 /dev/zero | tr '\0' a)
yes "{\"title\": \"$pad" | head -n 100000 > "$WORK/unterminated_100k.ndjson"
pre='{"external_id":"e","title":"","published_at":"2024-05-17T09:00:00+03:00","regions":["RU-NIZ"],"content_html":"'
yes "$pre${pad:$((${#pre} - 11 + 2))}\"}" | head -n 100000 > "$WORK/empty_title_100k.ndjson"

for body in x_2mib x_64mib unterminated_100k empty_title_100k; do
  file="$WORK/$body.ndjson"
  data="$WORK/data-$body"
  token=$("$BIN" publisher add bench --regions RU-NIZ --data-dir "$data" 2>/dev/null | tail -1)
  LENTA_LOG=warn "$BIN" serve --data-dir "$data" --addr "127.0.0.1:$PORT" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
  sleep 1
  idle=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  status=$(curl -s -o "$WORK/answer" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/api/articles/batch" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/x-ndjson' --data-binary "@$file")
  hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
  size=$(stat -c %s "$file")
  awk -v b="$body" -v s="$size" -v st="$status" -v a="$(stat -c %s "$WORK/answer")" -v i="$idle" -v h="$hwm" \
    'BEGIN { printf "%-18s body %9d B  status %s  answer %9d B  idle %6d KiB  peak %7d KiB  above idle %5.0f MiB = %.2fx body\n", b, s, st, a, i, h, (h-i)/1024, (h-i)*1024/s }'
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
