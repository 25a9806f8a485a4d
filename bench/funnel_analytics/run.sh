#!/usr/bin/env bash
# Funnel and cycle-time questions over LEADS leads and ~5 history rows per lead,
# side by side in one run on the same data:
#   (a) ours   — funnel_reach(max_stage) per funnel, and time in stage per stage in one
#                ungrouped pass: cycle_time_by_stage(to_stage, entered_at, left_at)
#   (t) ours, grouped — the same with cycle_time(entered_at, left_at) ... GROUP BY to_stage
#                (what (a) was before cycle_time_by_stage)
#   (i) ours, interval form — the same with cycle_time(left_at - entered_at) GROUP BY to_stage
#                (what (t) was before the (started, ended) form)
#                (a), (t) and (i) are checked to give the same answer in every stage before timing
#   (b) plain  — the same answers with count(*) FILTER per stage, avg, max and
#                percentile_cont(ARRAY[0.5, 0.9, 0.95]) (one sort for the three quantiles)
#   (c) count  — SELECT count(*) over the same rows (the scan limit)
#   (g) grouped count — SELECT <group>, count(*) ... GROUP BY <group> over the same rows and
#                groups: the floor for any per-group answer (scan + PostgreSQL's hash aggregation)
# with 0 parallel workers, and (a), (t), (i), (b), (c), (g) again with 2 workers.  Each
# configuration runs ROUNDS times in rotating order; prints medians and ratios.
# Usage: bench/funnel_analytics/run.sh [rounds] [leads]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
ROUNDS=${1:-3}; LEADS=${2:-1000000}

lf_install_deps
lf_build_install
lf_cluster_start "shared_buffers=1GB" "work_mem=64MB" "max_worker_processes=8" "max_parallel_workers=4" \
    "max_wal_size=4GB" "checkpoint_timeout=30min" "jit=off"
db=leadfunnel_bench
lf_psql -d postgres -c "CREATE DATABASE $db" >/dev/null

lf_log "generating $LEADS leads and their history (set-based, shaped like a model's lead and lead_stage_history)"
lf_psql -d "$db" >/dev/null <<SQL
CREATE EXTENSION leadfunnel;
SELECT setseed(0.42);
-- leads: funnel by price point; n_steps history rows each (1..9, about 5 on average)
CREATE TABLE lead AS
SELECT g::bigint AS lead_id, (g / 3)::bigint AS account_id,
       (ARRAY['enterprise', 'inside_sales', 'self_serve'])[1 + floor(random() * 3)::int] AS funnel,
       timestamptz '2024-01-01' + make_interval(hours => floor(random() * 24 * 540)::int) AS created_at,
       1 + floor(random() * 9)::int AS n_steps
  FROM generate_series(1, $LEADS) g;
-- history: stage i of the path (visitor, lead, mql, ...), stays of exponentially distributed length;
-- the last row is the current stage (left_at NULL), closed for 60 % of the leads
CREATE TABLE lead_stage_history AS
SELECT l.lead_id, l.account_id, s.seq,
       CASE WHEN s.seq = l.n_steps AND l.lead_id % 5 < 3
            THEN (ARRAY['won', 'recycled', 'disqualified', 'lost']::leadfunnel.lead_stage[])[1 + (l.lead_id % 4)::int]
            ELSE (enum_range(NULL::leadfunnel.lead_stage))[least(s.seq, 8)] END AS to_stage,
       l.created_at + make_interval(days => 12 * (s.seq - 1)) AS entered_at,
       CASE WHEN s.seq < l.n_steps
            THEN l.created_at + make_interval(days => 12 * (s.seq - 1), secs => floor(-ln(1 - random()) * 12 * 86400)) END AS left_at
  FROM lead l, generate_series(1, l.n_steps) s(seq);
