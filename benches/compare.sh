#!/usr/bin/env bash
# benches/compare.sh: Viator against Debian's redis-server, same machine, same
# load generator (the real redis-benchmark).
#
# 1. Throughput: redis-benchmark -q -c 50 -n 200000 -t <the tests below> with
#    -P 1 and -P 16, each test against both servers back to back, five rounds
#    (the first server alternating); prints a
#    markdown table of the median requests/s and the Viator/Redis ratio, and
#    each server's CPU time (user + system) over those runs.
#    Tests: set,get,incr,mset and the collection ones (lpush,rpush,lpop,rpop,
#    sadd,hset,spop,zadd,lrange_100,lrange_600); XADD (which redis-benchmark
#    has no -t test for) runs as its custom command `XADD bench:stream * f v`.
# 2. Memory: 1,000,000 keys with 32-byte values in each server (DEBUG POPULATE
#    when both servers support it, else the same generated SET commands
#    through redis-cli --pipe); prints used_memory, VmRSS and bytes per key.
# 3. Collection memory: one hash, set, sorted set and list of BENCH_MEMBERS
#    (1,000,000) members each, loaded with the same generated commands through
#    redis-cli --pipe; prints used_memory per collection and the ratio.
# 4. Persistence: BGSAVE time, dump.rdb size and restart (load) time for
#    1,000,000 mixed keys, and SET throughput with appendfsync everysec.
# 5. Replication: time for a fresh replica (same server) to finish its full
#    sync of those 1,000,000 mixed keys (REPLICAOF until master_link_status
#    is up), and SET throughput on a master with two replicas attached.
# 6. Cluster: six nodes of each server (cluster-node-timeout 5000) joined by
#    redis-cli --cluster create with one replica per master; redis-benchmark
#    --cluster SET/GET throughput; keys per second moved by a reshard of 1000
#    slots (redis-cli --cluster reshard); time from kill -9 of a master to its
#    replica serving a write for one of its slots.
# 7. Sentinel: per server kind, a master and a replica watched by three
#    Sentinels of the same kind (quorum 2, down-after-milliseconds 5000,
#    failover-timeout 60000); time from kill -9 of the master until every
#    Sentinel's SENTINEL get-master-addr-by-name names the replica.
# Both servers run with --save '' --appendonly no --port P on loopback and are
# killed on exit. Never reads stdin.
#
# Knobs: VIATOR_SERVER (default target/release/viator-server), REDIS_SERVER
# (default /usr/bin/redis-server), BENCH_ROUNDS (5), BENCH_REQUESTS (200000),
# BENCH_CLIENTS (50), BENCH_TESTS (see 1.), BENCH_MEMBERS (1000000), BENCH_PIPELINES
# ("1 16"), BENCH_KEYS (1000000), BENCH_VALUE_SIZE (32), BENCH_PORT (first
# port to try, default 17379), BENCH_SKIP_MEMORY=1, BENCH_SKIP_PERSISTENCE=1,
# BENCH_SKIP_REPLICATION=1, BENCH_SKIP_CLUSTER=1, BENCH_SKIP_SENTINEL=1, BENCH_CLUSTER_KEYS (200000),
# BENCH_PERSIST_KEYS (1000000), BENCH_SERVER_ARGS (extra
# arguments for both servers, default "--enable-debug-command local").

set -euo pipefail
exec </dev/null

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
WORK=$ROOT/benches/work
VIATOR_SERVER=${VIATOR_SERVER:-$ROOT/target/release/viator-server}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
ROUNDS=${BENCH_ROUNDS:-5}
REQUESTS=${BENCH_REQUESTS:-200000}
CLIENTS=${BENCH_CLIENTS:-50}
TESTS=${BENCH_TESTS:-set,get,incr,mset,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,lrange_600}
MEMBERS=${BENCH_MEMBERS:-1000000}
PIPELINES=${BENCH_PIPELINES:-1 16}
KEYS=${BENCH_KEYS:-1000000}
VALUE_SIZE=${BENCH_VALUE_SIZE:-32}
NEXT_PORT=${BENCH_PORT:-17379}
# lets DEBUG POPULATE in (Redis refuses DEBUG by default); dropped if refused
EXTRA_ARGS=${BENCH_SERVER_ARGS---enable-debug-command local}
CLI=${REDIS_CLI:-/usr/bin/redis-cli}
BENCH=${REDIS_BENCHMARK:-/usr/bin/redis-benchmark}

die() { printf 'compare.sh: %s\n' "$*" >&2; exit 2; }

