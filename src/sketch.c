/*-------------------------------------------------------------------------
 *
 * sketch.c
 *	  The cycle-time sketch: type leadfunnel.cycle_time_sketch, the
 *	  aggregates cycle_time(interval), cycle_time_sketch(interval), their
 *	  (started, ended) forms for timestamptz and timestamp, and
 *	  cycle_time_merge(cycle_time_sketch), and the functions that read a
 *	  sketch (cycle_time_stats, cycle_time_quantile); and
 *	  cycle_time_by_stage(stage, ...), whose state type
 *	  leadfunnel.cycle_time_by_stage_state holds one such sketch per stage.
 *
 * A sketch keeps count, sum (128 bits), maximum and its multiplicity exactly,
 * and the durations' distribution as a DDSketch-style histogram of
 * logarithmic bins: bin i holds the durations d (in microseconds) with
 * gamma^(i-1) < d <= gamma^i, gamma = (1 + a) / (1 - a), a = 0.0099; zero
 * durations have a bin of their own.  Any value of a bin is within a of the
 * bin's representative 2 gamma^i / (gamma + 1), so a quantile read from the
 * bins is within 0.99 % of the true one (before rounding to the
 * microsecond resolution of interval).  2207 bins cover every duration from
 * 1 microsecond to 2^63 microseconds, so nothing is ever collapsed and the
 * answer does not depend on the order rows arrive or states are merged.
 *
 * Only the bins between the lowest and highest non-empty one are stored: a
 * state starts with room for 64 bins and grows (doubling, up to the 2207 of
 * the whole range, 17.7 kB) as the durations spread; a month of durations
 * from an hour to a year needs about 460 bins.  Stored and shipped values
 * (the aggregate's result, text and binary forms) hold exactly the non-empty
 * range.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "common/int.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/array.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "vocabulary.h"
#include "state_io.h"

#define SK_TYPNAME "leadfunnel.cycle_time_sketch"
#define SK_ALPHA 0.0099
#define SK_NBINS 2207			/* bins 0 .. 2206: 1 .. 2^63 microseconds */
#define SK_MIN_CAPACITY 64

typedef struct LfSketch
{
	int32		vl_len_;
	uint8		version;
	uint8		flags;			/* reserved, 0 */
	uint16		capacity;		/* entries in counts[] */
	int32		offset;			/* bin of counts[0] */
	int32		lo;				/* lowest non-empty bin, -1 if none */
	int32		hi;				/* highest non-empty bin, -1 if none */
	int32		reserved;
	int64		count;			/* durations, zeros included */
	int64		zero_count;		/* durations of 0 */
	int64		max;			/* largest duration (0 if count = 0) */
	int64		max_count;		/* how many durations equal max */
	int64		sum_hi;			/* sum of the durations, 128 bits */
	uint64		sum_lo;
	int64		counts[FLEXIBLE_ARRAY_MEMBER];
} LfSketch;

#define SK_SIZE(cap)	(offsetof(LfSketch, counts) + sizeof(int64) * (cap))
#define SK_BIN(s, b)	((s)->counts[(b) - (s)->offset])
#define DatumGetSketch(d) ((LfSketch *) PG_DETOAST_DATUM(d))

static double sk_log_gamma = 0;
static double sk_gamma = 0;

/*
 * The bin of a positive duration v is defined as
 *
 *		sk_bin_exact(v) = ceil(log(v) / log(gamma)), clamped to 0 .. 2206,
 *
 * which costs a log() per value.  The aggregates find the same bin with two
 * table lookups instead: sk_bin_upper[b] is the largest duration whose
 * exact bin is at most b (the integers of a bin are contiguous, as the
 * formula is monotonic), and the top 8 significant bits of v (its octave and
 * the next 7 bits) select a sub-bucket [p, p + 2^(e-7)) whose width is at
 * most 1/128 of its start, less than a bin's width (gamma - 1 = 2 %), so the
 * sub-bucket's values lie in the bin of its start or the next one:
 *
 *		b = sk_bin_start[sub-bucket]; while (v > sk_bin_upper[b]) b++;
 *
 * Both tables are computed from sk_bin_exact itself when a backend first
 * needs them (binary searches, about 2,200 log() calls per table), so the
 * lookup returns exactly the bin of the formula: sketches, their text and
 * binary forms and the error bound are the same as with log() per value.
 * The regression suite checks the lookup against the formula computed in
 * SQL around every bin boundary.
 */
#define SK_SUB_BITS 7			/* mantissa bits below the leading one */
#define SK_SMALL (1 << (SK_SUB_BITS + 1))	/* below this, v indexes directly */
#define SK_NSUB ((62 - SK_SUB_BITS) << SK_SUB_BITS)	/* octaves 8 .. 62 */

static int64 sk_bin_upper[SK_NBINS];
static int16 sk_bin_small[SK_SMALL];
static int16 sk_bin_start[SK_NSUB];

static inline int
sk_bin_exact(int64 v)
{
	int			b = (int) ceil(log((double) v) / sk_log_gamma);

	return b < 0 ? 0 : (b >= SK_NBINS ? SK_NBINS - 1 : b);
}

