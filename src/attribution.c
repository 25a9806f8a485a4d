/*-------------------------------------------------------------------------
 *
 * attribution.c
 *	  Owns the weighted multi-touch attribution models: the weights of one
 *	  lead's touches under each leadfunnel.attribution_model, and the SQL
 *	  functions that expose them (attribution_weights, touch_credit,
 *	  campaign_credit).
 *
 * One lead's touches are given as arrays in any order.  A touch is eligible
 * when its time is not NULL and, for a closed lead, at or before closed_at;
 * lookback windows and account-level (ABM) touches are the caller's business
 * (the model's views apply them).  One O(n) pass finds the milestone touches:
 *
 *	F  the first touch (earliest; ties: the earlier one in the tie order)
 *	L  the last touch at or before lead creation
 *	O  the last touch at or before opportunity creation
 *	C  the last touch at or before closing (for a closed lead, the last
 *	   eligible touch)
 *
 * "Last" among equal times is the later one in the tie order: the tie key
 * when one is given (touch_id in the views), else the array position.
 *
 * Position-based models give each milestone role an equal share and the
 * remaining share to the touches that hold no role ("middle" touches),
 * split equally: u_shaped F, L 40 % each, middle 20 %; w_shaped F, L, O 30 %
 * each, middle 10 %; full_path F, L, O, C 22.5 % each, middle 10 %.
 * j_shaped and inverse_j have two roles of unequal share, F and the last
 * touch T (for a closed lead T = C): j_shaped F 20 %, T 60 %, middle 20 %;
 * inverse_j F 60 %, T 20 %, middle 20 %.  User position models
 * (position_attribution_weights, the rows of leadfunnel.attribution_model_def)
 * give any shares to F, L, O, C and the middle.  A touch
 * holding several roles gets the sum of their shares.  A role with no touch
 * (no touch at or before lead creation, no opportunity, lead still open)
 * gives its share to the roles present, pro rata (in proportion to their
 * shares); with no middle touch the middle share goes to the roles present,
 * pro rata.  A role whose share is 0 is no role (its touch can be a middle
 * touch); when no role with a share has a touch, all touches are middle
 * touches and share everything equally.  So the weights of a lead
 * with at least one eligible touch always sum to 1, and are all 0 without one.
 *
 * time_decay: weight proportional to 2^(-age / half_life), age measured to
 * closed_at, else to the latest of lead_created_at and opportunity_created_at
 * given, else to the latest eligible touch.  A touch after that reference (an
 * open lead's recent touch) has a negative age and weighs more than 1 before
 * normalization: recency keeps counting.  Because the weights are normalized,
 * the reference cancels out; they are computed relative to the youngest
 * eligible touch, so they never all underflow to 0 nor overflow.
 *
 * Infinite timestamps are ordinary extreme values (-infinity is before every
 * time, infinity after); no input makes a NaN.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"
#include "utils/timestamp.h"

#include "vocabulary.h"
#include "state_io.h"

/* Most touches of one lead (bounds the memory of one call). */
#define LF_MAX_TOUCHES	10000000

/* Milestone roles of the position-based models. */
#define ROLE_FIRST		0
#define ROLE_CREATED	1
#define ROLE_OPPORTUNITY 2
#define ROLE_CLOSED		3
#define NUM_ROLES		4
#define ROLE_LAST		4		/* the last touch (j_shaped, inverse_j) */
#define NUM_WEIGHTED_ROLES 5

/* One lead's touches and milestone times, as the models read them. */
typedef struct LfPath
{
	int			n;				/* number of touches */
	TimestampTz *t;				/* touch times */
	bool	   *eligible;		/* not NULL and not after closing */
	int64	   *key;			/* tie key or NULL (then array position) */
	int			neligible;
	int			role[NUM_ROLES];	/* touch index of each role, -1 if none */
	int			last;			/* last eligible touch, -1 if none */
	double		ref;			/* time-decay reference time (microseconds) */
	double		half_life;		/* microseconds, > 0 */
} LfPath;

/* Is touch i after touch j in the tie order (time, key, position)? */
static inline bool
touch_after(const LfPath *p, int i, int j)
{
	if (p->t[i] != p->t[j])
		return p->t[i] > p->t[j];
	if (p->key && p->key[i] != p->key[j])
		return p->key[i] > p->key[j];
	return i > j;
}

/*
 * Find the eligible touches and the milestones.  has_* say whether the
 * corresponding time is given (not SQL NULL).
 */
static void
path_prepare(LfPath *p, bool *isnull,
			 TimestampTz created, bool has_created,
			 TimestampTz opportunity, bool has_opportunity,
			 TimestampTz closed, bool has_closed)
{
	int			first = -1,
				last = -1,
				at_created = -1,
				at_opportunity = -1;

	p->neligible = 0;
	for (int i = 0; i < p->n; i++)
	{
		bool		ok = !(isnull && isnull[i]) && !(has_closed && p->t[i] > closed);

		p->eligible[i] = ok;
		if (!ok)
			continue;
		p->neligible++;
		if (first < 0 || touch_after(p, first, i))
			first = i;
		if (last < 0 || touch_after(p, i, last))
			last = i;
		if (has_created && p->t[i] <= created &&
			(at_created < 0 || touch_after(p, i, at_created)))
			at_created = i;
		if (has_opportunity && p->t[i] <= opportunity &&
			(at_opportunity < 0 || touch_after(p, i, at_opportunity)))
			at_opportunity = i;
	}
	p->last = last;
	p->role[ROLE_FIRST] = first;
	p->role[ROLE_CREATED] = at_created;
	p->role[ROLE_OPPORTUNITY] = at_opportunity;
	p->role[ROLE_CLOSED] = has_closed ? last : -1;

	if (has_closed)
		p->ref = (double) closed;
	else if (has_created && has_opportunity)
		p->ref = (double) Max(created, opportunity);
	else if (has_created)
		p->ref = (double) created;
	else if (has_opportunity)
		p->ref = (double) opportunity;
	else
		p->ref = last >= 0 ? (double) p->t[last] : 0.0;
}

