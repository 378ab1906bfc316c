#!/usr/bin/env bash
# Load benchmark of the cache-missing path (issue 13): distinct feed queries, memory and threads.
# A benchmark, not a test (CI does not run it); the numbers mean something relative to the
# BASELINE binary measured in the same run on the same machine.
#
#   benches/load/cold.sh NEW_BIN BASELINE_BIN [--stores 100k,1m] [--conns 8,32,128,1024]
#       [--duration 15] [--rounds 1] [--parts cold,same,probe,check] [--same-conns 1,32]
#       [--probe-conns N] [--warmup 2] [--settle 5] [--timeout 10] [--max-rss-mb MB]
#
# NEW_BIN is this build (e.g. target/release/lenta), BASELINE_BIN another one (e.g. a copy of
# main's release binary). Extra `serve` flags for both go in SERVER_ARGS, e.g.
# SERVER_ARGS='--render-cache-mb 8 --store-cache-mb 32'. Needs wrk (installed with apt-get when
# missing), curl, python3 and taskset; everything runs on loopback.
#
# Stores: `lenta gen --articles N --seed 1 | lenta import -` into target/bench-stores/N (the
# layout benches/feeds.rs uses, honouring CARGO_TARGET_DIR), built with NEW_BIN when missing or
# when their article count (the `lenta_articles` gauge of /metrics) is not N. The 1M store takes
# a few minutes and several GB once; after a change of the on-disk layout delete the directory.
#
# Parts (--parts picks some; all by default):
#   cold   every request a different cache-missing feed query (benches/load/cold.lua `distinct`:
#          region x start day x span x limit x format, never repeating), gzip. For each round,
#          store and concurrency, NEW and BASELINE each run on a freshly started server,
#          alternately (which goes first alternates per round): WARMUP s of other distinct
#          queries, then DURATION s measured. /proc/PID/status is sampled every 200 ms from 1 s
#          before the load to SETTLE s after it: RSS before, peak RSS (the larger of the samples
#          and VmHWM), peak threads, RSS after. req/s counts 200s only; 503s (expected from a
#          server that queues and sheds) and other statuses are counted apart, socket errors and
#          timeouts too. p50/p99 are wrk's over every answer, 503s included.
#   same   the same 50-item page shape (/regions/RU-NIZ/feed.rss) made cache-missing by a
#          far-future `to=` that changes on every request, on each store at each --same-conns;
#          the cost ratio 1M/100k is req/s(100k) / req/s(1M) (the issue's flat-cost target).
#   probe  the cached path and /healthz while the cold load runs at --probe-conns (default the
#          largest --conns): two extra wrk probes at ~100 req/s per connection (2 connections
#          each) on a cached gzip feed and on /healthz, p50/p99 idle and under load.
#   check  `lenta check` wall time on each store, with each binary, and the ratio 1M/100k.
#
# The server runs with LENTA_LOG=warn, pinned with taskset to cores 1..N-1 and every wrk to
# core 0 (SERVER_CPUS / WRK_CPU override; no pinning on a single core). A run stops by itself:
# each server is stopped after its measurement, and a server whose RSS passes --max-rss-mb
# (default half of MemAvailable at start) is killed so that a shared machine survives; its row
# then says so. Rough duration: rounds x stores x conns x 2 x (DURATION + WARMUP + SETTLE + ~3 s)
# for `cold`, plus ~1 min per store for the rest and `lenta check` (85-200 s on 1M per binary).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LUA=$ROOT/benches/load/cold.lua

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-2}"
}

