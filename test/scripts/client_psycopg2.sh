#!/usr/bin/env bash
# Runs test/scripts/client_psycopg2.py against the throwaway cluster of `make test`.
set -euo pipefail
. "$(dirname "$0")/../../tools/lib.sh"
db=leadfunnel_client
lf_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
/usr/bin/python3 "$(dirname "$0")/client_psycopg2.py" "$db"
lf_psql -d postgres -c "DROP DATABASE $db" >/dev/null
