#!/usr/bin/env bash
# CPU instructions per input row of the analytic aggregates, counted by
# valgrind's callgrind (a count, not a time: the same whatever else the machine
# is doing), leadfunnel 0.2.0 (commit 8dc9b90, the last whose control file says
# 0.2.0) and this checkout built side by side in private copies of PostgreSQL,
# as bench/stage_moves/instructions.sh does.  In each, a table of ROWS stays
# (stage, entered_at, left_at) shaped like bench/funnel_analytics/run.sh's, and
# in a single-user backend under callgrind one and three executions of each
# query; (count(3) - count(1)) / 2 / ROWS is the cost per row, the backend's
# start and the first plans left out.  Queries: count(*) (the scan), and
# cycle_time_by_stage, cycle_time(started, ended) and funnel_reach over it.
# Prints instructions per row per query and build, and now / 0.2.0.
#   Usage: bench/funnel_analytics/instructions.sh [rows]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
ROWS=${1:-200000}
. "$here/../instructions_lib.sh"
lfi_build

# The data: ROWS completed stays, stages and durations spread as in run.sh.
setup() { lfi_psql <<SQL
CREATE EXTENSION leadfunnel;
CREATE TABLE h AS
SELECT (ARRAY['visitor','lead','mql','tal','tql','sal','sql','opportunity']::leadfunnel.lead_stage[])[1 + g % 8] AS to_stage,
       timestamptz '2024-01-01' + make_interval(mins => g) AS entered_at,
       timestamptz '2024-01-01' + make_interval(mins => g) + make_interval(secs => 60 + (g * 7919) % 9000000) AS left_at
  FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE h;
SQL
}

queries=(
  "scan|SELECT count(*) FROM h"
  "cycle_time_by_stage|SELECT count(*) FROM unnest((SELECT leadfunnel.cycle_time_by_stage(to_stage, entered_at, left_at) FROM h))"
  "cycle_time|SELECT count(*) FROM (SELECT leadfunnel.cycle_time(entered_at, left_at) FROM h GROUP BY to_stage) s"
  "funnel_reach|SELECT leadfunnel.funnel_reach(to_stage) IS NOT NULL FROM h"
)

lfi_queries setup "$ROWS" "Instructions per input row, $ROWS rows"