ALTER TABLE lead ADD COLUMN max_stage leadfunnel.lead_stage, ADD COLUMN stage leadfunnel.lead_stage, ADD COLUMN closed_at timestamptz;
UPDATE lead l SET max_stage = h.max_stage, stage = h.stage, closed_at = CASE WHEN h.stage >= 'won' THEN h.entered_at END
  FROM (SELECT lead_id, max(to_stage) FILTER (WHERE to_stage <= 'won') AS max_stage,
               (array_agg(to_stage ORDER BY seq DESC))[1] AS stage, max(entered_at) AS entered_at
          FROM lead_stage_history GROUP BY lead_id) h
 WHERE h.lead_id = l.lead_id;
ALTER TABLE lead DROP COLUMN n_steps;
VACUUM FREEZE ANALYZE lead;
VACUUM FREEZE ANALYZE lead_stage_history;
SQL
lf_psql -d "$db" -At -c "SELECT format('%s leads, %s history rows (%s completed stays), %s + %s', (SELECT count(*) FROM lead),
    (SELECT count(*) FROM lead_stage_history), (SELECT count(*) FROM lead_stage_history WHERE left_at IS NOT NULL),
    pg_size_pretty(pg_table_size('lead')), pg_size_pretty(pg_table_size('lead_stage_history')))" >&2

# the two questions, three ways
cat > "$LF_TMP/a.sql" <<'SQL'
SELECT funnel, leadfunnel.funnel_reach(max_stage) FROM lead GROUP BY funnel;
SELECT s.* FROM unnest((SELECT leadfunnel.cycle_time_by_stage(to_stage, entered_at, left_at) FROM lead_stage_history WHERE left_at IS NOT NULL)) s;
SQL
cat > "$LF_TMP/t.sql" <<'SQL'
SELECT funnel, leadfunnel.funnel_reach(max_stage) FROM lead GROUP BY funnel;
SELECT to_stage, leadfunnel.cycle_time(entered_at, left_at) FROM lead_stage_history WHERE left_at IS NOT NULL GROUP BY to_stage;
SQL
cat > "$LF_TMP/i.sql" <<'SQL'
SELECT funnel, leadfunnel.funnel_reach(max_stage) FROM lead GROUP BY funnel;
SELECT to_stage, leadfunnel.cycle_time(left_at - entered_at) FROM lead_stage_history WHERE left_at IS NOT NULL GROUP BY to_stage;
SQL
cat > "$LF_TMP/b.sql" <<'SQL'
SELECT funnel, count(*) FILTER (WHERE max_stage >= 'visitor'), count(*) FILTER (WHERE max_stage >= 'lead'),
       count(*) FILTER (WHERE max_stage >= 'mql'), count(*) FILTER (WHERE max_stage >= 'tal'),
       count(*) FILTER (WHERE max_stage >= 'tql'), count(*) FILTER (WHERE max_stage >= 'sal'),
       count(*) FILTER (WHERE max_stage >= 'sql'), count(*) FILTER (WHERE max_stage >= 'opportunity'),
       count(*) FILTER (WHERE max_stage >= 'won')
  FROM lead GROUP BY funnel;
