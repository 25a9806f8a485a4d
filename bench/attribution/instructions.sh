#!/usr/bin/env bash
# CPU instructions per lead of campaign_attribution (and of its aggregate
# attribution_totals alone), counted by valgrind's callgrind in a single-user
# backend: leadfunnel 0.2.0 (commit 8dc9b90) and this checkout built side by
# side in private copies of PostgreSQL, as bench/stage_moves/instructions.sh.
# The data are bench/attribution/data.sql with LEADS leads (for 0.2.0 without
# the history's recorded_at, which it does not have); one and three executions
# of each query, (count(3) - count(1)) / 2 / LEADS per lead.  A count, not a
# time: the same whatever else the machine is doing.  Note that 0.2.0 computes
# seven models and this checkout nine (j_shaped, inverse_j).
#   Usage: bench/attribution/instructions.sh [leads]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
cd "$LF_ROOT"
LEADS=${1:-30000}
# The last commit whose control file says 0.2.0 (the next one, e374659, froze it
# in sql/releases/ and made main 0.3.0).
RELEASE_COMMIT=${LF_RELEASE_COMMIT:-8dc9b90}

lf_install_deps
command -v valgrind >/dev/null || lf_as_root apt-get install -y -qq valgrind >/dev/null
work=$(mktemp -d /tmp/leadfunnel-instr.XXXXXX)
chmod 755 "$work"
cleanup() {
    for d in "$work"/data-*; do
        [ -d "$d" ] && lf_as_owner "$work/pg-${d##*/data-}/usr/lib/postgresql/$PG_MAJOR/bin/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# A private copy of PostgreSQL (Debian's layout, relocatable) per build, so
# that the two leadfunnel.so and their scripts do not meet.
cfg=$(lf_pg_config)
bindir=$("$cfg" --bindir)
root=${bindir%/usr/lib/postgresql/*}
pg_copy() {
    local d=$work/pg-$1
    mkdir -p "$d/usr/lib/postgresql" "$d/usr/share/postgresql" "$d/usr/include"
    cp -a "$root/usr/lib/postgresql/$PG_MAJOR" "$d/usr/lib/postgresql/"
    cp -a "$root/usr/share/postgresql/$PG_MAJOR" "$d/usr/share/postgresql/"
    cp -a "$root/usr/include/postgresql" "$d/usr/include/"
    rm -f "$d/usr/share/postgresql/$PG_MAJOR"/extension/leadfunnel* "$d/usr/lib/postgresql/$PG_MAJOR/lib/leadfunnel.so"
    echo "$d/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
}

lf_log "building 0.2.0 (commit $RELEASE_COMMIT) and this checkout, each into a copy of PostgreSQL"
mkdir "$work/src-0.2.0"
git archive "$RELEASE_COMMIT" | tar -x -C "$work/src-0.2.0"
git ls-files -z | xargs -0 tar -c | { mkdir "$work/src-now"; tar -x -C "$work/src-now"; }
for v in 0.2.0 now; do
    pgc=$(pg_copy "$v")
    { make -C "$work/src-$v" -s PG_CONFIG="$pgc" with_llvm=no \
      && make -C "$work/src-$v" -s install PG_CONFIG="$pgc" with_llvm=no; } >"$work/build-$v.log" 2>&1 \
        || { cat "$work/build-$v.log" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] && chown -R postgres: "$work"

queries=(
  "scan|SELECT count(*) FROM bench.touch"
  "campaign_attribution|SELECT count(*) FROM bench.campaign_attribution"
)

# Instructions of a single-user backend that runs a query n times, on a fresh copy of
# the prepared cluster (so each count starts from the same data).
count() {
    local v=$1 query=$2 n=$3 bin=$work/pg-$1/usr/lib/postgresql/$PG_MAJOR/bin
    local d=$work/run
    rm -rf "$d"; cp -a "$work/data-$v" "$d"
    for _ in $(seq 1 "$n"); do echo "$query"; done > "$work/q.sql"
    [ "$(id -u)" = 0 ] && chown postgres: "$work/q.sql"
    lf_as_owner valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
        "$bin/postgres" --single -D "$d" -c fsync=off -c jit=off -c max_parallel_workers_per_gather=0 -c work_mem=64MB \
        leadfunnel_bench < "$work/q.sql" > "$work/single.log" 2>&1 \
        || { tail -20 "$work/single.log" >&2; exit 1; }
    grep -q ERROR "$work/single.log" && { grep -m3 ERROR "$work/single.log" >&2; exit 1; }
    sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$work/cg.out" | head -1
}

results=$work/results.txt; : > "$results"
for v in 0.2.0 now; do
    bin=$work/pg-$v/usr/lib/postgresql/$PG_MAJOR/bin
    lf_as_owner "$bin/initdb" -D "$work/data-$v" -U postgres -A trust --no-sync -E UTF8 --locale=C >/dev/null
    port=$(( ${LF_PORT:-54329} + 1 ))
    lf_as_owner "$bin/pg_ctl" -D "$work/data-$v" -l "$work/server-$v.log" -w start \
        -o "-c listen_addresses='' -c unix_socket_directories='$work' -c port=$port -c fsync=off" >/dev/null
    "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres -c "CREATE DATABASE leadfunnel_bench" >/dev/null
    { echo "CREATE EXTENSION leadfunnel;"
      if [ "$v" = 0.2.0 ]; then
          sed 's/, recorded_at)$/)/; s/, created_at, created_at FROM bench.lead;/, created_at FROM bench.lead;/; s/, e, e$/, e/' "$here/data.sql"
      else cat "$here/data.sql"; fi; } \
        | "$bin/psql" -X -q -v ON_ERROR_STOP=1 -v leads="$LEADS" -h "$work" -p "$port" -U postgres -d leadfunnel_bench >/dev/null
    got=$("$bin/psql" -X -At -h "$work" -p "$port" -U postgres -d leadfunnel_bench \
        -c "SELECT extversion FROM pg_extension WHERE extname = 'leadfunnel'")
    [ "$v" = now ] || [ "$got" = "$v" ] || { echo "instructions: the $v build installed version $got" >&2; exit 1; }
    echo "$v build: leadfunnel $got" >&2
    lf_as_owner "$bin/pg_ctl" -D "$work/data-$v" -m fast -w stop >/dev/null
    for q in "${queries[@]}"; do
        name=${q%%|*}; sql=${q#*|}
        lf_log "$v $name: 1 and 3 executions under callgrind"
        one=$(count "$v" "$sql" 1)
        three=$(count "$v" "$sql" 3)
        echo "$v $name $(( (three - one) / 2 / LEADS ))" | tee -a "$results" >&2
    done
done

get() { awk -v v="$1" -v s="$2" '$1 == v && $2 == s { print $3 }' "$results"; }
echo
echo "Instructions per lead (callgrind, single-user backend, $LEADS leads, serial, work_mem 64MB):"
echo
echo "| query | 0.2.0 | now | now / 0.2.0 |"
echo "|---|---|---|---|"
for q in "${queries[@]}"; do
    name=${q%%|*}
    awk -v n="$name" -v a="$(get 0.2.0 "$name")" -v b="$(get now "$name")" 'BEGIN { printf "| %s | %d | %d | %.3fx |\n", n, a, b, b / a }'
done
