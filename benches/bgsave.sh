#!/usr/bin/env bash
# BGSAVE timing, Viator against Redis, on the data set of compare.sh's
# persistence section (1,000,000 mixed keys by default).
#
# Each side gets its own port and a fresh --dir, the same keys through
# redis-cli --pipe, then BGSAVE runs $ROUNDS times. Per round it reports the
# wall time from BGSAVE until INFO says rdb_bgsave_in_progress:0 (polled
# every 10 ms, finer than compare.sh's 50 ms so the poll does not hide the
# difference), and the child's own duration: from the "Background saving
# started" log line to the child's "DB saved on disk" line (both servers log
# with millisecond stamps), and the child's CPU seconds (user + sys, the
# growth of INFO's used_cpu_*_children), which other load on the machine
# does not inflate. Medians at the end.
#
# usage: benches/bgsave.sh [viator-binary]
#   BGSAVE_KEYS (1000000) BGSAVE_ROUNDS (5) BGSAVE_PORT (25001; Redis gets +1)
#   REDIS_SERVER (/usr/bin/redis-server) BGSAVE_SIDES ("viator redis")
set -euo pipefail

VIATOR=${1:-$(dirname "$0")/../target/release/viator-server}
REDIS=${REDIS_SERVER:-/usr/bin/redis-server}
KEYS=${BGSAVE_KEYS:-1000000}
ROUNDS=${BGSAVE_ROUNDS:-5}
BASE=${BGSAVE_PORT:-25001}
WORK=$(mktemp -d /tmp/bgsave-bench.XXXXXX)
declare -A PID=()
cleanup() {
    local p
    for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

awk -v n="$KEYS" -f "$(dirname "$0")/mixed.awk" >"$WORK/mixed.resp"

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# a log line's time of day in seconds ("... 22 Nov 2026 11:07:01.123 * ...")
stamp() { sed -n "s/.* \([0-9][0-9]\):\([0-9][0-9]\):\([0-9][0-9]\.[0-9]*\) .*$1.*/\1 \2 \3/p" "$2" |
    tail -n 1 | awk '{ printf "%.3f", $1 * 3600 + $2 * 60 + $3 }'; }

for side in ${BGSAVE_SIDES:-viator redis}; do
    if [[ $side == viator ]]; then bin=$VIATOR port=$BASE; else bin=$REDIS port=$((BASE + 1)); fi
    dir=$WORK/$side
    mkdir -p "$dir"
    (cd "$dir" && exec "$bin" --save '' --appendonly no --port "$port" --dir "$dir") >"$dir/server.log" 2>&1 &
    PID[$side]=$!
    for _ in $(seq 100); do
        [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && break
        sleep 0.1
    done
    redis-cli -p "$port" --pipe <"$WORK/mixed.resp" >/dev/null
    walls=() childs=() cpus=() forks=()
    ccpu() { redis-cli -p "$port" info cpu | tr -d '\r' | awk -F: '/_children:/ { s += $2 } END { printf "%.3f", s }'; }
    for r in $(seq "$ROUNDS"); do
        lines=$(wc -l <"$dir/server.log")
        u0=$(ccpu)
        t0=$(date +%s.%N)
        redis-cli -p "$port" bgsave >/dev/null
        until redis-cli -p "$port" info persistence | grep -q '^rdb_bgsave_in_progress:0'; do sleep 0.01; done
        t1=$(date +%s.%N)
        u1=$(ccpu)
        tail -n +"$((lines + 1))" "$dir/server.log" >"$dir/round.log"
        c0=$(stamp 'Background saving started' "$dir/round.log")
        c1=$(stamp 'DB saved on disk' "$dir/round.log")
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        child=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
        forks+=("$(redis-cli -p "$port" info stats | tr -d '\r' | sed -n 's/^latest_fork_usec://p')")
        cpu=$(awk -v a="$u0" -v b="$u1" 'BEGIN { printf "%.3f", b - a }')
        walls+=("$wall") childs+=("$child") cpus+=("$cpu")
        echo "$side round $r: wall ${wall}s child ${child}s child cpu ${cpu}s" >&2
    done
    echo "$side: median wall $(median "${walls[@]}") s, median child $(median "${childs[@]}") s, median child cpu $(median "${cpus[@]}") s, median fork $(median "${forks[@]}") us, rss $(redis-cli -p "$port" info memory | tr -d '\r' | sed -n 's/^used_memory_rss://p'), dump.rdb $(stat -c %s "$dir/dump.rdb") bytes"
    kill "${PID[$side]}"
    wait "${PID[$side]}" 2>/dev/null || true
    unset "PID[$side]"
done
