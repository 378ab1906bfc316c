#!/usr/bin/env bash
# Interop suite: real clients against a real lenta.
#
#   tests/interop/run.sh path/to/lenta
#
# Builds nothing: $1 is an already built `lenta` binary (debug or release). Needs, from Debian:
# nginx, python3-feedparser (used with /usr/bin/python3), curl, libxml2-utils (xmllint).
# Everything runs on loopback ports picked at start, in a temporary directory removed at exit;
# nginx is started in the foreground (daemon off) with a config generated from deploy/nginx.conf
# and stopped by its pid.
# Prints one line per check and ends with `interop: N passed, M failed`; exits 1 if any failed.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 path/to/lenta (an executable lenta binary)" >&2
    exit 2
fi
LENTA=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
T=$(mktemp -d /tmp/lenta-interop.XXXXXX)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

PASSED=0
FAILED=0
FAILURES=()

# check NAME COMMAND...: runs one check, its output indented, and counts it.
check() {
    local name=$1
    shift
    echo "-- $name"
    if "$@"; then
        PASSED=$((PASSED + 1))
        echo "   ok"
    else
        FAILED=$((FAILED + 1))
        FAILURES+=("$name")
        echo "   FAILED: $name"
    fi
}

fail() {
    echo "  FAIL: $*"
    return 1
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL: until it answers (10 s at most).
wait_http() {
    for _ in $(seq 100); do
        curl -fs -o /dev/null "$1" && return 0
        sleep 0.1
    done
    return 1
}

# fetch URL [curl args...]: GET (or whatever the args say); headers to $T/h, body to $T/b.
fetch() {
    local url=$1
    shift
    # curl leaves -o untouched when there is no body (a 304): start from an empty file.
    : >"$T/b"
    curl -s -D "$T/h" -o "$T/b" "$@" "$url"
}

# hdr NAME: the value of a header of the last fetch, without CR.
hdr() {
    grep -i "^$1:" "$T/h" | head -n 1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'
}

status() {
    head -n 1 "$T/h" | cut -d' ' -f2
}

# metric NAME: an unlabelled counter from lenta's /metrics.
metric() {
    curl -fs "$LENTA_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# ---------------------------------------------------------------- lenta
LENTA_PORT=$(free_port)
LENTA_URL="http://127.0.0.1:$LENTA_PORT"
MAX_AGE=2
# The CLI needs the data directory unlocked, so the publisher is accredited before serving.
TOKEN=$("$LENTA" publisher add interop --data-dir "$T/data" 2>"$T/publisher.err")
if [ -z "$TOKEN" ]; then
    cat "$T/publisher.err"
    echo "interop: could not accredit a publisher"
    exit 1
fi
# An outside publisher the operator allows on the aggregator feeds (`--syndicate`): its article
# without a body or lead is the Yandex feed's edge case (yandex:full-text must not be empty).
WIRE_TOKEN=$("$LENTA" publisher add wire --syndicate --data-dir "$T/data" 2>"$T/publisher.err")
if [ -z "$WIRE_TOKEN" ]; then
    cat "$T/publisher.err"
    echo "interop: could not accredit a syndicated publisher"
    exit 1
fi
# start_lenta [--demo]: serves $T/data on $LENTA_PORT in the background; its pid in LENTA_PID.
start_lenta() {
    "$LENTA" serve "$@" --data-dir "$T/data" --addr "127.0.0.1:$LENTA_PORT" --max-age "$MAX_AGE" \
        --log-format json >>"$T/lenta.log" 2>&1 &
    LENTA_PID=$!
    PIDS+=("$LENTA_PID")
    wait_http "$LENTA_URL/healthz"
}
if ! start_lenta --demo; then
    cat "$T/lenta.log"
    echo "interop: lenta did not start"
    exit 1
fi
echo "lenta $("$LENTA" --version 2>/dev/null) on $LENTA_URL (max-age $MAX_AGE)"

# ---------------------------------------------------------------- Dzen feed
# dzen.rng (written from Dzen's unified-feed rules and RSS 2.0) accepts a minimal Dzen item and
# refuses one without media:rating, so a validation below means something; then the demo's feeds
# (anchored to the time they were loaded, so the 3-day window is not empty) validate.
DZEN_MINIMAL='<rss version="2.0" xmlns:yandex="http://news.yandex.ru" xmlns:media="http://search.yahoo.com/mrss/" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title><link>http://x/</link><description>D</description><yandex:logo>http://x/l.png</yandex:logo><yandex:logo type="square">http://x/s.png</yandex:logo><item><title>I</title><link>http://x/a/1</link><guid isPermaLink="false">tag:x,2026:article:1</guid><pubDate>Mon, 30 Nov 2026 12:00:00 +0300</pubDate><contentType>news</contentType><media:rating scheme="urn:simple">nonadult</media:rating><content:encoded>&lt;p&gt;x&lt;/p&gt;</content:encoded><enclosure url="http://x/i.jpg" type="image/jpeg"/></item></channel></rss>'

dzen_rng_self_test() {
    echo "$DZEN_MINIMAL" | xmllint --noout --relaxng "$HERE/dzen.rng" - 2>"$T/rng.err" \
        || { cat "$T/rng.err"; fail "a minimal Dzen feed does not validate"; return 1; }
    echo "$DZEN_MINIMAL" | sed 's|<media:rating[^/]*/media:rating>||' \
        | xmllint --noout --relaxng "$HERE/dzen.rng" - 2>/dev/null && { fail "an item without media:rating validates"; return 1; }
    echo "$DZEN_MINIMAL" | sed 's|+0300|MSK|' \
        | xmllint --noout --relaxng "$HERE/dzen.rng" - 2>/dev/null && { fail "a pubDate with a zone name validates"; return 1; }
    echo "  dzen.rng accepts a minimal feed, refuses a missing rating and a zone name"
}

dzen_feeds_validate() {
    local path items
    for path in /dzen.rss /regions/RU-NIZ/dzen.rss; do
        fetch "$LENTA_URL$path"
        [ "$(status)" = 200 ] || fail "$path: status $(status)" || return 1
        xmllint --noout --relaxng "$HERE/dzen.rng" "$T/b" 2>"$T/rng.err" \
            || { tail -5 "$T/rng.err"; fail "$path does not validate against dzen.rng"; return 1; }
    done
    fetch "$LENTA_URL/dzen.rss"
    items=$(grep -o '<item>' "$T/b" | wc -l)
    [ "$items" -ge 1 ] || fail "/dzen.rss of the demo is empty" || return 1
    echo "  /dzen.rss ($items items) and /regions/RU-NIZ/dzen.rss validate against dzen.rng"
}

check "dzen.rng: self-test" dzen_rng_self_test
check "Dzen feeds of the demo validate against dzen.rng" dzen_feeds_validate

# ---------------------------------------------------------------- Yandex feed
# yandex.rng (written from Yandex's fresh-news RSS rules and RSS 2.0; its header says what was
# verified from Yandex's pages) accepts a minimal Yandex item and refuses one without
# yandex:full-text, with an empty one, with a genre outside message/article/interview and with
# a zone name in pubDate; then the demo's feeds validate, whole, per region and with query
# parameters, and with a syndicated article stored without a body or a lead.
YANDEX_MINIMAL='<rss version="2.0" xmlns:yandex="http://news.yandex.ru"><channel><title>T</title><link>http://x/</link><description>D</description><yandex:logo>http://x/l.png</yandex:logo><yandex:logo type="square">http://x/s.png</yandex:logo><item><title>I</title><link>http://x/a/1</link><pubDate>Tue, 21 Apr 2015 14:15:00 +0300</pubDate><yandex:full-text>Весь текст.</yandex:full-text><yandex:genre>message</yandex:genre></item></channel></rss>'

# yandex_refuses WHAT SED_SCRIPT: the minimal feed edited by SED_SCRIPT must not validate.
yandex_refuses() {
    echo "$YANDEX_MINIMAL" | sed "$2" | grep -qF "$YANDEX_MINIMAL" && { fail "sed '$2' changed nothing"; return 1; }
    echo "$YANDEX_MINIMAL" | sed "$2" \
        | xmllint --noout --relaxng "$HERE/yandex.rng" - 2>/dev/null && { fail "$1 validates"; return 1; }
    return 0
}

yandex_rng_self_test() {
    echo "$YANDEX_MINIMAL" | xmllint --noout --relaxng "$HERE/yandex.rng" - 2>"$T/rng.err" \
        || { cat "$T/rng.err"; fail "a minimal Yandex feed does not validate"; return 1; }
    local genre
    for genre in article interview; do
        echo "$YANDEX_MINIMAL" | sed "s|>message<|>$genre<|" \
            | xmllint --noout --relaxng "$HERE/yandex.rng" - 2>/dev/null || fail "genre $genre refused" || return 1
    done
    echo "$YANDEX_MINIMAL" | sed 's|<yandex:genre>[a-z]*</yandex:genre>||' \
        | xmllint --noout --relaxng "$HERE/yandex.rng" - 2>/dev/null || fail "an item without a genre refused" || return 1
    yandex_refuses "an item without yandex:full-text" 's|<yandex:full-text>[^<]*</yandex:full-text>||' || return 1
    yandex_refuses "an empty yandex:full-text" 's|<yandex:full-text>[^<]*</yandex:full-text>|<yandex:full-text> </yandex:full-text>|' || return 1
    yandex_refuses "genre news" 's|>message<|>news<|' || return 1
    yandex_refuses "a pubDate with a zone name" 's|+0300|MSK|' || return 1
    yandex_refuses "a channel without the square logo" 's|<yandex:logo type="square">[^<]*</yandex:logo>||' || return 1
    yandex_refuses "the yandex elements in another namespace" 's|http://news.yandex.ru|http://yandex.ru|' || return 1
    echo "  yandex.rng accepts a minimal feed (each genre, or none) and refuses a missing or empty" \
        "full-text, genre news, a zone name, a missing square logo, another namespace"
}

# yandex_validates PATH [MIN_ITEMS]: 200, valid against yandex.rng, at least MIN_ITEMS items;
# prints the number of items (failures go to stderr: callers capture stdout).
yandex_validates() {
    fetch "$LENTA_URL$1"
    [ "$(status)" = 200 ] || fail "$1: status $(status)" >&2 || return 1
    xmllint --noout --relaxng "$HERE/yandex.rng" "$T/b" 2>"$T/rng.err" \
        || { tail -5 "$T/rng.err" >&2; fail "$1 does not validate against yandex.rng" >&2; return 1; }
    local items
    items=$(grep -o '<item>' "$T/b" | wc -l)
    [ "$items" -ge "${2:-0}" ] || fail "$1: $items items, expected at least ${2:-0}" >&2 || return 1
    echo "$items"
}

yandex_feeds_validate() {
    local all region category regional limited wire
    all=$(yandex_validates /yandex.rss 1) || return 1
    # A region and a category of the first item (from the JSON API), so the regional and the
    # filtered feed are not empty.
    local first
    first=$(grep -o '<link>[^<]*/articles/[0-9]*</link>' "$T/b" | head -n 1 | sed 's|.*/articles/\([0-9]*\)<.*|\1|')
    [ -n "$first" ] || fail "no article link in /yandex.rss" || return 1
    fetch "$LENTA_URL/api/articles/$first"
    region=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["regions"][0])' "$T/b")
    category=$("$PY" -c 'import json, sys, urllib.parse; print(urllib.parse.quote(json.load(open(sys.argv[1]))["categories"][0]))' "$T/b")
    [ -n "$region" ] && [ -n "$category" ] || fail "article $first: no region or category" || return 1
    yandex_validates /regions/RU-NIZ/yandex.rss >/dev/null || return 1
    regional=$(yandex_validates "/regions/$region/yandex.rss" 1) || return 1
    limited=$(yandex_validates "/yandex.rss?category=$category&limit=5" 1) || return 1
    [ "$limited" -le 5 ] || fail "?limit=5 gave $limited items" || return 1
    # A syndicated article with neither body nor lead: its full text is its title.
    local title="Interop: молния без текста $$"
    local body
    body=$(printf '{"external_id":"interop-bare-%s","title":"%s","published_at":"%s","regions":["RU-KGD"]}' "$$" "$title" "$(date -u -d '-5 seconds' +%Y-%m-%dT%H:%M:%SZ)")
    fetch "$LENTA_URL/api/articles" -X POST -H "Authorization: Bearer $WIRE_TOKEN" \
        -H "Content-Type: application/json" --data-binary "$body"
    [ "$(status)" = 201 ] || { cat "$T/b"; fail "POST of a bare article: $(status), expected 201"; return 1; }
    wire=$(yandex_validates /regions/RU-KGD/yandex.rss 1) || return 1
    grep -qF "<yandex:full-text>$title</yandex:full-text>" "$T/b" \
        || fail "the bare article's full text is not its title" || return 1
    echo "  /yandex.rss ($all items), /regions/RU-NIZ/yandex.rss, /regions/$region/yandex.rss ($regional)," \
        "?category=…&limit=5 ($limited) and RU-KGD with a bare syndicated article ($wire) validate"
}

check "yandex.rng: self-test" yandex_rng_self_test
check "Yandex feeds of the demo validate against yandex.rng" yandex_feeds_validate

# ---------------------------------------------------------------- nginx
NGINX_PORT=$(free_port)
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
N="$T/nginx"
mkdir -p "$N/cache" "$N/tmp"
# The lenta part of deploy/nginx.conf, verbatim but for the lines marked TEMPLATE.
sed -n '/# ---- BEGIN lenta ----/,/# ---- END lenta ----/p' "$ROOT/deploy/nginx.conf" \
    | sed -e "s|/var/cache/nginx/lenta|$N/cache|" \
          -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$LENTA_PORT;|" \
          -e "s|listen 80;|listen 127.0.0.1:$NGINX_PORT;|" \
          -e "s|/var/log/nginx/lenta.access.log|$N/lenta.access.log|" >"$N/lenta.conf"
for expected in "$N/cache" "127.0.0.1:$LENTA_PORT;" "listen 127.0.0.1:$NGINX_PORT;" "$N/lenta.access.log" \
    proxy_cache_revalidate proxy_cache_lock "X-Cache-Status" http_502; do
    if ! grep -qF -- "$expected" "$N/lenta.conf"; then
        echo "interop: deploy/nginx.conf changed shape: no '$expected' after substitution"
        exit 1
    fi
done
{
    echo "daemon off;"
    echo "worker_processes 1;"
    echo "pid $N/nginx.pid;"
    echo "error_log $N/error.log notice;"
    # Workers of a root master would run as nobody, who cannot write into this directory.
    [ "$(id -u)" = 0 ] && echo "user root;"
    echo "events { worker_connections 256; }"
    echo "http {"
    echo "    access_log $N/access.log;"
    for t in client_body proxy fastcgi uwsgi scgi; do
        echo "    ${t}_temp_path $N/tmp/$t;"
    done
    cat "$N/lenta.conf"
    echo "}"
} >"$N/nginx.conf"
if ! nginx -t -q -e "$N/error.log" -p "$N" -c "$N/nginx.conf"; then
    cat "$N/error.log"
    echo "interop: nginx rejected the config"
    exit 1
fi
nginx -e "$N/error.log" -p "$N" -c "$N/nginx.conf" &
PIDS+=($!)
if ! wait_http "$NGINX_URL/healthz"; then
    cat "$N/error.log"
    echo "interop: nginx did not start"
    exit 1
fi
echo "$(nginx -v 2>&1) on $NGINX_URL"

# ---------------------------------------------------------------- feedparser
for path in /feed.rss /feed.atom "/regions/RU-NIZ/feed.atom" "/feed.rss?region=RU-MOW&limit=5"; do
    check "feedparser polls $path" "$PY" "$HERE/feedparser_poll.py" "$LENTA_URL$path"
done
check "feedparser polls /feed.rss through nginx" "$PY" "$HERE/feedparser_poll.py" "$NGINX_URL/feed.rss?limit=20"

# ---------------------------------------------------------------- nginx proxy_cache
FEED="/feed.rss?region=RU-NIZ"
AE="gzip, deflate, br"

nginx_miss_then_hit() {
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: gzip"
    [ "$(status)" = 200 ] || fail "status $(status)" || return 1
    [ "$(hdr X-Cache-Status)" = MISS ] || fail "first request: X-Cache-Status $(hdr X-Cache-Status), expected MISS" || return 1
    [ "$(hdr Content-Encoding)" = gzip ] || fail "Content-Encoding '$(hdr Content-Encoding)'" || return 1
    local etag
    etag=$(hdr ETag)
    cp "$T/b" "$T/first.gz"
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: gzip"
    [ "$(hdr X-Cache-Status)" = HIT ] || fail "second request: X-Cache-Status $(hdr X-Cache-Status), expected HIT" || return 1
    [ "$(hdr ETag)" = "$etag" ] || fail "ETag changed on a hit: $etag -> $(hdr ETag)" || return 1
    cmp -s "$T/b" "$T/first.gz" || fail "a hit served different bytes" || return 1
    # The cached body is one lenta vouches for. Its first gzip answer of a page may be a quick
    # one (ETag -gzs or -gzf) that lenta replaces by the --gzip-level body (-gz) when idle
    # (src/http/first_gzip.rs): lenta still answers 304 to the tag nginx holds, and when lenta's
    # current tag is the same, so are the bytes.
    fetch "$LENTA_URL$FEED" -H "Accept-Encoding: gzip" -H "If-None-Match: $etag"
    [ "$(status)" = 304 ] || fail "lenta does not validate nginx's ETag $etag: $(status)" || return 1
    fetch "$LENTA_URL$FEED" -H "Accept-Encoding: gzip"
    if [ "$(hdr ETag)" = "$etag" ]; then
        cmp -s "$T/b" "$T/first.gz" || fail "nginx served other bytes than lenta under $etag" || return 1
    else
        case $etag in *-gzs\"|*-gzf\") ;; *) fail "nginx ETag $etag, lenta's $(hdr ETag)"; return 1 ;; esac
        gzip -dc "$T/first.gz" | cmp -s - <(gzip -dc "$T/b") || fail "quick and whole bodies differ" || return 1
    fi
    echo "  MISS then HIT, ETag $etag"
}

nginx_keeps_codings_apart() {
    # Every client spelling of an Accept-Encoding that selects gzip shares the gzip entry.
    # (Not MISS rather than HIT: on a slow machine the entry may already need revalidation.)
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: deflate, gzip;q=0.8, br;q=0"
    [ "$(hdr X-Cache-Status)" != MISS ] || fail "gzip spelt otherwise missed the gzip entry" || return 1
    [ "$(hdr Content-Encoding)" = gzip ] || fail "br;q=0 client got '$(hdr Content-Encoding)'" || return 1
    # A client without Accept-Encoding must never get the cached gzip body.
    fetch "$NGINX_URL$FEED"
    [ "$(hdr X-Cache-Status)" = MISS ] || fail "identity: $(hdr X-Cache-Status), expected MISS" || return 1
    [ -z "$(hdr Content-Encoding)" ] || fail "identity client got Content-Encoding $(hdr Content-Encoding)" || return 1
    head -c 5 "$T/b" | grep -q '<?xml' || fail "identity body is not XML" || return 1
    local identity_etag
    identity_etag=$(hdr ETag)
    cp "$T/b" "$T/identity.xml"
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: identity"
    [ "$(hdr X-Cache-Status)" != MISS ] || fail "identity again missed the identity entry" || return 1
    [ -z "$(hdr Content-Encoding)" ] || fail "identity client got Content-Encoding $(hdr Content-Encoding)" || return 1
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: $AE"
    [ "$(hdr X-Cache-Status)" = MISS ] || fail "br: $(hdr X-Cache-Status), expected MISS" || return 1
    [ "$(hdr Content-Encoding)" = br ] || fail "br client got '$(hdr Content-Encoding)'" || return 1
    [ "$(hdr ETag)" != "$identity_etag" ] || fail "br and identity share an ETag" || return 1
    [ "$(hdr Vary)" = "Accept-Encoding" ] || fail "Vary '$(hdr Vary)' not passed on to clients" || return 1
    # gzip bytes from the cache decompress to the identity bytes.
    gzip -dc "$T/first.gz" | cmp -s - "$T/identity.xml" || fail "gunzipped body differs from identity" || return 1
    echo "  gzip, identity and br cached apart; Vary passed on"
}

nginx_answers_client_conditionals() {
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: gzip"
    local etag lm
    etag=$(hdr ETag)
    lm=$(hdr Last-Modified)
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: gzip" -H "If-None-Match: $etag"
    [ "$(status)" = 304 ] || fail "If-None-Match through nginx: $(status), expected 304" || return 1
    [ ! -s "$T/b" ] || fail "304 with a body" || return 1
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: gzip" -H "If-Modified-Since: $lm"
    [ "$(status)" = 304 ] || fail "If-Modified-Since through nginx: $(status), expected 304" || return 1
    [ ! -s "$T/b" ] || fail "304 with a body" || return 1
    # A reader's date that is later than Last-Modified but not byte-equal to it (if_modified_since before).
    local later
    later=$(LC_ALL=C date -u -d "@$(($(date -u -d "$lm" +%s) + 3600))" '+%a, %d %b %Y %H:%M:%S GMT')
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: gzip" -H "If-Modified-Since: $later"
    [ "$(status)" = 304 ] || fail "If-Modified-Since: $later (after $lm) through nginx: $(status), expected 304" || return 1
    echo "  nginx answers If-None-Match and If-Modified-Since from the cache with 304"
}

nginx_revalidates_with_lenta() {
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: gzip"
    local etag before after
    etag=$(hdr ETag)
    before=$(metric lenta_not_modified_total)
    sleep $((MAX_AGE + 1))
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: gzip"
    [ "$(status)" = 200 ] || fail "status $(status)" || return 1
    [ "$(hdr X-Cache-Status)" = REVALIDATED ] \
        || fail "after max-age: X-Cache-Status $(hdr X-Cache-Status), expected REVALIDATED" || return 1
    [ "$(hdr ETag)" = "$etag" ] || fail "ETag changed on revalidation" || return 1
    cmp -s "$T/b" "$T/first.gz" || fail "revalidated body differs" || return 1
    after=$(metric lenta_not_modified_total)
    [ "$after" -gt "$before" ] || fail "lenta_not_modified_total $before -> $after: lenta did not answer 304" || return 1
    grep -q "$FEED.*cache=REVALIDATED upstream=304" "$N/lenta.access.log" \
        || fail "nginx's log shows no REVALIDATED with an upstream 304" || return 1
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: gzip"
    [ "$(hdr X-Cache-Status)" = HIT ] || fail "after revalidation: $(hdr X-Cache-Status), expected HIT" || return 1
    echo "  after ${MAX_AGE}s: REVALIDATED (lenta answered 304: not_modified $before -> $after), then HIT"
}

nginx_serves_a_new_article_after_max_age() {
    local title="Interop: новость $$ из Нижнего Новгорода"
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: identity"
    local old_etag
    old_etag=$(hdr ETag)
    grep -qF "$title" "$T/b" && fail "the title is there before the write" && return 1
    # Another region's feed, cached before the write.
    local other="/feed.rss?region=RU-MOW"
    fetch "$NGINX_URL$other" -H "Accept-Encoding: gzip"
    local other_etag
    other_etag=$(hdr ETag)
    # The write goes through nginx too: POST is passed on, never cached.
    local body
    # Published a moment ago: newer than every stored article, so first in the feed, and not in
    # the future (a future published_at is a scheduled article, in no feed until then).
    body=$(printf '{"external_id":"interop-%s","title":"%s","published_at":"%s","regions":["RU-NIZ"]}' "$$" "$title" "$(date -u -d '-2 seconds' +%Y-%m-%dT%H:%M:%SZ)")
    fetch "$NGINX_URL/api/articles" -X POST -H "Authorization: Bearer $TOKEN" \
        -H "Content-Type: application/json" --data-binary "$body"
    [ "$(status)" = 201 ] || { cat "$T/b"; fail "POST through nginx: $(status), expected 201"; return 1; }
    # lenta itself shows it at once.
    fetch "$LENTA_URL$FEED"
    grep -qF "$title" "$T/b" || fail "lenta does not show the new article" || return 1
    sleep $((MAX_AGE + 1))
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: identity"
    [ "$(status)" = 200 ] || fail "status $(status)" || return 1
    grep -qF "$title" "$T/b" || fail "nginx still serves the old feed after max-age ($(hdr X-Cache-Status))" || return 1
    [ "$(hdr ETag)" != "$old_etag" ] || fail "new content under the old ETag" || return 1
    [ "$(hdr X-Cache-Status)" = EXPIRED ] || fail "X-Cache-Status $(hdr X-Cache-Status), expected EXPIRED" || return 1
    fetch "$NGINX_URL$FEED" -H "Accept-Encoding: identity"
    [ "$(hdr X-Cache-Status)" = HIT ] && grep -qF "$title" "$T/b" || fail "the new feed is not cached" || return 1
    # The write did not touch the other region: its entry is revalidated (lenta's 304), not refetched.
    fetch "$NGINX_URL$other" -H "Accept-Encoding: gzip"
    [ "$(hdr X-Cache-Status)" = REVALIDATED ] \
        || fail "RU-MOW after a write in RU-NIZ: $(hdr X-Cache-Status), expected REVALIDATED" || return 1
    [ "$(hdr ETag)" = "$other_etag" ] || fail "RU-MOW's ETag changed after a write in RU-NIZ" || return 1
    echo "  new article visible through nginx after max-age (EXPIRED, new ETag), then HIT;" \
        "RU-MOW only REVALIDATED"
}

nginx_does_not_cache_metrics() {
    fetch "$NGINX_URL/metrics"
    [ "$(status)" = 200 ] || fail "/metrics through nginx: $(status)" || return 1
    local cache
    cache=$(hdr X-Cache-Status)
    [ -z "$cache" ] || fail "/metrics went through the cache ($cache)" || return 1
    echo "  /metrics passed through uncached"
}

check "nginx: MISS then HIT with lenta's bytes" nginx_miss_then_hit
check "nginx: content codings cached apart" nginx_keeps_codings_apart
check "nginx: client conditional requests" nginx_answers_client_conditionals
check "nginx: REVALIDATED with lenta's 304 after max-age" nginx_revalidates_with_lenta
check "nginx: a write shows after max-age" nginx_serves_a_new_article_after_max_age
check "nginx: /metrics not cached" nginx_does_not_cache_metrics

# ---------------------------------------------------------------- origin down
# Feeds cached before lenta stops, each with the content coding it is asked with.
DOWN_FEEDS=("/feed.rss?region=RU-NIZ|gzip" "/feed.atom|identity" "/regions/RU-MOW/feed.json|br"
    "/feed.json?limit=5|gzip" "/api/articles?region=RU-SPE&limit=3|identity")

# fetch_coded ENTRY: fetches "path|coding" through nginx.
fetch_coded() {
    local path=${1%|*} coding=${1##*|}
    if [ "$coding" = identity ]; then
        fetch "$NGINX_URL$path"
    else
        fetch "$NGINX_URL$path" -H "Accept-Encoding: $coding"
    fi
}

nginx_serves_stale_while_lenta_is_down() {
    local i entry cache
    # Warm: every feed cached, its ETag and bytes kept.
    for i in "${!DOWN_FEEDS[@]}"; do
        entry=${DOWN_FEEDS[$i]}
        fetch_coded "$entry"
        [ "$(status)" = 200 ] || fail "warming $entry: $(status)" || return 1
        fetch_coded "$entry"
        [ "$(hdr X-Cache-Status)" = HIT ] || [ "$(hdr X-Cache-Status)" = REVALIDATED ] \
            || fail "warming $entry: $(hdr X-Cache-Status), expected it cached" || return 1
        hdr ETag >"$T/down-etag-$i"
        cp "$T/b" "$T/down-body-$i"
    done
    kill -TERM "$LENTA_PID"
    wait "$LENTA_PID" 2>/dev/null
    curl -fs -o /dev/null "$LENTA_URL/healthz" && { fail "lenta still answers after SIGTERM"; return 1; }
    fetch "$NGINX_URL/healthz"
    [ "$(status)" = 502 ] || fail "/healthz (never cached) through nginx with lenta down: $(status), expected 502" || return 1
    # Within max-age (HIT) or just after (STALE): 200 with the cached bytes, never 502.
    local round seen=""
    for round in fresh expired; do
        # Past max-age and lenta's stale-while-revalidate (= max-age here): only
        # proxy_cache_use_stale error/http_502 can answer from the cache now.
        [ "$round" = expired ] && sleep $((2 * MAX_AGE + 1))
        for i in "${!DOWN_FEEDS[@]}"; do
            entry=${DOWN_FEEDS[$i]}
            fetch_coded "$entry"
            cache=$(hdr X-Cache-Status)
            [ "$(status)" = 200 ] || fail "$round, lenta down: $entry answered $(status) ($cache)" || return 1
            case "$round/$cache" in
                fresh/HIT | fresh/STALE | expired/STALE) ;;
                *) fail "$round, lenta down: $entry X-Cache-Status $cache" || return 1 ;;
            esac
            [ "$(hdr ETag)" = "$(cat "$T/down-etag-$i")" ] || fail "$entry: ETag changed while lenta is down" || return 1
            cmp -s "$T/b" "$T/down-body-$i" || fail "$entry: other bytes while lenta is down" || return 1
            seen="$seen $cache"
        done
    done
    grep -q "cache=STALE upstream=502" "$N/lenta.access.log" \
        || fail "nginx's log shows no STALE answer for a 502 upstream" || return 1
    echo "  lenta stopped: ${#DOWN_FEEDS[@]} cached feeds served 200 with their bytes ($(echo $seen | tr ' ' '\n' | sort | uniq -c | tr -s ' \n' ' ')); uncached /healthz 502"
}

