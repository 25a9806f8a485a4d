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
LEADS=${1:-30000}
. "$here/../instructions_lib.sh"
lfi_build

# The data: bench/attribution/data.sql with LEADS leads; 0.2.0's history has no recorded_at.
setup() {
    { echo "CREATE EXTENSION leadfunnel;"
      if [ "$1" = 0.2.0 ]; then
          sed 's/, recorded_at)$/)/; s/, created_at, created_at FROM bench.lead;/, created_at FROM bench.lead;/; s/, e, e$/, e/' "$here/data.sql"
      else cat "$here/data.sql"; fi; } | lfi_psql -v leads="$LEADS"
}

queries=(
  "scan|SELECT count(*) FROM bench.touch"
  "campaign_attribution|SELECT count(*) FROM bench.campaign_attribution"
)

lfi_queries setup "$LEADS" "Instructions per lead, $LEADS leads"