/* Position-based weights: nroles milestone roles of equal share, middle share. */
static void
weights_positional(const LfPath *p, int nroles, double middle_share, double *w)
{
	int			present = 0;
	int			holders = 0;	/* distinct touches holding a role */
	int			middle;
	double		milestone_total;

	for (int r = 0; r < nroles; r++)
	{
		int			idx = p->role[r];
		bool		seen = false;

		if (idx < 0)
			continue;
		present++;
		for (int q = 0; q < r; q++)
			if (p->role[q] == idx)
				seen = true;
		if (!seen)
			holders++;
	}
	/* present >= 1: the first touch exists whenever a touch is eligible */
	middle = p->neligible - holders;
	milestone_total = middle > 0 ? 1.0 - middle_share : 1.0;

	if (middle > 0)
	{
		double		each = middle_share / middle;

		for (int i = 0; i < p->n; i++)
			if (p->eligible[i])
				w[i] = each;
		for (int r = 0; r < nroles; r++)
			if (p->role[r] >= 0)
				w[p->role[r]] = 0.0;
	}
	for (int r = 0; r < nroles; r++)
		if (p->role[r] >= 0)
			w[p->role[r]] += milestone_total / present;
}

/*
 * Position-based weights with a share per role (F, L, O, C, last touch; 0:
 * not a role) and a middle share, on any scale (they are divided by their
 * total).  Roles present share what the absent ones and (with no middle
 * touch) the middle would have had, in proportion to their shares.  A touch
 * holding several roles gets the sum of their shares, added before dividing,
 * so a touch holding every role present gets exactly its total.
 */
static void
weights_weighted(const LfPath *p, const double share[NUM_WEIGHTED_ROLES], double middle_share, double *w)
{
	int			holder[NUM_WEIGHTED_ROLES];	/* distinct touches holding a role */
	double		raw[NUM_WEIGHTED_ROLES];	/* sum of their roles' shares */
	double		total = middle_share;
	double		present_share = 0.0;
	int			holders = 0;
	int			middle;
	double		num,
				den;			/* the roles' part of the lead: num / den */

	for (int r = 0; r < NUM_WEIGHTED_ROLES; r++)
	{
		int			idx = share[r] > 0.0 ? (r == ROLE_LAST ? p->last : p->role[r]) : -1;
		int			h;

		total += share[r];
		if (idx < 0)
			continue;
		present_share += share[r];
		for (h = 0; h < holders; h++)
			if (holder[h] == idx)
				break;
		if (h == holders)
		{
			holder[holders] = idx;
			raw[holders++] = 0.0;
		}
		raw[h] += share[r];
	}
	middle = p->neligible - holders;
	/* no role with a share has a touch: holders = 0, all touches are middle */
	num = middle > 0 ? total - middle_share : 1.0;
	den = middle > 0 ? total : 1.0;
	if (middle > 0)
	{
		double		each = (holders == 0 ? 1.0 : middle_share / total) / middle;

		for (int i = 0; i < p->n; i++)
			if (p->eligible[i])
				w[i] = each;
	}
	for (int h = 0; h < holders; h++)
		w[holder[h]] = (raw[h] * num) / (present_share * den);
}

/* Shares in percent (exact in binary, so 2 touches give exactly 25 % / 75 %). */
static const double j_shaped_shares[NUM_WEIGHTED_ROLES] = {20.0, 0.0, 0.0, 0.0, 60.0};
static const double inverse_j_shares[NUM_WEIGHTED_ROLES] = {60.0, 0.0, 0.0, 0.0, 20.0};

/* qsort_arg comparator of touch positions by the tie order (time, key, position) */
static int
touch_order_cmp(const void *a, const void *b, void *arg)
{
	const LfPath *p = (const LfPath *) arg;
	int			i = *(const int *) a;
	int			j = *(const int *) b;

	if (i == j)
		return 0;
	return touch_after(p, i, j) ? 1 : -1;
}

static void
weights_time_decay(const LfPath *p, double *w)
{
	double		min_age = 0.0;
	bool		have_min = false;
	double		sum = 0.0;

	for (int i = 0; i < p->n; i++)
		if (p->eligible[i])
		{
			double		age = p->ref - (double) p->t[i];

			w[i] = age;
			if (!have_min || age < min_age)
				min_age = age;
			have_min = true;
		}
	for (int i = 0; i < p->n; i++)
		if (p->eligible[i])
			w[i] = exp2(-(w[i] - min_age) / p->half_life);

	/*
	 * The total in the order of time, so that it does not depend on the order
	 * of the touches in the arrays (touches of equal time weigh the same).
	 */
	{
		int		   *order = palloc(sizeof(int) * p->neligible);
		int			k = 0;

		for (int i = 0; i < p->n; i++)
			if (p->eligible[i])
				order[k++] = i;
		if (k > 1)
			qsort_arg(order, k, sizeof(int), touch_order_cmp, (void *) p);
		for (int j = 0; j < k; j++)
			sum += w[order[j]];
		pfree(order);
	}
	/* sum >= 1: the youngest touch weighs 2^0 */
	for (int i = 0; i < p->n; i++)
		if (p->eligible[i])
			w[i] /= sum;
}

/* The weights of all touches of a prepared path under one model, into w[n]. */
static void
path_weights(const LfPath *p, LfAttributionModel model, double *w)
{
	for (int i = 0; i < p->n; i++)
		w[i] = 0.0;
	if (p->neligible == 0)
		return;

	switch (model)
	{
		case LF_MODEL_FIRST_TOUCH:
			w[p->role[ROLE_FIRST]] = 1.0;
			break;
		case LF_MODEL_LAST_TOUCH:
			w[p->last] = 1.0;
			break;
		case LF_MODEL_LINEAR:
			for (int i = 0; i < p->n; i++)
				if (p->eligible[i])
					w[i] = 1.0 / p->neligible;
			break;
		case LF_MODEL_U_SHAPED:
			weights_positional(p, 2, 0.2, w);
			break;
		case LF_MODEL_W_SHAPED:
			weights_positional(p, 3, 0.1, w);
			break;
		case LF_MODEL_FULL_PATH:
			weights_positional(p, 4, 0.1, w);
			break;
		case LF_MODEL_TIME_DECAY:
			weights_time_decay(p, w);
			break;
		case LF_MODEL_J_SHAPED:
			weights_weighted(p, j_shaped_shares, 20.0, w);
			break;
		case LF_MODEL_INVERSE_J:
			weights_weighted(p, inverse_j_shares, 20.0, w);
			break;
		default:
			elog(ERROR, "unknown attribution model %d", (int) model);
	}
}

