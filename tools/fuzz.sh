#!/usr/bin/env bash
# `make fuzz`: coverage-guided fuzzing of the input (text) and receive
# (binary) functions of every state type, the way tdigest does it
# (doc/testing.md, "Fuzzing"): standalone libFuzzer harnesses (fuzz/fuzz_state.c,
# clang's -fsanitize=fuzzer with ASan + UBSan), no server: linked with
# leadfunnel's objects and the backend object files of a PostgreSQL build tree
# made from Debian's source package of the same PostgreSQL major (assertions
# and memory-context checks on).  Run by hand, long; not in CI.
#
#   tools/fuzz.sh [SECONDS]                 build, then run every harness SECONDS (default 300)
#   tools/fuzz.sh build                     only build (the PostgreSQL tree is cached)
#   tools/fuzz.sh run TYPE in|recv SECONDS  run one harness
#   tools/fuzz.sh repro TYPE in|recv FILE   run one input once (e.g. a crash found earlier)
#
# The types are the lines of fuzz/seeds.sql (one line per state type; the
# script refuses to run while a CREATE TYPE ... INPUT of src/sql/*.sql has
# none); fuzz/seeds/<type>.{in,recv}/ is the committed seed corpus
# (tools/fuzz-seeds.sh writes it from a real server).  Everything else lives
# in $LF_FUZZ_CACHE (default /var/cache/leadfunnel-fuzz): the PostgreSQL
# source and build tree, the harnesses (bin/), the growing corpora (corpus/),
# crashes (findings/) and the logs of the runs (logs/).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LF_ROOT"

CACHE=${LF_FUZZ_CACHE:-/var/cache/leadfunnel-fuzz}
PGVER_PKG="postgresql-$PG_MAJOR"
CC_FUZZ=${LF_FUZZ_CC:-clang}
JOBS=${LF_FUZZ_JOBS:-$(( $(nproc) + 1 ))}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

fuzz_types() { sed -n "s/^SELECT pg_temp\.seeds('\([a-z_0-9]*\)'.*/\1/p" fuzz/seeds.sql; }

