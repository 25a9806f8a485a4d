/*-------------------------------------------------------------------------
 *
 * stage_entries.c
 *	  lead_stage_entries(seq int, stage lead_stage, entered_at timestamptz):
 *	  the aggregate over one lead's stage history that the waterfall and
 *	  conversion_by_cohort views of a model group (95_pipeline.sql).  It
 *	  returns a leadfunnel.stage_entry[]: for each open-or-won stage the lead
 *	  entered, the time of its first entry, the next time it entered a later
 *	  open-or-won stage (next_at) and, as bits, which later stages it reached
 *	  within 30, 60, 90 days of that first entry and ever (reached).
 *
 * One pass over a lead's few rows replaces the views' former sort and window
 * pass per lead (a running minimum per stage over the newer rows, a bit set
 * over the older ones), and the "within N days" tests that the cohort view
 * made once per entry and later stage with interval arithmetic in SQL are
 * made here, once per entry and window, with the exact arithmetic only for
 * times near the boundary.
 *
 * State: the lead's open-or-won rows (seq, stage, time), internal, in the
 * aggregate context; rows of closed-not-won stages are neither entries nor
 * reached stages and are not kept.  The rows usually arrive in seq order
 * (the history's key is (account_id, lead_id, seq)); the final function sorts
 * them when they did not.  A lead's history is short, but not bounded by the
 * number of stages (moves back and re-entries), so the state holds at most
 * SE_MAX_ROWS rows and says so beyond that.  There is no combine function:
 * the aggregate is meant to be grouped by lead, whose rows a single worker
 * (or Citus shard) holds, so partial aggregation would gain nothing; it is
 * PARALLEL SAFE (a parallel plan aggregates each lead in one process).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "vocabulary.h"

/* Rows kept per lead (16 bytes each). */
#define SE_MAX_ROWS (1 << 20)

/* Open-or-won stages: visitor .. won. */
#define SE_NUM_STAGES (LF_STAGE_WON + 1)

/* Bits of stage_entry.reached: 4 per later stage k, (1 << (4k + w)). */
#define SE_WINDOWS 3			/* 30, 60, 90 days; bit 3 is "ever" */
static const int se_window_days[SE_WINDOWS] = {30, 60, 90};

typedef struct SeRow
{
	int32		seq;
	int32		stage;			/* ordinal, visitor .. won */
	TimestampTz at;
} SeRow;

typedef struct SeState
{
	int			n;
	int			capacity;
	bool		sorted;			/* rows are in seq order */
	SeRow	   *rows;
} SeState;

/* Result row type, looked up once per query (fn_extra). */
typedef struct SeResultType
{
	Oid			rowtype;
	TupleDesc	desc;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Oid			stage_oids[SE_NUM_STAGES];
} SeResultType;

PG_FUNCTION_INFO_V1(lf_stage_entries_trans);
Datum
lf_stage_entries_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	SeState    *st;
	int			stage;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "lead_stage_entries_trans called in non-aggregate context");

	st = PG_ARGISNULL(0) ? NULL : (SeState *) PG_GETARG_POINTER(0);
	/* a row without seq, stage or time is no entry */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	if (st == NULL)
	{
		st = MemoryContextAllocZero(aggcxt, sizeof(SeState));
		st->capacity = 8;
		st->rows = MemoryContextAlloc(aggcxt, st->capacity * sizeof(SeRow));
		st->sorted = true;
	}
	stage = lf_stage_from_oid(PG_GETARG_OID(2));
	if (stage > LF_STAGE_WON)
		PG_RETURN_POINTER(st);	/* closed, not won: neither entry nor reach */

	if (st->n == st->capacity)
	{
		if (st->capacity >= SE_MAX_ROWS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("lead_stage_entries holds at most %d open-or-won stage rows per group", SE_MAX_ROWS),
					 errhint("Group by lead: the aggregate reads one lead's stage history.")));
		st->capacity *= 2;
		st->rows = repalloc(st->rows, st->capacity * sizeof(SeRow));
	}
	st->rows[st->n].seq = PG_GETARG_INT32(1);
	st->rows[st->n].stage = stage;
	st->rows[st->n].at = PG_GETARG_TIMESTAMPTZ(3);
	if (st->n > 0 && st->rows[st->n - 1].seq > st->rows[st->n].seq)
		st->sorted = false;
	st->n++;
	PG_RETURN_POINTER(st);
}

static int
se_row_cmp(const void *a, const void *b)
{
	const SeRow *x = (const SeRow *) a;
	const SeRow *y = (const SeRow *) b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	/* equal seq (not in a history, whose seq is a key): a stable order anyway */
	if (x->stage != y->stage)
		return x->stage < y->stage ? -1 : 1;
	return x->at < y->at ? -1 : (x->at > y->at ? 1 : 0);
}

/*
 * reach <= entered + days, as timestamptz + interval 'N days' computes it in
 * the session's TimeZone.  The local-time arithmetic moves the result by at
 * most the difference of two UTC offsets (under 27 hours) from entered + N
 * * 24 hours, so only times within 2 days of that need the exact call.
 */
