#!/usr/bin/env bash
# `make dist`: the release archive PGXN expects, leadfunnel-<version>.zip with
# one top-level directory leadfunnel-<version>/ (META.json at its top), the
# version read from leadfunnel.control (META.json must agree:
# test/scripts/meta.sh).  In a git checkout it is `git archive` of HEAD (commit
# first: uncommitted changes are not in it); in a tree without git (e.g. the
# copies tools/test-matrix.sh makes) the files of the tree less the build
# products.
#
#   tools/dist.sh [OUTPUT_DIR]      (default: the top of the tree)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(cd "${1:-$root}" && pwd)
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$root/leadfunnel.control")
[ -n "$version" ] || { echo "dist: no default_version in leadfunnel.control" >&2; exit 1; }
name=leadfunnel-$version
zip=$out/$name.zip
rm -f "$zip"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" archive --format=zip --prefix="$name/" -o "$zip" HEAD
    [ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ] \
        || echo "dist: note: uncommitted changes are not in $name.zip (it is HEAD)" >&2
else
    (cd "$root" && find . -type f ! -path './.git/*' ! -path './build/*' ! -path './results/*' \
        ! -name '*.o' ! -name '*.so' ! -name '*.bc' ! -name '*.zip' ! -name 'regression.*' -print0 \
        | sort -z | python3 -c '
import sys, zipfile, os
name, zpath = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
    for p in sys.stdin.buffer.read().split(b"\0"):
        if p:
            p = os.fsdecode(p)[2:]
            z.write(p, name + "/" + p)
' "$name" "$zip")
fi
echo "$zip"