case $VIATOR_SERVER in /*) ;; *) VIATOR_SERVER=$PWD/$VIATOR_SERVER ;; esac
case $REDIS_SERVER in /*) ;; *) REDIS_SERVER=$PWD/$REDIS_SERVER ;; esac
[[ -x $VIATOR_SERVER ]] || die "no server binary at $VIATOR_SERVER (cargo build --release, or set VIATOR_SERVER)"
[[ -x $REDIS_SERVER ]] || die "no redis-server at $REDIS_SERVER (apt-get install redis-server)"
[[ -x $CLI && -x $BENCH ]] || die "need $CLI and $BENCH (apt-get install redis-tools)"

SIDES=(viator redis)
declare -A BIN=([viator]=$VIATOR_SERVER [redis]=$REDIS_SERVER)
declare -A PORT=() PID=() ARGS_USED=()

cleanup() {
    local side
    # every server started, replicas included
    for side in "${!PID[@]}"; do
        if [[ -n ${PID[$side]:-} ]]; then
            kill "${PID[$side]}" 2>/dev/null || true
        fi
    done
    for side in "${!PID[@]}"; do
        if [[ -n ${PID[$side]:-} ]]; then
            # give it 5 s to exit, then SIGKILL that one process
            for _ in $(seq 50); do kill -0 "${PID[$side]}" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "${PID[$side]}" 2>/dev/null || true
            wait "${PID[$side]}" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    while port_busy "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
    echo "$NEXT_PORT"
    NEXT_PORT=$((NEXT_PORT + 1))
}

cli() { "$CLI" -h 127.0.0.1 -p "${PORT[$1]}" "${@:2}"; }

start_server() { # side [more server args...]; KEEP_DIR=1 keeps its files
    local side=$1 dir=$WORK/$1
    shift
    if [[ ${KEEP_DIR:-0} != 1 ]]; then
        rm -rf "$dir"
    fi
    mkdir -p "$dir"
    local extra
    # shellcheck disable=SC2086  # EXTRA_ARGS is a word list
    for extra in "$EXTRA_ARGS" ""; do
        PORT[$side]=$(free_port)
        # cwd = its own scratch dir, so nothing lands in the repo
        (cd "$dir" && exec "${BIN[$side]}" --save '' --appendonly no --port "${PORT[$side]}" $extra "$@") \
            >>"$dir/server.log" 2>&1 &
        PID[$side]=$!
        # up to 60 s: a restart may load a large dataset first
        for _ in $(seq 600); do
            if [[ $(cli "$side" ping 2>/dev/null) == PONG ]]; then
                ARGS_USED[$side]="--save '' --appendonly no${extra:+ $extra}${*:+ $*}"
                return 0
            fi
            kill -0 "${PID[$side]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${PID[$side]}" 2>/dev/null || true
        wait "${PID[$side]}" 2>/dev/null || true
        PID[$side]=
        [[ -n $extra ]] || break
        echo "$side server refused '$extra'; retrying without it" >&2
    done
    die "$side server (${BIN[$side]}) did not answer PING; see $dir/server.log"
}

stop_server() { # side: SIGTERM (no save points, so no final save) and wait
    kill "${PID[$1]}" 2>/dev/null || true
    wait "${PID[$1]}" 2>/dev/null || true
    PID[$1]=
}

info_field() { # side field
    cli "$1" info "${3:-all}" 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p" | head -n 1
}

median() { # numbers...
    printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) { print "n/a"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.0f\n", m }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# --------------------------------------------------------------------- header

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
[[ -n $cpu ]] || cpu=$(sed -n 's/^\(Hardware\|cpu model\|CPU part\)[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
mkdir -p "$WORK"
for side in "${SIDES[@]}"; do start_server "$side"; done

echo "# Viator vs Redis"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(uname -m), ${cpu:-unknown CPU}, $(nproc) cores ($(getconf _NPROCESSORS_ONLN) online)"
for side in "${SIDES[@]}"; do
    echo "- $side: ${BIN[$side]} ${ARGS_USED[$side]} (redis_version $(info_field "$side" redis_version server || true))"
done
echo "- load: $(${BENCH} --version 2>/dev/null | head -n 1 || echo redis-benchmark), -c $CLIENTS -n $REQUESTS, $ROUNDS rounds, median shown, servers on loopback"
echo

# ----------------------------------------------------------------- throughput

declare -A RATES=() # "side|P|TEST" -> space-separated rates
declare -A CPU=()   # "side|P" -> server CPU clock ticks over the -t runs
ORDER=()             # test names in output order

cpu_ticks() { # side: user + system CPU time of its server so far, in clock ticks
    awk '{ print $14 + $15 }' "/proc/${PID[$1]}/stat" 2>/dev/null || echo 0
}

run_bench() { # side pipeline tests
    local out line name rate t0
    t0=$(cpu_ticks "$1")
    out=$("$BENCH" -h 127.0.0.1 -p "${PORT[$1]}" -q -c "$CLIENTS" -n "$REQUESTS" -t "$3" -P "$2" 2>&1 | tr '\r' '\n') || true
    CPU["$1|$2"]=$((${CPU["$1|$2"]:-0} + $(cpu_ticks "$1") - t0))
    while IFS= read -r line; do
        [[ $line =~ ^(.+):\ +([0-9.]+)\ requests\ per\ second ]] || continue
        name=${BASH_REMATCH[1]}
        rate=${BASH_REMATCH[2]}
        RATES["$1|$2|$name"]+="$rate "
        [[ " ${ORDER[*]:-} " == *" $name "* ]] || ORDER+=("$name")
    done <<<"$out"
}

# One test at a time on both servers back to back (the LRANGE tests together,
# they share redis-benchmark's LPUSH fill), so a slow minute of this shared
# machine lands on both sides of a row rather than on one server's whole list.
TEST_GROUPS=()
for t in ${TESTS//,/ }; do
    if [[ $t == lrange* && ${#TEST_GROUPS[@]} -gt 0 && ${TEST_GROUPS[-1]} == lrange* ]]; then
        TEST_GROUPS[-1]+=",$t"
    else
        TEST_GROUPS+=("$t")
    fi
done
for round in $(seq "$ROUNDS"); do
    for p in $PIPELINES; do
        # alternate which server goes first, so neither always gets a warm CPU
        if ((round % 2)); then first=viator second=redis; else first=redis second=viator; fi
        echo "round $round, -P $p: $first then $second, test by test" >&2
        for group in "${TEST_GROUPS[@]}"; do
            run_bench "$first" "$p" "$group"
            run_bench "$second" "$p" "$group"
        done
    done
done

# A custom redis-benchmark command on each server, recorded under LABEL; the
# command's words come from WORDS-FUNCTION called with the side (read into an
# array, so a "*" stays a word and is never globbed).
custom_bench() { # label words-function
    local label=$1 words=$2 round p side out rate cmd
    for round in $(seq "$ROUNDS"); do
        for p in $PIPELINES; do
            for side in "${SIDES[@]}"; do
                read -r -a cmd <<<"$("$words" "$side")"
                out=$("$BENCH" -h 127.0.0.1 -p "${PORT[$side]}" -q -c "$CLIENTS" -n "$REQUESTS" -P "$p" "${cmd[@]}" 2>&1 | tr '\r' '\n') || true
                rate=$(sed -n 's/.*: *\([0-9.]*\) requests per second.*/\1/p' <<<"$out" | tail -n 1)
                RATES["$side|$p|$label"]+="${rate:-0} "
            done
        done
    done
    ORDER+=("$label")
}

