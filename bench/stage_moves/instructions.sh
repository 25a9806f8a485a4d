#!/usr/bin/env bash
# CPU instructions per stage move, counted by valgrind's callgrind: a count, not
# a time, so it is the same whatever else the machine is doing (pgbench's tps in
# run.sh are not, on a shared machine).  Two builds side by side in one run, each
# in a private copy of the PostgreSQL installation:
#   0.2.0 — leadfunnel as released (its C from the release commit, its SQL from
#           sql/releases/), and
#   now   — this checkout;
# and in each, two models on the same data: (a) plain, the UPDATE with every
# trigger dropped, and (b) c, leadfunnel's C triggers (validation, dating,
# history, append-only guard, lifecycle).  The moves run in a single-user
# backend (postgres --single) under callgrind, each UPDATE its own transaction;
# a run with W moves and one with W + N moves of the same kind are counted, and
# (count(W + N) - count(W)) / N is the steady cost of one move, the backend's
# start, the first plans and the caches' warm-up left out.
#
# Prints instructions per move for (a) and (b) in both builds, the trigger's
# share (b)/(a), and now/0.2.0 for (b): the figure that says whether a stage
# move got dearer.  Usage: bench/stage_moves/instructions.sh [moves]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
cd "$LF_ROOT"
MOVES=${1:-3000}; WARM=300; LEADS=20000
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

# The data: the same leads in both models, as bench/stage_moves/run.sh makes them.
setup_sql="
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model(s) FROM unnest(ARRAY['bench_plain', 'bench_c']) s;
SELECT format('DROP TRIGGER %I ON bench_plain.lead', tgname) FROM pg_trigger
 WHERE tgrelid = 'bench_plain.lead'::regclass AND NOT tgisinternal \\gexec
SELECT format('INSERT INTO %I.account (account_id) SELECT g FROM generate_series(1, 2000) g', s)
  FROM unnest(ARRAY['bench_plain', 'bench_c']) s \\gexec
INSERT INTO bench_plain.lead (lead_id, account_id, created_at, stage_entered_at, max_stage)
SELECT g, 1 + g % 2000, '2024-01-01', '2024-01-01', 'lead' FROM generate_series(1, $LEADS) g;
INSERT INTO bench_c.lead (lead_id, account_id, created_at) SELECT g, 1 + g % 2000, '2024-01-01' FROM generate_series(1, $LEADS) g;
VACUUM ANALYZE;
"

# n moves, one UPDATE per line (single-user mode ends a statement at a newline):
# leads 1.., each lead -> mql -> recycled -> lead in turn, as run.sh's script.
moves() {
    local schema=$1 n=$2
    python3 - "$schema" "$n" "$LEADS" <<'PY'
import sys
schema, n, leads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per_round = min(leads, max(1, n // 3))
for k in range(n):
    lead = 1 + k % per_round
    print(f"UPDATE {schema}.lead SET stage = CASE stage WHEN 'lead' THEN 'mql'::leadfunnel.lead_stage "
          f"WHEN 'mql' THEN 'recycled'::leadfunnel.lead_stage ELSE 'lead'::leadfunnel.lead_stage END "
          f"WHERE lead_id = {lead}")
PY
}

# Instructions of a single-user backend that runs n moves, on a fresh copy of
# the prepared cluster (so each count starts from the same data).
count() {
    local v=$1 schema=$2 n=$3 bin=$work/pg-$1/usr/lib/postgresql/$PG_MAJOR/bin
    local d=$work/run
    rm -rf "$d"; cp -a "$work/data-$v" "$d"
    moves "$schema" "$n" > "$work/moves.sql"
    [ "$(id -u)" = 0 ] && chown postgres: "$work/moves.sql"
    lf_as_owner valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
        "$bin/postgres" --single -D "$d" -c fsync=off -c synchronous_commit=off -c max_connections=10 \
        leadfunnel_bench < "$work/moves.sql" > "$work/single.log" 2>&1 \
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
    echo "$setup_sql" | "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d leadfunnel_bench >/dev/null
    got=$("$bin/psql" -X -At -h "$work" -p "$port" -U postgres -d leadfunnel_bench \
        -c "SELECT extversion FROM pg_extension WHERE extname = 'leadfunnel'")
    [ "$v" = now ] || [ "$got" = "$v" ] || { echo "instructions: the $v build installed version $got" >&2; exit 1; }
    echo "$v build: leadfunnel $got" >&2
    lf_as_owner "$bin/pg_ctl" -D "$work/data-$v" -m fast -w stop >/dev/null
    for schema in bench_plain bench_c; do
        lf_log "$v $schema: $WARM and $((WARM + MOVES)) moves under callgrind"
        w=$(count "$v" "$schema" "$WARM")
        t=$(count "$v" "$schema" $((WARM + MOVES)))
        echo "$v $schema $(( (t - w) / MOVES ))" | tee -a "$results" >&2
    done
done

get() { awk -v v="$1" -v s="$2" '$1 == v && $2 == s { print $3 }' "$results"; }
a0=$(get 0.2.0 bench_plain); b0=$(get 0.2.0 bench_c); a1=$(get now bench_plain); b1=$(get now bench_c)
echo
echo "Instructions per stage move (callgrind, single-user backend, $MOVES moves after $WARM):"
echo
echo "| build | (a) plain UPDATE | (b) leadfunnel C triggers | (b)/(a) |"
echo "|---|---|---|---|"
awk -v a="$a0" -v b="$b0" 'BEGIN { printf "| 0.2.0 | %d | %d | %.2fx |\n", a, b, b / a }'
awk -v a="$a1" -v b="$b1" 'BEGIN { printf "| now | %d | %d | %.2fx |\n", a, b, b / a }'
echo
awk -v b0="$b0" -v b1="$b1" -v a0="$a0" -v a1="$a1" \
    'BEGIN { printf "now / 0.2.0: (b) %.3fx, (a) %.3fx, the triggers alone (b - a) %.3fx\n", b1 / b0, a1 / a0, (b1 - a1) / (b0 - a0) }'
