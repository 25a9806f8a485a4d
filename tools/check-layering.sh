#!/usr/bin/env bash
# The layers of src/ and the check that dependencies run one way (downward).
#
# Every file src/NAME.c / src/NAME.h belongs to the unit NAME, and every unit
# to one layer below.  From the `#include "..."` lines of src/ (an include
# naming a file of src/ is a dependency; the server's headers are not) this
# derives the graph between units and fails when
#   - a file of src/ belongs to no declared unit (declare it below),
#   - a unit includes a unit of a higher layer (an upward include),
#   - the units' includes form a loop (within a layer too: tsort finds it),
#   - a .c file declares an `extern` function or variable itself (a call
#     must come through the callee's header, so the include graph is also
#     the call graph).
# doc/architecture.md explains the layers.  Usage: tools/check-layering.sh [SRC_DIR]
set -uo pipefail

src=${1:-$(cd "$(dirname "$0")/.." && pwd)/src}

# layer  units (bottom first)
LAYERS='
0 compat vocabulary invalidation
1 settings stages labels colocation state_io lifecycle_rule
2 transition tracking lifecycle value_history aggregates window_funnel stage_entries sketch attribution history datadriven
3 leadfunnel
'

declare -A layer
while read -r n units; do
    [ -n "$n" ] || continue
    for u in $units; do layer[$u]=$n; done
done <<< "$LAYERS"

problems=0
fail() { echo "layering: $*" >&2; problems=$((problems + 1)); }

# (no process substitution: in a root without /proc it would read nothing and pass)
edges=$(mktemp); includes=$(mktemp); trap 'rm -f "$edges" "$includes"' EXIT
shopt -s nullglob
for f in "$src"/*.c "$src"/*.h; do
    file=$(basename "$f")
    unit=${file%.*}
    if [ -z "${layer[$unit]:-}" ]; then
        fail "src/$file belongs to no declared unit: add \"$unit\" to a layer in tools/check-layering.sh"
        continue
    fi
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" \
        | sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/' > "$includes"
    while IFS=: read -r lineno inc; do
        [ -f "$src/$inc" ] || continue          # a server header
        dep=${inc%.*}
        [ "$dep" = "$unit" ] && continue        # a unit's own header
        if [ -z "${layer[$dep]:-}" ]; then
            fail "src/$file:$lineno includes \"$inc\", which belongs to no declared unit"
            continue
        fi
        if [ "${layer[$dep]}" -gt "${layer[$unit]}" ]; then
            fail "src/$file:$lineno includes \"$inc\": upward, from layer ${layer[$unit]} ($unit) to layer ${layer[$dep]} ($dep)"
        fi
        echo "$dep $unit" >> "$edges"
    done < "$includes"
done

for f in "$src"/*.c; do
    grep -n '^[[:space:]]*extern[[:space:]]' "$f" > "$includes"
    while IFS= read -r hit; do
        fail "src/$(basename "$f"):${hit%%:*} declares an extern itself; include the owner's header instead"
    done < "$includes"
done

# a loop among the units (tsort reports it on stderr)
if ! sort -u "$edges" | tsort >/dev/null 2>"$edges.err"; then
    fail "the includes of src/ form a loop: $(tr '\n' ' ' < "$edges.err")"
fi
rm -f "$edges.err"

# a check that read nothing proves nothing
[ -s "$edges" ] || fail "no dependency between the units of $src was found: nothing was checked"

if [ "$problems" -gt 0 ]; then
    echo "layering: $problems problem(s)" >&2
    exit 1
fi
echo "layering: $(ls "$src"/*.c "$src"/*.h | wc -l) files, $(sort -u "$edges" | wc -l) dependencies between units, all downward, no loop"