# XADD with an auto-generated ID.
xadd_words() { echo "xadd bench:stream * f v"; }
custom_bench "XADD (auto ID)" xadd_words

# EVALSHA of a small script (INCR plus EXPIRE) loaded once on each server.
LUA='redis.call("INCR", KEYS[1]); redis.call("EXPIRE", KEYS[1], 100); return 1'
declare -A SHA=()
for side in "${SIDES[@]}"; do SHA[$side]=$(cli "$side" script load "$LUA" | tr -d '\r'); done
evalsha_words() { echo "evalsha ${SHA[$1]} 1 lua:__rand_int__"; }
custom_bench "EVALSHA (INCR+EXPIRE)" evalsha_words

# PUBLISH fan-out: 50 subscribers (redis-cli SUBSCRIBE, output discarded) on
# each server, one publishing connection pipelining 16 PUBLISHes.
SUBS=${BENCH_SUBSCRIBERS:-50}
declare -A SUB_PIDS=()
for side in "${SIDES[@]}"; do
    for _ in $(seq "$SUBS"); do
        cli "$side" subscribe fanout >/dev/null 2>&1 &
        SUB_PIDS[$side]+="$! "
    done
done
for side in "${SIDES[@]}"; do
    for _ in $(seq 50); do
        n=$(cli "$side" pubsub numsub fanout | tail -n 1 | tr -d '\r')
        [[ $n == "$SUBS" ]] && break
        sleep 0.1
    done
done
for round in $(seq "$ROUNDS"); do
    for side in "${SIDES[@]}"; do
        out=$("$BENCH" -h 127.0.0.1 -p "${PORT[$side]}" -q -c 1 -P 16 -n "$REQUESTS" publish fanout hello 2>&1 | tr '\r' '\n') || true
        rate=$(sed -n 's/.*: *\([0-9.]*\) requests per second.*/\1/p' <<<"$out" | tail -n 1)
        RATES["$side|16|PUBLISH to $SUBS subscribers"]+="${rate:-0} "
    done
