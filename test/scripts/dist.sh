#!/usr/bin/env bash
# The PGXN release archive (`make dist`, tools/dist.sh): one top-level
# directory leadfunnel-<version>/ holding META.json and the files META.json's
# provides names; unzipped into a clean directory it builds (-Werror) and
# installs into a private copy of the test's PostgreSQL (from which leadfunnel
# was removed first, so nothing of the tree's own install can stand in), and
# CREATE EXTENSION of that version works in a cluster of that copy.
set -euo pipefail
. "$(dirname "$0")/../../tools/lib.sh"
cd "$LF_ROOT"
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" leadfunnel.control)
name=leadfunnel-$version
work=$(mktemp -d /tmp/leadfunnel-dist.XXXXXX)
chmod 755 "$work"
cleanup() { lf_cluster_stop; rm -rf "$work"; }
trap cleanup EXIT

zip=$(tools/dist.sh "$work")
[ "$zip" = "$work/$name.zip" ] || { echo "dist: expected $work/$name.zip, got $zip" >&2; exit 1; }
# Layout: every entry under leadfunnel-<version>/, META.json and the provided files at its top.
python3 - "$zip" "$name" <<'PY'
import json, sys, zipfile
zpath, name = sys.argv[1], sys.argv[2]
names = zipfile.ZipFile(zpath).namelist()
outside = [n for n in names if not n.startswith(name + "/")]
if outside:
    sys.exit(f"dist: entries outside {name}/: {outside[:5]}")
meta = json.loads(zipfile.ZipFile(zpath).read(f"{name}/META.json"))
need = ["Makefile", "leadfunnel.control", "META.json"]
for ext in meta["provides"].values():
    need += [ext["file"]] + ([ext["docfile"]] if "docfile" in ext else [])
missing = [n for n in need if f"{name}/{n}" not in names]
if missing:
    sys.exit(f"dist: missing from the archive: {missing}")
if meta["version"] != name.split("-", 1)[1]:
    sys.exit(f"dist: META.json version {meta['version']} is not the archive's")
print(f"dist: {zpath.rsplit('/', 1)[1]}: {len(names)} entries under {name}/, META.json {meta['version']}")
PY

mkdir "$work/src"
if command -v unzip >/dev/null; then unzip -q "$zip" -d "$work/src"; else python3 -m zipfile -e "$zip" "$work/src"; fi

# A private copy of the test's PostgreSQL (Debian's layout), without leadfunnel.
cfg=$(lf_pg_config)
bindir=$("$cfg" --bindir)
major=$(basename "$(dirname "$bindir")")
root=${bindir%/usr/lib/postgresql/*}
mkdir -p "$work/pg/usr/lib/postgresql" "$work/pg/usr/share/postgresql" "$work/pg/usr/include"
cp -a "$root/usr/lib/postgresql/$major" "$work/pg/usr/lib/postgresql/"
cp -a "$root/usr/share/postgresql/$major" "$work/pg/usr/share/postgresql/"
cp -a "$root/usr/include/postgresql" "$work/pg/usr/include/"
pgc=$work/pg/usr/lib/postgresql/$major/bin/pg_config
[ "$("$pgc" --sharedir)" = "$work/pg/usr/share/postgresql/$major" ] \
    || { echo "dist: the copy of PostgreSQL is not relocatable ($("$pgc" --sharedir))" >&2; exit 1; }
rm -f "$("$pgc" --sharedir)"/extension/leadfunnel* "$("$pgc" --pkglibdir)"/leadfunnel.so

lf_log "building and installing $name from the unzipped archive"
make -C "$work/src/$name" -s PG_CONFIG="$pgc" PROFILE="-Werror" with_llvm=no >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; echo "dist: the archive does not build" >&2; exit 1; }
make -C "$work/src/$name" -s install PG_CONFIG="$pgc" with_llvm=no >>"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; echo "dist: the archive does not install" >&2; exit 1; }

PG_CONFIG=$pgc lf_cluster_start || exit 1
trap cleanup EXIT
got=$(lf_psql -d postgres -At <<'SQL'
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model('crm');
SELECT count(*) > 0 FROM leadfunnel.generate_demo('crm', 50, 0.3);
SELECT extversion FROM pg_extension WHERE extname = 'leadfunnel';
SELECT (SELECT count(*) FROM crm.lead) = 50;
SQL
)
expect=$(printf '\nt\n%s\nt' "$version")
[ "$got" = "$expect" ] || { echo "dist: CREATE EXTENSION from the archive's install gave: $got" >&2; exit 1; }
echo "dist: built and installed from $name.zip into $work/pg; CREATE EXTENSION leadfunnel $version works there"
