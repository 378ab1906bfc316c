#!/bin/bash
# Bytes `lenta serve` writes to disk per counted view against per content edit (issue 10, §4:
# views must not bloat write amplification).
#
# usage: benches/load/views_io.sh [BINARY] [PORT] [N] [CORPUS]
#        (defaults: target/release/lenta, 18241, 300, 5000 generated articles)
#
# A fresh data dir with CORPUS generated articles, a server, one publisher and one more article
# of about 4 KB; then N sequential `POST /api/articles/{id}/views` ({"add": 1}), N sequential PUTs
# of the same article alternating two titles (each a real content change), and N views again.
# Sequential requests are each their own group commit and fsync, the worst case for both.
# Prints the process's write_bytes (/proc/PID/io: what reached the block layer) per request of
# each kind, then runs `lenta check` on the data directory.
#
# Measured 2026-11-30 with a debug build on a shared 2-core VM (`benches/load/views_io.sh
# target/debug/lenta 18241 300 5000`, then with N=500): per view 622,551 / 251,671 and
# 706,674 / 1,042,284 bytes, per content edit 350,235 and 531,472. Both are dominated by what one
# sled flush writes (about half a MiB, a log segment, whatever the batch holds) and by sled's
# background work, so the two are indistinguishable within the noise: a view adds no article
# rewrite (its batch is one 17-byte key-value pair against an article of kilobytes and its index
# entries), and under concurrency one flush serves a whole group of views.
set -eu
BIN=${1:-target/release/lenta}
PORT=${2:-18241}
N=${3:-300}
CORPUS=${4:-5000}
WORK=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$WORK"' EXIT

data="$WORK/data"
"$BIN" gen --articles "$CORPUS" > "$WORK/corpus.ndjson"
"$BIN" import --data-dir "$data" "$WORK/corpus.ndjson" >/dev/null 2>&1
token=$("$BIN" publisher add bench --data-dir "$data" 2>/dev/null | tail -1)
LENTA_LOG=warn "$BIN" serve --data-dir "$data" --addr "127.0.0.1:$PORT" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
sleep 5  # let sled settle after opening an imported store

body=$(head -c 3800 /dev/zero | tr '\0' a)
article() {
  printf '{"external_id":"io","title":"%s","published_at":"2024-05-17T09:00:00+03:00","regions":["RU-NIZ"],"content_html":"<p>%s</p>","views":5}' "$1" "$body"
}
base="http://127.0.0.1:$PORT/api/articles"
id=$(article first | curl -s -X POST "$base" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' --data-binary @- | sed 's/^{"id":\([0-9]*\).*/\1/')
written() { awk '/^write_bytes/{print $2}' "/proc/$pid/io"; }

count_views() {
  local before
  before=$(written)
  for _ in $(seq "$N"); do
    curl -s -o /dev/null -f -X POST "$base/$id/views" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d '{"add": 1}'
  done
  echo $(( $(written) - before ))
}
views=$(count_views)

before=$(written)
for i in $(seq "$N"); do
  article "title $((i % 2))" | curl -s -o /dev/null -f -X PUT "$base/$id" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary @-
done
edits=$(( $(written) - before ))
views_again=$(count_views)

echo "counted views: $(curl -s "$base/$id/views")"
echo "bytes written per view: $((views / N)), per content edit: $((edits / N)), per view again: $((views_again / N)) ($N each)"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
"$BIN" check --data-dir "$data"