done
for side in "${SIDES[@]}"; do
    # shellcheck disable=SC2086  # a list of pids
    kill ${SUB_PIDS[$side]} 2>/dev/null || true
done
ORDER+=("PUBLISH to $SUBS subscribers")

# MULTI/EXEC pipeline: 100,000 transactions (MULTI, SET, INCR, EXEC) sent
# through redis-cli --pipe; the rate is transactions per second.
TX=${BENCH_TRANSACTIONS:-100000}
awk -v n="$TX" 'BEGIN { for (i = 0; i < n; i++) {
    k = "tx:" (i % 1000)
    printf "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nx\r\n*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n*1\r\n$4\r\nEXEC\r\n", length(k), k
} }' >"$WORK/multi.resp"
for round in $(seq "$ROUNDS"); do
    for side in "${SIDES[@]}"; do
        t0=$(date +%s.%N)
        cli "$side" --pipe <"$WORK/multi.resp" >/dev/null 2>&1 || true
        t1=$(date +%s.%N)
        RATES["$side|16|MULTI/EXEC (SET+INCR) via --pipe"]+="$(awk -v n="$TX" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }') "
    done
done
ORDER+=("MULTI/EXEC (SET+INCR) via --pipe")

echo "## Throughput (requests/s, median of $ROUNDS)"
echo
echo "| test | pipeline | Viator | Redis | Viator/Redis |"
echo "|---|---:|---:|---:|---:|"
for p in $PIPELINES; do
    for name in "${ORDER[@]}"; do
        # shellcheck disable=SC2086  # rate lists are space-separated numbers
        v=$(median ${RATES["viator|$p|$name"]:-})
        # shellcheck disable=SC2086
        r=$(median ${RATES["redis|$p|$name"]:-})
        [[ -z ${RATES["viator|$p|$name"]:-} && -z ${RATES["redis|$p|$name"]:-} ]] && continue
        if [[ $v != n/a && $r != n/a && $r != 0 ]]; then
            ratio=$(awk -v a="$v" -v b="$r" 'BEGIN { printf "%.2f", a / b }')
        else
            ratio=n/a
        fi
        echo "| $name | $p | $v | $r | $ratio |"
    done
done
echo
# The servers' own CPU time over the -t runs above (all rounds, both servers
# served the same requests): what each spent, busy polling included.
ticks_per_s=$(getconf CLK_TCK)
cpu_secs() { awk -v t="$1" -v h="$ticks_per_s" 'BEGIN { printf "%.1f", t / h }'; }
echo "Server CPU time over the -t runs ($ROUNDS rounds of $REQUESTS requests per test):"
echo
for p in $PIPELINES; do
    v=${CPU["viator|$p"]:-0} r=${CPU["redis|$p"]:-0}
    echo "- -P $p: Viator $(cpu_secs "$v") s, Redis $(cpu_secs "$r") s (Viator/Redis $(ratio "$v" "$r"))"
done
echo

# ---------------------------------------------------------------- persistence