/* The largest duration whose exact bin is at most b. */
static int64
sk_find_upper(int b)
{
	int64		lo = 1,
				hi = PG_INT64_MAX;
	double		x = exp(b * sk_log_gamma);

	if (b >= SK_NBINS - 1)
		return PG_INT64_MAX;
	/* start from a narrow window around gamma^b when it brackets the boundary */
	if (x < 9.0e18)
	{
		int64		wlo = Max((int64) (x * (1 - 1e-9)) - 2, 1);
		int64		whi = (int64) (x * (1 + 1e-9)) + 2;

		if (sk_bin_exact(wlo) <= b && sk_bin_exact(whi) > b)
		{
			lo = wlo;
			hi = whi;
		}
	}
	if (sk_bin_exact(lo) > b)
		return 0;				/* no duration lies at or below bin b */
	/* invariant: exact(lo) <= b < exact(hi) */
	while (hi - lo > 1)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (sk_bin_exact(mid) <= b)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void
sk_init_constants(void)
{
	if (sk_log_gamma != 0)
		return;
	sk_gamma = (1 + SK_ALPHA) / (1 - SK_ALPHA);
	sk_log_gamma = log(sk_gamma);
	for (int b = 0; b < SK_NBINS; b++)
		sk_bin_upper[b] = sk_find_upper(b);
	for (int v = 1; v < SK_SMALL; v++)
		sk_bin_small[v] = (int16) sk_bin_exact(v);
	for (int i = 0; i < SK_NSUB; i++)
	{
		int			shift = (i >> SK_SUB_BITS) + 1;	/* octave - SK_SUB_BITS */
		int64		start = (int64) ((1 << SK_SUB_BITS) | (i & ((1 << SK_SUB_BITS) - 1))) << shift;

		sk_bin_start[i] = (int16) sk_bin_exact(start);
	}
}

/* Bin of a positive duration: sk_bin_exact(v) by table lookup. */
static inline int
sk_bin(int64 v)
{
	int			b;

	Assert(v > 0);
	if (v < SK_SMALL)
		return sk_bin_small[v];
	else
	{
		int			shift = pg_leftmost_one_pos64((uint64) v) - SK_SUB_BITS;

		b = sk_bin_start[((shift - 1) << SK_SUB_BITS) | ((int) (v >> shift) & ((1 << SK_SUB_BITS) - 1))];
	}
	while (v > sk_bin_upper[b])
		b++;
	return b;
}

static inline double
sk_representative(int b)
{
	return 2.0 * exp(b * sk_log_gamma) / (sk_gamma + 1);
}

static inline int128
sk_sum(const LfSketch *s)
{
	return ((int128) s->sum_hi << 64) | (int128) s->sum_lo;
}

static inline void
sk_set_sum(LfSketch *s, int128 sum)
{
	s->sum_hi = (int64) (sum >> 64);
	s->sum_lo = (uint64) sum;
}

static LfSketch *
sk_new(int capacity)
{
	LfSketch   *s = palloc0(SK_SIZE(capacity));

	SET_VARSIZE(s, SK_SIZE(capacity));
	s->version = LF_STATE_VERSION;
	s->capacity = capacity;
	s->lo = s->hi = -1;
	return s;
}

/* A copy holding exactly the non-empty bins: what is stored and shipped. */
static LfSketch *
sk_compact(const LfSketch *src)
{
	int			cap = src->lo < 0 ? 0 : src->hi - src->lo + 1;
	LfSketch   *s = sk_new(cap);

	memcpy(s, src, offsetof(LfSketch, counts));
	SET_VARSIZE(s, SK_SIZE(cap));
	s->capacity = cap;
	s->offset = src->lo < 0 ? 0 : src->lo;
	if (cap > 0)
		memcpy(s->counts, &SK_BIN(src, src->lo), sizeof(int64) * cap);
	return s;
}

/* Offset that centres bins lo..hi in cap entries, within the bin range. */
static int
sk_place(int lo, int hi, int cap)
{
	int			off = lo - (cap - (hi - lo + 1)) / 2;

	if (off > SK_NBINS - cap)
		off = SK_NBINS - cap;
	if (off < 0)
		off = 0;
	return off;
}

/*
 * Make bins lo..hi addressable.  Moves the bins within the state when they
 * fit, else returns a larger copy (allocated in the current memory context;
 * the caller's state is left alone, as the executor frees it).
 */
static LfSketch *
sk_room(LfSketch *s, int lo, int hi)
{
	int			want_lo = s->lo >= 0 ? Min(s->lo, lo) : lo;
	int			want_hi = s->hi >= 0 ? Max(s->hi, hi) : hi;
	int			span = want_hi - want_lo + 1;
	int			cap = s->capacity;
	int			off;
	LfSketch   *t;

	if (want_lo >= s->offset && want_hi < s->offset + cap)
		return s;
	if (span <= cap)
	{
		off = sk_place(want_lo, want_hi, cap);
		if (s->lo >= 0)
		{
			int			n = s->hi - s->lo + 1;
			int			from = s->lo - s->offset;
			int			to = s->lo - off;

			memmove(&s->counts[to], &s->counts[from], sizeof(int64) * n);
			/* clear what the move uncovered */
			if (to > from)
				memset(&s->counts[from], 0, sizeof(int64) * Min(to - from, n));
			else
				memset(&s->counts[Max(to + n, from)], 0, sizeof(int64) * (from + n - Max(to + n, from)));
		}
		s->offset = off;
		return s;
	}
	cap = Max(cap, SK_MIN_CAPACITY);
	while (cap < span)
		cap *= 2;
	cap = Min(cap, SK_NBINS);
	t = sk_new(cap);
	memcpy(t, s, offsetof(LfSketch, counts));
	SET_VARSIZE(t, SK_SIZE(cap));
	t->capacity = cap;
	t->offset = sk_place(want_lo, want_hi, cap);
	if (s->lo >= 0)
		memcpy(&SK_BIN(t, s->lo), &SK_BIN(s, s->lo), sizeof(int64) * (s->hi - s->lo + 1));
	return t;
}

static void
sk_count_overflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("cycle_time count out of range")));
}

static void
sk_refuse_negative(Datum duration)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cycle_time cannot take a negative duration: %s",
					DatumGetCString(DirectFunctionCall1(interval_out, duration))),
			 errdetail("Durations are measured from an earlier to a later time."),
			 errhint("Leave out the rows whose end is before their start (WHERE ... >= interval '0'), or fix their times.")));
}