static bool
se_within(TimestampTz entered, TimestampTz reach, int days)
{
	int64		diff;
	Interval	iv;
	TimestampTz bound;

	if (!TIMESTAMP_NOT_FINITE(entered) && !TIMESTAMP_NOT_FINITE(reach) &&
		!pg_sub_s64_overflow(reach, entered, &diff))
	{
		if (diff <= (int64) (days - 2) * USECS_PER_DAY)
			return true;
		if (diff > (int64) (days + 2) * USECS_PER_DAY)
			return false;
	}
	iv.month = 0;
	iv.day = days;
	iv.time = 0;
	bound = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													TimestampTzGetDatum(entered),
													IntervalPGetDatum(&iv)));
	return reach <= bound;
}

static SeResultType *
se_result_type(FunctionCallInfo fcinfo)
{
	SeResultType *rt = (SeResultType *) fcinfo->flinfo->fn_extra;

	if (rt == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		Oid			arraytype = get_fn_expr_rettype(fcinfo->flinfo);

		if (!OidIsValid(arraytype))
			arraytype = get_func_rettype(fcinfo->flinfo->fn_oid);
		rt = palloc0(sizeof(SeResultType));
		rt->rowtype = OidIsValid(arraytype) ? get_element_type(arraytype) : InvalidOid;
		if (!OidIsValid(rt->rowtype))
			elog(ERROR, "function %u does not return an array of rows", fcinfo->flinfo->fn_oid);
		rt->desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(rt->rowtype, -1));
		if (rt->desc->natts != 4)
			elog(ERROR, "leadfunnel.stage_entry has %d attributes, expected 4", rt->desc->natts);
		get_typlenbyvalalign(rt->rowtype, &rt->typlen, &rt->typbyval, &rt->typalign);
		for (int s = 0; s < SE_NUM_STAGES; s++)
			rt->stage_oids[s] = lf_stage_to_oid(s);
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = rt;
	}
	return rt;
}

PG_FUNCTION_INFO_V1(lf_stage_entries_final);
Datum
lf_stage_entries_final(PG_FUNCTION_ARGS)
{
	SeState    *st;
	SeResultType *rt;
	int			first[SE_NUM_STAGES];	/* row of the first entry, or -1 */
	TimestampTz reach[SE_NUM_STAGES + 1];	/* min time of newer rows at or beyond s */
	bool		has_reach[SE_NUM_STAGES + 1];
	TimestampTz next_at[SE_NUM_STAGES];
	bool		has_next[SE_NUM_STAGES];
	int64		reached[SE_NUM_STAGES];
	Datum		rows[SE_NUM_STAGES];
	int			nrows = 0;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "lead_stage_entries_final called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (SeState *) PG_GETARG_POINTER(0);
	rt = se_result_type(fcinfo);

	if (!st->sorted)
	{
		qsort(st->rows, st->n, sizeof(SeRow), se_row_cmp);
		st->sorted = true;
	}

	/* first entry of each stage: the lowest seq with that stage */
	for (int s = 0; s < SE_NUM_STAGES; s++)
		first[s] = -1;
	for (int i = 0; i < st->n; i++)
		if (first[st->rows[i].stage] < 0)
			first[st->rows[i].stage] = i;

	/*
	 * Newest row first: reach[s] is the earliest time of the rows after row i
	 * whose stage is s or a later open-or-won stage; at a first entry of
	 * stage k it gives next_at (reach[k + 1]) and the reached bits.
	 */
	memset(has_reach, 0, sizeof(has_reach));
	for (int i = st->n - 1; i >= 0; i--)
	{
		const SeRow *r = &st->rows[i];
		int			k = r->stage;

		if (first[k] == i)
		{
			int64		bits = 0;

			has_next[k] = k < LF_STAGE_WON && has_reach[k + 1];
			next_at[k] = has_next[k] ? reach[k + 1] : 0;
			for (int x = k + 1; x < SE_NUM_STAGES; x++)
			{
				if (!has_reach[x])
					break;		/* nor any later stage: reach is monotone in x */
				bits |= INT64CONST(1) << (4 * x + SE_WINDOWS);
				for (int w = 0; w < SE_WINDOWS; w++)
					if (se_within(r->at, reach[x], se_window_days[w]))
						bits |= INT64CONST(1) << (4 * x + w);
			}
			reached[k] = bits;
		}
		for (int s = 0; s <= k; s++)
			if (!has_reach[s] || r->at < reach[s])
			{
				reach[s] = r->at;
				has_reach[s] = true;
			}
	}

	for (int k = 0; k < SE_NUM_STAGES; k++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		if (first[k] < 0)
			continue;
		values[0] = ObjectIdGetDatum(rt->stage_oids[k]);
		values[1] = TimestampTzGetDatum(st->rows[first[k]].at);
		values[2] = TimestampTzGetDatum(next_at[k]);
		nulls[2] = !has_next[k];
		values[3] = Int64GetDatum(reached[k]);
		rows[nrows++] = HeapTupleGetDatum(heap_form_tuple(rt->desc, values, nulls));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(rows, nrows, rt->rowtype,
										  rt->typlen, rt->typbyval, rt->typalign));
}