nginx_revalidates_after_lenta_restarts() {
    start_lenta || { fail "lenta did not restart on the same data dir and port"; return 1; }
    local i entry cache tries
    # Every entry is stale now: the first request revalidates with lenta's validators, which
    # are the same after a restart, so lenta answers 304 (REVALIDATED).
    for i in "${!DOWN_FEEDS[@]}"; do
        entry=${DOWN_FEEDS[$i]}
        fetch_coded "$entry"
        cache=$(hdr X-Cache-Status)
        [ "$(status)" = 200 ] || fail "after restart: $entry $(status)" || return 1
        [ "$cache" = REVALIDATED ] || fail "after restart: $entry X-Cache-Status $cache, expected REVALIDATED" || return 1
        [ "$(hdr ETag)" = "$(cat "$T/down-etag-$i")" ] || fail "$entry: ETag changed across the restart" || return 1
        cmp -s "$T/b" "$T/down-body-$i" || fail "$entry: other bytes after the restart" || return 1
    done
    local not_modified
    not_modified=$(metric lenta_not_modified_total)
    [ "${not_modified:-0}" -ge "${#DOWN_FEEDS[@]}" ] \
        || fail "restarted lenta answered ${not_modified:-0} 304s, expected ${#DOWN_FEEDS[@]}" || return 1
    # A write after the restart reaches readers through nginx after max-age (EXPIRED).
    local title="Interop: после перезапуска $$"
    local body
    body=$(printf '{"external_id":"interop-restart-%s","title":"%s","published_at":"%s","regions":["RU-NIZ"]}' "$$" "$title" "$(date -u -d '-1 seconds' +%Y-%m-%dT%H:%M:%SZ)")
    fetch "$LENTA_URL/api/articles" -X POST -H "Authorization: Bearer $TOKEN" \
        -H "Content-Type: application/json" --data-binary "$body"
    [ "$(status)" = 201 ] || { cat "$T/b"; fail "POST after restart: $(status)"; return 1; }
    sleep $((MAX_AGE + 1))
    entry=${DOWN_FEEDS[0]}
    fetch_coded "$entry"
    [ "$(status)" = 200 ] && [ "$(hdr X-Cache-Status)" = EXPIRED ] \
        || fail "after a write: $entry $(status) $(hdr X-Cache-Status), expected 200 EXPIRED" || return 1
    gzip -dc "$T/b" | grep -qF "$title" || fail "the new article is not in $entry" || return 1
    echo "  restarted on the same data dir and port: ${#DOWN_FEEDS[@]} entries REVALIDATED" \
        "(lenta's 304s: $not_modified, same ETags and bytes); a new write EXPIRED the feed"
}

check "origin down: nginx serves cached feeds (HIT, then STALE) instead of 502" nginx_serves_stale_while_lenta_is_down
check "origin down: lenta restarted, revalidation resumes" nginx_revalidates_after_lenta_restarts

if [ "$FAILED" -gt 0 ]; then
    echo "== failed: ${FAILURES[*]}"
    echo "== lenta log (last 20 lines)"
    tail -n 20 "$T/lenta.log"
    echo "== nginx error log"
    tail -n 20 "$N/error.log"
    echo "== nginx cache log"
    tail -n 40 "$N/lenta.access.log"
fi
echo "interop: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
