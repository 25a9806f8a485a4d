"""Independent reference for the data-driven attribution aggregates
(leadfunnel.markov_attribution, leadfunnel.shapley_attribution), written
separately from src/datadriven.c, in exact rational arithmetic (fractions):

- Markov: the removal effect of each channel by solving the absorbing chain
  once per removed channel (Gaussian elimination with that channel's incoming
  transitions sent to null), not through the fundamental matrix as the C does;
- Shapley: brute force over every coalition with the textbook formula
  phi_i = sum over S not containing i of |S|! (n-|S|-1)! / n! (v(S+i) - v(S)),
  for the game over all channels and for each converting path's subgame.

On random paths (converting and not, repeats, NULL elements, odd channel
names) it compares effect, conversions and value of every channel within
1e-9 (relative to the magnitude), checks that credit sums to the totals, the
textbook example (effects 0.5, 1, 1; shares 0.2, 0.4, 0.4), and that random
splits of the rows into partial states shipped as text and combined, and a
forced parallel plan, give results identical to the last digit."""
import itertools
import math
import os
import random
import sys
from decimal import Decimal
from fractions import Fraction

import psycopg2

failures = []


def check(what, ok):
    print(("ok     " if ok else "FAILED ") + what)
    if not ok:
        failures.append(what)


def clean_path(path):
    """Channels of a path: NULL elements skipped, consecutive repeats one visit."""
    out = []
    for c in path:
        if c is None:
            continue
        if not out or out[-1] != c:
            out.append(c)
    return out


def fixed(value):
    """A value as the aggregates sum it: rounded to 2^-40 via float8."""
    return Fraction(round(float(value) * 2 ** 40), 2 ** 40)


