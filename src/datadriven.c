/*-------------------------------------------------------------------------
 *
 * datadriven.c
 *	  Owns the data-driven attribution aggregates markov_attribution and
 *	  shapley_attribution: one input row per lead (its path of channels in
 *	  time order, whether it converted, its value), converting and
 *	  non-converting paths alike, and a leadfunnel.channel_credit[] result,
 *	  one element per channel in channel-name order (byte order).
 *
 * Both keep a channel dictionary (names in the order first seen, ids stable,
 * plus a permutation sorted by name) and counts, never the paths themselves:
 *
 *	markov_attribution_state   transition counts of a first-order absorbing
 *	    chain: start -> channel, channel -> channel, channel -> conversion /
 *	    null (a dense (n+1) x (n+2) int64 matrix, n channels, consecutive
 *	    repeats of a channel collapsed), and the value of converting paths.
 *	    At most 1000 channels (54000 beyond): 8 MB of counts at most.
 *	shapley_attribution_state  per distinct set of channels on a path: its
 *	    paths, conversions and converting value.  At most 64 channels (a set
 *	    is a 64-bit mask) and 1,000,000 distinct sets (54000 beyond): 56 bytes
 *	    a set, 56 MB at most.
 *
 * Values are summed as 128-bit fixed-point integers in units of 2^-40 (each
 * row's value rounded once), counts as int64, so states combine exactly in
 * any order: a serial plan, a parallel plan and Citus's partial aggregation
 * give the same answer to the last bit.
 *
 * Markov final: Q = transition probabilities between channels, r = into
 * conversion, s = out of start; N = (I - Q)^-1 (Gauss-Jordan, partial
 * pivoting; I - Q is invertible since every channel reaches absorption).
 * x = N r is the conversion probability from each channel, P = s.x the
 * conversion probability; removing channel c (its incoming transitions sent
 * to null) loses exactly the converting paths that visit c, whose probability
 * is h_c x_c with h_c = (s N)_c / N_cc the probability to visit c, so the
 * removal effect is 1 - P_c / P = (s N)_c x_c / (N_cc P).  O(n^3).
 *
 * Shapley final: v(S) = conversions / paths among paths whose channel set is
 * exactly S (0 for sets never seen, v(empty) = 0).  With only the seen sets
 * non-zero, phi_i = sum over seen U of v(U) (w(|U|-1) if i in U, else
 * -w(|U|)), w(s) = s! (m-s-1)! / m! for m players: exact, O(sets x m) for
 * the game over all m channels (effect), and for each converting set S over
 * the seen subsets of S (enumerated as submasks when that is cheaper).  Each
 * converting path with set S is split by phi_i(S game) / v(S).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "vocabulary.h"
#include "state_io.h"

#define DD_MARKOV	1
#define DD_SHAPLEY	2
#define MARKOV_TYPNAME "leadfunnel.markov_attribution_state"
#define SHAPLEY_TYPNAME "leadfunnel.shapley_attribution_state"
#define DD_TYPNAME(kind) ((kind) == DD_MARKOV ? MARKOV_TYPNAME : SHAPLEY_TYPNAME)
#define DD_AGGNAME(kind) ((kind) == DD_MARKOV ? "markov_attribution" : "shapley_attribution")

#define MARKOV_MAX_CHANNELS 1000
#define SHAPLEY_MAX_CHANNELS 64
#define DD_MAX_CHANNELS(kind) ((kind) == DD_MARKOV ? MARKOV_MAX_CHANNELS : SHAPLEY_MAX_CHANNELS)
#define SHAPLEY_MAX_SETS 1000000
#define DD_MAX_NAME 1000		/* bytes of one channel name */
#define DD_FRAC_BITS 40
#define DD_LIMIT	((int128) 1 << 126)

/* One set of channels seen on paths (Shapley). */
typedef struct DDSet
{
	uint64		mask;			/* bit id: channel id is on the path */
	int64		paths;
	int64		conv;
	int64		reserved;
	int128		value;			/* of converting paths, units of 2^-40 */
} DDSet;

typedef struct DDState
{
	int32		vl_len_;
	uint8		version;
	uint8		kind;
	uint16		reserved;
	int32		nchan;
	int32		capchan;
	int32		nameused;
	int32		namecap;
	int32		nsets;			/* Shapley */
	int32		capsets;
	int32		reserved2;
	int64		paths;
	int64		conversions;
	int128		value;			/* Markov: value of converting paths */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} DDState;

StaticAssertDecl(offsetof(DDState, data) % MAXIMUM_ALIGNOF == 0, "regions must be aligned");

/* Regions after the header, by capacities. */
typedef struct DDLayout
{
	Size		counts,
				sets,
				setorder,
				chan_off,
				chan_len,
				chan_order,
				names,
				total;
} DDLayout;

static void
dd_layout(int kind, int capchan, int namecap, int capsets, DDLayout *l)
{
	Size		o = offsetof(DDState, data);

	l->counts = o;
	if (kind == DD_MARKOV)
		o += MAXALIGN(sizeof(int64) * (Size) (capchan + 1) * (capchan + 2));
	l->sets = o;
	if (kind == DD_SHAPLEY)
		o += MAXALIGN(sizeof(DDSet) * (Size) capsets);
	l->setorder = o;
	if (kind == DD_SHAPLEY)
		o += MAXALIGN(sizeof(int32) * (Size) capsets);
	l->chan_off = o;
	o += MAXALIGN(sizeof(int32) * (Size) capchan);
	l->chan_len = o;
	o += MAXALIGN(sizeof(int32) * (Size) capchan);
	l->chan_order = o;
	o += MAXALIGN(sizeof(int32) * (Size) capchan);
	l->names = o;
	o += MAXALIGN(namecap);
	l->total = o;
}

#define DD_AT(s, field, type) \
	((type *) ((char *) (s) + dd_field_offset((s), offsetof(DDLayout, field))))

static inline Size
dd_field_offset(const DDState *s, Size which)
{
	DDLayout	l;

	dd_layout(s->kind, s->capchan, s->namecap, s->capsets, &l);
	return *(Size *) ((char *) &l + which);
}

