#!/usr/bin/env python3
"""Bounded mutation run at SQL level (a step of tools/memcheck.sh, so against
the sanitizer build): mutated valid states of every state type through the
type's input function (a literal cast) and through COPY ... FROM STDIN
(FORMAT binary) into its receive function.

The valid states are the committed seed corpus fuzz/seeds/<type>.{in,recv}/
(tools/fuzz-seeds.sh); the types are the lines of fuzz/seeds.sql, and every
CREATE TYPE ... INPUT of src/sql/*.sql must be among them.  Mutations: bit
flips, byte changes, interesting integers written over the bytes, insertions,
deletions, duplicated chunks, truncations, splices of two states, random
bytes; in the text form also numbers replaced by boundary values and pieces
of the grammar inserted.  A seeded PRNG (the seed is printed; --seed N
repeats a run) makes the run reproducible.

Every outcome must be either success with a round trip (out(in(out(v))) =
out(v), send(recv(send(v))) = send(v), out(recv(send(v))) = out(v)) or a
clean error with the documented SQLSTATE: 22P02 for text, 22P03 for binary
(22021 for text the server's encoding check refuses before the input function
sees it).  A lost connection (a crashed backend), any other SQLSTATE or a
failed round trip fails the step; tools/memcheck.sh then also checks the
server log and the sanitizer reports.

    python3 tools/mutate-states.py [--seed N] [--per-type N] [--budget SECONDS]
(connection from the PG* environment variables)
"""
import argparse
import glob
import io
import os
import random
import re
import struct
import sys
import time

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT_OK = {"22P02", "22021"}
BINARY_OK = {"22P03"}
INTERESTING_INTS = [0, 1, -1, 2, 11, 12, 13, 127, 128, 255, 256, 0x7FFF, 0x8000, 0xFFFF,
                    0x7FFFFFFF, -0x80000000, 0xFFFFFFFF, 2**62, 2**63 - 1, -2**63]
INTERESTING_NUMBERS = ["0", "-0", "1", "-1", "12", "13", "65535", "2147483647", "2147483648", "-2147483649",
                       "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                       "-9223372036854775809", "170141183460469231731687303715884105727",
                       "170141183460469231731687303715884105728", "99999999999999999999999999999999999999999",
                       "1e308", "1e309", "nan", "inf", "-inf", "0.5", "", "+1", "00", " 1", "1 "]
GRAMMAR = ["{", "}", "(", ")", ":", ",", "=", " ", "v1", "v2", "v0", "n=", "zero=", "max=", "max_n=", "sum=",
           "bins=", "null:", "lead", "won", "lost", "window:", "mql", "\\", "\"", "'"]


def state_types():
    """The types of fuzz/seeds.sql; fail if a state type of src/sql is missing."""
    seeds_sql = open(os.path.join(ROOT, "fuzz/seeds.sql")).read()
    types = re.findall(r"^SELECT pg_temp\.seeds\('([a-z_0-9]+)'", seeds_sql, re.M)
    declared = set()
    for f in glob.glob(os.path.join(ROOT, "src/sql/*.sql")):
        declared |= set(re.findall(r"INPUT = @extschema@\.([a-z_0-9]+)_in\b", open(f).read()))
    missing = sorted(declared - set(types))
    if missing:
        sys.exit(f"mutate: state types without a line in fuzz/seeds.sql: {', '.join(missing)}")
    return types


def load_seeds(typname, kind):
    files = sorted(glob.glob(os.path.join(ROOT, f"fuzz/seeds/{typname}.{kind}/*")))
    if not files:
        sys.exit(f"mutate: no seeds in fuzz/seeds/{typname}.{kind}/ (run tools/fuzz-seeds.sh)")
    return [open(f, "rb").read() for f in files]


