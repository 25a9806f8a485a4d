#!/usr/bin/env bash
# Unit tests without a server: each test/unit/NAME_test.c is compiled with the
# server headers of $PG_CONFIG and the compiler flags of that build, linked
# with src/NAME.c ALONE (no backend, no libpq, nothing else of src/: what
# NAME.c needs of the backend the test stubs itself, so a new dependency of
# NAME.c on the server or on another concern breaks the link), and run.  The
# tests print TAP; this prints their lines and, last, "unit: N passed, M failed".
# Exit status non-zero on any failure, on a build failure or a warning.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LF_ROOT"

cfg=$(lf_pg_config)
cc=$("$cfg" --cc)
cflags=$("$cfg" --cflags)
inc=$("$cfg" --includedir-server)
out=$(mktemp -d /tmp/leadfunnel-unit.XXXXXX)
trap 'rm -rf "$out"' EXIT

passed=0; failed=0
for test in test/unit/*_test.c; do
    [ -e "$test" ] || continue
    name=$(basename "$test" _test.c)
    echo "# $test (with src/$name.c)"
    # shellcheck disable=SC2086
    if ! $cc $cflags -Werror -I"$inc" -Isrc "src/$name.c" "$test" -o "$out/$name" 2>"$out/$name.cc"; then
        cat "$out/$name.cc"
        echo "not ok - $test builds (compiled alone with src/$name.c)"
        failed=$((failed + 1))
        continue
    fi
    "$out/$name" > "$out/$name.tap" 2>&1
    rc=$?
    cat "$out/$name.tap"
    ok=$(grep -c '^ok ' "$out/$name.tap")
    bad=$(grep -c '^not ok ' "$out/$name.tap")
    planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out/$name.tap")
    passed=$((passed + ok)); failed=$((failed + bad))
    if [ "$rc" != 0 ] && [ "$bad" = 0 ]; then
        echo "not ok - $test exited with status $rc"; failed=$((failed + 1))
    elif [ "${planned:-x}" != "$((ok + bad))" ]; then
        echo "not ok - $test planned ${planned:-nothing}, ran $((ok + bad))"; failed=$((failed + 1))
    fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" = 0 ]
