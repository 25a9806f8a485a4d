#!/usr/bin/env bash
# Importing CRM history: leadfunnel.import_history() vs COPY, in one run.
#   data: 200,000 leads (enterprise funnel, each created with its first history
#   row) and an export of 1,000,000 history rows for them, shuffled: 975,000
#   moves (4-5 per lead, 1 % of them moves the funnel refuses), 20,000
#   duplicates (2 %) and 5,000 rows of unknown leads (0.5 %);
#   (a) import  SELECT * FROM leadfunnel.import_history('bench', 'crm_export')
#               (dedupe, merge in time order, flag, reject, leads and lifecycle)
#   (b) copy    COPY of the same 1,000,000 rows, shaped as history rows, into a
#               plain table with the history's indexes (btree (account_id,
#               lead_id, seq), not unique since the rows hold the duplicates,
#               the partial index of wins, and pipeline_at's (account_id,
#               lead_id, entered_at, seq) INCLUDE (to_stage) of current rows)
# each ROUNDS times in alternating order, each in a transaction rolled back;
# prints rows/s of both, medians and the ratio, and the same ratio by the CPU
# time of each side's backend.  Usage: bench/import/run.sh [rounds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
ROUNDS=${1:-3}; LEADS=200000

lf_install_deps
lf_build_install
lf_cluster_start "fsync=on" "shared_buffers=256MB" "max_wal_size=4GB" "checkpoint_timeout=30min" "work_mem=64MB" "maintenance_work_mem=256MB"
db=leadfunnel_bench
lf_psql -d postgres -c "CREATE DATABASE $db" >/dev/null
lf_log "creating $LEADS leads and the export"
lf_psql -d "$db" >/dev/null <<SQL
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model('bench');
INSERT INTO bench.account (account_id) SELECT g FROM generate_series(1, 20000) g;
INSERT INTO bench.lead (lead_id, account_id, created_at)
SELECT g, 1 + g % 20000, timestamptz '2023-01-01' + (g % 500) * interval '1 day' FROM generate_series(1, $LEADS) g;
SELECT setseed(0.5);
CREATE TABLE public.crm_export (lead_id bigint, stage text, changed_at timestamptz, changed_by name);
-- moves mql, tal, tql, sal, sql (4 for every 8th lead), a day or more apart
INSERT INTO public.crm_export
SELECT l.lead_id, (ARRAY['mql', 'tal', 'tql', 'sal', 'sql'])[k],
       l.created_at + k * interval '1 day' + (random() * 20) * interval '1 hour', 'crm'
  FROM bench.lead l, generate_series(1, 5) k
 WHERE k <= CASE WHEN l.lead_id % 8 = 0 THEN 4 ELSE 5 END;
-- 1 % refused: back to lead
UPDATE public.crm_export SET stage = 'lead' WHERE random() < 0.01 AND stage <> 'mql';
-- 2 % duplicates, 0.5 % unknown leads
INSERT INTO public.crm_export SELECT * FROM public.crm_export WHERE random() < 20000.0 / 975000 LIMIT 20000;
INSERT INTO public.crm_export SELECT $LEADS + g, 'mql', '2024-06-01', 'crm' FROM generate_series(1, 5000) g;
CREATE TABLE public.shuffled AS SELECT * FROM public.crm_export ORDER BY random();
DROP TABLE public.crm_export;
ALTER TABLE public.shuffled RENAME TO crm_export;
-- (b): the same rows as history rows, and a plain table with the history's indexes
CREATE TABLE public.plain_history (LIKE bench.lead_stage_history);
CREATE INDEX ON public.plain_history (account_id, lead_id, seq);
CREATE INDEX ON public.plain_history (account_id, entered_at) WHERE to_stage = 'won';
CREATE INDEX ON public.plain_history (account_id, lead_id, entered_at, seq) INCLUDE (to_stage) WHERE superseded_at IS NULL;
COPY (SELECT e.lead_id, 1 + e.lead_id % 20000, row_number() OVER (PARTITION BY e.lead_id ORDER BY e.changed_at) + 1,
             NULL, e.stage, e.changed_at, NULL, e.changed_by, NULL, now(), NULL, NULL, NULL, NULL
        FROM public.crm_export e) TO '$LF_TMP/history.copy';