/* Half-life in microseconds; 22023 unless positive. */
static double
half_life_usecs(const Interval *iv)
{
	double		us = (double) iv->time +
		((double) iv->day + (double) iv->month * DAYS_PER_MONTH) * (double) USECS_PER_DAY;

	if (!(us > 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("half-life of the time_decay attribution model must be positive"),
				 errdetail("The half-life given is %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(iv)))),
				 errhint("Pass a positive interval such as '7 days'.")));
	return us;
}

/* Elements of a one-dimensional array argument (NULLs allowed). */
static int
array_elements(ArrayType *a, Oid elemtype, int16 len, bool byval, char align,
			   const char *argname, Datum **values, bool **nulls)
{
	int			n;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", argname),
				 errdetail("The array given has %d dimensions.", ARR_NDIM(a))));
	Assert(ARR_ELEMTYPE(a) == elemtype);
	deconstruct_array(a, elemtype, len, byval, align, values, nulls, &n);
	return n;
}

/*
 * Set up a path from SQL arguments: touched_at array at argument ta, an
 * optional tie-key array at argument ka (-1: none), the three milestone
 * times from argument mt on, the half-life at argument hl.
 */
static void
path_from_args(FunctionCallInfo fcinfo, LfPath *p, int ta, int ka, int mt, int hl)
{
	ArrayType  *times = PG_GETARG_ARRAYTYPE_P(ta);
	Datum	   *values;
	bool	   *nulls;
	int			n = array_elements(times, TIMESTAMPTZOID, sizeof(TimestampTz), true,
								   TYPALIGN_DOUBLE, "touched_at", &values, &nulls);

	/* keeps every per-touch allocation (7 rows per touch at most) under MaxAllocSize */
	if (n > LF_MAX_TOUCHES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many touches for one lead: %d", n),
				 errdetail("Attribution handles at most %d touches per lead.", LF_MAX_TOUCHES)));
	p->n = n;
	p->t = palloc(sizeof(TimestampTz) * Max(n, 1));
	p->eligible = palloc(sizeof(bool) * Max(n, 1));
	p->key = NULL;
	for (int i = 0; i < n; i++)
		p->t[i] = nulls[i] ? 0 : DatumGetTimestampTz(values[i]);
	pfree(values);

	if (ka >= 0 && !PG_ARGISNULL(ka))
	{
		ArrayType  *keys = PG_GETARG_ARRAYTYPE_P(ka);
		Datum	   *kv;
		bool	   *kn;
		int			nk = array_elements(keys, INT8OID, sizeof(int64), true,
										TYPALIGN_DOUBLE, "touch_id", &kv, &kn);

		if (nk != n)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("touch_id must have as many elements as touched_at"),
					 errdetail("touched_at has %d elements, touch_id has %d.", n, nk)));
		p->key = palloc(sizeof(int64) * Max(n, 1));
		/* a NULL key sorts first among equal times */
		for (int i = 0; i < n; i++)
			p->key[i] = kn[i] ? PG_INT64_MIN : DatumGetInt64(kv[i]);
	}

	p->half_life = hl >= 0 ? half_life_usecs(PG_GETARG_INTERVAL_P(hl)) : 1.0;
	path_prepare(p, nulls,
				 PG_ARGISNULL(mt) ? 0 : PG_GETARG_TIMESTAMPTZ(mt), !PG_ARGISNULL(mt),
				 PG_ARGISNULL(mt + 1) ? 0 : PG_GETARG_TIMESTAMPTZ(mt + 1), !PG_ARGISNULL(mt + 1),
				 PG_ARGISNULL(mt + 2) ? 0 : PG_GETARG_TIMESTAMPTZ(mt + 2), !PG_ARGISNULL(mt + 2));
	pfree(nulls);
}

/*
 * attribution_weights(model, touched_at timestamptz[], lead_created_at,
 *		opportunity_created_at, closed_at, half_life interval) returns float8[]
 *
 * One weight per element of touched_at, same order and subscripts.  NULL
 * model, touched_at or half_life: NULL.
 */