# 1,000,000 mixed keys (60% 32-byte strings, 10% each of 3-field hashes,
# 3-member sets, 3-member sorted sets and 3-element lists) through
# redis-cli --pipe; then BGSAVE (time until rdb_bgsave_in_progress drops,
# polled every 50 ms), the dump.rdb size, and a restart timed from spawn to
# the first PONG (PING is refused with LOADING while the file loads). Last,
# SET throughput with appendonly yes, appendfsync everysec.
PKEYS=${BENCH_PERSIST_KEYS:-1000000}
mixed=$WORK/mixed.resp
gen_mixed() {
    mkdir -p "$WORK"
    awk -v n="$PKEYS" -f "$ROOT/benches/mixed.awk" >"$mixed"
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
row() { echo "| $1 | $2 | $3 | $(ratio "$2" "$3") |"; } # measure viator redis
table_head() { echo "| measure | Viator | Redis | Viator/Redis |"; echo "|---|---:|---:|---:|"; }
set_rate() { # side pipeline: median SET requests/s over $ROUNDS runs
    local r rates=()
    for _ in $(seq "$ROUNDS"); do
        r=$("$BENCH" -h 127.0.0.1 -p "${PORT[$1]}" -q -c "$CLIENTS" -n "$REQUESTS" -P "$2" -t set 2>/dev/null |
            tr '\r' '\n' | sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)
        rates+=("${r:-0}")
    done
    median "${rates[@]}"
}
if [[ ${BENCH_SKIP_PERSISTENCE:-0} != 1 ]]; then
    gen_mixed
    declare -A PERS=()
    for side in "${SIDES[@]}"; do
        cli "$side" flushall >/dev/null
        cli "$side" --pipe <"$mixed" >"$WORK/$side/pipe-mixed.log" 2>&1 || die "redis-cli --pipe of mixed keys into $side failed"
        t0=$(now)
        cli "$side" bgsave >/dev/null
        while [[ $(info_field "$side" rdb_bgsave_in_progress persistence) != 0 ]]; do sleep 0.05; done
        t1=$(now)
        [[ $(info_field "$side" rdb_last_bgsave_status persistence) == ok ]] || echo "warning: $side BGSAVE failed" >&2
        size=$(stat -c %s "$WORK/$side/dump.rdb")
        stop_server "$side"
        t2=$(now)
        KEEP_DIR=1 start_server "$side"
        t3=$(now)
        keys=$(cli "$side" dbsize | tr -d '\r')
        [[ $keys == "$PKEYS" ]] || echo "warning: $side loaded $keys keys, expected $PKEYS" >&2
        PERS["$side|bgsave"]=$(secs "$t0" "$t1")
        PERS["$side|size"]=$size
        PERS["$side|load"]=$(secs "$t2" "$t3")
        stop_server "$side"
        start_server "$side" --appendonly yes --appendfsync everysec
        for p in 1 16; do PERS["$side|aof$p"]=$(set_rate "$side" "$p"); done
        stop_server "$side"
        start_server "$side"
    done
    echo "## Persistence: $PKEYS mixed keys"
    echo
    table_head
    for m in bgsave size load; do
        case $m in bgsave) name="BGSAVE time (s)" ;; size) name="dump.rdb size (bytes)" ;; load) name="restart until PONG (s)" ;; esac
        row "$name" "${PERS["viator|$m"]}" "${PERS["redis|$m"]}"
    done
    for p in 1 16; do
        row "SET req/s, appendonly yes, appendfsync everysec, -P $p" "${PERS["viator|aof$p"]}" "${PERS["redis|aof$p"]}"
    done
    echo
    echo "time and size: lower is better (target <= 1.00); SET throughput: higher is better (target >= 1.00)"
    echo
fi

# ---------------------------------------------------------------- replication

# Each server replicates to its own kind: the master holds the mixed keys,
# a fresh replica is timed from REPLICAOF to master_link_status:up (polled
# every 50 ms; both masters use a diskless sync without delay), then a
# second replica attaches and redis-benchmark runs SET against the master.
if [[ ${BENCH_SKIP_REPLICATION:-0} != 1 ]]; then
    [[ -s $mixed ]] || gen_mixed
    declare -A REPL=()
    link_up() { [[ $(info_field "$1" master_link_status replication) == up ]]; }
    for side in "${SIDES[@]}"; do
        stop_server "$side"
        start_server "$side" --repl-diskless-sync yes --repl-diskless-sync-delay 0
        cli "$side" --pipe <"$mixed" >"$WORK/$side/pipe-repl.log" 2>&1 || die "redis-cli --pipe of mixed keys into $side failed"
        for r in 1 2; do
            BIN[$side-r$r]=${BIN[$side]}
            start_server "$side-r$r"
        done
        t0=$(now)
        cli "$side-r1" replicaof 127.0.0.1 "${PORT[$side]}" >/dev/null
        for _ in $(seq 1200); do link_up "$side-r1" && break; sleep 0.05; done
        t1=$(now)
        link_up "$side-r1" || echo "warning: $side replica did not finish its sync in 60 s" >&2
        keys=$(cli "$side-r1" dbsize | tr -d '\r')
        [[ $keys == "$PKEYS" ]] || echo "warning: $side replica holds $keys keys, expected $PKEYS" >&2
        REPL["$side|sync"]=$(secs "$t0" "$t1")
        cli "$side-r2" replicaof 127.0.0.1 "${PORT[$side]}" >/dev/null
        for _ in $(seq 1200); do link_up "$side-r2" && break; sleep 0.05; done
        for p in 1 16; do REPL["$side|set$p"]=$(set_rate "$side" "$p"); done
        for r in 1 2; do stop_server "$side-r$r"; done
        stop_server "$side"
        start_server "$side"
    done
    echo "## Replication: $PKEYS mixed keys, replicas of the same server"
    echo
    table_head
    row "full sync to a fresh replica (s)" "${REPL["viator|sync"]}" "${REPL["redis|sync"]}"
    for p in 1 16; do
        row "SET req/s on a master with 2 replicas, -P $p" "${REPL["viator|set$p"]}" "${REPL["redis|set$p"]}"
    done
    echo
    echo "sync time: lower is better (target <= 1.00); SET throughput: higher is better (target >= 1.00)"
    echo
fi

# -------------------------------------------------------------------- cluster