static int64
sk_duration(FunctionCallInfo fcinfo, int argno)
{
	int64		v = lf_interval_usec(PG_GETARG_INTERVAL_P(argno));

	if (v < 0)
		sk_refuse_negative(PG_GETARG_DATUM(argno));
	return v;
}

/*
 * The duration from argument argno (started) to argno + 1 (ended), both
 * timestamptz or both timestamp: ended - started in microseconds, the value
 * cycle_time(ended - started) reads from the interval timestamp subtraction
 * returns, without building that interval.  Infinite times are refused as
 * the subtraction refuses them; a difference beyond 64 bits (only between
 * times ~292,000 years apart) is 22008 as for an interval that large.
 */
static int64
sk_span(FunctionCallInfo fcinfo, int argno)
{
	int64		started = PG_GETARG_INT64(argno);
	int64		ended = PG_GETARG_INT64(argno + 1);
	int64		v;

	if (TIMESTAMP_NOT_FINITE(started) || TIMESTAMP_NOT_FINITE(ended))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot subtract infinite timestamps")));
	if (pg_sub_s64_overflow(ended, started, &v))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range for leadfunnel aggregates"),
				 errdetail("Durations are counted in microseconds (a month as 30 days) and must fit in 64 bits.")));
	if (v < 0)
		sk_refuse_negative(IntervalPGetDatum(lf_usec_interval(v)));
	return v;
}

/* A NULL start or end leaves the state as it is (as a NULL difference would). */
#define SK_KEEP_STATE_IF_SPAN_NULL(fcinfo) LF_KEEP_STATE_IF(fcinfo, PG_ARGISNULL(1) || PG_ARGISNULL(2))

#define sk_mutable(fcinfo) ((LfSketch *) lf_mutable_state(fcinfo))

static LfSketch *
sk_add(LfSketch *s, int64 v)
{
	if (v == 0)
		s->zero_count++;
	else
	{
		int			b = sk_bin(v);

		s = sk_room(s, b, b);
		SK_BIN(s, b)++;
		if (s->lo < 0 || b < s->lo)
			s->lo = b;
		if (b > s->hi)
			s->hi = b;
	}
	if (s->count == 0 || v > s->max)
	{
		s->max = v;
		s->max_count = 1;
	}
	else if (v == s->max)
		s->max_count++;
	if (pg_add_s64_overflow(s->count, 1, &s->count))
		sk_count_overflow();
	sk_set_sum(s, sk_sum(s) + v);
	return s;
}

/* Transition: add the duration the caller read (argument 1 or 1..2 not NULL); inlined, so duration() is a direct call. */
static pg_attribute_always_inline Datum
sk_transition(FunctionCallInfo fcinfo, int64 (*duration) (FunctionCallInfo, int))
{
	LfSketch   *s;
	int64		v;

	sk_init_constants();
	v = duration(fcinfo, 1);
	s = PG_ARGISNULL(0) ? sk_new(SK_MIN_CAPACITY) : sk_mutable(fcinfo);
	PG_RETURN_POINTER(sk_add(s, v));
}

/* cycle_time_add(sketch, interval): transition of cycle_time and cycle_time_sketch. */
PG_FUNCTION_INFO_V1(lf_cycle_time_add);
Datum
lf_cycle_time_add(PG_FUNCTION_ARGS)
{
	LF_KEEP_STATE_IF_ARG1_NULL(fcinfo);
	return sk_transition(fcinfo, sk_duration);
}

/*
 * cycle_time_add(sketch, started, ended): transition of cycle_time(started,
 * ended) and cycle_time_sketch(started, ended), for timestamptz and
 * timestamp; the same state as cycle_time_add(sketch, ended - started).
 */
PG_FUNCTION_INFO_V1(lf_cycle_time_add_span);
Datum
lf_cycle_time_add_span(PG_FUNCTION_ARGS)
{
	SK_KEEP_STATE_IF_SPAN_NULL(fcinfo);
	return sk_transition(fcinfo, sk_span);
}

/*
 * Forget one duration v of s (inverse transition for window frames); false,
 * and s unchanged, when the last copy of the maximum would leave a non-empty
 * sketch: the next largest duration is not known exactly, so the caller
 * returns NULL and the window aggregate recomputes the frame.
 */
typedef enum SkRemoved
{
	SK_REMOVED,					/* s holds one copy less of v */
	SK_RECOMPUTE,				/* the last copy of the maximum: s unchanged */
	SK_NOT_HELD					/* s holds no such duration: s unchanged */
} SkRemoved;

static SkRemoved
sk_remove(LfSketch *s, int64 v)
{
	if (s->count <= 0 || v > s->max)
		return SK_NOT_HELD;
	if (v == s->max && s->max_count == 1 && s->count > 1)
		return SK_RECOMPUTE;

	if (v == 0)
		s->zero_count--;
	else
	{
		int			b = sk_bin(v);

		if (b < s->lo || b > s->hi || SK_BIN(s, b) <= 0)
			return SK_NOT_HELD;
		SK_BIN(s, b)--;
		while (s->lo <= s->hi && SK_BIN(s, s->lo) == 0)
			s->lo++;
		while (s->hi >= s->lo && SK_BIN(s, s->hi) == 0)
			s->hi--;
		if (s->lo > s->hi)
			s->lo = s->hi = -1;
	}
	s->count--;
	sk_set_sum(s, sk_sum(s) - v);
	if (v == s->max)
		s->max_count--;
	if (s->count == 0)
	{
		s->max = 0;
		s->max_count = 0;
	}
	return SK_REMOVED;
}