PG_FUNCTION_INFO_V1(lf_attribution_weights);
Datum
lf_attribution_weights(PG_FUNCTION_ARGS)
{
	LfPath		p;
	LfAttributionModel model;
	ArrayType  *times;
	double	   *w;
	Datum	   *out;
	int			lbound;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(5))
		PG_RETURN_NULL();
	model = (LfAttributionModel) lf_enum_ordinal(LF_ENUM_MODEL, PG_GETARG_OID(0));
	path_from_args(fcinfo, &p, 1, -1, 2, 5);

	w = palloc(sizeof(double) * Max(p.n, 1));
	path_weights(&p, model, w);

	times = PG_GETARG_ARRAYTYPE_P(1);
	if (p.n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT8OID));
	out = palloc(sizeof(Datum) * p.n);
	for (int i = 0; i < p.n; i++)
		out[i] = Float8GetDatum(w[i]);
	lbound = ARR_LBOUND(times)[0];
	PG_RETURN_ARRAYTYPE_P(construct_md_array(out, NULL, 1, &p.n, &lbound, FLOAT8OID,
											 sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * position_attribution_weights(shares float8[], touched_at timestamptz[],
 *		lead_created_at, opportunity_created_at, closed_at) returns float8[]
 *
 * A user position model: shares {first, lead creation, opportunity creation,
 * closing, middle}, each in 0..1, summing to 1 within 1e-9; they are used
 * to 9 decimal places and divided by their total.  Same rules, order and subscripts as attribution_weights.
 */
PG_FUNCTION_INFO_V1(lf_position_attribution_weights);
Datum
lf_position_attribution_weights(PG_FUNCTION_ARGS)
{
	LfPath		p;
	ArrayType  *times;
	Datum	   *sv;
	bool	   *sn;
	int			ns;
	double		share[NUM_WEIGHTED_ROLES] = {0.0, 0.0, 0.0, 0.0, 0.0};
	double		middle_share;
	double		sum = 0.0;
	double	   *w;
	Datum	   *out;
	int			lbound;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	ns = array_elements(PG_GETARG_ARRAYTYPE_P(0), FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
						TYPALIGN_DOUBLE, "shares", &sv, &sn);
	for (int i = 0; i < ns; i++)
		if (sn[i] || !(DatumGetFloat8(sv[i]) >= 0.0 && DatumGetFloat8(sv[i]) <= 1.0))
			ns = -1;
	if (ns == 5)
		for (int i = 0; i < 5; i++)
			sum += DatumGetFloat8(sv[i]);
	if (ns != 5 || !(fabs(sum - 1.0) <= 1e-9))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid shares of a position attribution model"),
				 errdetail("A position model has five shares (first touch, lead-creation touch, opportunity-creation touch, closing touch, the other touches), each between 0 and 1, summing to 1."),
				 errhint("Pass e.g. '{0.3,0.3,0.3,0,0.1}'.")));
	/* in units of 1e-9, so decimal shares compute as exactly as they can */
	for (int r = 0; r < NUM_ROLES; r++)
		share[r] = rint(DatumGetFloat8(sv[r]) * 1e9);
	middle_share = rint(DatumGetFloat8(sv[4]) * 1e9);

	path_from_args(fcinfo, &p, 1, -1, 2, -1);
	times = PG_GETARG_ARRAYTYPE_P(1);
	if (p.n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT8OID));
	w = palloc0(sizeof(double) * p.n);
	if (p.neligible > 0)
		weights_weighted(&p, share, middle_share, w);
	out = palloc(sizeof(Datum) * p.n);
	for (int i = 0; i < p.n; i++)
		out[i] = Float8GetDatum(w[i]);
	lbound = ARR_LBOUND(times)[0];
	PG_RETURN_ARRAYTYPE_P(construct_md_array(out, NULL, 1, &p.n, &lbound, FLOAT8OID,
											 sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * State of the two set-returning functions: the rows, computed at the first
 * call, handed out one per call.
 */
typedef struct CreditRows
{
	int			nrows;
	int			next;
	int		   *index;			/* touch_credit: 1-based position */
	int64	   *campaign;		/* campaign_credit: campaign id */
	bool	   *campaign_null;
	int8	   *model;
	double	   *credit;
} CreditRows;

static Datum
credit_next_row(FunctionCallInfo fcinfo, FuncCallContext *fc, bool by_campaign)
{
	CreditRows *rows = (CreditRows *) fc->user_fctx;
	int			r = rows->next++;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	HeapTuple	tuple;

	if (by_campaign)
	{
		values[0] = ObjectIdGetDatum(lf_enum_label(LF_ENUM_MODEL, rows->model[r]));
		values[1] = Int64GetDatum(rows->campaign[r]);
		nulls[1] = rows->campaign_null[r];
	}
	else
	{
		values[0] = Int32GetDatum(rows->index[r]);
		values[1] = ObjectIdGetDatum(lf_enum_label(LF_ENUM_MODEL, rows->model[r]));
	}
	values[2] = Float8GetDatum(rows->credit[r]);
	tuple = heap_form_tuple(fc->tuple_desc, values, nulls);
	return HeapTupleGetDatum(tuple);
}

static FuncCallContext *
credit_first_call(FunctionCallInfo fcinfo, CreditRows **rows)
{
	FuncCallContext *fc = SRF_FIRSTCALL_INIT();
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	fc->tuple_desc = BlessTupleDesc(CreateTupleDescCopy(desc));
	*rows = MemoryContextAllocZero(fc->multi_call_memory_ctx, sizeof(CreditRows));
	fc->user_fctx = *rows;
	return fc;
}

/*
 * touch_credit(touched_at timestamptz[], touch_id bigint[], lead_created_at,
 *		opportunity_created_at, closed_at, half_life interval)
 *	 returns table (touch_index int, model attribution_model, credit float8)
 *
 * Every eligible touch under every model, in one pass: touch_index is the
 * 1-based position in touched_at.  touch_id (may be NULL) breaks ties of equal
 * times instead of the array position.  Ineligible touches give no rows.
 */
PG_FUNCTION_INFO_V1(lf_touch_credit);
Datum
lf_touch_credit(PG_FUNCTION_ARGS)
{
	FuncCallContext *fc;
	CreditRows *rows;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		LfPath		p;
		double	   *w;
		int			r = 0;

		fc = credit_first_call(fcinfo, &rows);
		if (PG_ARGISNULL(0) || PG_ARGISNULL(5))
			SRF_RETURN_DONE(fc);
		old = MemoryContextSwitchTo(fc->multi_call_memory_ctx);
		path_from_args(fcinfo, &p, 0, 1, 2, 5);
		rows->nrows = p.neligible * LF_NUM_MODELS;
		rows->index = palloc(sizeof(int) * Max(rows->nrows, 1));
		rows->model = palloc(sizeof(int8) * Max(rows->nrows, 1));
		rows->credit = palloc(sizeof(double) * Max(rows->nrows, 1));
		w = palloc(sizeof(double) * Max(p.n, 1));
		for (int m = 0; m < LF_NUM_MODELS; m++)
		{
			path_weights(&p, (LfAttributionModel) m, w);
			for (int i = 0; i < p.n; i++)
				if (p.eligible[i])
				{
					rows->index[r] = i + 1;
					rows->model[r] = m;
					rows->credit[r] = w[i];
					r++;
				}
		}
		MemoryContextSwitchTo(old);
	}
	fc = SRF_PERCALL_SETUP();
	rows = (CreditRows *) fc->user_fctx;
	if (rows->next < rows->nrows)
		SRF_RETURN_NEXT(fc, credit_next_row(fcinfo, fc, false));
	SRF_RETURN_DONE(fc);
}

/* qsort of touch positions by campaign (NULL campaigns last) */
typedef struct CampaignSortArg
{
	const int64 *campaign;
	const bool *isnull;
	const LfPath *path;
} CampaignSortArg;

static int
campaign_cmp(const void *a, const void *b, void *arg)
{
	CampaignSortArg *c = (CampaignSortArg *) arg;
	int			i = *(const int *) a;
	int			j = *(const int *) b;

	if (c->isnull[i] != c->isnull[j])
		return c->isnull[i] ? 1 : -1;
	if (!c->isnull[i] && c->campaign[i] != c->campaign[j])
		return c->campaign[i] < c->campaign[j] ? -1 : 1;
	/*
	 * within a campaign in the tie order of the touches, so that the credit
	 * is summed in an order that does not depend on the arrays' order
	 */
	if (i == j)
		return 0;
	return touch_after(c->path, i, j) ? 1 : -1;
}

/*
 * One lead's credit per campaign under every model.  Reads the campaign_id
 * array at argument ca (same length as the path, 22023 otherwise); sets
 * *ngroups to the number of distinct campaigns among eligible touches, and for
 * each group g its campaign (campaign[g], isnull[g]) and its credit under
 * model m in credit[m * ngroups + g].  All in the current memory context.
 */
typedef struct CampaignCredit
{
	int			ngroups;
	int64	   *campaign;
	bool	   *isnull;
	double	   *credit;
} CampaignCredit;

static void
campaign_credit_compute(FunctionCallInfo fcinfo, const LfPath *p, int ca, CampaignCredit *cc)
{
	ArrayType  *camps = PG_GETARG_ARRAYTYPE_P(ca);
	Datum	   *cv;
	bool	   *cn;
	int			nc;
	int64	   *campaign;
	int		   *order;
	int		   *group;			/* touch position -> campaign group */
	int			ngroups = 0;
	double	   *w;
	CampaignSortArg sortarg;

	nc = array_elements(camps, INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE,
						"campaign_id", &cv, &cn);
	if (nc != p->n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("campaign_id must have as many elements as touched_at"),
				 errdetail("touched_at has %d elements, campaign_id has %d.", p->n, nc)));

	/* group the eligible touches by campaign */
	campaign = palloc(sizeof(int64) * Max(p->n, 1));
	order = palloc(sizeof(int) * Max(p->n, 1));
	group = palloc(sizeof(int) * Max(p->n, 1));
	nc = 0;
	for (int i = 0; i < p->n; i++)
	{
		campaign[i] = cn[i] ? 0 : DatumGetInt64(cv[i]);
		if (p->eligible[i])
			order[nc++] = i;
	}
	sortarg.campaign = campaign;
	sortarg.isnull = cn;
	sortarg.path = p;
	if (nc > 1)
		qsort_arg(order, nc, sizeof(int), campaign_cmp, &sortarg);

	cc->campaign = palloc(sizeof(int64) * Max(nc, 1));
	cc->isnull = palloc(sizeof(bool) * Max(nc, 1));
	for (int k = 0; k < nc; k++)
	{
		int			i = order[k];

		if (k > 0)
		{
			int			prev = order[k - 1];

			if (cn[i] != cn[prev] || (!cn[i] && campaign[i] != campaign[prev]))
				ngroups++;
		}
		group[i] = ngroups;
		cc->campaign[ngroups] = campaign[i];
		cc->isnull[ngroups] = cn[i];
	}
	if (nc > 0)
		ngroups++;
	cc->ngroups = ngroups;

	cc->credit = palloc0(sizeof(double) * Max(ngroups * LF_NUM_MODELS, 1));
	w = palloc(sizeof(double) * Max(p->n, 1));
	for (int m = 0; m < LF_NUM_MODELS; m++)
	{
		path_weights(p, (LfAttributionModel) m, w);
		for (int k = 0; k < nc; k++)
			cc->credit[m * ngroups + group[order[k]]] += w[order[k]];
	}
	pfree(w);
	pfree(order);
	pfree(group);
	pfree(campaign);
}