VACUUM ANALYZE;
CHECKPOINT;
SQL
rows=$(lf_psql -d "$db" -At -c "SELECT count(*) FROM public.crm_export")
echo "export: $rows rows" >&2

# the backend's CPU time so far (utime + stime of /proc/self/stat, in clock ticks)
cpu_sql="SELECT 'cpu ' || (split_part(s, ' ', 14)::bigint + split_part(s, ' ', 15)::bigint) FROM pg_read_file('/proc/self/stat') s;"
tck=$(getconf CLK_TCK)
time_sql() {   # milliseconds and backend CPU seconds of the one timed statement in a rolled-back transaction
    lf_psql -d "$db" -At <<SQL2 | awk -v t="$tck" '/^Time: / {ms = $2} /^cpu / {c[++n] = $2} END {printf "%s %.2f\n", ms, (c[2] - c[1]) / t}'
BEGIN;
$cpu_sql
\timing on
$1
\timing off
$cpu_sql
ROLLBACK;
CHECKPOINT;
SQL2
}
results="$LF_TMP/results.txt"; : > "$results"
for round in $(seq 1 "$ROUNDS"); do
    order="import copy"; [ $((round % 2)) = 0 ] && order="copy import"
    for what in $order; do
        if [ "$what" = import ]; then
            out=$(time_sql "SELECT * FROM leadfunnel.import_history('bench', 'public.crm_export');")
        else
            out=$(time_sql "COPY public.plain_history FROM '$LF_TMP/history.copy';")
        fi
        ms=${out% *}; cpu=${out#* }
        echo "$what $ms" >> "$results"
        echo "cpu_$what $cpu" >> "$results"
        echo "round $round $what: $ms ms, $(awk -v r="$rows" -v m="$ms" 'BEGIN {printf "%.0f", r / (m / 1000)}') rows/s, backend CPU $cpu s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    done
done
# the answer of one import and one COPY, kept, and whether they agree: every
# imported move (changed_by 'crm') is a row of the COPY; the COPY's distinct
# rows of known leads that the import did not load are the rows that re-enter
# the stage the lead is in (the import's duplicates beyond the exact copies)
lf_psql -d "$db" -c "SELECT * FROM leadfunnel.import_history('bench', 'public.crm_export')"
lf_psql -d "$db" -At -c "SELECT 'history consistent: ' || (count(*) = 0) FROM leadfunnel.verify_model('bench')"
lf_psql -d "$db" -c "COPY public.plain_history FROM '$LF_TMP/history.copy'"
lf_psql -d "$db" <<SQL3
SELECT (SELECT count(*) FROM (SELECT lead_id, to_stage::text, entered_at FROM bench.lead_stage_history
                               WHERE superseded_at IS NULL AND changed_by = 'crm'
                              EXCEPT SELECT lead_id, to_stage::text, entered_at FROM public.plain_history) d) AS imported_not_copied,
       (SELECT count(*) FROM (SELECT DISTINCT lead_id, to_stage, entered_at FROM public.plain_history WHERE lead_id <= $LEADS) d)
     - (SELECT count(*) FROM bench.lead_stage_history WHERE superseded_at IS NULL AND changed_by = 'crm') AS copied_not_imported,
       (SELECT count(*) FROM public.plain_history) - (SELECT count(*) FROM (SELECT DISTINCT lead_id, to_stage, entered_at FROM public.plain_history) d) AS exact_copies,
       (SELECT count(*) FROM public.plain_history WHERE lead_id > $LEADS) AS unknown_lead_rows;
SQL3

med() { grep "^$1 " "$results" | awk '{print $2}' | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
a=$(med import); b=$(med copy)
echo
echo "| rows | (a) import_history | (b) COPY, plain table | (a)/(b) speed |"
echo "|---|---|---|---|"
awk -v r="$rows" -v a="$a" -v b="$b" 'BEGIN {printf "| %d | %.1f s, %.0f rows/s | %.1f s, %.0f rows/s | %.2fx |\n", r, a/1000, r/(a/1000), b/1000, r/(b/1000), b/a}'
# the same by the CPU time of each side's backend, which a busy machine
# disturbs less than wall time (it waits for a core without counting)
ca=$(med cpu_import); cb=$(med cpu_copy)
echo
echo "backend CPU, medians: import $ca s, COPY $cb s, ratio $(awk -v a="$ca" -v b="$cb" 'BEGIN {printf "%.2fx", b/a}')"
