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
MOVES=${1:-3000}; WARM=300; LEADS=20000
. "$here/../instructions_lib.sh"
lfi_build

# The data: the same leads in both models, as bench/stage_moves/run.sh makes them.
setup() { lfi_psql <<SQL
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model(s) FROM unnest(ARRAY['bench_plain', 'bench_c']) s;
SELECT format('DROP TRIGGER %I ON bench_plain.lead', tgname) FROM pg_trigger
 WHERE tgrelid = 'bench_plain.lead'::regclass AND NOT tgisinternal \gexec
SELECT format('INSERT INTO %I.account (account_id) SELECT g FROM generate_series(1, 2000) g', s)
  FROM unnest(ARRAY['bench_plain', 'bench_c']) s \gexec
INSERT INTO bench_plain.lead (lead_id, account_id, created_at, stage_entered_at, max_stage)
SELECT g, 1 + g % 2000, '2024-01-01', '2024-01-01', 'lead' FROM generate_series(1, $LEADS) g;
INSERT INTO bench_c.lead (lead_id, account_id, created_at) SELECT g, 1 + g % 2000, '2024-01-01' FROM generate_series(1, $LEADS) g;
VACUUM ANALYZE;
SQL
}

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

results=$work/results.txt; : > "$results"
for v in "${LFI_VERSIONS[@]}"; do
    lfi_cluster "$v" setup
    for schema in bench_plain bench_c; do
        lf_log "$v $schema: $WARM and $((WARM + MOVES)) moves under callgrind"
        moves "$schema" "$WARM" > "$work/warm.sql"
        moves "$schema" $((WARM + MOVES)) > "$work/moves.sql"
        w=$(lfi_count "$v" "$work/warm.sql" -c synchronous_commit=off)
        t=$(lfi_count "$v" "$work/moves.sql" -c synchronous_commit=off)
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