/*
 * A duration to remove that the sketch does not hold (or no sketch): cannot
 * happen in a window aggregate, but the inverse transition functions can be
 * called directly.  The duration is named as the caller gave it.
 */
static void
sk_remove_error(FunctionCallInfo fcinfo)
{
	StringInfoData given;

	initStringInfo(&given);
	for (int i = 1; i < PG_NARGS(); i++)
	{
		Oid			typoutput;
		bool		varlena;

		getTypeOutputInfo(get_fn_expr_argtype(fcinfo->flinfo, i), &typoutput, &varlena);
		appendStringInfo(&given, "%s%s", i > 1 ? " to " : "",
						 OidOutputFunctionCall(typoutput, PG_GETARG_DATUM(i)));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cycle_time sketch holds no duration %s to remove", given.data),
			 errdetail("cycle_time_remove is the inverse transition function of cycle_time; it removes a duration that was added before."),
			 errhint("Remove only durations added with cycle_time_add.")));
}

/* Inverse transition: forget the duration the caller read (arguments not NULL). */
static pg_attribute_always_inline Datum
sk_inverse(FunctionCallInfo fcinfo, int64 (*duration) (FunctionCallInfo, int))
{
	LfSketch   *s;
	int64		v;

	if (PG_ARGISNULL(0))
		sk_remove_error(fcinfo);
	sk_init_constants();
	v = duration(fcinfo, 1);
	s = sk_mutable(fcinfo);
	switch (sk_remove(s, v))
	{
		case SK_REMOVED:
			break;
		case SK_RECOMPUTE:
			PG_RETURN_NULL();
		case SK_NOT_HELD:
			sk_remove_error(fcinfo);
	}
	PG_RETURN_POINTER(s);
}

/* cycle_time_remove(sketch, interval): inverse transition of cycle_time(interval). */
PG_FUNCTION_INFO_V1(lf_cycle_time_remove);
Datum
lf_cycle_time_remove(PG_FUNCTION_ARGS)
{
	LF_KEEP_STATE_IF_ARG1_NULL(fcinfo);
	return sk_inverse(fcinfo, sk_duration);
}

/* Inverse transition of cycle_time(started, ended). */
PG_FUNCTION_INFO_V1(lf_cycle_time_remove_span);
Datum
lf_cycle_time_remove_span(PG_FUNCTION_ARGS)
{
	SK_KEEP_STATE_IF_SPAN_NULL(fcinfo);
	return sk_inverse(fcinfo, sk_span);
}

/* Merge o into s; may return a larger copy of s. */
static LfSketch *
sk_merge(LfSketch *s, const LfSketch *o)
{
	if (o->count == 0)
		return s;
	if (o->lo >= 0)
	{
		s = sk_room(s, o->lo, o->hi);
		for (int b = o->lo; b <= o->hi; b++)
			if (pg_add_s64_overflow(SK_BIN(s, b), SK_BIN(o, b), &SK_BIN(s, b)))
				sk_count_overflow();
		if (s->lo < 0 || o->lo < s->lo)
			s->lo = o->lo;
		if (o->hi > s->hi)
			s->hi = o->hi;
	}
	if (s->count == 0 || o->max > s->max)
	{
		s->max = o->max;
		s->max_count = o->max_count;
	}
	else if (o->max == s->max)
		s->max_count += o->max_count;
	if (pg_add_s64_overflow(s->count, o->count, &s->count))
		sk_count_overflow();
	s->zero_count += o->zero_count;
	sk_set_sum(s, sk_sum(s) + sk_sum(o));
	return s;
}

/* cycle_time_combine(sketch, sketch): combine function, and transition of the merge aggregates. */
PG_FUNCTION_INFO_V1(lf_cycle_time_combine);
Datum
lf_cycle_time_combine(PG_FUNCTION_ARGS)
{
	LF_KEEP_STATE_IF_ARG1_NULL(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));	/* the executor copies it into its context */
	PG_RETURN_POINTER(sk_merge(sk_mutable(fcinfo), DatumGetSketch(PG_GETARG_DATUM(1))));
}

/* The duration at quantile q (0..1): the rank percentile_disc picks, read from the bins. */
static int64
sk_quantile(const LfSketch *s, double q)
{
	int64		rank = (int64) ceil(q * (double) s->count);
	int64		seen = s->zero_count;

	if (rank < 1)
		rank = 1;
	if (rank <= seen)
		return 0;
	for (int b = s->lo; b >= 0 && b <= s->hi; b++)
	{
		seen += SK_BIN(s, b);
		if (seen >= rank)
		{
			double		est = sk_representative(b);

			/* the maximum is exact; never report more */
			return est >= (double) s->max ? s->max : (int64) rint(est);
		}
	}
	return s->max;
}

static Interval *
sk_mean(const LfSketch *s)
{
	int128		sum = sk_sum(s);
	int128		q = sum / s->count;
	int128		r = sum % s->count;

	/* round half away from zero (durations are >= 0) */
	if (r * 2 >= s->count)
		q++;
	return lf_usec_interval((int64) q);
}

/* The six values of cycle_time_stats (n, mean, p50, p90, p95, max) of s (NULL: no rows). */
static void
sk_stats_values(const LfSketch *s, Datum *values, bool *nulls)
{
	static const double qs[3] = {0.5, 0.9, 0.95};

	sk_init_constants();
	values[0] = Int64GetDatum(s == NULL ? 0 : s->count);
	nulls[0] = false;
	if (s == NULL || s->count == 0)
	{
		for (int i = 1; i < 6; i++)
			nulls[i] = true;
		return;
	}
	for (int i = 1; i < 6; i++)
		nulls[i] = false;
	values[1] = IntervalPGetDatum(sk_mean(s));
	for (int i = 0; i < 3; i++)
		values[2 + i] = IntervalPGetDatum(lf_usec_interval(sk_quantile(s, qs[i])));
	values[5] = IntervalPGetDatum(lf_usec_interval(s->max));
}