# Six nodes per server kind; node i of side S is the pseudo-side S-cI (its own
# directory and port; the bus port is port + 10000).
if [[ ${BENCH_SKIP_CLUSTER:-0} != 1 ]]; then
    CKEYS=${BENCH_CLUSTER_KEYS:-200000}
    declare -A CL=()
    cluster_ok() { [[ $(cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p') == ok ]]; }
    cluster_rate() { # side test pipeline: median requests/s of redis-benchmark --cluster
        local r rates=()
        for _ in $(seq "$ROUNDS"); do
            r=$("$BENCH" --cluster -h 127.0.0.1 -p "${PORT[$1-c1]}" -q -c "$CLIENTS" -n "$REQUESTS" -P "$3" -t "$2" -r 100000 2>/dev/null |
                tr '\r' '\n' | sed -n "s/^${2^^}: \([0-9.]*\) requests per second.*/\1/p" | tail -n 1)
            rates+=("${r:-0}")
        done
        median "${rates[@]}"
    }
    for side in "${SIDES[@]}"; do
        nodes=()
        for i in 1 2 3 4 5 6; do
            BIN[$side-c$i]=${BIN[$side]}
            start_server "$side-c$i" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
                --repl-diskless-sync-delay 0
            nodes+=("127.0.0.1:${PORT[$side-c$i]}")
        done
        "$CLI" --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$WORK/$side-c1/create.log" 2>&1 ||
            die "redis-cli --cluster create of $side nodes failed: $(tail -n 3 "$WORK/$side-c1/create.log")"
        for _ in $(seq 600); do
            all=1
            for i in 1 2 3 4 5 6; do cluster_ok "$side-c$i" || all=0; done
            [[ $all == 1 ]] && break
            sleep 0.1
        done
        [[ $all == 1 ]] || echo "warning: $side cluster did not reach cluster_state:ok" >&2
        for t in set get; do
            for p in 1 16; do CL["$side|$t$p"]=$(cluster_rate "$side" "$t" "$p"); done
        done
        # Keys for the reshard: random SETs spread over every slot.
        "$BENCH" --cluster -h 127.0.0.1 -p "${PORT[$side-c1]}" -q -c "$CLIENTS" -n "$CKEYS" -P 16 -t set -r "$CKEYS" >/dev/null 2>&1
        # The masters, and who replicates whom, from one node's view.
        view=$(cli "$side-c1" cluster nodes | tr -d '\r')
        from_id=$(awk '$3 ~ /master/ && $9 ~ /^0-/ { print $1 }' <<<"$view")
        to_id=$(awk -v f="$from_id" '$3 ~ /master/ && $1 != f { print $1; exit }' <<<"$view")
        moved=0
        for ((s = 0; s < 1000; s++)); do
            n=$(cli "$side-c1" -c cluster countkeysinslot "$s" 2>/dev/null | tr -d '\r')
            moved=$((moved + ${n:-0}))
        done
        t0=$(now)
        "$CLI" --cluster reshard "127.0.0.1:${PORT[$side-c1]}" --cluster-from "$from_id" --cluster-to "$to_id" \
            --cluster-slots 1000 --cluster-yes >"$WORK/$side-c1/reshard.log" 2>&1 || echo "warning: $side reshard failed" >&2
        t1=$(now)
        CL["$side|reshard"]=$(awk -v k="$moved" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", k / (b - a) }')
        # Failover: kill -9 the master owning slot 5461's range (not moved above).
        view=$(cli "$side-c1" cluster nodes | tr -d '\r')
        victim_port=$(awk '$3 ~ /master/ && $0 ~ / 5461-/ { split($2, a, "[:@]"); print a[2] }' <<<"$view")
        victim=
        for i in 1 2 3 4 5 6; do [[ ${PORT[$side-c$i]} == "$victim_port" ]] && victim=$side-c$i; done
        key=c # slot 7365
        survivor=$side-c1
        [[ $victim == "$side-c1" ]] && survivor=$side-c2
        t0=$(now)
        kill -KILL "${PID[$victim]}"
        wait "${PID[$victim]}" 2>/dev/null || true
        PID[$victim]=
        for _ in $(seq 600); do
            [[ $(cli "$survivor" -c set "$key" v 2>/dev/null | tr -d '\r') == OK ]] && break
            sleep 0.05
        done
        t1=$(now)
        CL["$side|failover"]=$(secs "$t0" "$t1")
        for i in 1 2 3 4 5 6; do [[ -n ${PID[$side-c$i]:-} ]] && stop_server "$side-c$i"; done
    done
    echo "## Cluster: 3 masters + 3 replicas of each server, cluster-node-timeout 5000"
    echo
    table_head
    for t in set get; do
        for p in 1 16; do
            row "redis-benchmark --cluster ${t^^} req/s, -P $p" "${CL["viator|$t$p"]}" "${CL["redis|$t$p"]}"
        done
    done
    row "reshard of 1000 slots, keys moved per second" "${CL["viator|reshard"]}" "${CL["redis|reshard"]}"
    row "kill -9 of a master until its replica serves a write (s)" "${CL["viator|failover"]}" "${CL["redis|failover"]}"
    echo
    echo "throughput and keys/s: higher is better (target >= 1.00); failover time: lower is better"
    echo
fi

# ------------------------------------------------------------------- sentinel

# Pseudo-sides S-sm (master), S-sr (replica) and S-s1..3 (Sentinels, started
# from a config file, as a Sentinel must be).
if [[ ${BENCH_SKIP_SENTINEL:-0} != 1 ]]; then
    declare -A SE=()
    start_sentinel() { # side master-port
        local side=$1 dir=$WORK/$1
        rm -rf "$dir"
        mkdir -p "$dir"
        PORT[$side]=$(free_port)
        printf 'port %s\nsentinel monitor bench 127.0.0.1 %s 2\nsentinel down-after-milliseconds bench 5000\nsentinel failover-timeout bench 60000\n' \
            "${PORT[$side]}" "$2" >"$dir/sentinel.conf"
        (cd "$dir" && exec "${BIN[$side]}" "$dir/sentinel.conf" --sentinel) >>"$dir/server.log" 2>&1 &
        PID[$side]=$!
        for _ in $(seq 100); do
            [[ $(cli "$side" ping 2>/dev/null) == PONG ]] && return 0
            sleep 0.1
        done
        die "$side sentinel did not answer PING; see $dir/server.log"
    }
    for side in "${SIDES[@]}"; do
        for n in sm sr s1 s2 s3; do BIN[$side-$n]=${BIN[$side]}; done
        start_server "$side-sm" --repl-diskless-sync-delay 0
        start_server "$side-sr" --replicaof 127.0.0.1 "${PORT[$side-sm]}"
        for n in s1 s2 s3; do start_sentinel "$side-$n" "${PORT[$side-sm]}"; done
        # Wait until every Sentinel knows the replica and the two other Sentinels.
        for _ in $(seq 600); do
            all=1
            for n in s1 s2 s3; do
                r=$(cli "$side-$n" sentinel master bench 2>/dev/null | tr -d '\r' |
                    awk 'p == "num-slaves" { s = $0 } p == "num-other-sentinels" { o = $0 } { p = $0 } END { print s "/" o }')
                [[ $r == 1/2 ]] || all=0
            done
            [[ $all == 1 ]] && break
            sleep 0.1
        done
        [[ $all == 1 ]] || echo "warning: $side sentinels did not discover each other" >&2
        want=${PORT[$side-sr]}
        t0=$(now)
        kill -KILL "${PID[$side-sm]}"
        wait "${PID[$side-sm]}" 2>/dev/null || true
        PID[$side-sm]=
        for _ in $(seq 1200); do
            all=1
            for n in s1 s2 s3; do
                [[ $(cli "$side-$n" sentinel get-master-addr-by-name bench 2>/dev/null | tr -d '\r' | tail -n 1) == "$want" ]] || all=0
            done
            [[ $all == 1 ]] && break
            sleep 0.05
        done
        t1=$(now)
        SE[$side]=$(secs "$t0" "$t1")
        [[ $all == 1 ]] || SE[$side]=n/a
        for n in sr s1 s2 s3; do stop_server "$side-$n"; done
    done
    echo "## Sentinel: master + replica, three Sentinels (quorum 2, down-after-milliseconds 5000)"
    echo
    table_head
    row "kill -9 of the master until all Sentinels name the replica (s)" "${SE[viator]}" "${SE[redis]}"
    echo
    echo "failover time: lower is better (target <= 1.00)"
    echo
fi

# --------------------------------------------------------------------- memory

[[ ${BENCH_SKIP_MEMORY:-0} == 1 ]] && exit 0

vmrss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }

supports_populate() { # side: DEBUG POPULATE on a scratch db, if the server has it
    local reply
    reply=$(cli "$1" -n 15 debug populate 1 probe 8 2>&1 | tr -d '\r') || return 1
    cli "$1" -n 15 flushdb >/dev/null 2>&1 || true
    [[ $reply == OK ]]
}

method=populate
for side in "${SIDES[@]}"; do
    supports_populate "$side" || method=pipe
done
if [[ $method == pipe ]]; then
    gen=$WORK/set-commands.resp
    echo "generating $KEYS SET commands for redis-cli --pipe" >&2
    awk -v n="$KEYS" -v size="$VALUE_SIZE" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = "key:" i
            v = sprintf("%0" size "d", i)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
        }
    }' >"$gen"
fi

declare -A MEM=()
for side in "${SIDES[@]}"; do
    cli "$side" flushall >/dev/null
    base_used=$(info_field "$side" used_memory memory)
    base_rss=$(vmrss_bytes "${PID[$side]}")
    echo "loading $KEYS keys into $side ($method)" >&2
    t0=$(date +%s.%N)
    if [[ $method == populate ]]; then
        cli "$side" debug populate "$KEYS" key "$VALUE_SIZE" >/dev/null
    else
        cli "$side" --pipe <"$gen" >"$WORK/$side/pipe.log" 2>&1 || die "redis-cli --pipe into $side failed: $(tail -n 3 "$WORK/$side/pipe.log")"
    fi
    t1=$(date +%s.%N)
    keys=$(cli "$side" dbsize | tr -d '\r')
    [[ $keys == "$KEYS" ]] || echo "warning: $side holds $keys keys, expected $KEYS" >&2
    sleep 1 # let RSS settle
    used=$(info_field "$side" used_memory memory)
    rss=$(vmrss_bytes "${PID[$side]}")
    MEM[$side]="$keys|${used:-n/a}|${base_used:-}|$rss|$base_rss|$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
done

per_key() { # now base keys
    if [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ && $3 =~ ^[1-9][0-9]*$ ]]; then
        awk -v a="$1" -v b="$2" -v k="$3" 'BEGIN { printf "%.1f", (a - b) / k }'
    else
        echo n/a
    fi
}
mib() { [[ $1 =~ ^[0-9]+$ ]] && awk -v a="$1" 'BEGIN { printf "%.1f MiB", a / 1048576 }' || echo n/a; }

echo "## Memory: $KEYS keys, $VALUE_SIZE-byte values ($method)"
echo
echo "| server | keys | used_memory | bytes/key (used_memory) | RSS | bytes/key (RSS) | load time |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for side in "${SIDES[@]}"; do
    IFS='|' read -r keys used base_used rss base_rss secs <<<"${MEM[$side]}"
    echo "| $side | $keys | $(mib "$used") | $(per_key "$used" "$base_used" "$keys") | $(mib "$rss") | $(per_key "$rss" "$base_rss" "$keys") | ${secs}s |"
done
echo
echo "bytes/key = (value after loading - value of the empty server) / keys"

# --------------------------------------------------------- collection memory

# gen_members TYPE FILE: the commands that build one TYPE collection of
# MEMBERS members, 1,000 members per command (member:<i>, value v<i>).
gen_members() {
    awk -v n="$MEMBERS" -v t="$1" 'BEGIN {
        batch = 1000
        for (start = 0; start < n; start += batch) {
            end = start + batch; if (end > n) end = n
            m = end - start
            if (t == "hash") { printf "*%d\r\n$4\r\nHSET\r\n$4\r\nhash\r\n", 2 + 2 * m }
            else if (t == "set") { printf "*%d\r\n$4\r\nSADD\r\n$3\r\nset\r\n", 2 + m }
            else if (t == "zset") { printf "*%d\r\n$4\r\nZADD\r\n$4\r\nzset\r\n", 2 + 2 * m }
            else { printf "*%d\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n", 2 + m }
            for (i = start; i < end; i++) {
                k = "member:" i
                if (t == "zset") { s = i ""; printf "$%d\r\n%s\r\n", length(s), s }
                printf "$%d\r\n%s\r\n", length(k), k
                if (t == "hash") { v = "v" i; printf "$%d\r\n%s\r\n", length(v), v }
            }
        }
    }' >"$2"
}

declare -A CMEM=()
TYPES=(hash set zset list)
for t in "${TYPES[@]}"; do
    gen_members "$t" "$WORK/$t.resp"
    for side in "${SIDES[@]}"; do
        cli "$side" flushall >/dev/null
        base=$(info_field "$side" used_memory memory)
        cli "$side" --pipe <"$WORK/$t.resp" >"$WORK/$side/pipe-$t.log" 2>&1 || die "redis-cli --pipe of $t into $side failed"
        used=$(info_field "$side" used_memory memory)
        CMEM["$side|$t"]=$((used - base))
    done
done

echo "## Memory: one collection of $MEMBERS members"
echo
echo "| type | Viator | Redis | Viator/Redis |"
echo "|---|---:|---:|---:|"
for t in "${TYPES[@]}"; do
    v=${CMEM["viator|$t"]} r=${CMEM["redis|$t"]}
    echo "| $t | $(mib "$v") | $(mib "$r") | $(awk -v a="$v" -v b="$r" 'BEGIN { printf "%.2f", a / b }') |"
done
echo
echo "used_memory after loading minus the empty server's, members member:<i> (hash values v<i>, zset scores i)"