#define DD_COUNTS(s)	DD_AT(s, counts, int64)
#define DD_SETS(s)		DD_AT(s, sets, DDSet)
#define DD_SETORDER(s)	DD_AT(s, setorder, int32)
#define DD_CHOFF(s)		DD_AT(s, chan_off, int32)
#define DD_CHLEN(s)		DD_AT(s, chan_len, int32)
#define DD_CHORDER(s)	DD_AT(s, chan_order, int32)
#define DD_NAMES(s)		DD_AT(s, names, char)
/* Markov counts: from 0 = start, 1 + id; to 0 = conversion, 1 = null, 2 + id */
#define MK_IDX(s, from, to) ((Size) (from) * ((s)->capchan + 2) + (to))

#define DatumGetDD(d) ((DDState *) PG_DETOAST_DATUM(d))

static DDState *
dd_new(int kind, int capchan, int namecap, int capsets)
{
	DDLayout	l;
	DDState    *s;

	dd_layout(kind, capchan, namecap, capsets, &l);
	s = palloc0(l.total);
	SET_VARSIZE(s, l.total);
	s->version = LF_STATE_VERSION;
	s->kind = kind;
	s->capchan = capchan;
	s->namecap = namecap;
	s->capsets = capsets;
	return s;
}

/* A copy of s with at least these capacities (doubling). */
static DDState *
dd_grow(const DDState *s, int needchan, int needname, int needsets)
{
	int			capchan = s->capchan,
				namecap = s->namecap,
				capsets = s->capsets;
	DDState    *g;

	while (capchan < needchan)
		capchan = Max(capchan * 2, 8);
	capchan = Min(capchan, Max(DD_MAX_CHANNELS(s->kind), needchan));
	while (namecap < needname)
		namecap = Max(namecap * 2, 256);
	if (s->kind == DD_SHAPLEY)
	{
		while (capsets < needsets)
			capsets = Max(capsets * 2, 16);
		capsets = Min(capsets, Max(SHAPLEY_MAX_SETS, needsets));
	}
	g = dd_new(s->kind, capchan, namecap, capsets);
	g->nchan = s->nchan;
	g->nameused = s->nameused;
	g->nsets = s->nsets;
	g->paths = s->paths;
	g->conversions = s->conversions;
	g->value = s->value;
	if (s->kind == DD_MARKOV)
	{
		for (int from = 0; from <= s->nchan; from++)
			memcpy(&DD_COUNTS(g)[MK_IDX(g, from, 0)], &DD_COUNTS(s)[MK_IDX(s, from, 0)],
				   sizeof(int64) * (s->nchan + 2));
	}
	else
	{
		memcpy(DD_SETS(g), DD_SETS(s), sizeof(DDSet) * s->nsets);
		memcpy(DD_SETORDER(g), DD_SETORDER(s), sizeof(int32) * s->nsets);
	}
	memcpy(DD_CHOFF(g), DD_CHOFF(s), sizeof(int32) * s->nchan);
	memcpy(DD_CHLEN(g), DD_CHLEN(s), sizeof(int32) * s->nchan);
	memcpy(DD_CHORDER(g), DD_CHORDER(s), sizeof(int32) * s->nchan);
	memcpy(DD_NAMES(g), DD_NAMES(s), s->nameused);
	return g;
}

/* Channel-name order: bytes, then length. */
static inline int
name_cmp(const char *a, int la, const char *b, int lb)
{
	int			c = memcmp(a, b, Min(la, lb));

	if (c != 0)
		return c;
	return la < lb ? -1 : (la > lb ? 1 : 0);
}

static pg_noreturn void
dd_too_many_channels(int kind)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("%s cannot handle more than %d distinct channels", DD_AGGNAME(kind), DD_MAX_CHANNELS(kind)),
			 errhint(kind == DD_SHAPLEY
					 ? "Group channels into fewer, coarser ones (exact Shapley values over more channels are out of reach), or use markov_attribution."
					 : "Group channels into fewer, coarser ones.")));
}

/* The id of a channel, added if new (may replace *sp by a larger copy). */
static int
dd_channel(DDState **sp, const char *name, int len)
{
	DDState    *s = *sp;
	int32	   *order = DD_CHORDER(s);
	int32	   *off = DD_CHOFF(s);
	int32	   *clen = DD_CHLEN(s);
	char	   *names = DD_NAMES(s);
	int			lo = 0,
				hi = s->nchan;
	int			id;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = name_cmp(names + off[order[mid]], clen[order[mid]], name, len);

		if (c == 0)
			return order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->nchan >= DD_MAX_CHANNELS(s->kind))
		dd_too_many_channels(s->kind);
	if (len > DD_MAX_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("channel name too long for %s", DD_AGGNAME(s->kind)),
				 errdetail("A channel name has %d bytes; at most %d are allowed.", len, DD_MAX_NAME)));
	if (s->nchan >= s->capchan || s->nameused + len > s->namecap)
	{
		*sp = s = dd_grow(s, s->nchan + 1, s->nameused + len, s->nsets);
		order = DD_CHORDER(s);
		off = DD_CHOFF(s);
		clen = DD_CHLEN(s);
		names = DD_NAMES(s);
	}
	id = s->nchan++;
	off[id] = s->nameused;
	clen[id] = len;
	memcpy(names + s->nameused, name, len);
	s->nameused += len;
	memmove(&order[lo + 1], &order[lo], sizeof(int32) * (s->nchan - 1 - lo));
	order[lo] = id;
	return id;
}

static pg_noreturn void
dd_overflow(int kind)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s sum out of range", DD_AGGNAME(kind)),
			 errdetail("Counts stay below 2^63 and the sum of values within +-7.7e25 (2^86).")));
}

static inline void
add_count(int kind, int64 *acc, int64 v)
{
	if (__builtin_add_overflow(*acc, v, acc))
		dd_overflow(kind);
}

static inline void
add_value(int kind, int128 *acc, int128 v)
{
	if (__builtin_add_overflow(*acc, v, acc) || *acc >= DD_LIMIT || *acc <= -DD_LIMIT)
		dd_overflow(kind);
}

/* A value (numeric) on the fixed-point grid. */
static int128
value_fixed(int kind, Datum num)
{
	double		v = DatumGetFloat8(DirectFunctionCall1(numeric_float8, num));
	double		scaled = ldexp(v, DD_FRAC_BITS);

	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s cannot take a NaN value", DD_AGGNAME(kind))));
	if (!(fabs(scaled) < ldexp(1.0, 126)))
		dd_overflow(kind);
	return (int128) rint(scaled);
}

static inline double
fixed_double(int128 v)
{
	return ldexp((double) v, -DD_FRAC_BITS);
}

