#!/bin/sh
# Assembles the upgrade script from the previous release to the current version
# (called by the Makefile; see doc/releasing.md):
#
#   tools/upgrade-script.sh HAND_WRITTEN "NEW_FILES" "REPLACED_OBJECTS" SQL_FILES...
#
# 1. HAND_WRITTEN (src/sql/upgrade/<from>--<to>.sql): the psql guard, DROPs and
#    data migrations, everything that must run before the rest;
# 2. NEW_FILES: the src/sql files that are wholly new since the previous release,
#    whole, in name order;
# 3. REPLACED_OBJECTS: names of functions, aggregates and views of the previous
#    release whose definition changed.  Their CREATE statement is copied from
#    SQL_FILES (the current sources) as CREATE OR REPLACE, with their COMMENTs
#    (ON FUNCTION/AGGREGATE/VIEW and ON COLUMN of a view), so each definition
#    lives in one place.
# Fails when a replaced object is not found.
set -eu
hand=$1; new=$2; replaced=$3; shift 3

printf -- '-- Assembled by tools/upgrade-script.sh from %s, the files new in this\n' "$hand"
printf -- '-- version and the current definitions of changed objects.  Do not edit.\n'
cat "$hand"
for f in $new; do
    printf '\n-- ---- new: %s\n' "$f"
    cat "$f"
done
[ -n "$replaced" ] || exit 0
printf '\n-- ---- changed since the previous release: %s\n' "$replaced"

# Split the sources into statements (semicolons outside quotes, dollar quotes
# and -- comments) and print those that define or comment a replaced object.
awk -v names="$replaced" -v Q="'" '
BEGIN {
    n = split(names, list, /[ \t\n]+/)
    for (i = 1; i <= n; i++) if (list[i] != "") { want[list[i]] = 1; seen[list[i]] = 0 }
    stmt = ""; dq = ""; sq = 0
}
function object_of(s,    t, m) {
    # the object a statement creates or comments on, "" when none of interest
    t = s
    sub(/^[ \t\n]+/, "", t)
    if (match(t, /^(CREATE|COMMENT ON) (FUNCTION|AGGREGATE|VIEW|COLUMN) @extschema@\.[a-z_0-9]+/)) {
        m = substr(t, RSTART, RLENGTH)
        sub(/.*@extschema@\./, "", m)
        return m
    }
    return ""
}
function flush(    o, t) {
    o = object_of(stmt)
    if (o != "" && (o in want)) {
        t = stmt
        sub(/^[ \t\n]+/, "", t)
        sub(/^CREATE (FUNCTION|AGGREGATE|VIEW)/, "CREATE OR REPLACE &", t)
        sub(/^CREATE OR REPLACE CREATE /, "CREATE OR REPLACE ", t)
        print t ";"
        seen[o]++
    }
    stmt = ""
}
{
    line = $0
    out = ""
    while (length(line) > 0) {
        c = substr(line, 1, 1)
        if (dq != "") {                         # inside $tag$ ... $tag$
            p = index(line, dq)
            if (p == 0) { out = out line; line = ""; break }
            out = out substr(line, 1, p + length(dq) - 1)
            line = substr(line, p + length(dq)); dq = ""
        } else if (sq) {                        # inside a quoted literal
            p = index(line, Q)
            if (p == 0) { out = out line; line = ""; break }
            out = out substr(line, 1, p); line = substr(line, p + 1); sq = 0
        } else if (c == Q) {
            sq = 1; out = out c; line = substr(line, 2)
        } else if (c == "$" && match(line, /^\$[A-Za-z_]*\$/)) {
            dq = substr(line, 1, RLENGTH); out = out dq; line = substr(line, RLENGTH + 1)
        } else if (substr(line, 1, 2) == "--") {
            line = ""                           # comment to the end of the line
        } else if (c == ";") {
            stmt = stmt out; out = ""; line = substr(line, 2)
            flush()
        } else {
            out = out c; line = substr(line, 2)
        }
    }
    if (out != "" || stmt != "" || dq != "" || sq) stmt = stmt out "\n"
}
END {
    bad = 0
    for (o in want) if (seen[o] == 0) { print "upgrade-script.sh: no definition of " o " found" > "/dev/stderr"; bad = 1 }
    exit bad
}' "$@"