/*
 * campaign_credit(touched_at timestamptz[], touch_id bigint[],
 *		campaign_id bigint[], lead_created_at, opportunity_created_at,
 *		closed_at, half_life interval)
 *	 returns table (model attribution_model, campaign_id bigint, credit float8)
 *
 * One lead's credit per campaign under every model, in one pass: the weights
 * of the touches of each campaign added up.  Rows with zero credit are left
 * out, so a lead without eligible touches gives no rows.
 */
PG_FUNCTION_INFO_V1(lf_campaign_credit);
Datum
lf_campaign_credit(PG_FUNCTION_ARGS)
{
	FuncCallContext *fc;
	CreditRows *rows;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		LfPath		p;
		CampaignCredit cc;
		int			r = 0;
		int			maxrows;

		fc = credit_first_call(fcinfo, &rows);
		if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(6))
			SRF_RETURN_DONE(fc);
		old = MemoryContextSwitchTo(fc->multi_call_memory_ctx);
		path_from_args(fcinfo, &p, 0, 1, 3, 6);
		campaign_credit_compute(fcinfo, &p, 2, &cc);

		maxrows = Max(cc.ngroups * LF_NUM_MODELS, 1);
		rows->campaign = palloc(sizeof(int64) * maxrows);
		rows->campaign_null = palloc(sizeof(bool) * maxrows);
		rows->model = palloc(sizeof(int8) * maxrows);
		rows->credit = palloc(sizeof(double) * maxrows);
		for (int m = 0; m < LF_NUM_MODELS; m++)
			for (int g = 0; g < cc.ngroups; g++)
			{
				double		credit = cc.credit[m * cc.ngroups + g];

				if (credit == 0.0)
					continue;
				rows->model[r] = m;
				rows->campaign[r] = cc.campaign[g];
				rows->campaign_null[r] = cc.isnull[g];
				rows->credit[r] = credit;
				r++;
			}
		rows->nrows = r;
		MemoryContextSwitchTo(old);
	}
	fc = SRF_PERCALL_SETUP();
	rows = (CreditRows *) fc->user_fctx;
	if (rows->next < rows->nrows)
		SRF_RETURN_NEXT(fc, credit_next_row(fcinfo, fc, true));
	SRF_RETURN_DONE(fc);
}

