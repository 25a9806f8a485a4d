#!/usr/bin/env bash
# Memory safety step of `make test` (doc/testing.md, "Memory safety"): builds
# leadfunnel.so with AddressSanitizer and UndefinedBehaviorSanitizer, installs
# it in place of the normal build, starts a second throwaway cluster whose
# server runs with the ASan runtime preloaded (Debian's postgres itself is not
# instrumented), runs the pg_regress and pgTAP suites and a bounded mutation run
# of the state types' input and receive functions (tools/mutate-states.py)
# against it and fails on any sanitizer report or failed test.  The normal build is put back on exit.
#
#   PG_CONFIG=... LF_PORT=... tools/memcheck.sh
#
# ASan checks every access our C code makes to the stack, to globals and to
# malloc'ed memory (out of bounds, use after return/scope); UBSan checks
# array indexes against their declared bounds (-fsanitize=bounds, also for
# arrays inside palloc'ed structs), signed overflow, shifts, misaligned and
# NULL pointer use, invalid enum/bool loads.  Both abort the backend at the
# first report.  Reports land in $LF_TMP/sanitizer.<pid> (ASan) and in the
# server log (UBSan); any report fails the step.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LF_ROOT"

cfg=$(lf_pg_config)
libasan=$(gcc -print-file-name=libasan.so)
[ -e "$libasan" ] || { echo "memcheck: libasan not found (install gcc's libasan8)" >&2; exit 1; }
libasan=$(readlink -f "$libasan")
pkglibdir=$("$cfg" --pkglibdir)

# Build the instrumented library in a copy of the tree, so the normal build's
# objects stay as they are.
work=$(mktemp -d /tmp/leadfunnel-asan.XXXXXX)
chmod 755 "$work"
saved=$work/leadfunnel.so.normal
restore() {
    lf_cluster_stop
    [ -f "$saved" ] && lf_as_root install -m 755 "$saved" "$pkglibdir/leadfunnel.so"
    rm -rf "$work"
}
trap restore EXIT
lf_log "building leadfunnel.so with AddressSanitizer and UndefinedBehaviorSanitizer"
cp -r Makefile leadfunnel.control src tools "$work/"
make -C "$work" -s clean PG_CONFIG="$cfg" >/dev/null   # no objects of the normal build
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -fno-common"
make -C "$work" -s PG_CONFIG="$cfg" with_llvm=no PROFILE="-Werror" \
    PG_CFLAGS="$sanitize -O1 -g" PG_LDFLAGS="-fsanitize=address,undefined" leadfunnel.so >/dev/null \
    || { echo "memcheck: instrumented build failed" >&2; exit 1; }
# The ASan runtime must initialize before any other library's constructor
# calls malloc: preloaded alone, it is initialized lazily on the first malloc,
# which in Debian's postgres comes from libp11-kit's constructor inside
# newlocale() with glibc's locale lock held -- and the runtime's own start-up
# then deadlocks on that lock.  A shim linked with -z initfirst (its
# constructor runs before every other) starts the runtime first.
printf '%s\n' 'extern void __asan_init(void);' \
    '__attribute__((constructor)) static void lf_asan_first(void) { __asan_init(); }' > "$work/asan_first.c"
gcc -shared -fPIC -o "$work/asan_first.so" "$work/asan_first.c" -Wl,-z,initfirst -Wl,--no-as-needed "$libasan" \
    || { echo "memcheck: cannot build the ASan start-up shim" >&2; exit 1; }
cp "$pkglibdir/leadfunnel.so" "$saved"
lf_as_root install -m 755 "$work/leadfunnel.so" "$pkglibdir/leadfunnel.so"

# The server (postmaster and every backend it forks) gets the ASan runtime
# first in its library list; detect_leaks=0 because a server does not free
# what it allocates before it exits.  initdb and the clients run without it.
lf_cluster_start || exit 1
trap restore EXIT
lf_as_owner "$LF_BINDIR/pg_ctl" -D "$LF_TMP/data" -m fast -w stop >/dev/null
lf_as_owner env LD_PRELOAD="$libasan $work/asan_first.so" \
    ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:detect_stack_use_after_return=1:log_path=$LF_TMP/sanitizer" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$LF_TMP/sanitizer" \
    "$LF_BINDIR/pg_ctl" -D "$LF_TMP/data" -l "$LF_TMP/server.log" -o "$LF_PGOPTS" -w start >/dev/null \
    || { cat "$LF_TMP/server.log" >&2; exit 1; }