STORES=100k,1m
CONNS=8,32,128,1024
DURATION=15
ROUNDS=1
PARTS=cold,same,probe,check
SAME_CONNS=1,32
PROBE_CONNS=
WARMUP=2
SETTLE=5
TIMEOUT=10
MAX_RSS_MB=$(($(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) / 2048))
POSITIONAL=()
while [ $# -gt 0 ]; do
    case $1 in
        --stores) STORES=$2 ;;
        --conns) CONNS=$2 ;;
        --duration) DURATION=$2 ;;
        --rounds) ROUNDS=$2 ;;
        --parts) PARTS=$2 ;;
        --same-conns) SAME_CONNS=$2 ;;
        --probe-conns) PROBE_CONNS=$2 ;;
        --warmup) WARMUP=$2 ;;
        --settle) SETTLE=$2 ;;
        --timeout) TIMEOUT=$2 ;;
        --max-rss-mb) MAX_RSS_MB=$2 ;;
        -h | --help) usage 0 ;;
        -*) echo "unknown option $1" >&2; usage ;;
        *) POSITIONAL+=("$1"); shift; continue ;;
    esac
    [ $# -ge 2 ] || { echo "$1 needs a value" >&2; usage; }
    shift 2
done
[ ${#POSITIONAL[@]} = 2 ] || usage
NEW=$(realpath "${POSITIONAL[0]}")
BASE=$(realpath "${POSITIONAL[1]}")
for bin in "$NEW" "$BASE"; do
    [ -x "$bin" ] || { echo "no lenta binary at $bin (cargo build --release)" >&2; exit 2; }
done
IFS=, read -ra STORE_LIST <<<"$STORES"
IFS=, read -ra CONN_LIST <<<"$CONNS"
IFS=, read -ra SAME_CONN_LIST <<<"$SAME_CONNS"
[ -n "$PROBE_CONNS" ] || PROBE_CONNS=$(printf '%s\n' "${CONN_LIST[@]}" | sort -n | tail -n1)
part() { [[ ",$PARTS," == *",$1,"* ]]; }
read -ra EXTRA <<<"${SERVER_ARGS:-}"

if ! command -v wrk >/dev/null; then
    echo "wrk is missing: installing Debian's wrk package" >&2
    SUDO=()
    [ "$(id -u)" = 0 ] || SUDO=(sudo)
    "${SUDO[@]}" apt-get install -y -q wrk >&2 || { "${SUDO[@]}" apt-get update -q >&2 && "${SUDO[@]}" apt-get install -y -q wrk >&2; }
fi
for tool in wrk curl python3 taskset; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
# wrk -c1024 and a server holding as many sockets.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
    WRK_CPU=${WRK_CPU:-0}
    SERVER_CPUS=${SERVER_CPUS:-$([ "$NCPU" = 2 ] && echo 1 || echo "1-$((NCPU - 1))")}
    PIN_SERVER=(taskset -c "$SERVER_CPUS")
    PIN_WRK=(taskset -c "$WRK_CPU")
else
    PIN_SERVER=()
    PIN_WRK=()
fi
export LENTA_LOG=warn
STORES_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/bench-stores

T=$(mktemp -d /tmp/lenta-cold.XXXXXX)
SPID=
SAMPLER=
BG=()
cleanup() {
    for pid in $SAMPLER "${BG[@]}" $SPID; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in $SAMPLER "${BG[@]}" $SPID; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# articles LABEL: 100k -> 100000, 1m -> 1000000, 5000 -> 5000.
articles() {
    case ${1,,} in
        *k) echo $((${1%[kK]} * 1000)) ;;
        *m) echo $((${1%[mM]} * 1000000)) ;;
        *) echo $(($1)) ;;
    esac
}

# start_server BIN DIR: a fresh `lenta serve` on DIR; sets SPID and URL.
start_server() {
    local bin=$1 dir=$2 port
    shift 2
    port=$(free_port)
    URL=http://127.0.0.1:$port
    # Every measurement starts from a store in the OS page cache: this machine's proactive
    # reclaim (DAMON) evicts the 4 GB 1M store within minutes, and a run measured on the disk
    # says nothing about lenta (seen: 27 req/s at 8 connections after the 100k part).
    warm_store "$dir"
    "${PIN_SERVER[@]}" "$bin" serve --data-dir "$dir" --addr "127.0.0.1:$port" "${EXTRA[@]}" "$@" \
        >>"$T/server.log" 2>&1 &
    SPID=$!
    # Opening a big store (or converting an older layout) can take a while.
    for _ in $(seq 1200); do
        curl -fs -o /dev/null "$URL/healthz" && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    echo "lenta serve ($bin on $dir) did not come up:" >&2
    tail -n 20 "$T/server.log" >&2
    exit 1
}

# stop_server: SIGTERM, then SIGKILL after 20 s; waits for the process.
stop_server() {
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null || true
    for _ in $(seq 200); do
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=
}

# metric NAME: the value of an unlabelled metric of the running server ("" if absent).
metric() {
    { curl -fs "$URL/metrics" 2>/dev/null || true; } | awk -v n="$1" '$1 == n { print $2 }'
}

# warm_store DIR: reads the store's files (start_server does, every time), so that no binary
# measured on a store pays for the disk while another finds everything in the OS page cache (seen: 31 vs 177
# req/s on the 1M store at 8 connections in the first round, 585 vs 302 in the second).
warm_store() {
    find "$1" -type f -exec cat {} + >/dev/null
}

# ensure_store LABEL: sets STORE_DIR to the data dir of the LABEL store, building it if needed.
ensure_store() {
    local n dir count
    n=$(articles "$1")
    dir=$STORES_DIR/$n
    if [ -d "$dir" ]; then
        start_server "$NEW" "$dir"
        count=$(metric lenta_articles)
        stop_server
        if [ "$count" = "$n" ]; then
            echo "store $1: reusing $dir ($n articles)" >&2
            STORE_DIR=$dir
            return
        fi
        echo "store $1: $dir has ${count:-?} articles, not $n: rebuilding" >&2
        rm -rf "$dir"
    fi
    mkdir -p "$STORES_DIR"
    echo "store $1: building $dir: lenta gen --articles $n --seed 1 | lenta import -" >&2
    local started=$EPOCHREALTIME
    "$NEW" gen --articles "$n" --seed 1 | "$NEW" import - --data-dir "$dir" >"$T/import.out"
    grep -q "^imported $n (created $n, updated 0), rejected 0" "$T/import.out" || {
        cat "$T/import.out" >&2
        echo "store $1: import did not create $n articles" >&2
        exit 1
    }
    echo "store $1: built in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s" >&2
    STORE_DIR=$dir
}

# sampler PID OUT: every ~200 ms one line "PHASE RSS_KB THREADS" from /proc/PID/status, the phase
# being the content of $T/phase. Kills the server if its RSS passes MAX_RSS_MB (and says so in
# $T/killed). Only shell builtins read the files, so the sampler costs next to nothing.
sampler() {
    local pid=$1 out=$2 phase key value rss thr
    while [ -e "/proc/$pid/status" ]; do
        read -r phase <"$T/phase" || phase=?
        rss=0 thr=0
        while read -r key value _; do
            case $key in
                VmRSS:) rss=$value ;;
                Threads:) thr=$value ;;
            esac
        done <"/proc/$pid/status" || break
        echo "$phase $rss $thr" >>"$out"
        if [ "$rss" -gt $((MAX_RSS_MB * 1024)) ]; then
            echo "$rss" >"$T/killed"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
}