/*
 * attribution_totals(touched_at timestamptz[], touch_id bigint[],
 *		campaign_id bigint[], lead_created_at, opportunity_created_at,
 *		closed_at, half_life interval, pipeline_amount float8,
 *		won_amount float8) returns attribution_total[]
 *
 * An aggregate over leads (one row per lead, its touch path as arrays): the
 * credit of each campaign under every model, summed over the leads, as
 * leads (sum of credit), pipeline (sum of credit times pipeline_amount,
 * NULL amounts left out) and won (same with won_amount).  One lead's path is
 * held only while its row is processed.
 *
 * The state is the real type leadfunnel.attribution_totals_state, so Citus
 * can aggregate partially on its workers and ship the states as text.  It
 * holds 27 sums per campaign (9 models x leads, pipeline, won) as 128-bit
 * fixed-point integers in units of 2^-40: each lead's contribution is
 * rounded to that grid once, and integer sums do not depend on the order in
 * which rows arrive or states are combined, so a single node, a parallel plan
 * and a Citus cluster give bit-identical answers (a float8 sum would differ in
 * its last digits).  The range is +-2^86 (about 7.7e25) per sum.
 *
 * Layout: a fixed header, then int32 order[capacity] (entry numbers sorted
 * by campaign, the NULL campaign last; padded to 8 bytes), then the entries
 * in the order they were first seen.  A new campaign costs one binary search
 * and a move of 4-byte order slots; the state grows by doubling.  Text and
 * binary forms hold the entries in campaign order, without free slots.
 */
#define NUM_SUMS 3				/* leads, pipeline, won */
#define NUM_TOTALS (LF_NUM_MODELS * NUM_SUMS)
/*
 * Format 2 of the text and binary forms holds the 27 sums; format 1 (0.2.0,
 * seven models, 21 sums) is still read: j_shaped and inverse_j are 0 there.
 */
#define TOT_VERSION 2
#define TOT_SUMS_OF(version) ((version) == 1 ? LF_NUM_MODELS_0_2 * NUM_SUMS : NUM_TOTALS)
#define TOT_TYPNAME "leadfunnel.attribution_totals_state"
#define TOT_FRAC_BITS 40
#define TOT_MIN_CAPACITY 16
#define TOT_MAX_CAMPAIGNS 1000000
#define TOT_LIMIT	((int128) 1 << 126)	/* |sum| < 2^126 units = 2^86 */

typedef struct LfTotalsEntry
{
	int64		campaign;		/* 0 for the NULL campaign */
	int32		isnull;			/* 1: the entry of NULL campaign ids */
	int32		reserved;
	int128		v[NUM_TOTALS];	/* model m: leads [3m], pipeline [3m+1], won [3m+2] */
} LfTotalsEntry;

typedef struct LfTotals
{
	int32		vl_len_;
	uint8		version;
	uint8		flags;			/* reserved, 0 */
	uint16		reserved;
	int32		n;				/* entries in use */
	int32		capacity;		/* entries allocated */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* order[], then entries[] */
} LfTotals;

#define TOT_ORDER_BYTES(cap)	MAXALIGN(sizeof(int32) * (cap))
#define TOT_SIZE(cap)	(offsetof(LfTotals, data) + TOT_ORDER_BYTES(cap) + sizeof(LfTotalsEntry) * (cap))
#define TOT_ORDER(t)	((int32 *) (t)->data)
#define TOT_ENTRIES(t)	((LfTotalsEntry *) ((t)->data + TOT_ORDER_BYTES((t)->capacity)))
#define TOT_AT(t, k)	(&TOT_ENTRIES(t)[TOT_ORDER(t)[k]])
#define DatumGetTotals(d) ((LfTotals *) PG_DETOAST_DATUM(d))

StaticAssertDecl(offsetof(LfTotals, data) % MAXIMUM_ALIGNOF == 0, "entries must be aligned");

static LfTotals *
tot_new(int capacity)
{
	LfTotals   *t = palloc0(TOT_SIZE(capacity));

	SET_VARSIZE(t, TOT_SIZE(capacity));
	t->version = TOT_VERSION;
	t->capacity = capacity;
	return t;
}

/* Campaign order: by id, the NULL campaign last. */
static inline int
tot_cmp(int64 c1, bool n1, int64 c2, bool n2)
{
	if (n1 != n2)
		return n1 ? 1 : -1;
	if (n1 || c1 == c2)
		return 0;
	return c1 < c2 ? -1 : 1;
}

/*
 * The entry of a campaign, created if missing.  May replace *tp by a larger
 * copy in the current memory context (the executor copies a new transition
 * value into its own context).
 */
static LfTotalsEntry *
tot_entry(LfTotals **tp, int64 campaign, bool isnull)
{
	LfTotals   *t = *tp;
	int			lo = 0;
	int			hi = t->n;
	int32	   *order;
	LfTotalsEntry *e;

	if (isnull)
		campaign = 0;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		LfTotalsEntry *m = TOT_AT(t, mid);
		int			c = tot_cmp(m->campaign, m->isnull != 0, campaign, isnull);

		if (c == 0)
			return m;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (t->n >= t->capacity)
	{
		int			cap = Max(t->capacity * 2, TOT_MIN_CAPACITY);
		LfTotals   *g;

		if (t->n >= TOT_MAX_CAMPAIGNS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("attribution_totals cannot hold more than %d campaigns", TOT_MAX_CAMPAIGNS),
					 errhint("Aggregate fewer campaigns per group (e.g. GROUP BY channel).")));
		cap = Min(cap, TOT_MAX_CAMPAIGNS);
		g = tot_new(cap);
		g->n = t->n;
		memcpy(TOT_ORDER(g), TOT_ORDER(t), sizeof(int32) * t->n);
		memcpy(TOT_ENTRIES(g), TOT_ENTRIES(t), sizeof(LfTotalsEntry) * t->n);
		*tp = t = g;
	}
	order = TOT_ORDER(t);
	memmove(&order[lo + 1], &order[lo], sizeof(int32) * (t->n - lo));
	order[lo] = t->n;
	e = &TOT_ENTRIES(t)[t->n];
	memset(e, 0, sizeof(LfTotalsEntry));
	e->campaign = campaign;
	e->isnull = isnull ? 1 : 0;
	t->n++;
	return e;
}