/*
 * cycle_time_stats(sketch): (n, mean, p50, p90, p95, max); also the final
 * function of cycle_time, where no rows give (0, NULL, ...).
 */
PG_FUNCTION_INFO_V1(lf_cycle_time_stats);
Datum
lf_cycle_time_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6];
	LfSketch   *s = PG_ARGISNULL(0) ? NULL : DatumGetSketch(PG_GETARG_DATUM(0));

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "cycle_time_stats must return a composite type");
	desc = BlessTupleDesc(desc);
	if (desc->natts != 6)
		elog(ERROR, "leadfunnel.cycle_time_stats has %d columns, expected 6", desc->natts);
	sk_stats_values(s, values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

PG_FUNCTION_INFO_V1(lf_cycle_time_quantile);
Datum
lf_cycle_time_quantile(PG_FUNCTION_ARGS)
{
	LfSketch   *s = DatumGetSketch(PG_GETARG_DATUM(0));
	double		q = PG_GETARG_FLOAT8(1);

	if (!(q >= 0 && q <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("quantile must be between 0 and 1, not %s", float8out_internal(q))));
	if (s->count == 0)
		PG_RETURN_NULL();
	sk_init_constants();
	PG_RETURN_INTERVAL_P(lf_usec_interval(sk_quantile(s, q)));
}

/* Final function of cycle_time_sketch and cycle_time_merge: the compact sketch. */
PG_FUNCTION_INFO_V1(lf_cycle_time_compact);
Datum
lf_cycle_time_compact(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(sk_compact(DatumGetSketch(PG_GETARG_DATUM(0))));
}

/*
 * The checks a value read from outside must pass: everything the functions
 * above rely on.  Returns NULL when valid, else why not.
 */
static const char *
sk_check(const LfSketch *s)
{
	int64		positive = 0;
	int128		sum = sk_sum(s);

	if (s->count < 0 || s->zero_count < 0 || s->zero_count > s->count)
		return "The counts are inconsistent.";
	if (s->lo >= 0)
	{
		if (s->lo > s->hi || s->hi >= SK_NBINS || s->lo < s->offset || s->hi >= s->offset + s->capacity)
			return "The bins are out of range.";
		if (SK_BIN(s, s->lo) <= 0 || SK_BIN(s, s->hi) <= 0)
			return "The first and last bin must not be empty.";
		for (int b = s->lo; b <= s->hi; b++)
		{
			if (SK_BIN(s, b) < 0)
				return "A bin count is negative.";
			if (pg_add_s64_overflow(positive, SK_BIN(s, b), &positive))
				return "The bin counts add up to more than a bigint holds.";
		}
	}
	else if (s->hi != -1)
		return "The bins are out of range.";
	if (positive != s->count - s->zero_count)
		return "The bin counts do not add up to the count.";
	if (s->count == 0)
	{
		if (s->max != 0 || s->max_count != 0 || sum != 0)
			return "An empty sketch has a maximum or a sum.";
		return NULL;
	}
	if (s->max_count < 1 || s->max_count > s->count)
		return "The multiplicity of the maximum is out of range.";
	if (positive == 0)
	{
		if (s->max != 0 || s->max_count != s->count || sum != 0)
			return "A sketch of zero durations has a maximum or a sum.";
		return NULL;
	}
	/* the maximum lies in the highest bin (one bin of slack for another libm) */
	if (s->max <= 0 || abs(sk_bin(s->max) - s->hi) > 1 || s->max_count > SK_BIN(s, s->hi))
		return "The maximum does not match the highest bin.";
	if (sum < (int128) positive || sum < (int128) s->max * s->max_count ||
		sum > (int128) s->max * positive)
		return "The sum is out of range.";
	return NULL;
}

/* Text of a sketch after the version: n=<count> zero=<zeros> max=<usec> max_n=<count> sum=<usec> bins=<bin>:<count>,... */
static void
sk_append_text(StringInfo buf, const LfSketch *s)
{
	bool		first = true;

	appendStringInfo(buf, "n=" INT64_FORMAT " zero=" INT64_FORMAT " max=" INT64_FORMAT
					 " max_n=" INT64_FORMAT " sum=",
					 s->count, s->zero_count, s->max, s->max_count);
	lf_append_int128(buf, sk_sum(s));
	appendStringInfoString(buf, " bins=");
	for (int b = s->lo; b >= 0 && b <= s->hi; b++)
	{
		if (SK_BIN(s, b) == 0)
			continue;
		appendStringInfo(buf, "%s%d:" INT64_FORMAT, first ? "" : ",", b, SK_BIN(s, b));
		first = false;
	}
}

/* Text: v1 n=<count> zero=<zeros> max=<usec> max_n=<count> sum=<usec> bins=<bin>:<count>,... */
PG_FUNCTION_INFO_V1(lf_cycle_time_sketch_out);
Datum
lf_cycle_time_sketch_out(PG_FUNCTION_ARGS)
{
	LfSketch   *s = DatumGetSketch(PG_GETARG_DATUM(0));
	StringInfoData buf;

	lf_text_begin(&buf);
	appendStringInfoChar(&buf, ' ');
	sk_append_text(&buf, s);
	PG_RETURN_CSTRING(buf.data);
}

/*
 * Read what sk_append_text wrote, from after its "n=" (the bin list ends at the end of the input
 * or at a ')'); errors 22P02.  Not yet checked: see sk_text_checked.
 */
static LfSketch *
sk_read_text(LfTextReader *r)
{
	LfSketch   *s = sk_new(SK_NBINS);
	int			prev = -1;

	s->count = lf_text_int64(r);
	lf_text_expect(r, " zero=");
	s->zero_count = lf_text_int64(r);
	lf_text_expect(r, " max=");
	s->max = lf_text_int64(r);
	lf_text_expect(r, " max_n=");
	s->max_count = lf_text_int64(r);
	lf_text_expect(r, " sum=");
	sk_set_sum(s, lf_text_int128(r));
	lf_text_expect(r, " bins=");
	if (*r->p != '\0' && *r->p != ')')
	{
		do
		{
			int64		b = lf_text_int64(r);

			if (b <= prev || b >= SK_NBINS)
				lf_text_error(r, "Bins must be listed in increasing order, each between 0 and 2206.");
			prev = (int) b;
			lf_text_expect(r, ":");
			SK_BIN(s, b) = lf_text_int64(r);
			if (SK_BIN(s, b) <= 0)
				lf_text_error(r, "A listed bin must have a positive count.");
			if (s->lo < 0)
				s->lo = (int) b;
			s->hi = (int) b;
		} while (lf_text_accept(r, ","));
	}
	return s;
}

/* s read by sk_read_text, checked (22P02) and compact. */
static LfSketch *
sk_text_checked(LfTextReader *r, LfSketch *s)
{
	const char *problem;

	if ((problem = sk_check(s)) != NULL)
		lf_text_error(r, problem);
	return sk_compact(s);
}

PG_FUNCTION_INFO_V1(lf_cycle_time_sketch_in);
Datum
lf_cycle_time_sketch_in(PG_FUNCTION_ARGS)
{
	LfTextReader r;
	LfSketch   *s;

	sk_init_constants();
	lf_text_init(&r, SK_TYPNAME, PG_GETARG_CSTRING(0));
	lf_text_expect(&r, LF_STATE_VERSION_TEXT " n=");
	s = sk_read_text(&r);
	lf_text_end(&r);
	PG_RETURN_POINTER(sk_text_checked(&r, s));
}

/*
 * Binary: version byte, count, zero count, max, max count, sum high and low
 * 64 bits (int64 each), lowest bin and number of bins (int32 each), then one
 * int64 count per bin from the lowest to the highest non-empty one.
 * sk_send_body writes what follows the version byte.
 */
static void
sk_send_body(StringInfo buf, const LfSketch *s)
{
	int			nbins = s->lo < 0 ? 0 : s->hi - s->lo + 1;

	pq_sendint64(buf, s->count);
	pq_sendint64(buf, s->zero_count);
	pq_sendint64(buf, s->max);
	pq_sendint64(buf, s->max_count);
	pq_sendint64(buf, s->sum_hi);
	pq_sendint64(buf, (int64) s->sum_lo);
	pq_sendint32(buf, s->lo < 0 ? 0 : s->lo);
	pq_sendint32(buf, nbins);
	for (int b = 0; b < nbins; b++)
		pq_sendint64(buf, SK_BIN(s, s->lo + b));
}

PG_FUNCTION_INFO_V1(lf_cycle_time_sketch_send);
Datum
lf_cycle_time_sketch_send(PG_FUNCTION_ARGS)
{
	LfSketch   *s = DatumGetSketch(PG_GETARG_DATUM(0));
	StringInfoData buf;

	lf_binary_begin(&buf);
	sk_send_body(&buf, s);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Read what sk_send_body wrote (22P03 naming typname); not yet checked. */
static LfSketch *
sk_recv_body(StringInfo buf, const char *typname)
{
	LfSketch   *s;
	int			lo,
				nbins;

	lf_binary_need(buf, 6 * 8 + 2 * 4, typname);
	s = sk_new(SK_NBINS);
	s->count = pq_getmsgint64(buf);
	s->zero_count = pq_getmsgint64(buf);
	s->max = pq_getmsgint64(buf);
	s->max_count = pq_getmsgint64(buf);
	s->sum_hi = pq_getmsgint64(buf);
	s->sum_lo = (uint64) pq_getmsgint64(buf);
	lo = (int32) pq_getmsgint(buf, 4);
	nbins = (int32) pq_getmsgint(buf, 4);
	if (lo < 0 || nbins < 0 || nbins > SK_NBINS || lo > SK_NBINS - nbins || (nbins == 0 && lo != 0))
		lf_binary_error(typname, "The bins are out of range.");
	lf_binary_need(buf, nbins * 8, typname);
	for (int b = 0; b < nbins; b++)
		SK_BIN(s, lo + b) = pq_getmsgint64(buf);
	if (nbins > 0)
	{
		s->lo = lo;
		s->hi = lo + nbins - 1;
	}
	return s;
}

/* s read by sk_recv_body, checked (22P03) and compact. */
static LfSketch *
sk_binary_checked(LfSketch *s, const char *typname)
{
	const char *problem;

	if ((problem = sk_check(s)) != NULL)
		lf_binary_error(typname, problem);
	return sk_compact(s);
}

PG_FUNCTION_INFO_V1(lf_cycle_time_sketch_recv);
Datum
lf_cycle_time_sketch_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	LfSketch   *s;

	sk_init_constants();
	lf_binary_version(buf, SK_TYPNAME);
	s = sk_recv_body(buf, SK_TYPNAME);
	lf_binary_end(buf, SK_TYPNAME);
	PG_RETURN_POINTER(sk_binary_checked(s, SK_TYPNAME));
}

/* ----------------------------------------------------------------------
 * cycle_time_by_stage: one sketch per stage in one state
 *
 * The state leadfunnel.cycle_time_by_stage_state holds, for each stage that
 * had a row, the sketch cycle_time would build over that stage's rows, so
 * one ungrouped pass answers "time in stage per stage" exactly as
 * cycle_time(...) ... GROUP BY stage does (same bins, same statistics).
 * The sketches lie one after the other (each MAXALIGNed) behind a header
 * with each stage's byte offset (0: no rows in that stage).  A sketch that
 * must grow makes a new state (the executor frees the old one); the state is
 * bounded by 12 sketches of at most 2207 bins: 56 + 12 * 17,744 bytes,
 * 213 kB.
 * ---------------------------------------------------------------------- */

#define SS_TYPNAME "leadfunnel.cycle_time_by_stage_state"

typedef struct LfStageSketches
{
	int32		vl_len_;
	uint8		version;
	uint8		flags;			/* reserved, 0 */
	uint16		reserved;
	int32		off[LF_NUM_STAGES];	/* byte offset of the stage's sketch, 0 if none */
} LfStageSketches;

#define SS_HEADER MAXALIGN(sizeof(LfStageSketches))
#define SS_SKETCH(st, k) ((LfSketch *) ((char *) (st) + (st)->off[(k)]))
#define DatumGetStageSketches(d) ((LfStageSketches *) PG_DETOAST_DATUM(d))

/*
 * A new state with the sketches of st (NULL: none), stage k's replaced by
 * sk (NULL: left out), each copied as it is (spare room included).
 */
static LfStageSketches *
ss_rebuild(const LfStageSketches *st, int k, const LfSketch *sk)
{
	const LfSketch *parts[LF_NUM_STAGES];
	Size		size = SS_HEADER;
	LfStageSketches *n;

	for (int i = 0; i < LF_NUM_STAGES; i++)
	{
		parts[i] = i == k ? sk : (st != NULL && st->off[i] != 0 ? SS_SKETCH(st, i) : NULL);
		if (parts[i] != NULL)
			size += MAXALIGN(VARSIZE(parts[i]));
	}
	n = palloc0(size);
	SET_VARSIZE(n, size);
	n->version = LF_STATE_VERSION;
	size = SS_HEADER;
	for (int i = 0; i < LF_NUM_STAGES; i++)
	{
		if (parts[i] == NULL)
			continue;
		n->off[i] = (int32) size;
		memcpy((char *) n + size, parts[i], VARSIZE(parts[i]));
		size += MAXALIGN(VARSIZE(parts[i]));
	}
	return n;
}

/* Add duration v to stage k's sketch; may return a new state. */
static inline LfStageSketches *
ss_add(LfStageSketches *st, int k, int64 v)
{
	LfSketch   *s,
			   *t;

	if (st->off[k] == 0)
		return ss_rebuild(st, k, sk_add(sk_new(SK_MIN_CAPACITY), v));
	s = SS_SKETCH(st, k);
	t = sk_add(s, v);
	return t == s ? st : ss_rebuild(st, k, t);
}

/* The stage of argument 1 (an enum label of leadfunnel.lead_stage). */
static inline int
ss_stage(FunctionCallInfo fcinfo)
{
	return (int) lf_stage_from_oid(PG_GETARG_OID(1));
}

/* Transition: stage in argument 1, the duration read by duration() from argument 2 on. */
static pg_attribute_always_inline Datum
ss_transition(FunctionCallInfo fcinfo, int64 (*duration) (FunctionCallInfo, int))
{
	LfStageSketches *st;
	int64		v;
	int			k;

	sk_init_constants();
	v = duration(fcinfo, 2);
	k = ss_stage(fcinfo);
	st = PG_ARGISNULL(0) ? ss_rebuild(NULL, -1, NULL) : (LfStageSketches *) lf_mutable_state(fcinfo);
	PG_RETURN_POINTER(ss_add(st, k, v));
}

/* cycle_time_by_stage_add(state, stage, interval): transition of cycle_time_by_stage(stage, duration). */
PG_FUNCTION_INFO_V1(lf_cycle_time_by_stage_add);
Datum
lf_cycle_time_by_stage_add(PG_FUNCTION_ARGS)
{
	LF_KEEP_STATE_IF(fcinfo, PG_ARGISNULL(1) || PG_ARGISNULL(2));
	return ss_transition(fcinfo, sk_duration);
}

/*
 * cycle_time_by_stage_add(state, stage, started, ended): transition of
 * cycle_time_by_stage(stage, started, ended), timestamptz or timestamp.
 */
PG_FUNCTION_INFO_V1(lf_cycle_time_by_stage_add_span);
Datum
lf_cycle_time_by_stage_add_span(PG_FUNCTION_ARGS)
{
	LF_KEEP_STATE_IF(fcinfo, PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3));
	return ss_transition(fcinfo, sk_span);
}