# Every state type of the extension (a CREATE TYPE with an INPUT function) has its line.
check_types() {
    local t missing=0
    for t in $(grep -ho 'INPUT = @extschema@\.[a-z_0-9]*_in\b' src/sql/*.sql | sed 's/.*@extschema@\.//; s/_in$//' | sort -u); do
        fuzz_types | grep -qx "$t" || { echo "fuzz: state type $t has no line in fuzz/seeds.sql" >&2; missing=1; }
        [ -d "fuzz/seeds/$t.in" ] && [ -d "fuzz/seeds/$t.recv" ] || { echo "fuzz: no seeds for $t (tools/fuzz-seeds.sh)" >&2; missing=1; }
    done
    return $missing
}

install_tools() {
    local need=()
    command -v "$CC_FUZZ" >/dev/null || need+=(clang)
    [ -e "$("$CC_FUZZ" -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || need+=(libclang-rt-dev)
    command -v dpkg-source >/dev/null || need+=(dpkg-dev)
    command -v llvm-symbolizer >/dev/null || need+=(llvm)
    command -v make >/dev/null || need+=(make)
    if [ "${#need[@]}" -gt 0 ]; then
        lf_log "installing ${need[*]}"
        lf_as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive lf_as_root apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}

# deb-src entries for the Debian archives that debian.sources already uses
# (each of its stanzas again as deb-src: the installed server may come from
# the security archive).
add_deb_src() {
    local f=/etc/apt/sources.list.d/debian.sources
    if grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then return 0; fi
    grep -q '^Types: *deb *$' "$f" || { echo "fuzz: no deb entries in $f" >&2; return 1; }
    lf_log "adding deb-src entries for the archives of $f"
    sed 's/^Types: *deb *$/Types: deb-src/' "$f" | lf_as_root tee /etc/apt/sources.list.d/leadfunnel-fuzz-src.sources >/dev/null
    lf_as_root apt-get update -qq
}

# Debian's source of the installed server, configured with assertions and
# memory-context checks (a write past the end of a chunk is then a WARNING,
# which the harness treats as a find), and its backend built: a few minutes,
# once; the tree is cached.
build_postgres() {
    local installed srcdir
    installed=$(dpkg-query -W -f '${Version}' "$PGVER_PKG" 2>/dev/null || true)
    [ -n "$installed" ] || { echo "fuzz: $PGVER_PKG is not installed" >&2; return 1; }
    mkdir -p "$CACHE"
    PGSRC=$CACHE/postgresql-$PG_MAJOR
    if [ -f "$PGSRC/.lf-built" ]; then return 0; fi
    if [ ! -f "$PGSRC/configure" ]; then
        add_deb_src
        lf_log "fetching the Debian source of $PGVER_PKG $installed"
        rm -rf "$CACHE/get" && mkdir -p "$CACHE/get"
        # The installed version first; when its source is not served (the
        # security archive's pool may lack it), the newest source of the same
        # major that is: the harnesses link with this tree only, not with the
        # server, so a different minor version makes no difference to them.
        local v got=
        for v in "$installed" $(apt-cache showsrc "$PGVER_PKG" | sed -n 's/^Version: //p' | sort -rV); do
            if (cd "$CACHE/get" && apt-get source -qq "$PGVER_PKG=$v" >"$CACHE/get.log" 2>&1); then got=$v; break; fi
            lf_log "the source of $PGVER_PKG $v is not available"
        done
        [ -n "$got" ] || { cat "$CACHE/get.log" >&2; return 1; }
        srcdir=$(find "$CACHE/get" -mindepth 1 -maxdepth 1 -type d -name 'postgresql-*' | head -1)
        [ -n "$srcdir" ] || { echo "fuzz: apt-get source gave no source tree" >&2; return 1; }
        rm -rf "$PGSRC"; mv "$srcdir" "$PGSRC"; rm -rf "$CACHE/get"
        echo "$got" > "$PGSRC/.lf-version"
    fi
    lf_log "configuring and building the backend in $PGSRC (a few minutes, once)"
    (cd "$PGSRC" && [ -f src/Makefile.global ] || ./configure -q --enable-cassert \
        --without-icu --without-readline --without-zlib --without-llvm --without-openssl \
        CC="$CC_FUZZ" CFLAGS="-O0" >"$CACHE/configure.log" 2>&1) \
        || { tail -30 "$CACHE/configure.log" >&2; return 1; }
    # libpgport_srv.a and libpgcommon_srv.a first (the top-level make would)
    { make -C "$PGSRC/src/port" -j"$JOBS" -s && make -C "$PGSRC/src/common" -j"$JOBS" -s \
      && make -C "$PGSRC/src/backend" -j"$JOBS" -s; } >"$CACHE/build.log" 2>&1 \
        || { tail -40 "$CACHE/build.log" >&2; return 1; }
    touch "$PGSRC/.lf-built"
}

# leadfunnel's objects, instrumented (coverage, ASan, UBSan), against the
# build tree's headers; then one harness per type and form.
build_harnesses() {
    local t kind obj objs=() backend
    rm -rf "$CACHE/bin" && mkdir -p "$CACHE/bin/obj"
    local cflags="-g -O1 $SAN -fsanitize=fuzzer-no-link -I$PGSRC/src/include -I$LF_ROOT/src -D_GNU_SOURCE -fwrapv -fno-strict-aliasing -Wno-unused-command-line-argument"
    lf_log "building leadfunnel's objects and the harnesses (libFuzzer, ASan + UBSan)"
    for c in src/*.c; do
        obj=$CACHE/bin/obj/$(basename "${c%.c}").o
        "$CC_FUZZ" $cflags -c "$c" -o "$obj" 2>>"$CACHE/bin/build.log" || { cat "$CACHE/bin/build.log" >&2; return 1; }
        objs+=("$obj")
    done
    # the backend as its own link takes it (src/backend and src/timezone), less
    # main/main.o (libFuzzer has the main); objfiles.txt names the objects (a
    # directory's file also lists its subdirectories', hence sort -u)
    # relative to the top of the tree
    backend=$(cd "$PGSRC/src" && cat $(find backend timezone -name objfiles.txt | sort) | tr ' ' '\n' \
              | grep -v '^$' | grep -v 'src/backend/main/main\.o$' | sort -u | sed "s|^|$PGSRC/|")
    local libs; libs=$(sed -n 's/^LIBS = //p' "$PGSRC/src/Makefile.global")
    for t in $(fuzz_types); do
        for kind in in recv; do
            local def=""; [ "$kind" = recv ] && def="-DFUZZ_RECV"
            "$CC_FUZZ" $cflags -fsanitize=fuzzer -DFUZZ_TYPE="$t" $def fuzz/fuzz_state.c "${objs[@]}" $backend \
                "$PGSRC/src/common/libpgcommon_srv.a" "$PGSRC/src/port/libpgport_srv.a" $libs \
                -o "$CACHE/bin/fuzz_$t.$kind" 2>>"$CACHE/bin/build.log" || { tail -40 "$CACHE/bin/build.log" >&2; return 1; }
        done
    done
    echo "fuzz: harnesses in $CACHE/bin: $(cd "$CACHE/bin" && ls fuzz_* | tr '\n' ' ')"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Run one harness for SECONDS: its corpus grows in corpus/<type>.<kind> (the
# committed seeds are read too), a crash is written to findings/<type>.<kind>/.
run_one() {
    local t=$1 kind=$2 secs=$3 dict=()
    local corpus=$CACHE/corpus/$t.$kind findings=$CACHE/findings/$t.$kind log=$CACHE/logs/$t.$kind.log
    mkdir -p "$corpus" "$findings" "$CACHE/logs"
    [ "$kind" = in ] && dict=(-dict=fuzz/text.dict)
    lf_log "fuzzing ${t}_$( [ "$kind" = in ] && echo in || echo recv ) for $secs s"
    set +e
    "$CACHE/bin/fuzz_$t.$kind" "$corpus" "fuzz/seeds/$t.$kind" "${dict[@]}" -max_total_time="$secs" \
        -print_final_stats=1 -max_len=16384 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$findings/" >"$log" 2>&1
    local rc=$?
    set -e
    local execs cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    printf 'fuzz: %-28s %-4s %5s s  %10s execs  cov %s  ft %s  corpus %s  %s\n' "$t" "$kind" "$secs" "${execs:-?}" \
        "${cov:-?}" "${ft:-?}" "$(ls "$corpus" | wc -l)" "$( [ "$rc" = 0 ] && echo 'no finds' || echo "FIND (exit $rc): $(ls "$findings" | head -3 | tr '\n' ' ') see $log")" \
        | tee -a "$CACHE/logs/summary.txt"
    return $rc
}

check_types
case "${1:-300}" in
    build-postgres) install_tools; build_postgres ;;
    build) install_tools; build_postgres; build_harnesses ;;
    run) PGSRC=$CACHE/postgresql-$PG_MAJOR; run_one "$2" "$3" "${4:-300}" ;;
    repro) "$CACHE/bin/fuzz_$2.$3" "$4" ;;
    *)
        secs=$1; [[ "$secs" =~ ^[0-9]+$ ]] || { echo "usage: see the head of $0" >&2; exit 2; }
        install_tools; build_postgres; build_harnesses
        finds=0
        for t in $(fuzz_types); do
            for kind in in recv; do run_one "$t" "$kind" "$secs" || finds=$((finds + 1)); done
        done
        echo "fuzz: $finds harness(es) with finds; summary in $CACHE/logs/summary.txt"
        [ "$finds" = 0 ] ;;
esac