static pg_noreturn void
tot_overflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("attribution_totals sum out of range"),
			 errdetail("Each sum of credit or of credit times amount must stay within +-7.7e25 (2^86).")));
}

static inline void
tot_add(int128 *acc, int128 v)
{
	if (__builtin_add_overflow(*acc, v, acc) || *acc >= TOT_LIMIT || *acc <= -TOT_LIMIT)
		tot_overflow();
}

/* One contribution on the fixed-point grid (rounded once, to 2^-40). */
static inline int128
tot_fixed(double x)
{
	double		scaled = ldexp(x, TOT_FRAC_BITS);

	if (isnan(scaled) || fabs(scaled) >= ldexp(1.0, 126))
	{
		if (isnan(scaled))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("attribution_totals cannot take a NaN amount")));
		tot_overflow();
	}
	return (int128) rint(scaled);
}

static inline double
tot_double(int128 v)
{
	return ldexp((double) v, -TOT_FRAC_BITS);
}

static void
tot_merge(LfTotals **tp, const LfTotals *o)
{
	for (int k = 0; k < o->n; k++)
	{
		const LfTotalsEntry *src = TOT_AT(o, k);
		LfTotalsEntry *e = tot_entry(tp, src->campaign, src->isnull != 0);

		for (int i = 0; i < NUM_TOTALS; i++)
			tot_add(&e->v[i], src->v[i]);
	}
}

/* Whether entry e may follow prev (NULL: e is first) in a shipped state; else why not. */
static const char *
tot_check_entry(const LfTotalsEntry *prev, const LfTotalsEntry *e)
{
	if (prev && tot_cmp(prev->campaign, prev->isnull != 0, e->campaign, e->isnull != 0) >= 0)
		return "Campaigns must be in increasing order, each once, the null campaign last.";
	for (int m = 0; m < LF_NUM_MODELS; m++)
		if (e->v[m * NUM_SUMS] < 0)
			return "A credit sum is negative.";
	for (int i = 0; i < NUM_TOTALS; i++)
		if (e->v[i] >= TOT_LIMIT || e->v[i] <= -TOT_LIMIT)
			return "A sum is out of range.";
	return NULL;
}

PG_FUNCTION_INFO_V1(lf_attribution_totals_trans);
Datum
lf_attribution_totals_trans(PG_FUNCTION_ARGS)
{
	LfTotals   *t;

	t = PG_ARGISNULL(0) ? tot_new(TOT_MIN_CAPACITY) : (LfTotals *) lf_mutable_state(fcinfo);
	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(3) && !PG_ARGISNULL(7))
	{
		/* per-row allocations go to the per-tuple context, reset per row */
		LfPath		p;
		CampaignCredit cc;
		bool		has_pipeline = !PG_ARGISNULL(8);
		bool		has_won = !PG_ARGISNULL(9);
		double		pipeline = has_pipeline ? PG_GETARG_FLOAT8(8) : 0.0;
		double		won = has_won ? PG_GETARG_FLOAT8(9) : 0.0;

		path_from_args(fcinfo, &p, 1, 2, 4, 7);
		campaign_credit_compute(fcinfo, &p, 3, &cc);
		for (int g = 0; g < cc.ngroups; g++)
		{
			LfTotalsEntry *e = tot_entry(&t, cc.campaign[g], cc.isnull[g]);

			for (int m = 0; m < LF_NUM_MODELS; m++)
			{
				double		credit = cc.credit[m * cc.ngroups + g];

				tot_add(&e->v[m * NUM_SUMS], tot_fixed(credit));
				if (has_pipeline)
					tot_add(&e->v[m * NUM_SUMS + 1], tot_fixed(credit * pipeline));
				if (has_won)
					tot_add(&e->v[m * NUM_SUMS + 2], tot_fixed(credit * won));
			}
		}
	}
	PG_RETURN_POINTER(t);
}

PG_FUNCTION_INFO_V1(lf_attribution_totals_combine);
Datum
lf_attribution_totals_combine(PG_FUNCTION_ARGS)
{
	LfTotals   *t;

	LF_KEEP_STATE_IF_ARG1_NULL(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));	/* the executor copies it into its context */
	t = (LfTotals *) lf_mutable_state(fcinfo);
	tot_merge(&t, DatumGetTotals(PG_GETARG_DATUM(1)));
	PG_RETURN_POINTER(t);
}

static int
tot_rows(const LfTotalsEntry *e, TupleDesc desc, Datum *out, int n)
{
	for (int m = 0; m < LF_NUM_MODELS; m++)
	{
		Datum		values[5];
		bool		nulls[5] = {e->isnull != 0, false, false, false, false};

		if (e->v[m * NUM_SUMS] == 0 && e->v[m * NUM_SUMS + 1] == 0 && e->v[m * NUM_SUMS + 2] == 0)
			continue;
		values[0] = Int64GetDatum(e->campaign);
		values[1] = ObjectIdGetDatum(lf_enum_label(LF_ENUM_MODEL, m));
		values[2] = Float8GetDatum(tot_double(e->v[m * NUM_SUMS]));
		values[3] = Float8GetDatum(tot_double(e->v[m * NUM_SUMS + 1]));
		values[4] = Float8GetDatum(tot_double(e->v[m * NUM_SUMS + 2]));
		out[n++] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	}
	return n;
}

/* attribution_totals_final(state): one element per campaign and model with a non-zero sum, in campaign order. */
PG_FUNCTION_INFO_V1(lf_attribution_totals_final);
Datum
lf_attribution_totals_final(PG_FUNCTION_ARGS)
{
	LfTotals   *t;
	Oid			rowtype;
	TupleDesc	desc = lf_result_row_desc(fcinfo, &rowtype);
	Datum	   *out;
	int			n = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(rowtype));
	t = DatumGetTotals(PG_GETARG_DATUM(0));
	out = palloc(sizeof(Datum) * Max(t->n, 1) * LF_NUM_MODELS);
	for (int k = 0; k < t->n; k++)
		n = tot_rows(TOT_AT(t, k), desc, out, n);
	return lf_row_array(out, n, rowtype);
}

