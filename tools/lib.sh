# Shared shell functions for `make test`, `make demo` and bench/: install what
# a bare Debian machine lacks, build and install the extension, and run a
# throwaway PostgreSQL cluster (as user postgres when we are root, private
# socket directory, no TCP) that is removed again on exit.
# Source it; it sets LF_BINDIR, and after lf_cluster_start PGHOST/PGPORT/PGUSER.

PG_MAJOR=${PG_MAJOR:-15}
LF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

lf_log() { printf '\n==> %s\n' "$*" >&2; }

lf_as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

# Install PostgreSQL, its headers, pgTAP, pg_prove, pg_cron (test/scripts/cron.sh),
# psycopg2 (the client test) and gcc's sanitizer runtimes when any is missing.
lf_install_deps() {
    local cfg="${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}"
    if [ -x "$cfg" ] && [ -x "$($cfg --bindir)/postgres" ] && [ -f "$($cfg --pgxs)" ] \
       && [ -f "$($cfg --sharedir)/extension/pgtap.control" ] && command -v pg_prove >/dev/null \
       && [ -f "$($cfg --sharedir)/extension/pg_cron.control" ] \
       && /usr/bin/python3 -c 'import psycopg2' 2>/dev/null \
       && command -v gcc >/dev/null && [ -e "$(gcc -print-file-name=libasan.so)" ] \
       && [ -e "$(gcc -print-file-name=libubsan.so)" ]; then
        return 0
    fi
    lf_log "installing PostgreSQL $PG_MAJOR, its server headers, pgTAP, pg_cron, psycopg2 and gcc's sanitizer runtimes"
    export DEBIAN_FRONTEND=noninteractive
    lf_as_root apt-get update -qq
    lf_as_root apt-get install -y -qq "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
        "postgresql-$PG_MAJOR-pgtap" pgtap "postgresql-$PG_MAJOR-cron" python3-psycopg2 gcc make libasan8 libubsan1 >/dev/null
}

lf_pg_config() {
    if [ -n "${PG_CONFIG:-}" ] && [ -x "$(command -v "$PG_CONFIG")" ]; then echo "$PG_CONFIG"
    else echo "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"; fi
}

# Build with warnings as errors and install into the server's directories.
lf_build_install() {
    local cfg; cfg=$(lf_pg_config)
    lf_log "building and installing leadfunnel with $cfg"
    make -C "$LF_ROOT" -s clean PG_CONFIG="$cfg" >/dev/null
    make -C "$LF_ROOT" -s PG_CONFIG="$cfg" PROFILE="-Werror" with_llvm=no >/dev/null
    lf_as_root make -C "$LF_ROOT" -s install PG_CONFIG="$cfg" with_llvm=no >/dev/null
}

# Run a command as the cluster's owner.
lf_as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Start a throwaway cluster; extra arguments are passed as postgres -c options.
lf_cluster_start() {
    LF_BINDIR=$("$(lf_pg_config)" --bindir)
    LF_TMP=$(mktemp -d /tmp/leadfunnel-pg.XXXXXX)
    chmod 755 "$LF_TMP"
    [ "$(id -u)" = 0 ] && chown postgres: "$LF_TMP"
    export PGHOST="$LF_TMP" PGPORT="${LF_PORT:-54329}" PGUSER=postgres PGDATABASE=postgres
    lf_log "starting a throwaway PostgreSQL in $LF_TMP (port $PGPORT, socket only)"
    lf_as_owner "$LF_BINDIR/initdb" -D "$LF_TMP/data" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$LF_TMP/initdb.log" 2>&1 \
        || { cat "$LF_TMP/initdb.log" >&2; return 1; }
    LF_PGOPTS="-c listen_addresses='' -c unix_socket_directories='$LF_TMP' -c port=$PGPORT -c fsync=off -c max_connections=60"
    local o; for o in "$@"; do LF_PGOPTS="$LF_PGOPTS -c $o"; done
    export LF_BINDIR LF_TMP LF_PGOPTS
    lf_cluster_resume || return 1
    trap lf_cluster_stop EXIT
}

# (Re)start the server of the current throwaway cluster, e.g. after a crash test.
lf_cluster_resume() {
    lf_as_owner "$LF_BINDIR/pg_ctl" -D "$LF_TMP/data" -l "$LF_TMP/server.log" -o "$LF_PGOPTS" -w start >/dev/null \
        || { cat "$LF_TMP/server.log" >&2; return 1; }
}

lf_cluster_stop() {
    [ -n "${LF_TMP:-}" ] && [ -d "$LF_TMP" ] || return 0
    lf_as_owner "$LF_BINDIR/pg_ctl" -D "$LF_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
    if [ -n "${LF_KEEP_LOG:-}" ]; then cp "$LF_TMP/server.log" "$LF_KEEP_LOG" 2>/dev/null || true; fi
    rm -rf "$LF_TMP"
    LF_TMP=
}

lf_psql() { "$LF_BINDIR/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }
