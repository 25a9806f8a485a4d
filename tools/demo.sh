#!/usr/bin/env bash
# `make demo`: from a bare Debian machine to a printed funnel.  Installs what is
# missing, builds and installs leadfunnel, starts a throwaway PostgreSQL,
# creates a model in schema "demo", generates realistic data and prints a
# report.  The server is removed at the end unless LF_KEEP=1 is set.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
LEADS=${LF_DEMO_LEADS:-5000}

lf_install_deps
lf_build_install
lf_cluster_start

lf_log "creating a model in schema demo and generating $LEADS leads"
lf_psql -d postgres -c "CREATE DATABASE leadfunnel_demo" >/dev/null
lf_psql -d leadfunnel_demo <<SQL
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model('demo');
SELECT * FROM leadfunnel.generate_demo('demo', $LEADS, 0.42);
SQL

lf_log "the funnel"
lf_psql -d leadfunnel_demo -f "$LF_ROOT/tools/demo-report.sql"

if [ "${LF_KEEP:-0}" = 1 ]; then
    trap - EXIT
    cat <<EOF2

The demo server keeps running. Connect with:
    $LF_BINDIR/psql -h $PGHOST -p $PGPORT -U postgres leadfunnel_demo
Stop and remove it with:
    $( [ "$(id -u)" = 0 ] && echo "runuser -u postgres -- " )$LF_BINDIR/pg_ctl -D $LF_TMP/data stop && rm -rf $LF_TMP
EOF2
else
    lf_cluster_stop
    echo
    echo "The demo server was stopped and removed. To keep it and explore with psql: LF_KEEP=1 make demo"
fi