/*
 * Text form: "v2", then per campaign in order " <campaign_id or null>:" and
 * its 27 sums (integers, units of 2^-40) separated by commas ("v1": 21).
 */
PG_FUNCTION_INFO_V1(lf_attribution_totals_state_out);
Datum
lf_attribution_totals_state_out(PG_FUNCTION_ARGS)
{
	LfTotals   *t = DatumGetTotals(PG_GETARG_DATUM(0));
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "v%d", TOT_VERSION);
	for (int k = 0; k < t->n; k++)
	{
		const LfTotalsEntry *e = TOT_AT(t, k);

		if (e->isnull)
			appendStringInfoString(&buf, " null:");
		else
			appendStringInfo(&buf, " " INT64_FORMAT ":", e->campaign);
		for (int i = 0; i < NUM_TOTALS; i++)
		{
			if (i > 0)
				appendStringInfoChar(&buf, ',');
			lf_append_int128(&buf, e->v[i]);
		}
	}
	PG_RETURN_CSTRING(buf.data);
}

PG_FUNCTION_INFO_V1(lf_attribution_totals_state_in);
Datum
lf_attribution_totals_state_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	LfTextReader r;
	LfTotals   *t;
	int			n = 0;
	const char *p;
	int			nsums;

	lf_text_init(&r, TOT_TYPNAME, str);
	if (lf_text_accept(&r, "v1"))
		nsums = TOT_SUMS_OF(1);
	else
	{
		lf_text_expect(&r, "v2");
		nsums = TOT_SUMS_OF(2);
	}
	/* one entry per space, so the count is known before reading */
	for (p = r.p; *p; p++)
		if (*p == ' ')
			n++;
	if (n > TOT_MAX_CAMPAIGNS)
		lf_text_error(&r, "Too many campaigns.");
	t = tot_new(n);
	while (lf_text_accept(&r, " "))
	{
		LfTotalsEntry *e = &TOT_ENTRIES(t)[t->n];
		const char *why;

		if (lf_text_accept(&r, "null"))
			e->isnull = 1;
		else
			e->campaign = lf_text_int64(&r);
		lf_text_expect(&r, ":");
		for (int i = 0; i < nsums; i++)
		{
			if (i > 0)
				lf_text_expect(&r, ",");
			e->v[i] = lf_text_int128(&r);
		}
		why = tot_check_entry(t->n > 0 ? e - 1 : NULL, e);
		if (why)
			lf_text_error(&r, why);
		TOT_ORDER(t)[t->n] = t->n;
		t->n++;
	}
	lf_text_end(&r);
	PG_RETURN_POINTER(t);
}

/* Binary form: version byte 2, int32 count, per campaign: byte isnull, int64 id, 27 x (int64 high, int64 low) (version 1: 21). */
#define TOT_WIRE_ENTRY(nsums) (1 + 8 + (nsums) * 16)

PG_FUNCTION_INFO_V1(lf_attribution_totals_state_send);
Datum
lf_attribution_totals_state_send(PG_FUNCTION_ARGS)
{
	LfTotals   *t = DatumGetTotals(PG_GETARG_DATUM(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, TOT_VERSION);
	pq_sendint32(&buf, t->n);
	for (int k = 0; k < t->n; k++)
	{
		const LfTotalsEntry *e = TOT_AT(t, k);

		pq_sendbyte(&buf, e->isnull ? 1 : 0);
		pq_sendint64(&buf, e->campaign);
		for (int i = 0; i < NUM_TOTALS; i++)
		{
			pq_sendint64(&buf, (int64) (e->v[i] >> 64));
			pq_sendint64(&buf, (int64) (uint64) e->v[i]);
		}
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(lf_attribution_totals_state_recv);
Datum
lf_attribution_totals_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	LfTotals   *t;
	int32		n;
	int			version;
	int			nsums;

	lf_binary_need(buf, 1, TOT_TYPNAME);
	version = pq_getmsgbyte(buf);
	if (version != 1 && version != TOT_VERSION)
		lf_binary_error(TOT_TYPNAME, psprintf("Format version %d is not supported; this build reads versions 1 and %d.",
											  version, TOT_VERSION));
	nsums = TOT_SUMS_OF(version);
	lf_binary_need(buf, 4, TOT_TYPNAME);
	n = pq_getmsgint(buf, 4);
	if (n < 0 || n > TOT_MAX_CAMPAIGNS)
		lf_binary_error(TOT_TYPNAME, "The number of campaigns is out of range.");
	lf_binary_need(buf, n * TOT_WIRE_ENTRY(nsums), TOT_TYPNAME);
	t = tot_new(n);
	for (int k = 0; k < n; k++)
	{
		LfTotalsEntry *e = &TOT_ENTRIES(t)[k];
		int			isnull = pq_getmsgbyte(buf);
		const char *why;

		if (isnull != 0 && isnull != 1)
			lf_binary_error(TOT_TYPNAME, "A null flag is neither 0 nor 1.");
		e->isnull = isnull;
		e->campaign = pq_getmsgint64(buf);
		if (isnull && e->campaign != 0)
			lf_binary_error(TOT_TYPNAME, "The null campaign has an id.");
		for (int i = 0; i < nsums; i++)
		{
			int64		hi = pq_getmsgint64(buf);
			uint64		lo = (uint64) pq_getmsgint64(buf);

			e->v[i] = (int128) (((uint128) (uint64) hi << 64) | lo);
		}
		why = tot_check_entry(k > 0 ? e - 1 : NULL, e);
		if (why)
			lf_binary_error(TOT_TYPNAME, why);
		TOT_ORDER(t)[k] = k;
		t->n++;
	}
	lf_binary_end(buf, TOT_TYPNAME);
	PG_RETURN_POINTER(t);
}
