# Shared by bench/*/instructions.sh: count CPU instructions with valgrind's
# callgrind in a single-user backend, for leadfunnel 0.2.0 and this checkout
# built side by side, each in a private copy of the PostgreSQL installation (so
# that the two leadfunnel.so and their scripts do not meet).  A count, not a
# time: the same whatever else the machine is doing.  Source it after
# tools/lib.sh; it sets `work` and a trap that removes it.
#
#   lfi_build                 build and install both into $work/pg-<v>
#   lfi_cluster V SETUP_FN    make the cluster data-V: initdb, start, database
#                             leadfunnel_bench, "SETUP_FN V" with lfi_psql at
#                             hand, check the version, stop
#   lfi_psql ARGS...          psql on the cluster lfi_cluster is setting up
#   lfi_queries SETUP_FN PER TITLE  per-unit counts of the "name|statement" array
#                             `queries`, and their table (see below)
#   lfi_count V FILE [-c opt=val ...]
#                             instructions of a single-user backend that runs
#                             the statements of FILE (one a line) on a fresh
#                             copy of data-V

# The last commit whose control file says 0.2.0 (the next one, e374659, froze it
# in sql/releases/ and made main 0.3.0).
RELEASE_COMMIT=${LF_RELEASE_COMMIT:-8dc9b90}
LFI_VERSIONS=(0.2.0 now)

lf_install_deps
command -v valgrind >/dev/null || lf_as_root apt-get install -y -qq valgrind >/dev/null
work=$(mktemp -d /tmp/leadfunnel-instr.XXXXXX)
chmod 755 "$work"
lfi_cleanup() {
    local d
    for d in "$work"/data-*; do
        [ -d "$d" ] && lf_as_owner "$work/pg-${d##*/data-}/usr/lib/postgresql/$PG_MAJOR/bin/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap lfi_cleanup EXIT

lfi_bin() { echo "$work/pg-$1/usr/lib/postgresql/$PG_MAJOR/bin"; }

lfi_build() {
    local cfg bindir root v d
    cfg=$(lf_pg_config)
    bindir=$("$cfg" --bindir)
    root=${bindir%/usr/lib/postgresql/*}
    lf_log "building 0.2.0 (commit $RELEASE_COMMIT) and this checkout, each into a copy of PostgreSQL"
    mkdir "$work/src-0.2.0" "$work/src-now"
    git -C "$LF_ROOT" archive "$RELEASE_COMMIT" | tar -x -C "$work/src-0.2.0"
    (cd "$LF_ROOT" && git ls-files -z | xargs -0 tar -c) | tar -x -C "$work/src-now"
    for v in "${LFI_VERSIONS[@]}"; do
        d=$work/pg-$v
        mkdir -p "$d/usr/lib/postgresql" "$d/usr/share/postgresql" "$d/usr/include"
        cp -a "$root/usr/lib/postgresql/$PG_MAJOR" "$d/usr/lib/postgresql/"
        cp -a "$root/usr/share/postgresql/$PG_MAJOR" "$d/usr/share/postgresql/"
        cp -a "$root/usr/include/postgresql" "$d/usr/include/"
        rm -f "$d/usr/share/postgresql/$PG_MAJOR"/extension/leadfunnel* "$d/usr/lib/postgresql/$PG_MAJOR/lib/leadfunnel.so"
        { make -C "$work/src-$v" -s PG_CONFIG="$(lfi_bin "$v")/pg_config" with_llvm=no \
          && make -C "$work/src-$v" -s install PG_CONFIG="$(lfi_bin "$v")/pg_config" with_llvm=no; } >"$work/build-$v.log" 2>&1 \
            || { cat "$work/build-$v.log" >&2; exit 1; }
    done
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$work"; fi
}

LFI_PORT=$(( ${LF_PORT:-54329} + 1 ))
lfi_psql() { "$LFI_PSQL" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$LFI_PORT" -U postgres -d leadfunnel_bench "$@"; }

lfi_cluster() {
    local v=$1 setup=$2 bin got
    bin=$(lfi_bin "$v")
    LFI_PSQL=$bin/psql
    lf_as_owner "$bin/initdb" -D "$work/data-$v" -U postgres -A trust --no-sync -E UTF8 --locale=C >/dev/null
    lf_as_owner "$bin/pg_ctl" -D "$work/data-$v" -l "$work/server-$v.log" -w start \
        -o "-c listen_addresses='' -c unix_socket_directories='$work' -c port=$LFI_PORT -c fsync=off" >/dev/null
    lfi_psql -d postgres -c "CREATE DATABASE leadfunnel_bench" >/dev/null
    "$setup" "$v" >/dev/null
    got=$(lfi_psql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'leadfunnel'")
    [ "$v" = now ] || [ "$got" = "$v" ] || { echo "instructions: the $v build installed version $got" >&2; exit 1; }
    echo "$v build: leadfunnel $got" >&2
    lf_as_owner "$bin/pg_ctl" -D "$work/data-$v" -m fast -w stop >/dev/null
}

lfi_count() {
    local v=$1 file=$2 d=$work/run
    shift 2
    rm -rf "$d"; cp -a "$work/data-$v" "$d"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$file"; fi
    lf_as_owner valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
        "$(lfi_bin "$v")/postgres" --single -D "$d" -c fsync=off -c max_connections=10 "$@" \
        leadfunnel_bench < "$file" > "$work/single.log" 2>&1 \
        || { tail -20 "$work/single.log" >&2; exit 1; }
    if grep -q ERROR "$work/single.log"; then grep -m3 ERROR "$work/single.log" >&2; exit 1; fi
    sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$work/cg.out" | head -1
}

# For each "name|statement" of the array `queries`, in each build: one and three
# executions, (count(3) - count(1)) / 2 / PER instructions; then a table headed
# TITLE with both builds and now / 0.2.0.  SETUP_FN makes each build's cluster.
lfi_queries() {
    local setup=$1 per=$2 title=$3 v q name sql one three results=$work/results.txt
    : > "$results"
    for v in "${LFI_VERSIONS[@]}"; do
        lfi_cluster "$v" "$setup"
        for q in "${queries[@]}"; do
            name=${q%%|*}; sql=${q#*|}
            lf_log "$v $name: 1 and 3 executions under callgrind"
            echo "$sql" > "$work/one.sql"
            printf '%s\n%s\n%s\n' "$sql" "$sql" "$sql" > "$work/three.sql"
            one=$(lfi_count "$v" "$work/one.sql" -c jit=off -c max_parallel_workers_per_gather=0 -c work_mem=64MB)
            three=$(lfi_count "$v" "$work/three.sql" -c jit=off -c max_parallel_workers_per_gather=0 -c work_mem=64MB)
            echo "$v $name $(( (three - one) / 2 / per ))" | tee -a "$results" >&2
        done
    done
    echo
    echo "$title (callgrind, single-user backend, serial, work_mem 64MB):"
    echo
    echo "| query | 0.2.0 | now | now / 0.2.0 |"
    echo "|---|---|---|---|"
    for q in "${queries[@]}"; do
        name=${q%%|*}
        awk -v n="$name" -v a="$(awk -v s="$name" '$1 == "0.2.0" && $2 == s { print $3 }' "$results")" \
            -v b="$(awk -v s="$name" '$1 == "now" && $2 == s { print $3 }' "$results")" \
            'BEGIN { printf "| %s | %d | %d | %.3fx |\n", n, a, b, b / a }'
    done
}