def mutate_bytes(rng, data, others):
    b = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        op = rng.randrange(10)
        if op == 0 and b:                                   # bit flip
            i = rng.randrange(len(b)); b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:                                 # random byte
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2 and b:                                 # interesting integer over 1, 2, 4 or 8 bytes
            size = rng.choice([1, 2, 4, 8])
            v = rng.choice(INTERESTING_INTS) & ((1 << (8 * size)) - 1)
            i = rng.randrange(len(b))
            b[i:i + size] = v.to_bytes(size, "big")
        elif op == 3:                                       # insert random bytes
            i = rng.randrange(len(b) + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        elif op == 4 and b:                                 # delete a range
            i = rng.randrange(len(b)); del b[i:i + rng.randrange(1, 17)]
        elif op == 5 and b:                                 # duplicate a chunk
            i = rng.randrange(len(b)); j = min(len(b), i + rng.randrange(1, 33))
            b[j:j] = b[i:j]
        elif op == 6:                                       # truncate
            del b[rng.randrange(len(b) + 1):]
        elif op == 7 and others:                            # splice with another state
            o = rng.choice(others)
            b = b[:rng.randrange(len(b) + 1)] + o[rng.randrange(len(o) + 1):]
        elif op == 8:                                       # random bytes
            b = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        elif op == 9 and b:                                 # swap two bytes
            i, j = rng.randrange(len(b)), rng.randrange(len(b)); b[i], b[j] = b[j], b[i]
    return bytes(b)


def mutate_text(rng, data, others):
    s = data.decode("latin-1")
    op = rng.randrange(4)
    if op == 0:
        numbers = list(re.finditer(r"-?\d+", s))
        if numbers:
            for m in rng.sample(numbers, min(len(numbers), rng.choice([1, 1, 2]))):
                s = s[:m.start()] + rng.choice(INTERESTING_NUMBERS) + s[m.end():]
                break
            return s.encode("latin-1")
    elif op == 1:
        i = rng.randrange(len(s) + 1)
        return (s[:i] + rng.choice(GRAMMAR) + s[i:]).encode("latin-1")
    return mutate_bytes(rng, data, others)


class Run:
    def __init__(self, dsn_args):
        self.conn = psycopg2.connect(**dsn_args)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.cur.execute("SET client_min_messages = error")
        self.tables = set()
        self.failures = []
        self.counts = {}

    def table(self, typname):
        t = f"mutate_{typname}"
        if t not in self.tables:
            self.cur.execute(f"CREATE TEMP TABLE {t} (x leadfunnel.{typname})")
            self.tables.add(t)
        return t

    def count(self, typname, kind, outcome):
        key = (typname, kind)
        self.counts.setdefault(key, {}).setdefault(outcome, 0)
        self.counts[key][outcome] += 1

    def fail(self, typname, kind, data, why):
        self.failures.append(f"{typname} {kind} {data[:200]!r}: {why}")

    def copy_binary(self, typname, payload):
        """COPY one row of payload into the type's table; (out, send) of the value read back."""
        t = self.table(typname)
        stream = (b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0) + struct.pack("!hi", 1, len(payload))
                  + payload + struct.pack("!h", -1))
        self.cur.copy_expert(f"COPY {t} FROM STDIN (FORMAT binary)", io.BytesIO(stream))
        self.cur.execute(f"DELETE FROM {t} RETURNING x::text, leadfunnel.{typname}_send(x)")
        row = self.cur.fetchone()
        return row[0], bytes(row[1])

    def text_in(self, typname, text):
        self.cur.execute(f"SELECT x::text, leadfunnel.{typname}_send(x) FROM (SELECT %s::leadfunnel.{typname} AS x) s",
                         (text,))
        row = self.cur.fetchone()
        return row[0], bytes(row[1])

    def round_trip(self, typname, out, send):
        """The value's forms are stable through both functions."""
        out2, send2 = self.text_in(typname, out)
        if (out2, send2) != (out, send):
            return "text round trip changed the value"
        out3, send3 = self.copy_binary(typname, send)
        if (out3, send3) != (out, send):
            return "binary round trip changed the value"
        return None

    def attempt(self, typname, kind, data):
        """One input; returns 'ok', an accepted SQLSTATE, or records a failure."""
        try:
            if kind == "in":
                text = data.replace(b"\x00", b"").decode("latin-1")
                out, send = self.text_in(typname, text)
            else:
                out, send = self.copy_binary(typname, data)
        except psycopg2.Error as e:
            if self.conn.closed or e.pgcode is None:
                raise
            allowed = TEXT_OK if kind == "in" else BINARY_OK
            if e.pgcode not in allowed:
                self.fail(typname, kind, data, f"SQLSTATE {e.pgcode}: {e.pgerror.strip()}")
            self.count(typname, kind, e.pgcode)
            return e.pgcode
        why = self.round_trip(typname, out, send)
        if why:
            self.fail(typname, kind, data, why)
        self.count(typname, kind, "accepted")
        return "ok"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--per-type", type=int, default=300, help="mutants per type and form (text, binary)")
    ap.add_argument("--budget", type=float, default=45.0,
                    help="seconds for the whole run, shared evenly by the types and forms; a share spent stops its mutants early")
    ap.add_argument("--seeds-per-type", type=int, default=8,
                    help="seeds checked per type and form before the mutants (smallest, largest and a sample)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    print(f"mutate: seed {seed} (repeat with: tools/mutate-states.py --seed {seed} --per-type {args.per_type})")
    run = Run({"dbname": os.environ.get("LF_MUTATE_DB", "postgres")})
    types = state_types()
    slots = [(t, k) for t in types for k in ("in", "recv")]
    start = time.monotonic()
    deadline = start + args.budget
    short = []
    try:
        for n, (typname, kind) in enumerate(slots):
            t0 = time.monotonic()
            share = (deadline - t0) / (len(slots) - n)
            # one PRNG per type and form: a slot's mutants do not depend on how many ran before it
            rng = random.Random(f"{seed}:{typname}:{kind}")
            seeds = load_seeds(typname, kind)
            by_size = sorted(seeds, key=len)
            checked = [by_size[0], by_size[-1]] + rng.sample(by_size[1:-1], min(len(by_size) - 2, max(0, args.seeds_per_type - 2)))
            for s in checked:                      # seeds are valid and round-trip
                if run.attempt(typname, kind, s) != "ok":
                    run.fail(typname, kind, s, "a seed is refused (regenerate with tools/fuzz-seeds.sh?)")
            mutate = mutate_text if kind == "in" else mutate_bytes
            for i in range(args.per_type):
                if time.monotonic() - t0 > share:
                    short.append(f"{typname} {kind}: {i}")
                    break
                run.attempt(typname, kind, mutate(rng, rng.choice(seeds), seeds))
    except psycopg2.Error as e:
        print(f"mutate: FAILED: the connection was lost (backend crash?) at seed {seed}: {e}")
        for f in run.failures[:30]:
            print("  " + f)
        return 1
    for (typname, kind), c in sorted(run.counts.items()):
        print(f"mutate: {typname:26} {'text' if kind == 'in' else 'binary':6} "
              + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    total = sum(sum(c.values()) for c in run.counts.values())
    print(f"mutate: {total} inputs (seeds and mutants) in {time.monotonic() - start:.1f} s")
    if short:
        print(f"mutate: the time shares ran out after fewer than {args.per_type} mutants for: {'; '.join(short)}")
    if run.failures:
        print(f"mutate: FAILED ({len(run.failures)}):")
        for f in run.failures[:30]:
            print("  " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