/* Combine function: merge state 1 into state 0, stage by stage. */
PG_FUNCTION_INFO_V1(lf_cycle_time_by_stage_combine);
Datum
lf_cycle_time_by_stage_combine(PG_FUNCTION_ARGS)
{
	LfStageSketches *st,
			   *o;

	LF_KEEP_STATE_IF_ARG1_NULL(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));	/* the executor copies it into its context */
	st = (LfStageSketches *) lf_mutable_state(fcinfo);
	o = DatumGetStageSketches(PG_GETARG_DATUM(1));
	for (int k = 0; k < LF_NUM_STAGES; k++)
	{
		LfSketch   *s,
				   *t;

		if (o->off[k] == 0)
			continue;
		if (st->off[k] == 0)
		{
			st = ss_rebuild(st, k, sk_compact(SS_SKETCH(o, k)));
			continue;
		}
		s = SS_SKETCH(st, k);
		t = sk_merge(s, SS_SKETCH(o, k));
		if (t != s)
			st = ss_rebuild(st, k, t);
	}
	PG_RETURN_POINTER(st);
}

/*
 * Final function: cycle_time_stage_stats[] (stage, n, mean, p50, p90, p95,
 * max), one element per stage with rows, in stage order; '{}' over no rows.
 */
PG_FUNCTION_INFO_V1(lf_cycle_time_by_stage_final);
Datum
lf_cycle_time_by_stage_final(PG_FUNCTION_ARGS)
{
	LfStageSketches *st = PG_ARGISNULL(0) ? NULL : DatumGetStageSketches(PG_GETARG_DATUM(0));
	Oid			elemtype;
	TupleDesc	desc = lf_result_row_desc(fcinfo, &elemtype);
	Datum		elems[LF_NUM_STAGES];
	int			n = 0;

	if (desc->natts != 7)
		elog(ERROR, "leadfunnel.cycle_time_stage_stats has %d columns, expected 7", desc->natts);
	for (int k = 0; st != NULL && k < LF_NUM_STAGES; k++)
	{
		Datum		values[7];
		bool		nulls[7];

		if (st->off[k] == 0)
			continue;
		values[0] = ObjectIdGetDatum(lf_stage_to_oid(k));
		nulls[0] = false;
		sk_stats_values(SS_SKETCH(st, k), values + 1, nulls + 1);
		elems[n++] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	}
	return lf_row_array(elems, n, elemtype);
}