/* The Shapley set entry of a mask, created if missing. */
static DDSet *
shapley_set(DDState **sp, uint64 mask)
{
	DDState    *s = *sp;
	DDSet	   *sets = DD_SETS(s);
	int32	   *order = DD_SETORDER(s);
	int			lo = 0,
				hi = s->nsets;
	DDSet	   *e;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		uint64		m = sets[order[mid]].mask;

		if (m == mask)
			return &sets[order[mid]];
		if (m < mask)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->nsets >= SHAPLEY_MAX_SETS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("shapley_attribution cannot hold more than %d distinct sets of channels", SHAPLEY_MAX_SETS),
				 errhint("Group channels into fewer, coarser ones.")));
	if (s->nsets >= s->capsets)
	{
		*sp = s = dd_grow(s, s->nchan, s->nameused, s->nsets + 1);
		sets = DD_SETS(s);
		order = DD_SETORDER(s);
	}
	memmove(&order[lo + 1], &order[lo], sizeof(int32) * (s->nsets - lo));
	order[lo] = s->nsets;
	e = &sets[s->nsets++];
	memset(e, 0, sizeof(DDSet));
	e->mask = mask;
	return e;
}

/*
 * Transition: one lead's path (text[], NULL elements skipped, consecutive
 * repeats one visit), converted, value (of converting paths).  A NULL or
 * empty path or a NULL converted adds nothing.
 */
static Datum
dd_trans(FunctionCallInfo fcinfo, int kind)
{
	DDState    *s;
	ArrayType  *a;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int		   *ids;
	int			k = 0;
	bool		converted;

	LF_KEEP_STATE_IF(fcinfo, PG_ARGISNULL(1) || PG_ARGISNULL(2));
	a = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path must be a one-dimensional array"),
				 errdetail("The array given has %d dimensions.", ARR_NDIM(a))));
	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	converted = PG_GETARG_BOOL(2);

	s = PG_ARGISNULL(0) ? dd_new(kind, 8, 256, kind == DD_SHAPLEY ? 16 : 0)
		: (DDState *) lf_mutable_state(fcinfo);
	ids = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		text	   *t;
		int			id;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		id = dd_channel(&s, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		if (k == 0 || ids[k - 1] != id)
			ids[k++] = id;
	}
	if (k > 0)
	{
		int128		value = 0;

		if (converted && !PG_ARGISNULL(3))
			value = value_fixed(kind, PG_GETARG_DATUM(3));
		add_count(kind, &s->paths, 1);
		if (converted)
			add_count(kind, &s->conversions, 1);
		if (kind == DD_MARKOV)
		{
			int64	   *counts = DD_COUNTS(s);

			add_value(kind, &s->value, value);
			add_count(kind, &counts[MK_IDX(s, 0, 2 + ids[0])], 1);
			for (int i = 1; i < k; i++)
				add_count(kind, &counts[MK_IDX(s, 1 + ids[i - 1], 2 + ids[i])], 1);
			add_count(kind, &counts[MK_IDX(s, 1 + ids[k - 1], converted ? 0 : 1)], 1);
		}
		else
		{
			uint64		mask = 0;
			DDSet	   *e;

			for (int i = 0; i < k; i++)
				mask |= (uint64) 1 << ids[i];
			e = shapley_set(&s, mask);
			add_count(kind, &e->paths, 1);
			if (converted)
			{
				add_count(kind, &e->conv, 1);
				add_value(kind, &e->value, value);
				add_value(kind, &s->value, value);
			}
		}
	}
	PG_RETURN_POINTER(s);
}

/* Add state o into *sp (channels matched by name). */
static void
dd_merge(DDState **sp, const DDState *o)
{
	int		   *map = palloc(sizeof(int) * Max(o->nchan, 1));
	const int32 *ooff = DD_CHOFF(o);
	const int32 *olen = DD_CHLEN(o);
	const char *onames = DD_NAMES(o);
	int			kind = (*sp)->kind;
	DDState    *s;

	for (int c = 0; c < o->nchan; c++)
		map[c] = dd_channel(sp, onames + ooff[c], olen[c]);
	s = *sp;
	add_count(kind, &s->paths, o->paths);
	add_count(kind, &s->conversions, o->conversions);
	add_value(kind, &s->value, o->value);
	if (kind == DD_MARKOV)
	{
		const int64 *oc = DD_COUNTS(o);
		int64	   *sc = DD_COUNTS(s);

		for (int from = 0; from <= o->nchan; from++)
			for (int to = 0; to < o->nchan + 2; to++)
			{
				int64		v = oc[MK_IDX(o, from, to)];

				if (v != 0)
					add_count(kind, &sc[MK_IDX(s, from == 0 ? 0 : 1 + map[from - 1], to < 2 ? to : 2 + map[to - 2])], v);
			}
	}
	else
	{
		const DDSet *osets = DD_SETS(o);

		for (int i = 0; i < o->nsets; i++)
		{
			uint64		mask = 0;
			DDSet	   *e;

			for (int c = 0; c < o->nchan; c++)
				if (osets[i].mask & ((uint64) 1 << c))
					mask |= (uint64) 1 << map[c];
			e = shapley_set(sp, mask);
			add_count(kind, &e->paths, osets[i].paths);
			add_count(kind, &e->conv, osets[i].conv);
			add_value(kind, &e->value, osets[i].value);
		}
	}
	pfree(map);
}