# hwm_kb: VmHWM of the server, the kernel's own peak of its RSS.
hwm_kb() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$SPID/status" 2>/dev/null || echo 0
}

# wrk_run CONNS SECONDS ARGS...: one wrk on the wrk core with cold.lua; prints its RESULT fields:
# duration_us requests s200 s503 other errors p50_us p99_us not_gzip.
wrk_run() {
    local conns=$1 seconds=$2
    shift 2
    local out
    out=$("${PIN_WRK[@]}" wrk -t1 -c"$conns" -d"${seconds}s" --timeout "${TIMEOUT}s" -s "$LUA" "$URL" -- "$@" 2>&1) || true
    local result
    result=$(awk '$1 == "RESULT" { $1 = ""; print substr($0, 2) }' <<<"$out")
    if [ -z "$result" ]; then
        echo "wrk failed: $out" >&2
        echo "0 0 0 0 0 0 0 0 0"
    else
        echo "$result"
    fi
}

# rps_of RESULT: 200s per second.
rps_of() { awk '{ printf "%.0f", ($1 > 0 ? $3 / ($1 / 1e6) : 0) }' <<<"$1"; }
# ms US: microseconds as milliseconds.
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

# median of the numbers on stdin ("-" if none).
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# ratio A B: A/B with two decimals, "-" when undefined.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