status=0
# LF_MEMCHECK_SUITES=0 skips the two suites (for a long mutation run by hand, below).
if [ "${LF_MEMCHECK_SUITES:-1}" != 0 ]; then
lf_log "pg_regress suite against the instrumented build"
make -s installcheck PG_CONFIG="$cfg" \
    EXTRA_REGRESS_OPTS="--outputdir=$LF_TMP/regress" > "$LF_TMP/regress.out" 2>&1
rc=$?
grep -E '\.\.\. |^(not )?ok [0-9]+ ' "$LF_TMP/regress.out" | sed 's/^/  /'
if [ "$rc" != 0 ]; then
    echo "memcheck: pg_regress failed under the sanitizers"
    [ -f "$LF_TMP/regress/regression.diffs" ] && { head -c 3000 "$LF_TMP/regress/regression.diffs"; echo; }
    status=1
fi
lf_log "pgTAP suite against the instrumented build"
lf_psql -d postgres -c "CREATE DATABASE leadfunnel_tap" && lf_psql -d leadfunnel_tap -c "CREATE EXTENSION pgtap" \
    && pg_prove -d leadfunnel_tap test/*.sql > "$LF_TMP/prove.out" 2>&1
rc=$?
tail -2 "$LF_TMP/prove.out" | sed 's/^/  /'
[ "$rc" = 0 ] || { echo "memcheck: pgTAP suite failed under the sanitizers"; cat "$LF_TMP/prove.out" | head -40; status=1; }
fi
# Mutated valid states of every state type through its input function and,
# by COPY (FORMAT binary), its receive function: each must round-trip or be
# refused with 22P02/22P03 (tools/mutate-states.py; the seed is printed, and
# LF_MUTATE_SEED repeats a run; a longer run by hand:
# LF_MEMCHECK_SUITES=0 LF_MUTATE_ARGS="--per-type 5000 --budget 1200" LF_MUTATE_TIMEOUT=1500 tools/memcheck.sh).
lf_log "mutated states through the input and receive functions (tools/mutate-states.py)"
lf_psql -d postgres -c "CREATE DATABASE leadfunnel_mutate" && lf_psql -d leadfunnel_mutate -c "CREATE EXTENSION leadfunnel" \
    && LF_MUTATE_DB=leadfunnel_mutate timeout "${LF_MUTATE_TIMEOUT:-120}" /usr/bin/python3 tools/mutate-states.py ${LF_MUTATE_SEED:+--seed "$LF_MUTATE_SEED"} ${LF_MUTATE_ARGS:-} \
        > "$LF_TMP/mutate.out" 2>&1
rc=$?
sed 's/^/  /' "$LF_TMP/mutate.out"
[ "$rc" = 0 ] || { echo "memcheck: the mutation run failed"; status=1; }
# ASan writes its reports to sanitizer.<pid>; UBSan (in the ASan runtime) to
# the server's stderr, i.e. server.log; a backend a sanitizer stopped shows as
# a crash there.
reports=$(ls "$LF_TMP"/sanitizer.* 2>/dev/null || true)
if [ -n "$reports" ]; then
    echo "memcheck: AddressSanitizer reports:"
    for r in $reports; do head -c 6000 "$r"; echo; done
    status=1
fi
if grep -qE 'runtime error:|Sanitizer|terminated by signal|was terminated|exited with exit code [^01]' "$LF_TMP/server.log"; then
    echo "memcheck: sanitizer reports or crashes in the server log:"
    grep -E -A12 'runtime error:|Sanitizer|terminated by signal|was terminated|exited with exit code [^01]' "$LF_TMP/server.log" | head -80
    status=1
fi
# the server really ran with the runtime and the instrumented library
pid=$(head -1 "$LF_TMP/data/postmaster.pid")
grep -q libasan "/proc/$pid/maps" || { echo "memcheck: the server did not load libasan"; status=1; }
if ! grep -q '__asan_report' <(nm -D "$pkglibdir/leadfunnel.so" 2>/dev/null); then
    echo "memcheck: the installed leadfunnel.so is not instrumented"; status=1
fi
[ "$status" = 0 ] && echo "memcheck: ok (AddressSanitizer + UndefinedBehaviorSanitizer, no reports)"
exit $status