/* Text: v1 then, per stage with rows, in stage order, " <stage>:(<sketch text without version>)". */
PG_FUNCTION_INFO_V1(lf_cycle_time_by_stage_state_out);
Datum
lf_cycle_time_by_stage_state_out(PG_FUNCTION_ARGS)
{
	LfStageSketches *st = DatumGetStageSketches(PG_GETARG_DATUM(0));
	StringInfoData buf;

	lf_text_begin(&buf);
	for (int k = 0; k < LF_NUM_STAGES; k++)
	{
		if (st->off[k] == 0)
			continue;
		appendStringInfo(&buf, " %s:(", lf_stage_names[k]);
		sk_append_text(&buf, SS_SKETCH(st, k));
		appendStringInfoChar(&buf, ')');
	}
	PG_RETURN_CSTRING(buf.data);
}

PG_FUNCTION_INFO_V1(lf_cycle_time_by_stage_state_in);
Datum
lf_cycle_time_by_stage_state_in(PG_FUNCTION_ARGS)
{
	LfTextReader r;
	LfStageSketches *st = ss_rebuild(NULL, -1, NULL);
	int			prev = -1;

	sk_init_constants();
	lf_text_init(&r, SS_TYPNAME, PG_GETARG_CSTRING(0));
	lf_text_expect(&r, LF_STATE_VERSION_TEXT);
	while (lf_text_accept(&r, " "))
	{
		int			k = -1;
		LfSketch   *s;

		for (int i = 0; i < LF_NUM_STAGES; i++)
		{
			size_t		len = strlen(lf_stage_names[i]);

			if (strncmp(r.p, lf_stage_names[i], len) == 0 && r.p[len] == ':')
			{
				k = i;
				r.p += len;
				break;
			}
		}
		if (k < 0)
			lf_text_error(&r, psprintf("Expected a stage of leadfunnel.lead_stage and \":\" at position %d.",
									   (int) (r.p - r.input) + 1));
		if (k <= prev)
			lf_text_error(&r, "Stages must be listed once each, in the order of leadfunnel.lead_stage.");
		prev = k;
		lf_text_expect(&r, ":(n=");
		s = sk_read_text(&r);
		lf_text_expect(&r, ")");
		s = sk_text_checked(&r, s);
		if (s->count == 0)
			lf_text_error(&r, "A listed stage must have at least one duration.");
		st = ss_rebuild(st, k, s);
	}
	lf_text_end(&r);
	PG_RETURN_POINTER(st);
}

