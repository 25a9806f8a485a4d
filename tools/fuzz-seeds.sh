#!/usr/bin/env bash
# Writes the committed seed corpus fuzz/seeds/<type>.{in,recv}/ from a real
# server: fuzz/seeds.sql makes states of every state type with the extension's
# aggregates over demo data; each distinct state is written with the type's
# output function (<type>.in/, text) and send function (<type>.recv/, binary),
# about 30 per type, spread over the sizes (smallest and largest included) and,
# for a type whose text form has a mode (window_funnel_state), over its modes.
# Run after a state type is added or its format changes; commit the files.
#
#   PG_CONFIG=... LF_PORT=... tools/fuzz-seeds.sh     (the extension installed)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LF_ROOT"
lf_cluster_start || exit 1
lf_psql -d postgres -c "CREATE DATABASE leadfunnel_seeds" >/dev/null
lf_psql -d leadfunnel_seeds -c "CREATE EXTENSION leadfunnel" >/dev/null
lf_psql -d leadfunnel_seeds -At -F ' ' >"$LF_TMP/seeds.txt" <<SQL
\\o /dev/null
\\i fuzz/seeds.sql
\\o
WITH d AS (SELECT DISTINCT ON (typname, out) typname, out, bin,
                  coalesce(substring(out FROM 'mode:([^,]*)'), '') AS variant FROM seed),
     k AS (SELECT typname, count(DISTINCT variant) AS variants FROM d GROUP BY typname),
     r AS (SELECT d.*, k.variants,
                  row_number() OVER (PARTITION BY d.typname, variant ORDER BY length(out), out) AS rn,
                  count(*) OVER (PARTITION BY d.typname, variant) AS n FROM d JOIN k USING (typname))
SELECT typname, encode(convert_to(out, 'UTF8'), 'hex'), encode(bin, 'hex') FROM r
 WHERE rn = 1 OR rn = n OR rn % greatest(1, ceil(n / (28.0 / variants))::int) = 0
 ORDER BY typname, variant, rn;
SQL
rm -rf fuzz/seeds
python3 - "$LF_TMP/seeds.txt" <<'PY'
import os, sys, collections
count = collections.Counter()
for line in open(sys.argv[1]):
    typname, out, bin_ = line.split()
    count[typname] += 1
    for kind, data in (("in", out), ("recv", bin_)):
        d = f"fuzz/seeds/{typname}.{kind}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/seed-{count[typname]:03d}", "wb") as f:
            f.write(bytes.fromhex(data))
for t, n in sorted(count.items()):
    print(f"fuzz-seeds: {t}: {n} states")
PY