def solve(a, b):
    """Solve a x = b exactly (a: list of lists of Fractions)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[piv] = m[piv], m[col]
        d = m[col][col]
        m[col] = [x / d for x in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col])]
    return [m[i][n] for i in range(n)]


def markov_reference(rows):
    paths = [(clean_path(p), conv, val) for p, conv, val in rows if p is not None and conv is not None]
    paths = [(p, conv, val) for p, conv, val in paths if p]
    channels = sorted({c for p, _, _ in paths for c in p}, key=lambda s: s.encode())
    counts = {}
    for p, conv, _ in paths:
        states = ["(start)"] + p + ["(conversion)" if conv else "(null)"]
        for a, b in zip(states, states[1:]):
            counts[(a, b)] = counts.get((a, b), 0) + 1
    total_conv = sum(1 for _, conv, _ in paths if conv)
    total_value = sum((fixed(v) for _, conv, v in paths if conv and v is not None), Fraction(0))

    def p_conversion(removed):
        live = [c for c in channels if c != removed]
        idx = {c: i for i, c in enumerate(live)}
        out = {c: sum(n for (a, _), n in counts.items() if a == c) for c in live}
        n = len(live)
        a = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
        b = [Fraction(0)] * n
        for (s, t), k in counts.items():
            if s in idx:
                if t in idx:
                    a[idx[s]][idx[t]] -= Fraction(k, out[s])
                elif t == "(conversion)":
                    b[idx[s]] += Fraction(k, out[s])
        x = solve(a, b) if n else []
        starts = sum(k for (s, _), k in counts.items() if s == "(start)")
        return sum((Fraction(k, starts) * x[idx[t]] for (s, t), k in counts.items()
                    if s == "(start)" and t in idx), Fraction(0))

    base = p_conversion(None)
    effects = {c: (1 - p_conversion(c) / base) if base else Fraction(0) for c in channels}
    total_effect = sum(effects.values(), Fraction(0))
    return [(c, effects[c],
             total_conv * effects[c] / total_effect if total_effect else Fraction(0),
             total_value * effects[c] / total_effect if total_effect else Fraction(0))
            for c in channels]


def shapley_reference(rows):
    paths = [(frozenset(clean_path(p)), conv, val) for p, conv, val in rows if p is not None and conv is not None]
    paths = [(s, conv, val) for s, conv, val in paths if s]
    channels = sorted({c for s, _, _ in paths for c in s}, key=lambda s: s.encode())
    stat = {}
    for s, conv, val in paths:
        n, k, v = stat.get(s, (0, 0, Fraction(0)))
        stat[s] = (n + 1, k + (1 if conv else 0), v + (fixed(val) if conv and val is not None else 0))

    def v(coalition):
        if coalition in stat:
            n, k, _ = stat[coalition]
            return Fraction(k, n)
        return Fraction(0)

    def shapley(players):
        players = sorted(players)
        n = len(players)
        phi = {}
        for i in players:
            others = [p for p in players if p != i]
            total = Fraction(0)
            for size in range(len(others) + 1):
                w = Fraction(math.factorial(size) * math.factorial(n - size - 1), math.factorial(n))
                for s in itertools.combinations(others, size):
                    s = frozenset(s)
                    total += w * (v(s | {i}) - v(s))
            phi[i] = total
        return phi

    effect = shapley(channels)
    conv = {c: Fraction(0) for c in channels}
    value = {c: Fraction(0) for c in channels}
    for s, (n, k, val) in stat.items():
        if k == 0:
            continue
        phi = shapley(s)
        vs = Fraction(k, n)
        for c in s:
            conv[c] += k * phi[c] / vs
            value[c] += val * phi[c] / vs
    return [(c, effect[c], conv[c], value[c]) for c in channels]


conn = psycopg2.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"],
                        user=os.environ["PGUSER"], dbname=sys.argv[1])
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS leadfunnel")
cur.execute("DROP TABLE IF EXISTS dd_paths")
cur.execute("CREATE TABLE dd_paths (id int, grp int, path text[], converted boolean, value numeric)")


def load(rows):
    cur.execute("TRUNCATE dd_paths")
    cur.executemany("INSERT INTO dd_paths VALUES (%s, %s, %s, %s, %s)",
                    [(i, g, p, c, v) for i, (g, p, c, v) in enumerate(rows)])


def ours(agg, where="grp = %s", arg=None):
    cur.execute(f"SELECT c.channel, c.effect, c.conversions, c.value FROM "
                f"(SELECT leadfunnel.{agg}(path, converted, value) r FROM dd_paths WHERE {where}) a, unnest(a.r) c",
                (arg,))
    return cur.fetchall()


def close(a, b):
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))


def compare(what, got, ref):
    ok = [g[0] for g in got] == [r[0] for r in ref]
    for g, r in zip(got, ref):
        ok = ok and all(close(g[k], r[k]) for k in (1, 2, 3))
    if not ok:
        print("  got:", got)
        print("  ref:", [(r[0],) + tuple(float(x) for x in r[1:]) for r in ref])
    check(what, ok)


# the textbook example: C1 > C2 > C3 converts, C1 does not, C2 > C3 does not
textbook = [(0, ["C1", "C2", "C3"], True, Decimal(90)), (0, ["C1"], False, None), (0, ["C2", "C3"], False, Decimal(5))]
load(textbook)
got = ours("markov_attribution", arg=0)
check("textbook Markov removal effects 0.5, 1, 1",
      [(c, round(e, 12)) for c, e, _, _ in got] == [("C1", 0.5), ("C2", 1.0), ("C3", 1.0)])
check("textbook Markov shares 0.2, 0.4, 0.4 of 1 conversion and of 90",
      [(round(k, 12), round(v, 9)) for _, _, k, v in got] == [(0.2, 18.0), (0.4, 36.0), (0.4, 36.0)])
compare("textbook Markov = reference", got, markov_reference([r[1:] for r in textbook]))
compare("textbook Shapley = reference", ours("shapley_attribution", arg=0), shapley_reference([r[1:] for r in textbook]))

rnd = random.Random(20251202)
names = ["email", "paid search", "web\"inar", "event", "back\\slash", "social", "Ä", "direct"]
groups = []
for g in range(1, 41):
    k = rnd.randint(2, 7)
    chans = rnd.sample(names, k)
    rows = []
    for _ in range(rnd.randint(5, 60)):
        length = rnd.randint(0, 6)
        path = [rnd.choice(chans) if rnd.random() > 0.08 else None for _ in range(length)]
        if rnd.random() < 0.03:
            path = None
        conv = rnd.random() < 0.35 if rnd.random() > 0.03 else None
        value = Decimal(rnd.randint(0, 100000)) / 100 if rnd.random() > 0.1 else None
        rows.append((g, path, conv, value))
    groups.append(rows)
load([r for rows in groups for r in rows])

worst = {"markov_attribution": 0, "shapley_attribution": 0}
for rows in groups:
    g = rows[0][0]
    for agg, ref in (("markov_attribution", markov_reference), ("shapley_attribution", shapley_reference)):
        got = ours(agg, arg=g)
        want = ref([r[1:] for r in rows])
        ok = [x[0] for x in got] == [x[0] for x in want] and all(
            close(a[k], b[k]) for a, b in zip(got, want) for k in (1, 2, 3))
        if not ok:
            worst[agg] += 1
            print(f"  group {g} {agg}:\n  got {got}\n  ref {[(x[0],) + tuple(float(y) for y in x[1:]) for x in want]}")
        # credit sums to the totals
        conv_total = sum(1 for _, p, c, _ in rows if c and p and clean_path(p))
        value_total = sum(float(fixed(v)) for _, p, c, v in rows if c and p and clean_path(p) and v is not None)
        if got and conv_total:
            if not (close(sum(x[2] for x in got), conv_total) and close(sum(x[3] for x in got), value_total)):
                worst[agg] += 1
                print(f"  group {g} {agg}: credit does not sum to {conv_total}, {value_total}")
for agg, bad in worst.items():
    check(f"{agg} = exact reference on 40 random groups within 1e-9 (effects, conversions, value; sums = totals)", bad == 0)

# splits: partial states through their text form, combined in a random order
for agg in ("markov_attribution", "shapley_attribution"):
    state = agg + "_state"
    cur.execute(f"SELECT leadfunnel.{agg}(path, converted, value)::text FROM dd_paths")
    whole = cur.fetchone()[0]
    same = True
    for trial in range(5):
        parts = rnd.randint(2, 9)
        cur.execute(f"""CREATE AGGREGATE pg_temp.partial_{agg}_{trial}(text[], boolean, numeric) (
                          SFUNC = leadfunnel.{agg}_trans, STYPE = leadfunnel.{state})""")
        cur.execute(f"""CREATE AGGREGATE pg_temp.merge_{agg}_{trial}(leadfunnel.{state}) (
                          SFUNC = leadfunnel.{agg}_combine, STYPE = leadfunnel.{state},
                          FINALFUNC = leadfunnel.{agg}_final)""")
        cur.execute(f"""SELECT pg_temp.merge_{agg}_{trial}(st::text::leadfunnel.{state} ORDER BY random())::text
                          FROM (SELECT (hashint4(id + {trial * 1000}) & 65535) % {parts} AS part,
                                       pg_temp.partial_{agg}_{trial}(path, converted, value) AS st
                                  FROM dd_paths GROUP BY 1) s""")
        same = same and cur.fetchone()[0] == whole
    check(f"{agg}: random splits through the text form combine to the whole, identical", same)
    # a forced parallel plan (partial aggregation in workers, states shipped)
    cur.execute("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
                " SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off")
    cur.execute(f"EXPLAIN SELECT leadfunnel.{agg}(path, converted, value) FROM dd_paths")
    plan = "\n".join(r[0] for r in cur.fetchall())
    cur.execute(f"SELECT leadfunnel.{agg}(path, converted, value)::text FROM dd_paths")
    par = cur.fetchone()[0]
    cur.execute("RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;"
                " RESET max_parallel_workers_per_gather; RESET parallel_leader_participation")
    check(f"{agg}: a parallel plan (partial aggregates in 2 workers, states shipped) gives the same answer",
          par == whole and "Partial Aggregate" in plan)

# Shapley with 16 channels (and more) works; above 64 channels: 54000
load([(0, [f"ch{c:02d}" for c in range(16) if (i >> c) & 1 or c == i % 16], i % 3 == 0, Decimal(i)) for i in range(1, 400)])
got = ours("shapley_attribution", arg=0)
check("shapley_attribution over 16 channels: 16 elements, credit sums to the conversions",
      len(got) == 16 and close(sum(x[2] for x in got), 133))
load([(0, [f"ch{c:02d}"], True, None) for c in range(65)])
try:
    ours("shapley_attribution", arg=0)
    check("65 channels: 54000", False)
except psycopg2.Error as e:
    check("65 channels: 54000 (%s)" % e.pgerror.splitlines()[0], e.pgcode == "54000")

cur.execute("DROP TABLE dd_paths")
print(f"datadriven reference: {len(failures)} failed")
sys.exit(1 if failures else 0)