# order ROUND: the two binaries in the order of this round ("new base" or "base new").
order() { if [ $(($1 % 2)) = 1 ]; then echo new base; else echo base new; fi; }
bin_of() { if [ "$1" = new ]; then echo "$NEW"; else echo "$BASE"; fi; }

REGIONS=
# regions: the region codes of the running server, comma-separated (once per run).
regions() {
    [ -n "$REGIONS" ] || REGIONS=$(curl -fs "$URL/api/regions" |
        python3 -c 'import json, sys; print(",".join(r["code"] for r in json.load(sys.stdin)))')
    echo "$REGIONS"
}

# ---- cold: one row per run in $T/cold.rows:
# store conns who round rps p50_ms p99_ms s503 other errors peak_mb threads before_mb after_mb
# cache_hits note
cold_run() {
    local label=$1 dir=$2 conns=$3 who=$4 round=$5
    start_server "$(bin_of "$who")" "$dir"
    local codes hits0
    codes=$(regions)
    hits0=$(metric lenta_render_cache_hits_total)
    echo before >"$T/phase"
    : >"$T/samples"
    rm -f "$T/killed"
    sampler "$SPID" "$T/samples" &
    SAMPLER=$!
    sleep 1
    echo load >"$T/phase"
    wrk_run "$conns" "$WARMUP" distinct 5000000 "$codes" >/dev/null
    local r hwm
    r=$(wrk_run "$conns" "$DURATION" distinct 0 "$codes")
    hwm=$(hwm_kb)
    echo after >"$T/phase"
    sleep "$SETTLE"
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=
    local hits=- note=ok
    if [ -f "$T/killed" ]; then
        note="KILLED:RSS>${MAX_RSS_MB}MB"
    else
        hits=$(metric lenta_render_cache_hits_total)
        if [ -n "$hits" ] && [ -n "$hits0" ]; then hits=$((hits - hits0)); else hits=-; fi
    fi
    stop_server
    read -r _ _ _ s503 other errors p50 p99 nogz <<<"$r"
    [ "$nogz" = 0 ] || note="$note,not-gzip:$nogz"
    local stats
    stats=$(awk -v hwm="${hwm:-0}" '
        { if ($2 > peak) peak = $2; if ($3 > thr) thr = $3 }
        $1 == "before" { before = $2 }
        $1 == "after" { after = $2 }
        END {
            if (hwm > peak) peak = hwm
            printf "%.0f %d %s %s", peak / 1024, thr, before ? sprintf("%.0f", before / 1024) : "-",
                after ? sprintf("%.0f", after / 1024) : "-"
        }' "$T/samples")
    echo "$label $conns $who $round $(rps_of "$r") $(ms "$p50") $(ms "$p99") $s503 $other $errors $stats $hits $note" >>"$T/cold.rows"
    echo "  $label c=$conns $who round $round: $(tail -n1 "$T/cold.rows" | cut -d' ' -f5-)" >&2
}

# col FILE STORE CONNS WHO N: median of column N over rounds.
col() {
    awk -v s="$2" -v c="$3" -v w="$4" -v n="$5" '$1 == s && $2 == c && $3 == w && $n != "-" { print $n }' "$1" | median
}

cold_table() {
    local rows=$T/cold.rows
    echo
    echo "cold: distinct cache-missing queries, gzip; medians of $ROUNDS round(s); req/s = 200s only;"
    echo "      RSS in MB; ratios NEW/BASELINE (req/s: median of per-round ratios)"
    printf '%-5s %5s %-9s %8s %8s %8s %7s %6s %6s %8s %7s %7s %7s %7s %6s  %s\n' store conns binary \
        'req/s' 'p50 ms' 'p99 ms' '503s' other errors 'peak RSS' threads before after 'aft/bef' hits note
    local label conns who
    for label in "${STORE_LIST[@]}"; do
        for conns in "${CONN_LIST[@]}"; do
            declare -A v=()
            for who in new base; do
                local n
                for n in 5 6 7 8 9 10 11 12 13 14 15; do v[$who$n]=$(col "$rows" "$label" "$conns" "$who" $n); done
                v[${who}ab]=$(ratio "${v[${who}14]}" "${v[${who}13]}")
                local notes
                notes=$(awk -v s="$label" -v c="$conns" -v w="$who" '$1 == s && $2 == c && $3 == w { print $16 }' "$rows" | sort -u | paste -sd' ')
                printf '%-5s %5s %-9s %8s %8s %8s %7s %6s %6s %8s %7s %7s %7s %7s %6s  %s\n' "$label" "$conns" \
                    "$([ $who = new ] && echo NEW || echo BASELINE)" "${v[${who}5]}" "${v[${who}6]}" "${v[${who}7]}" \
                    "${v[${who}8]}" "${v[${who}9]}" "${v[${who}10]}" "${v[${who}11]}" "${v[${who}12]}" \
                    "${v[${who}13]}" "${v[${who}14]}" "${v[${who}ab]}" "${v[${who}15]}" "$notes"
            done
            local rr
            rr=$(awk -v s="$label" -v c="$conns" '$1 == s && $2 == c { r[$4 SUBSEP $3] = $5; k[$4] = 1 }
                END { for (i in k) if (r[i, "base"] > 0) print r[i, "new"] / r[i, "base"] }' "$rows" | median)
            [ "$rr" = - ] || rr=$(printf '%.2f' "$rr")
            printf '%-5s %5s %-9s %8s %8s %8s %7s %6s %6s %8s %7s %7s %7s %7s\n' "$label" "$conns" NEW/BASE "$rr" \
                "$(ratio "${v[new6]}" "${v[base6]}")" "$(ratio "${v[new7]}" "${v[base7]}")" '' '' '' \
                "$(ratio "${v[new11]}" "${v[base11]}")" "$(ratio "${v[new12]}" "${v[base12]}")" \
                "$(ratio "${v[new13]}" "${v[base13]}")" "$(ratio "${v[new14]}" "${v[base14]}")" \
                "$(ratio "${v[newab]}" "${v[baseab]}")"
            unset v
        done
    done
}

# ---- same: rows "store conns who round rps p50_ms p99_ms" in $T/same.rows.
same_run() {
    local label=$1 dir=$2 who=$3 round=$4
    start_server "$(bin_of "$who")" "$dir"
    local items
    items=$({ curl -fs "$URL/regions/RU-NIZ/feed.rss?to=2029-12-31T00:00:00Z" || true; } | grep -o '<item>' | wc -l || true)
    [ "$items" = 50 ] || echo "warning: store $label: the same-URL page has $items items, not 50" >&2
    local conns i=0 r
    for conns in "${SAME_CONN_LIST[@]}"; do
        i=$((i + 1))
        # Each wrk starts its `to=` seconds far from the others': no URL repeats on this server.
        wrk_run "$conns" 1 same $((i * 20000000)) RU-NIZ >/dev/null
        r=$(wrk_run "$conns" "$DURATION" same $((i * 20000000 + 1000000)) RU-NIZ)
        read -r _ _ _ s503 other errors p50 p99 _ <<<"$r"
        echo "$label $conns $who $round $(rps_of "$r") $(ms "$p50") $(ms "$p99") $s503 $other $errors" >>"$T/same.rows"
        echo "  same $label c=$conns $who round $round: $(tail -n1 "$T/same.rows" | cut -d' ' -f5-)" >&2
    done
    stop_server
}

same_table() {
    local rows=$T/same.rows first=${STORE_LIST[0]} last=${STORE_LIST[-1]}
    echo
    echo "same: /regions/RU-NIZ/feed.rss?to=<far future, new each request>, 50 items, gzip, cache missing;"
    echo "      req/s (p50/p99 ms), medians of $ROUNDS round(s); cost $last/$first = req/s($first) / req/s($last)"
    printf '%-9s %5s' binary conns
    local label
    for label in "${STORE_LIST[@]}"; do printf ' %22s' "$label"; done
    printf ' %9s\n' "cost $last/$first"
    local who conns
    for who in new base; do
        for conns in "${SAME_CONN_LIST[@]}"; do
            printf '%-9s %5s' "$([ $who = new ] && echo NEW || echo BASELINE)" "$conns"
            for label in "${STORE_LIST[@]}"; do
                printf ' %22s' "$(col "$rows" "$label" "$conns" "$who" 5) ($(col "$rows" "$label" "$conns" "$who" 6)/$(col "$rows" "$label" "$conns" "$who" 7))"
            done
            printf ' %9s\n' "$(ratio "$(col "$rows" "$first" "$conns" "$who" 5)" "$(col "$rows" "$last" "$conns" "$who" 5)")"
        done
    done
}

# ---- probe: the cached path and /healthz, idle and while the cold load runs.
# Rows "store who round cold_rps cold_503 cached_p50 cached_p99 cached_bad health_p50 health_p99
# health_bad" with phase idle|load in $T/probe.rows (cold_* are "-" when idle).
probe_run() {
    local label=$1 dir=$2 who=$3 round=$4
    # Room for the probes' connections: every wrk connection comes from 127.0.0.1, so the cold
    # load alone fills the default 1,024 slots and the probes would wait in the listen backlog
    # for the whole run (in production the per-IP limit keeps one client from taking them all).
    start_server "$(bin_of "$who")" "$dir" --max-connections $((PROBE_CONNS + 64))
    local codes cached=/regions/RU-NIZ/feed.rss phase
    codes=$(regions)
    curl -fs -o /dev/null -H 'Accept-Encoding: gzip' "$URL$cached"
    local seconds=$DURATION
    for phase in idle load; do
        if [ $phase = load ]; then
            wrk_run "$PROBE_CONNS" $((seconds + 2)) distinct 0 "$codes" >"$T/probe.cold" &
            BG+=($!)
            sleep 1
        fi
        wrk_run 2 "$seconds" fixed "$cached" 10 >"$T/probe.cached" &
        BG+=($!)
        wrk_run 2 "$seconds" fixed /healthz 10 >"$T/probe.health"
        wait "${BG[@]}"
        BG=()
        local cold=(- - - - - - - - -) c h
        [ $phase = idle ] || read -ra cold <"$T/probe.cold"
        read -ra c <"$T/probe.cached"
        read -ra h <"$T/probe.health"
        local cold_rps=-
        [ $phase = idle ] || cold_rps=$(rps_of "${cold[*]}")
        echo "$label $who $round $phase $cold_rps ${cold[3]} $(ms "${c[6]}") $(ms "${c[7]}") $((c[1] - c[2] + c[5])) $(ms "${h[6]}") $(ms "${h[7]}") $((h[1] - h[2] + h[5]))" >>"$T/probe.rows"
        echo "  probe $label $who $phase round $round: $(tail -n1 "$T/probe.rows" | cut -d' ' -f5-)" >&2
    done
    stop_server
}

probe_table() {
    local rows=$T/probe.rows
    echo
    echo "probe: cached gzip feed and /healthz (wrk -c2 each, ~100 req/s per connection), idle and while"
    echo "       $PROBE_CONNS connections send distinct cache-missing queries; ms, medians of $ROUNDS round(s);"
    echo "       'bad' = answers other than 200, and socket errors"
    printf '%-5s %-9s %-5s %9s %6s %11s %11s %6s %11s %11s %6s\n' store binary phase 'cold r/s' '503s' \
        'cached p50' 'cached p99' bad 'health p50' 'health p99' bad
    local label who phase
    for label in "${STORE_LIST[@]}"; do
        for who in new base; do
            for phase in idle load; do
                local vals=() n
                for n in 5 6 7 8 9 10 11 12; do
                    vals+=("$(awk -v s="$label" -v w="$who" -v p="$phase" -v n=$n \
                        '$1 == s && $2 == w && $4 == p && $n != "-" { print $n }' "$rows" | median)")
                done
                printf '%-5s %-9s %-5s %9s %6s %11s %11s %6s %11s %11s %6s\n' "$label" \
                    "$([ $who = new ] && echo NEW || echo BASELINE)" "$phase" "${vals[@]}"
            done
        done
    done
}

# ---- check: `lenta check` wall time, rows "store who seconds".
check_run() {
    local label=$1 dir=$2 who=$3 started out
    started=$EPOCHREALTIME
    out=$("$(bin_of "$who")" check --data-dir "$dir" 2>&1) || { echo "$out" >&2; echo "lenta check failed on $dir" >&2; exit 1; }
    echo "$label $who $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" >>"$T/check.rows"
    echo "  check $label $who: $(tail -n1 "$T/check.rows" | cut -d' ' -f3) s ($out)" >&2
}

check_table() {
    local rows=$T/check.rows first=${STORE_LIST[0]} last=${STORE_LIST[-1]}
    echo
    echo "check: lenta check wall time, s"
    printf '%-9s' binary
    local label who
    for label in "${STORE_LIST[@]}"; do printf ' %8s' "$label"; done
    printf ' %10s\n' "$last/$first"
    for who in new base; do
        printf '%-9s' "$([ $who = new ] && echo NEW || echo BASELINE)"
        for label in "${STORE_LIST[@]}"; do
            printf ' %8s' "$(awk -v s="$label" -v w="$who" '$1 == s && $2 == w { print $3 }' "$rows")"
        done
        printf ' %10s\n' "$(ratio "$(awk -v s="$last" -v w="$who" '$1 == s && $2 == w { print $3 }' "$rows")" \
            "$(awk -v s="$first" -v w="$who" '$1 == s && $2 == w { print $3 }' "$rows")")"
    done
}

# ---- the run
declare -A DIRS=()
for label in "${STORE_LIST[@]}"; do
    ensure_store "$label"
    DIRS[$label]=$STORE_DIR
done
touch "$T/cold.rows" "$T/same.rows" "$T/probe.rows" "$T/check.rows"

for round in $(seq "$ROUNDS"); do
    for label in "${STORE_LIST[@]}"; do
        if part cold; then
            for conns in "${CONN_LIST[@]}"; do
                for who in $(order "$round"); do cold_run "$label" "${DIRS[$label]}" "$conns" "$who" "$round"; done
            done
        fi
        if part same; then
            for who in $(order "$round"); do same_run "$label" "${DIRS[$label]}" "$who" "$round"; done
        fi
        if part probe; then
            for who in $(order "$round"); do probe_run "$label" "${DIRS[$label]}" "$who" "$round"; done
        fi
    done
done
if part check; then
    for label in "${STORE_LIST[@]}"; do
        for who in new base; do check_run "$label" "${DIRS[$label]}" "$who"; done
    done
fi

echo
echo "NEW:      $NEW ($("$NEW" --version))"
echo "BASELINE: $BASE ($("$BASE" --version))"
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $NCPU cores;" \
    "server on ${SERVER_CPUS:-any}, wrk -t1 on ${WRK_CPU:-any}; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run:      stores $STORES, conns $CONNS, ${DURATION}s (+${WARMUP}s warm-up, ${SETTLE}s settle), $ROUNDS round(s)," \
    "LENTA_LOG=warn, serve flags: ${SERVER_ARGS:-none}; server killed above ${MAX_RSS_MB} MB RSS"
if part cold; then cold_table; fi
if part same; then same_table; fi
if part probe; then probe_table; fi
if part check; then check_table; fi