SELECT to_stage, count(*), avg(left_at - entered_at),
       percentile_cont(ARRAY[0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY left_at - entered_at), max(left_at - entered_at)
  FROM lead_stage_history WHERE left_at IS NOT NULL GROUP BY to_stage;
SQL
cat > "$LF_TMP/c.sql" <<'SQL'
SELECT count(*) FROM lead;
SELECT count(*) FROM lead_stage_history WHERE left_at IS NOT NULL;
SQL
cat > "$LF_TMP/g.sql" <<'SQL'
SELECT funnel, count(*) FROM lead GROUP BY funnel;
SELECT to_stage, count(*) FROM lead_stage_history WHERE left_at IS NOT NULL GROUP BY to_stage;
SQL

# ms for one run of a file with the given number of parallel workers
run() {
    lf_psql -d "$db" -c "SET max_parallel_workers_per_gather = $2" -c '\timing on' -c '\o /dev/null' -f "$LF_TMP/$1.sql" \
        | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 2 | awk '{s += $1} END {printf "%.1f\n", s}'
}
# (a), (t) and (i) answer the same in every stage:
# cycle_time_by_stage(to_stage, entered_at, left_at) = cycle_time(entered_at, left_at) = cycle_time(left_at - entered_at)
same=$(lf_psql -d "$db" -At -c "SELECT count(*) FILTER (WHERE a IS DISTINCT FROM t OR t IS DISTINCT FROM i)
  FROM (SELECT to_stage, leadfunnel.cycle_time(entered_at, left_at)::text AS t, leadfunnel.cycle_time(left_at - entered_at)::text AS i
          FROM lead_stage_history WHERE left_at IS NOT NULL GROUP BY to_stage) g
  FULL JOIN (SELECT s.stage, (s.n, s.mean, s.p50, s.p90, s.p95, s.max)::leadfunnel.cycle_time_stats::text AS a
               FROM unnest((SELECT leadfunnel.cycle_time_by_stage(to_stage, entered_at, left_at)
                              FROM lead_stage_history WHERE left_at IS NOT NULL)) s) u ON u.stage = g.to_stage")
[ "$same" = 0 ] || { echo "cycle_time_by_stage, cycle_time(entered_at, left_at) and cycle_time(left_at - entered_at) differ in $same stages" >&2; exit 1; }
echo "(a), (t) and (i) give the same answer in every stage" >&2
for f in a t i b c g; do run $f 0 >/dev/null; done       # warm the cache
results="$LF_TMP/results.txt"; : > "$results"
for round in $(seq 1 "$ROUNDS"); do
    for cfg in "a 0" "t 0" "i 0" "b 0" "c 0" "g 0" "a 2" "t 2" "i 2" "b 2" "c 2" "g 2"; do
        set -- $cfg
        ms=$(run "$1" "$2")
        echo "$1 $2 $ms" >> "$results"
        echo "round $round: ($1) workers=$2: $ms ms" >&2
    done
done

med() { grep "^$1 $2 " "$results" | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
a0=$(med a 0); t0=$(med t 0); i0=$(med i 0); b0=$(med b 0); c0=$(med c 0); g0=$(med g 0)
a2=$(med a 2); t2=$(med t 2); i2=$(med i 2); b2=$(med b 2); c2=$(med c 2); g2=$(med g 2)
echo
echo "| workers | (a) ours | (t) ours, grouped | (i) ours, interval form | (b) plain SQL | (c) count(*) | (g) grouped count(*) | (b)/(a) | (a)/(c) | (t)/(c) | (i)/(c) | (a)/(g) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for w in 0 2; do
    if [ $w = 0 ]; then set -- "$a0" "$t0" "$i0" "$b0" "$c0" "$g0"; else set -- "$a2" "$t2" "$i2" "$b2" "$c2" "$g2"; fi
    awk -v w=$w -v a="$1" -v t="$2" -v i="$3" -v b="$4" -v c="$5" -v g="$6" 'BEGIN {
        printf "| %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.2fx | %.2fx | %.2fx | %.2fx | %.2fx |\n", w, a, t, i, b, c, g, b/a, a/c, t/c, i/c, a/g }'
done
echo
awk -v x="$a0" -v y="$a2" 'BEGIN { printf "(a) with 0 workers / (a) with 2 workers: %.2fx\n", x/y }'
awk -v x="$t0" -v y="$t2" 'BEGIN { printf "(t) with 0 workers / (t) with 2 workers: %.2fx\n", x/y }'
awk -v x="$i0" -v y="$i2" 'BEGIN { printf "(i) with 0 workers / (i) with 2 workers: %.2fx\n", x/y }'
awk -v x="$c0" -v y="$c2" 'BEGIN { printf "(c) with 0 workers / (c) with 2 workers: %.2fx (the scan itself)\n", x/y }'
awk -v x="$g0" -v y="$g2" 'BEGIN { printf "(g) with 0 workers / (g) with 2 workers: %.2fx\n", x/y }'
echo
echo "single runs (ms):"
for cfg in "a 0" "t 0" "i 0" "b 0" "c 0" "g 0" "a 2" "t 2" "i 2" "b 2" "c 2" "g 2"; do
    set -- $cfg
    echo "  ($1) workers=$2: $(grep "^$1 $2 " "$results" | awk '{printf "%s ", $3}')"
done
