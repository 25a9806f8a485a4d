#!/usr/bin/env bash
# `make test`: everything, from a bare Debian machine to a verdict.
# Installs what is missing, builds with -Werror, installs, starts a throwaway
# cluster, checks the layering of src/ and runs the unit tests (test/unit/, no
# server), runs the pg_regress suite (sql/, expected/), the pgTAP suite (test/*.sql,
# through pg_prove) and the scripted tests (test/scripts/*.sh: concurrency, dump
# and restore, upgrades, ...), stops the server, runs the pg_regress suite once
# more against a sanitizer build (tools/memcheck.sh) and exits non-zero on any
# failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LF_ROOT"

lf_install_deps || exit 1
lf_build_install || exit 1

# Scripted tests that mostly wait, or build, run in the background, each in a
# cluster of its own, alongside the other steps: test/scripts/cron.sh waits for
# pg_cron's scheduler (up to a minute with pg_cron 1.4), test/scripts/dist.sh
# builds the release archive in a copy of PostgreSQL.
background=(test/scripts/cron.sh test/scripts/dist.sh)
bg_out=$(mktemp -d /tmp/leadfunnel-bg.XXXXXX)
declare -A bg_pids
for script in "${background[@]}"; do
    bash "$script" > "$bg_out/$(basename "$script").log" 2>&1 &
    bg_pids[$script]=$!
done

lf_cluster_start || exit 1
export LF_BINDIR LF_TMP

passed=0; failed=0; failures=()

# No server needed: the layering of src/ (one check) and the unit tests of
# test/unit/ (each TAP line counts).
lf_log "layering of src/ (tools/check-layering.sh)"
if bash tools/check-layering.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("tools/check-layering.sh"); fi

lf_log "unit tests without a server (test/unit/*.c via tools/unit-tests.sh)"
bash tools/unit-tests.sh > "$LF_TMP/unit.out" 2>&1
rc=$?
cat "$LF_TMP/unit.out"
n_ok=$(sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$LF_TMP/unit.out")
n_bad=$(sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$LF_TMP/unit.out")
passed=$((passed + ${n_ok:-0})); failed=$((failed + ${n_bad:-0}))
if [ "$rc" != 0 ]; then
    [ "${n_bad:-0}" = 0 ] && failed=$((failed + 1))
    failures+=("unit tests")
fi

lf_log "pg_regress suite (sql/ + expected/)"
rm -rf results regression.diffs regression.out
make -s installcheck PG_CONFIG="$(lf_pg_config)" > "$LF_TMP/regress.out" 2>&1
rc=$?
cat "$LF_TMP/regress.out"
n_ok=$(grep -cE '\.\.\. ok|^ok [0-9]+ ' "$LF_TMP/regress.out" || true)
n_bad=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ ' "$LF_TMP/regress.out" || true)
passed=$((passed + n_ok)); failed=$((failed + n_bad))
if [ "$rc" != 0 ]; then
    [ "$n_bad" = 0 ] && failed=$((failed + 1))
    failures+=("pg_regress")
    [ -f regression.diffs ] && head -c 20000 regression.diffs
fi

lf_log "pgTAP suite (test/*.sql via pg_prove)"
lf_psql -d postgres -c "CREATE DATABASE leadfunnel_tap"
lf_psql -d leadfunnel_tap -c "CREATE EXTENSION pgtap"
pg_prove -d leadfunnel_tap --failures test/*.sql > "$LF_TMP/prove.out" 2>&1
rc=$?
cat "$LF_TMP/prove.out"
n_total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$LF_TMP/prove.out")
n_bad=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$LF_TMP/prove.out" | awk '{split($2,a,"/"); s+=a[1]} END {print s+0}')
passed=$((passed + ${n_total:-0} - n_bad)); failed=$((failed + n_bad))
if [ "$rc" != 0 ]; then
    [ "$n_bad" = 0 ] && failed=$((failed + 1))
    failures+=("pgTAP")
fi

for script in test/scripts/*.sh; do
    [ -e "$script" ] || continue
    [ -n "${bg_pids[$script]:-}" ] && continue
    lf_log "scripted test $script"
    if bash "$script"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$script"); fi
done

for script in "${background[@]}"; do
    lf_log "scripted test $script (ran in the background)"
    if wait "${bg_pids[$script]}"; then ok=1; else ok=0; fi
    cat "$bg_out/$(basename "$script").log"
    if [ "$ok" = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$script"); fi
done
rm -rf "$bg_out"

lf_cluster_stop

# Memory safety: the pg_regress suite again, against a build of leadfunnel.so
# with AddressSanitizer + UBSan, in a second throwaway cluster.
lf_log "memory safety (tools/memcheck.sh)"
if bash tools/memcheck.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("tools/memcheck.sh"); fi

echo
if [ "${#failures[@]}" -gt 0 ]; then echo "FAILED: ${failures[*]}"; fi
echo "leadfunnel: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "${#failures[@]}" = 0 ]
