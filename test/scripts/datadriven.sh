#!/usr/bin/env bash
# Runs test/scripts/datadriven_ref.py (an exact reference of the data-driven
# attribution aggregates, on random paths, splits and parallel plans) against
# the throwaway cluster of `make test`.
set -euo pipefail
. "$(dirname "$0")/../../tools/lib.sh"
db=leadfunnel_datadriven
lf_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
/usr/bin/python3 "$(dirname "$0")/datadriven_ref.py" "$db"
lf_psql -d postgres -c "DROP DATABASE $db" >/dev/null