/*
 * Binary: version byte, the bit set of stages with rows (int16, bit k =
 * stage ordinal k), then for each of them in stage order the sketch as
 * cycle_time_sketch's binary form without its version byte.
 */
PG_FUNCTION_INFO_V1(lf_cycle_time_by_stage_state_send);
Datum
lf_cycle_time_by_stage_state_send(PG_FUNCTION_ARGS)
{
	LfStageSketches *st = DatumGetStageSketches(PG_GETARG_DATUM(0));
	StringInfoData buf;
	uint16		set = 0;

	for (int k = 0; k < LF_NUM_STAGES; k++)
		if (st->off[k] != 0)
			set |= (uint16) (1 << k);
	lf_binary_begin(&buf);
	pq_sendint16(&buf, set);
	for (int k = 0; k < LF_NUM_STAGES; k++)
		if (st->off[k] != 0)
			sk_send_body(&buf, SS_SKETCH(st, k));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(lf_cycle_time_by_stage_state_recv);
Datum
lf_cycle_time_by_stage_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	LfStageSketches *st = ss_rebuild(NULL, -1, NULL);
	uint16		set;

	sk_init_constants();
	lf_binary_version(buf, SS_TYPNAME);
	lf_binary_need(buf, 2, SS_TYPNAME);
	set = (uint16) pq_getmsgint(buf, 2);
	if (set >> LF_NUM_STAGES)
		lf_binary_error(SS_TYPNAME, "The set of stages names a stage that does not exist.");
	for (int k = 0; k < LF_NUM_STAGES; k++)
	{
		LfSketch   *s;

		if (!(set & (1 << k)))
			continue;
		s = sk_binary_checked(sk_recv_body(buf, SS_TYPNAME), SS_TYPNAME);
		if (s->count == 0)
			lf_binary_error(SS_TYPNAME, "A stage in the set must have at least one duration.");
		st = ss_rebuild(st, k, s);
	}
	lf_binary_end(buf, SS_TYPNAME);
	PG_RETURN_POINTER(st);
}