static Datum
dd_combine(FunctionCallInfo fcinfo, int kind)
{
	DDState    *s;

	LF_KEEP_STATE_IF_ARG1_NULL(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	s = (DDState *) lf_mutable_state(fcinfo);
	dd_merge(&s, DatumGetDD(PG_GETARG_DATUM(1)));
	PG_RETURN_POINTER(s);
}

/* ---------------------------------------------------------------------
 * Final functions
 * ---------------------------------------------------------------------
 */

/* The channel_credit[] of per-channel results (indexed by id), in name order. */
static Datum
dd_result(FunctionCallInfo fcinfo, const DDState *s, const double *effect,
		  const double *conv, const double *value)
{
	Oid			rowtype;
	TupleDesc	desc = lf_result_row_desc(fcinfo, &rowtype);
	Datum	   *rows;

	if (s == NULL || s->nchan == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(rowtype));
	rows = palloc(sizeof(Datum) * s->nchan);
	for (int k = 0; k < s->nchan; k++)
	{
		int			id = DD_CHORDER(s)[k];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = PointerGetDatum(cstring_to_text_with_len(DD_NAMES(s) + DD_CHOFF(s)[id], DD_CHLEN(s)[id]));
		values[1] = Float8GetDatum(effect[id]);
		values[2] = Float8GetDatum(conv[id]);
		values[3] = Float8GetDatum(value[id]);
		rows[k] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	}
	return lf_row_array(rows, s->nchan, rowtype);
}

/* Credit of conversions and value in proportion to the effects. */
static void
dd_split(const DDState *s, const double *effect, double *conv, double *value)
{
	double		sum = 0.0;

	for (int c = 0; c < s->nchan; c++)
		sum += effect[c];
	for (int c = 0; c < s->nchan; c++)
	{
		conv[c] = sum > 0.0 ? (double) s->conversions * (effect[c] / sum) : 0.0;
		value[c] = sum > 0.0 ? fixed_double(s->value) * (effect[c] / sum) : 0.0;
	}
}

/* Removal effects of a Markov state, by channel id, into effect[]. */
static void
markov_effects(const DDState *s, double *effect)
{
	int			n = s->nchan;
	const int64 *counts = DD_COUNTS(s);
	double	   *m = palloc0(sizeof(double) * n * n);	/* I - Q, then its inverse */
	double	   *inv = palloc0(sizeof(double) * n * n);
	double	   *r = palloc0(sizeof(double) * n);
	double	   *st = palloc0(sizeof(double) * n);
	double	   *x = palloc0(sizeof(double) * n);
	double	   *vis = palloc0(sizeof(double) * n);
	double		starts = 0.0,
				p = 0.0;

	for (int j = 0; j < n; j++)
		starts += (double) counts[MK_IDX(s, 0, 2 + j)];
	for (int i = 0; i < n; i++)
	{
		double		out = 0.0;

		for (int to = 0; to < n + 2; to++)
			out += (double) counts[MK_IDX(s, 1 + i, to)];
		/* out > 0: every visit leaves (checked on input) */
		r[i] = (double) counts[MK_IDX(s, 1 + i, 0)] / out;
		for (int j = 0; j < n; j++)
			m[i * n + j] = (i == j ? 1.0 : 0.0) - (double) counts[MK_IDX(s, 1 + i, 2 + j)] / out;
		inv[i * n + i] = 1.0;
		st[i] = starts > 0.0 ? (double) counts[MK_IDX(s, 0, 2 + i)] / starts : 0.0;
	}
	/* Gauss-Jordan with partial pivoting: inv = (I - Q)^-1 */
	for (int col = 0; col < n; col++)
	{
		int			piv = col;

		CHECK_FOR_INTERRUPTS();
		for (int i = col + 1; i < n; i++)
			if (fabs(m[i * n + col]) > fabs(m[piv * n + col]))
				piv = i;
		if (!(fabs(m[piv * n + col]) > 0.0))
			elog(ERROR, "markov_attribution: singular transition matrix");
		if (piv != col)
			for (int j = 0; j < n; j++)
			{
				double		t = m[col * n + j];

				m[col * n + j] = m[piv * n + j];
				m[piv * n + j] = t;
				t = inv[col * n + j];
				inv[col * n + j] = inv[piv * n + j];
				inv[piv * n + j] = t;
			}
		{
			double		d = m[col * n + col];

			for (int j = 0; j < n; j++)
			{
				m[col * n + j] /= d;
				inv[col * n + j] /= d;
			}
		}
		for (int i = 0; i < n; i++)
		{
			double		f = m[i * n + col];

			if (i == col || f == 0.0)
				continue;
			for (int j = 0; j < n; j++)
			{
				m[i * n + j] -= f * m[col * n + j];
				inv[i * n + j] -= f * inv[col * n + j];
			}
		}
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
		{
			x[i] += inv[i * n + j] * r[j];
			vis[j] += st[i] * inv[i * n + j];
		}
	for (int i = 0; i < n; i++)
		p += st[i] * x[i];
	for (int c = 0; c < n; c++)
		effect[c] = p > 0.0 ? vis[c] * x[c] / (inv[c * n + c] * p) : 0.0;
	pfree(m);
	pfree(inv);
	pfree(r);
	pfree(st);
	pfree(x);
	pfree(vis);
}

/* w[s] = s! (m-s-1)! / m! = 1 / (m C(m-1, s)), s = 0 .. m-1 */
static void
shapley_weights(int m, double *w)
{
	double		c = 1.0;		/* C(m-1, s) */

	for (int s = 0; s < m; s++)
	{
		if (s > 0)
			c = c * (double) (m - s) / (double) s;
		w[s] = 1.0 / ((double) m * c);
	}
}

/*
 * Shapley values of the game over the players in mask (m of them), v from
 * the seen sets that are subsets of mask, into phi[id] (others untouched).
 */
static void
shapley_game(const DDState *s, const double *v, uint64 mask, double *phi)
{
	int			m = pg_popcount64(mask);
	double		w[SHAPLEY_MAX_CHANNELS];
	const DDSet *sets = DD_SETS(s);
	const int32 *order = DD_SETORDER(s);
	bool		enumerate = m < 30 && ((int64) 1 << m) < (int64) s->nsets;
	uint64		sub = mask;
	int			k = 0;

	shapley_weights(m, w);
	for (int c = 0; c < s->nchan; c++)
		if (mask & ((uint64) 1 << c))
			phi[c] = 0.0;
	for (;;)
	{
		int			idx = -1;

		CHECK_FOR_INTERRUPTS();
		if (enumerate)
		{
			/* the next non-empty submask, looked up among the seen sets */
			int			lo = 0,
						hi = s->nsets;

			if (sub == 0)
				break;
			while (lo < hi)
			{
				int			mid = lo + (hi - lo) / 2;

				if (sets[order[mid]].mask < sub)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < s->nsets && sets[order[lo]].mask == sub)
				idx = order[lo];
			sub = (sub - 1) & mask;
		}
		else
		{
			if (k >= s->nsets)
				break;
			if ((sets[k].mask & ~mask) == 0)
				idx = k;
			k++;
		}
		if (idx >= 0 && v[idx] != 0.0)
		{
			uint64		u = sets[idx].mask;
			int			size = pg_popcount64(u);

			for (int c = 0; c < s->nchan; c++)
			{
				uint64		bit = (uint64) 1 << c;

				if (!(mask & bit))
					continue;
				if (u & bit)
					phi[c] += v[idx] * w[size - 1];
				else
					phi[c] -= v[idx] * w[size];
			}
		}
	}
}

static void
shapley_credit(const DDState *s, double *effect, double *conv, double *value)
{
	const DDSet *sets = DD_SETS(s);
	double	   *v = palloc(sizeof(double) * Max(s->nsets, 1));
	double		phi[SHAPLEY_MAX_CHANNELS];
	uint64		all = 0;

	for (int c = 0; c < s->nchan; c++)
	{
		all |= (uint64) 1 << c;
		conv[c] = 0.0;
		value[c] = 0.0;
	}
	for (int i = 0; i < s->nsets; i++)
		v[i] = (double) sets[i].conv / (double) sets[i].paths;
	shapley_game(s, v, all, effect);
	for (int i = 0; i < s->nsets; i++)
	{
		if (sets[i].conv == 0)
			continue;
		shapley_game(s, v, sets[i].mask, phi);
		for (int c = 0; c < s->nchan; c++)
			if (sets[i].mask & ((uint64) 1 << c))
			{
				double		share = phi[c] / v[i];

				conv[c] += (double) sets[i].conv * share;
				value[c] += fixed_double(sets[i].value) * share;
			}
	}
	pfree(v);
}

/* One item of the text and binary forms: a transition (Markov) or a set (Shapley). */
typedef struct DDItem
{
	int32		from;			/* Markov: 0 start, 1..n channel rank + 1 */
	int32		to;				/* Markov: 1..n channel, n+1 conversion, n+2 null */
	int64		count;
	uint64		mask;			/* Shapley: bits by channel rank */
	const DDSet *set;
} DDItem;

static int
item_mask_cmp(const void *a, const void *b)
{
	uint64		x = ((const DDItem *) a)->mask;
	uint64		y = ((const DDItem *) b)->mask;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* The items of a state in the order of its forms. */
static int
dd_items(const DDState *s, DDItem **itemsp)
{
	const int32 *order = DD_CHORDER(s);
	int			n = s->nchan;
	int			k = 0;
	DDItem	   *items;

	if (s->kind == DD_MARKOV)
	{
		const int64 *counts = DD_COUNTS(s);

		items = palloc(sizeof(DDItem) * (Size) (n + 1) * (n + 2));
		for (int f = 0; f <= n; f++)
			for (int t = 1; t <= n + 2; t++)
			{
				int			row = f == 0 ? 0 : 1 + order[f - 1];
				int			col = t <= n ? 2 + order[t - 1] : t - n - 1;
				int64		v = counts[MK_IDX(s, row, col)];

				if (v == 0)
					continue;
				items[k].from = f;
				items[k].to = t;
				items[k].count = v;
				k++;
			}
	}
	else
	{
		const DDSet *sets = DD_SETS(s);
		int		   *rank = palloc(sizeof(int) * Max(n, 1));

		for (int r = 0; r < n; r++)
			rank[order[r]] = r;
		items = palloc(sizeof(DDItem) * Max(s->nsets, 1));
		for (; k < s->nsets; k++)
		{
			items[k].mask = 0;
			for (int c = 0; c < n; c++)
				if (sets[k].mask & ((uint64) 1 << c))
					items[k].mask |= (uint64) 1 << rank[c];
			items[k].set = &sets[k];
		}
		qsort(items, k, sizeof(DDItem), item_mask_cmp);
		pfree(rank);
	}
	*itemsp = items;
	return k;
}

static bool dd_add_read_name(DDState *s, const char *name, int len);

/*
 * A copy of s with channel ids in name order and the sets in mask order, so
 * that the final computation (floating point) does not depend on the order
 * in which rows arrived or states were combined.
 */
static DDState *
dd_canonical(const DDState *s)
{
	const int32 *order = DD_CHORDER(s);
	int			n = s->nchan;
	int		   *rank = palloc(sizeof(int) * Max(n, 1));
	DDItem	   *items;
	int			nitems;
	DDState    *g = dd_new(s->kind, Max(n, 1), Max(s->nameused, 1), s->kind == DD_SHAPLEY ? Max(s->nsets, 1) : 0);

	for (int k = 0; k < n; k++)
	{
		rank[order[k]] = k;
		dd_add_read_name(g, DD_NAMES(s) + DD_CHOFF(s)[order[k]], DD_CHLEN(s)[order[k]]);
	}
	g->paths = s->paths;
	g->conversions = s->conversions;
	g->value = s->value;
	nitems = dd_items(s, &items);
	for (int i = 0; i < nitems; i++)
	{
		if (s->kind == DD_MARKOV)
			DD_COUNTS(g)[MK_IDX(g, items[i].from, items[i].to <= n ? 1 + items[i].to : items[i].to - n - 1)] = items[i].count;
		else
		{
			DDSet	   *e = &DD_SETS(g)[i];

			*e = *items[i].set;
			e->mask = items[i].mask;
			DD_SETORDER(g)[i] = i;
			g->nsets++;
		}
	}
	pfree(rank);
	return g;
}

static Datum
dd_final(FunctionCallInfo fcinfo, int kind)
{
	DDState    *s;
	double	   *effect,
			   *conv,
			   *value;

	if (PG_ARGISNULL(0))
		return dd_result(fcinfo, NULL, NULL, NULL, NULL);
	s = dd_canonical(DatumGetDD(PG_GETARG_DATUM(0)));
	effect = palloc0(sizeof(double) * Max(s->nchan, 1));
	conv = palloc0(sizeof(double) * Max(s->nchan, 1));
	value = palloc0(sizeof(double) * Max(s->nchan, 1));
	if (s->nchan > 0)
	{
		if (kind == DD_MARKOV)
		{
			markov_effects(s, effect);
			dd_split(s, effect, conv, value);
		}
		else
			shapley_credit(s, effect, conv, value);
	}
	return dd_result(fcinfo, s, effect, conv, value);
}

PG_FUNCTION_INFO_V1(lf_markov_attribution_trans);
Datum
lf_markov_attribution_trans(PG_FUNCTION_ARGS)
{
	return dd_trans(fcinfo, DD_MARKOV);
}

PG_FUNCTION_INFO_V1(lf_markov_attribution_combine);
Datum
lf_markov_attribution_combine(PG_FUNCTION_ARGS)
{
	return dd_combine(fcinfo, DD_MARKOV);
}

PG_FUNCTION_INFO_V1(lf_markov_attribution_final);
Datum
lf_markov_attribution_final(PG_FUNCTION_ARGS)
{
	return dd_final(fcinfo, DD_MARKOV);
}

PG_FUNCTION_INFO_V1(lf_shapley_attribution_trans);
Datum
lf_shapley_attribution_trans(PG_FUNCTION_ARGS)
{
	return dd_trans(fcinfo, DD_SHAPLEY);
}

PG_FUNCTION_INFO_V1(lf_shapley_attribution_combine);
Datum
lf_shapley_attribution_combine(PG_FUNCTION_ARGS)
{
	return dd_combine(fcinfo, DD_SHAPLEY);
}

PG_FUNCTION_INFO_V1(lf_shapley_attribution_final);
Datum
lf_shapley_attribution_final(PG_FUNCTION_ARGS)
{
	return dd_final(fcinfo, DD_SHAPLEY);
}

/* ---------------------------------------------------------------------
 * Text and binary forms.  Channels are listed in name order; in the forms
 * channel k (1-based) is the k-th listed.
 *
 * markov:  v1 <value> <n> "<name>"... <from>:<to>:<count>...
 *          from 0 = start, 1..n channels; to 1..n channels, n+1 conversion,
 *          n+2 null; pairs in increasing order, counts > 0
 * shapley: v1 <n> "<name>"... <mask>:<paths>:<conversions>:<value>...
 *          bit k-1 of mask = channel k; masks in increasing order
 * Binary: version byte 1; markov: value (int64 high, low), int32 n, n names
 * (int32 length, bytes), int32 count, count x (int32 from, int32 to, int64);
 * shapley: int32 n, n names, int32 count, count x (int64 mask, int64 paths,
 * int64 conversions, int64 value high, int64 low).
 * ---------------------------------------------------------------------
 */

/*
 * dd_check's sums: a state read from outside whose totals overflow is a
 * malformed state (22P02/22P03 from the caller), not an aggregate's overflow
 * (22003), so these report instead of raising.
 */
static inline bool
sum_count(int64 *acc, int64 v)
{
	return !__builtin_add_overflow(*acc, v, acc);
}

static inline bool
sum_value(int128 *acc, int128 v)
{
	return !__builtin_add_overflow(*acc, v, acc) && *acc < DD_LIMIT && *acc > -DD_LIMIT;
}

/*
 * Whether a state read from outside is one the aggregate can make; NULL if
 * so, else why not.  Names are checked for order while reading.
 */
static const char *
dd_check(DDState *s)
{
	static const char *const too_large =
		"Counts must stay below 2^63 and the sum of values within +-7.7e25 (2^86).";
	int			n = s->nchan;

	if (s->value >= DD_LIMIT || s->value <= -DD_LIMIT)
		return "The value is out of range.";
	if (s->kind == DD_MARKOV)
	{
		const int64 *counts = DD_COUNTS(s);
		bool	   *reached = palloc0(sizeof(bool) * (n + 1));
		int		   *stack = palloc(sizeof(int) * (n + 1));
		int			top = 0;

		s->paths = 0;
		s->conversions = 0;
		for (int j = 0; j < n; j++)
			if (!sum_count(&s->paths, counts[MK_IDX(s, 0, 2 + j)]))
				return too_large;
		for (int i = 0; i < n; i++)
		{
			int64		in = counts[MK_IDX(s, 0, 2 + i)];
			int64		out = 0;

			for (int f = 0; f < n; f++)
				if (!sum_count(&in, counts[MK_IDX(s, 1 + f, 2 + i)]))
					return too_large;
			for (int to = 0; to < n + 2; to++)
				if (!sum_count(&out, counts[MK_IDX(s, 1 + i, to)]))
					return too_large;
			if (in == 0 || in != out)
				return "Every channel must be entered, and left as often as it is entered.";
			if (!sum_count(&s->conversions, counts[MK_IDX(s, 1 + i, 0)]))
				return too_large;
		}
		/* every channel reachable from start (then every one reaches absorption) */
		stack[top++] = 0;
		reached[0] = true;
		while (top > 0)
		{
			int			from = stack[--top];

			for (int j = 0; j < n; j++)
				if (counts[MK_IDX(s, from, 2 + j)] > 0 && !reached[1 + j])
				{
					reached[1 + j] = true;
					stack[top++] = 1 + j;
				}
		}
		for (int i = 0; i < n; i++)
			if (!reached[1 + i])
				return "Every channel must be reachable from the start.";
		if (s->conversions == 0 && s->value != 0)
			return "A value without conversions.";
	}
	else
	{
		const DDSet *sets = DD_SETS(s);
		uint64		used = 0;

		s->paths = 0;
		s->conversions = 0;
		s->value = 0;
		for (int i = 0; i < s->nsets; i++)
		{
			const DDSet *e = &sets[i];

			if (e->mask == 0 || (n < 64 && (e->mask >> n) != 0))
				return "A set of channels is empty or names a channel not listed.";
			if (i > 0 && e->mask <= sets[i - 1].mask)
				return "Sets must be in increasing order, each once.";
			if (e->paths <= 0 || e->conv < 0 || e->conv > e->paths)
				return "A set needs paths > 0 and 0 <= conversions <= paths.";
			if (e->value >= DD_LIMIT || e->value <= -DD_LIMIT || (e->conv == 0 && e->value != 0))
				return "A set's value is out of range or without conversions.";
			used |= e->mask;
			if (!sum_count(&s->paths, e->paths) || !sum_count(&s->conversions, e->conv) ||
				!sum_value(&s->value, e->value))
				return too_large;
		}
		if (n > 0 && used != (n == 64 ? ~(uint64) 0 : (((uint64) 1 << n) - 1)))
			return "Every channel listed must be on some set.";
	}
	return NULL;
}

static void
append_name(StringInfo buf, const char *name, int len)
{
	appendStringInfoChar(buf, '"');
	for (int i = 0; i < len; i++)
	{
		if (name[i] == '"' || name[i] == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, name[i]);
	}
	appendStringInfoChar(buf, '"');
}

static Datum
dd_out(FunctionCallInfo fcinfo)
{
	DDState    *s = DatumGetDD(PG_GETARG_DATUM(0));
	const int32 *order = DD_CHORDER(s);
	DDItem	   *items;
	int			nitems = dd_items(s, &items);
	StringInfoData buf;

	lf_text_begin(&buf);
	if (s->kind == DD_MARKOV)
	{
		appendStringInfoChar(&buf, ' ');
		lf_append_int128(&buf, s->value);
	}
	appendStringInfo(&buf, " %d", s->nchan);
	for (int k = 0; k < s->nchan; k++)
	{
		appendStringInfoChar(&buf, ' ');
		append_name(&buf, DD_NAMES(s) + DD_CHOFF(s)[order[k]], DD_CHLEN(s)[order[k]]);
	}
	for (int i = 0; i < nitems; i++)
	{
		if (s->kind == DD_MARKOV)
			appendStringInfo(&buf, " %d:%d:" INT64_FORMAT, items[i].from, items[i].to, items[i].count);
		else
		{
			appendStringInfo(&buf, " " UINT64_FORMAT ":" INT64_FORMAT ":" INT64_FORMAT ":",
							 items[i].mask, items[i].set->paths, items[i].set->conv);
			lf_append_int128(&buf, items[i].set->value);
		}
	}
	PG_RETURN_CSTRING(buf.data);
}

static void
send_int128(StringInfo buf, int128 v)
{
	pq_sendint64(buf, (int64) (v >> 64));
	pq_sendint64(buf, (int64) (uint64) v);
}

static Datum
dd_send(FunctionCallInfo fcinfo)
{
	DDState    *s = DatumGetDD(PG_GETARG_DATUM(0));
	const int32 *order = DD_CHORDER(s);
	DDItem	   *items;
	int			nitems = dd_items(s, &items);
	StringInfoData buf;

	lf_binary_begin(&buf);
	if (s->kind == DD_MARKOV)
		send_int128(&buf, s->value);
	pq_sendint32(&buf, s->nchan);
	for (int k = 0; k < s->nchan; k++)
	{
		pq_sendint32(&buf, DD_CHLEN(s)[order[k]]);
		pq_sendbytes(&buf, DD_NAMES(s) + DD_CHOFF(s)[order[k]], DD_CHLEN(s)[order[k]]);
	}
	pq_sendint32(&buf, nitems);
	for (int i = 0; i < nitems; i++)
	{
		if (s->kind == DD_MARKOV)
		{
			pq_sendint32(&buf, items[i].from);
			pq_sendint32(&buf, items[i].to);
			pq_sendint64(&buf, items[i].count);
		}
		else
		{
			pq_sendint64(&buf, (int64) items[i].mask);
			pq_sendint64(&buf, items[i].set->paths);
			pq_sendint64(&buf, items[i].set->conv);
			send_int128(&buf, items[i].set->value);
		}
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* A state with n channels (names in order) and room for nsets sets, read from outside. */
static DDState *
dd_new_read(int kind, int n, int namebytes, int nsets)
{
	DDState    *s = dd_new(kind, Max(n, 1), Max(namebytes, 1), kind == DD_SHAPLEY ? Max(nsets, 1) : 0);

	return s;
}

/* Append channel name (id = its rank); false if not after the previous one. */
static bool
dd_add_read_name(DDState *s, const char *name, int len)
{
	int			id = s->nchan;

	if (id > 0 && name_cmp(DD_NAMES(s) + DD_CHOFF(s)[id - 1], DD_CHLEN(s)[id - 1], name, len) >= 0)
		return false;
	DD_CHOFF(s)[id] = s->nameused;
	DD_CHLEN(s)[id] = len;
	memcpy(DD_NAMES(s) + s->nameused, name, len);
	s->nameused += len;
	DD_CHORDER(s)[id] = id;
	s->nchan++;
	return true;
}

/* A quoted name in the text form, into buf. */
static void
dd_text_name(LfTextReader *r, StringInfo buf)
{
	resetStringInfo(buf);
	lf_text_expect(r, "\"");
	while (*r->p != '"')
	{
		if (*r->p == '\0')
			lf_text_error(r, "A channel name is not closed.");
		if (*r->p == '\\')
		{
			r->p++;
			if (*r->p != '"' && *r->p != '\\')
				lf_text_error(r, "Only \\\" and \\\\ are escapes in a channel name.");
		}
		appendStringInfoChar(buf, *r->p);
		r->p++;
	}
	r->p++;
	if (buf->len > DD_MAX_NAME)
		lf_text_error(r, "A channel name is too long.");
}

static Datum
dd_in(FunctionCallInfo fcinfo, int kind)
{
	char	   *str = PG_GETARG_CSTRING(0);
	const char *typname = DD_TYPNAME(kind);
	LfTextReader r;
	int128		value = 0;
	int64		n;
	int			items = 0;
	DDState    *s;
	StringInfoData name;
	const char *why;

	lf_text_init(&r, typname, str);
	lf_text_expect(&r, LF_STATE_VERSION_TEXT " ");
	if (kind == DD_MARKOV)
	{
		value = lf_text_int128(&r);
		lf_text_expect(&r, " ");
	}
	n = lf_text_int64(&r);
	if (n < 0 || n > DD_MAX_CHANNELS(kind))
		lf_text_error(&r, "The number of channels is out of range.");
	/* items after the names: at most one per space */
	for (const char *p = r.p; *p; p++)
		if (*p == ' ')
			items++;
	if (kind == DD_SHAPLEY && items > SHAPLEY_MAX_SETS + n)
		lf_text_error(&r, "Too many sets.");
	s = dd_new_read(kind, (int) n, (int) strlen(str), items);
	s->value = value;
	initStringInfo(&name);
	for (int k = 0; k < n; k++)
	{
		lf_text_expect(&r, " ");
		dd_text_name(&r, &name);
		if (!dd_add_read_name(s, name.data, name.len))
			lf_text_error(&r, "Channel names must be in increasing order, each once.");
	}
	if (kind == DD_MARKOV)
	{
		int64		prev = -1;

		while (lf_text_accept(&r, " "))
		{
			int64		f = lf_text_int64(&r),
						t,
						c;

			lf_text_expect(&r, ":");
			t = lf_text_int64(&r);
			lf_text_expect(&r, ":");
			c = lf_text_int64(&r);
			if (f < 0 || f > n || t < 1 || t > n + 2 || f == t || (f == 0 && t > n) || c <= 0)
				lf_text_error(&r, "A transition is out of range.");
			if (f * (n + 3) + t <= prev)
				lf_text_error(&r, "Transitions must be in increasing order, each once.");
			prev = f * (n + 3) + t;
			DD_COUNTS(s)[MK_IDX(s, f, t <= n ? 1 + t : t - n - 1)] = c;
		}
	}
	else
	{
		while (lf_text_accept(&r, " "))
		{
			DDSet	   *e = &DD_SETS(s)[s->nsets];
			int128		mask = lf_text_int128(&r);

			if (mask < 0 || mask > (int128) PG_UINT64_MAX)
				lf_text_error(&r, "A set of channels is out of range.");
			e->mask = (uint64) mask;
			lf_text_expect(&r, ":");
			e->paths = lf_text_int64(&r);
			lf_text_expect(&r, ":");
			e->conv = lf_text_int64(&r);
			lf_text_expect(&r, ":");
			e->value = lf_text_int128(&r);
			DD_SETORDER(s)[s->nsets] = s->nsets;
			s->nsets++;
		}
	}
	lf_text_end(&r);
	why = dd_check(s);
	if (why)
		lf_text_error(&r, why);
	PG_RETURN_POINTER(s);
}

static Datum
dd_recv(FunctionCallInfo fcinfo, int kind)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	const char *typname = DD_TYPNAME(kind);
	int128		value = 0;
	int32		n,
				items;
	DDState    *s;
	const char *why;

	lf_binary_version(buf, typname);
	if (kind == DD_MARKOV)
	{
		int64		hi,
					lo;

		lf_binary_need(buf, 16, typname);
		hi = pq_getmsgint64(buf);
		lo = pq_getmsgint64(buf);
		value = (int128) (((uint128) (uint64) hi << 64) | (uint64) lo);
	}
	lf_binary_need(buf, 4, typname);
	n = pq_getmsgint(buf, 4);
	if (n < 0 || n > DD_MAX_CHANNELS(kind))
		lf_binary_error(typname, "The number of channels is out of range.");
	s = dd_new_read(kind, n, buf->len - buf->cursor, 0);
	s->value = value;
	for (int k = 0; k < n; k++)
	{
		int32		len;
		const char *name;

		lf_binary_need(buf, 4, typname);
		len = pq_getmsgint(buf, 4);
		if (len < 0 || len > DD_MAX_NAME)
			lf_binary_error(typname, "A channel name has a bad length.");
		lf_binary_need(buf, len, typname);
		name = pq_getmsgbytes(buf, len);
		if (memchr(name, '\0', len) != NULL || !pg_verifymbstr(name, len, true))
			lf_binary_error(typname, "A channel name is not valid text in the database encoding.");
		if (!dd_add_read_name(s, name, len))
			lf_binary_error(typname, "Channel names must be in increasing order, each once.");
	}
	lf_binary_need(buf, 4, typname);
	items = pq_getmsgint(buf, 4);
	if (kind == DD_MARKOV)
	{
		int64		prev = -1;

		if (items < 0 || items > (n + 1) * (n + 2))
			lf_binary_error(typname, "The number of transitions is out of range.");
		lf_binary_need(buf, items * 16, typname);
		for (int i = 0; i < items; i++)
		{
			int64		f = (int32) pq_getmsgint(buf, 4);
			int64		t = (int32) pq_getmsgint(buf, 4);
			int64		c = pq_getmsgint64(buf);

			if (f < 0 || f > n || t < 1 || t > n + 2 || f == t || (f == 0 && t > n) || c <= 0)
				lf_binary_error(typname, "A transition is out of range.");
			if (f * (n + 3) + t <= prev)
				lf_binary_error(typname, "Transitions must be in increasing order, each once.");
			prev = f * (n + 3) + t;
			DD_COUNTS(s)[MK_IDX(s, f, t <= n ? 1 + t : t - n - 1)] = c;
		}
	}
	else
	{
		if (items < 0 || items > SHAPLEY_MAX_SETS)
			lf_binary_error(typname, "The number of sets is out of range.");
		lf_binary_need(buf, items * 40, typname);
		if (items > s->capsets)
			s = dd_grow(s, s->capchan, s->namecap, items);
		for (int i = 0; i < items; i++)
		{
			DDSet	   *e = &DD_SETS(s)[i];
			int64		hi,
						lo;

			e->mask = (uint64) pq_getmsgint64(buf);
			e->paths = pq_getmsgint64(buf);
			e->conv = pq_getmsgint64(buf);
			hi = pq_getmsgint64(buf);
			lo = pq_getmsgint64(buf);
			e->value = (int128) (((uint128) (uint64) hi << 64) | (uint64) lo);
			DD_SETORDER(s)[i] = i;
			s->nsets++;
		}
	}
	lf_binary_end(buf, typname);
	why = dd_check(s);
	if (why)
		lf_binary_error(typname, why);
	PG_RETURN_POINTER(s);
}

PG_FUNCTION_INFO_V1(lf_markov_attribution_state_in);
Datum
lf_markov_attribution_state_in(PG_FUNCTION_ARGS)
{
	return dd_in(fcinfo, DD_MARKOV);
}

PG_FUNCTION_INFO_V1(lf_markov_attribution_state_out);
Datum
lf_markov_attribution_state_out(PG_FUNCTION_ARGS)
{
	return dd_out(fcinfo);
}

PG_FUNCTION_INFO_V1(lf_markov_attribution_state_send);
Datum
lf_markov_attribution_state_send(PG_FUNCTION_ARGS)
{
	return dd_send(fcinfo);
}

PG_FUNCTION_INFO_V1(lf_markov_attribution_state_recv);
Datum
lf_markov_attribution_state_recv(PG_FUNCTION_ARGS)
{
	return dd_recv(fcinfo, DD_MARKOV);
}

PG_FUNCTION_INFO_V1(lf_shapley_attribution_state_in);
Datum
lf_shapley_attribution_state_in(PG_FUNCTION_ARGS)
{
	return dd_in(fcinfo, DD_SHAPLEY);
}

PG_FUNCTION_INFO_V1(lf_shapley_attribution_state_out);
Datum
lf_shapley_attribution_state_out(PG_FUNCTION_ARGS)
{
	return dd_out(fcinfo);
}

PG_FUNCTION_INFO_V1(lf_shapley_attribution_state_send);
Datum
lf_shapley_attribution_state_send(PG_FUNCTION_ARGS)
{
	return dd_send(fcinfo);
}

PG_FUNCTION_INFO_V1(lf_shapley_attribution_state_recv);
Datum
lf_shapley_attribution_state_recv(PG_FUNCTION_ARGS)
{
	return dd_recv(fcinfo, DD_SHAPLEY);
}
