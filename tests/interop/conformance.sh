#!/usr/bin/env bash
# Reader conformance of lenta's feeds with real clients: Python feedparser, newsboat, and xmllint
# with an RFC 4287 Appendix B RELAX NG grammar (atom.rng). The checks are in conformance.py; this
# script builds the data they run against and owns the server's life cycle.
#
#   bash tests/interop/conformance.sh target/debug/lenta
#
# Data: a generated corpus (3,000 articles, seed 1) plus the tricky fixtures of
# data/fixtures.json, both imported before the server starts (`serve --demo` would only load an
# empty store). Needs the Debian packages python3-feedparser, newsboat and libxml2-utils
# (feedparser must be importable by /usr/bin/python3). Loopback only; everything lives in a
# temporary directory removed on exit. Last line: `conformance: N passed, M failed`.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 PATH/TO/lenta" >&2
    exit 2
fi
LENTA=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3

# Settings from the caller's environment (base URL, data dir, ...) would change what is served.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^LENTA_' || true)

fail() {
    echo "conformance: setup failed: $*" >&2
    echo "conformance: 0 passed, 1 failed"
    exit 1
}

[[ -x $LENTA ]] || fail "$LENTA is not an executable"
$PY -c 'import feedparser' 2>/dev/null || fail "feedparser missing for $PY (apt-get install python3-feedparser)"
command -v newsboat >/dev/null || fail "newsboat missing (apt-get install newsboat)"
command -v xmllint >/dev/null || fail "xmllint missing (apt-get install libxml2-utils)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lenta-conformance.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DATA=$WORK/data
echo "== data: generated corpus and data/fixtures.json"
"$LENTA" gen --articles 3000 --seed 1 >"$WORK/corpus.ndjson" || fail "lenta gen"
"$LENTA" import --data-dir "$DATA" "$WORK/corpus.ndjson" >"$WORK/import-corpus.log" 2>&1 \
    || fail "importing the corpus: $(cat "$WORK/import-corpus.log")"
grep -q 'rejected 0$' "$WORK/import-corpus.log" || fail "corpus import rejected lines: $(cat "$WORK/import-corpus.log")"
# One line per fixture: the seed-like article, then every tricky one, in file order.
$PY - "$ROOT/data/fixtures.json" >"$WORK/fixtures-tricky.ndjson" <<'EOF'
import json, sys
fixtures = json.load(open(sys.argv[1], encoding="utf-8"))
for article in [fixtures["seed_like_article"], *fixtures["tricky_articles"]]:
    print(json.dumps(article, ensure_ascii=False))
EOF
"$LENTA" import --data-dir "$DATA" "$WORK/fixtures-tricky.ndjson" >"$WORK/import-fixtures.log" 2>&1 \
    || fail "importing the fixtures: $(cat "$WORK/import-fixtures.log")"
sed 's/^/  /' "$WORK/import-fixtures.log"

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A free port can be taken between the probe and the bind: try a few.
BASE=
for _ in 1 2 3; do
    PORT=$(free_port)
    LENTA_LOG=warn "$LENTA" serve --data-dir "$DATA" --addr "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=
            break
        fi
        if $PY -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/healthz', timeout=1)" 2>/dev/null; then
            BASE=http://127.0.0.1:$PORT
            break 2
        fi
        sleep 0.1
    done
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
done
[[ -n $BASE ]] || fail "the server did not come up: $(tail -5 "$WORK/server.log")"
echo "== server at $BASE"

status=0
$PY "$HERE/conformance.py" "$BASE" "$WORK" "$WORK/import-fixtures.log" "$HERE/atom.rng" || status=$?
if [[ $status -ne 0 ]]; then
    echo "-- server log (last 20 lines):" >&2
    tail -20 "$WORK/server.log" >&2
fi
exit "$status"
