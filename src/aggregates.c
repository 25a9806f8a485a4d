/*-------------------------------------------------------------------------
 *
 * aggregates.c
 *	  The funnel aggregate funnel_reach(lead_stage) and its state type
 *	  leadfunnel.funnel_reach_state.  The helpers every state type shares are
 *	  in state_io.c; window_funnel lives in window_funnel.c, the cycle-time
 *	  sketch in sketch.c, the attribution totals in attribution.c.
 *
 * The state is small and of fixed size: 12 counters.
 * Transition and combine functions update the state in place when called
 * from an aggregate (the state then belongs to the aggregate's memory
 * context); otherwise they work on a copy.  A new state is allocated in the
 * current (per-row) memory context and handed back: the executor copies a
 * new transition value into the aggregate context itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"
#include "utils/timestamp.h"

#include "vocabulary.h"
#include "state_io.h"

/* ----------------------------------------------------------------------
 * funnel_reach(lead_stage)
 *
 * State: how many rows were in each stage.  Reach of an open-or-won stage s
 * is the number of rows whose stage is s or a later open-or-won stage;
 * closed-not-won rows count in no stage (their max_stage tells how far they
 * got, pass that).
 * ---------------------------------------------------------------------- */

#define REACH_TYPNAME "leadfunnel.funnel_reach_state"
#define LF_NUM_REACH_STAGES (LF_STAGE_WON + 1)	/* visitor .. won */

typedef struct LfReachState
{
	int32		vl_len_;
	int32		version;
	int64		counts[LF_NUM_STAGES];
} LfReachState;

#define DatumGetReachState(d) ((LfReachState *) PG_DETOAST_DATUM(d))

static LfReachState *
reach_new(void)
{
	LfReachState *st = palloc0(sizeof(LfReachState));

	SET_VARSIZE(st, sizeof(LfReachState));
	st->version = LF_STATE_VERSION;
	return st;
}

/* The state to update: in place inside an aggregate, else a copy. */
static LfReachState *
reach_mutable(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		return reach_new();
	return (LfReachState *) lf_mutable_state(fcinfo);
}

static void
reach_add(LfReachState *st, int s, int64 n)
{
	if (pg_add_s64_overflow(st->counts[s], n, &st->counts[s]))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("funnel_reach count out of range")));
}

PG_FUNCTION_INFO_V1(lf_funnel_reach_trans);
Datum
lf_funnel_reach_trans(PG_FUNCTION_ARGS)
{
	LfReachState *st;

	LF_KEEP_STATE_IF_ARG1_NULL(fcinfo);
	st = reach_mutable(fcinfo);
	reach_add(st, lf_stage_from_oid(PG_GETARG_OID(1)), 1);
	PG_RETURN_POINTER(st);
}

/* Inverse transition for window frames: forget one row. */
PG_FUNCTION_INFO_V1(lf_funnel_reach_inv);
Datum
lf_funnel_reach_inv(PG_FUNCTION_ARGS)
{
	LfReachState *st;
	int			s;

	LF_KEEP_STATE_IF_ARG1_NULL(fcinfo);
	s = lf_stage_from_oid(PG_GETARG_OID(1));
	st = PG_ARGISNULL(0) ? NULL : reach_mutable(fcinfo);
	if (st == NULL || st->counts[s] <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("funnel_reach state holds no row in stage \"%s\" to remove", lf_stage_names[s]),
				 errdetail("funnel_reach_remove is the inverse transition function of funnel_reach; it removes a row that was added before."),
				 errhint("Remove only rows added with funnel_reach_add.")));
	st->counts[s]--;
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(lf_funnel_reach_combine);
Datum
lf_funnel_reach_combine(PG_FUNCTION_ARGS)
{
	LfReachState *st;
	LfReachState *other;

	LF_KEEP_STATE_IF_ARG1_NULL(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));	/* the executor copies it into its context */
	st = reach_mutable(fcinfo);
	other = DatumGetReachState(PG_GETARG_DATUM(1));
	for (int s = 0; s < LF_NUM_STAGES; s++)
		reach_add(st, s, other->counts[s]);
	PG_RETURN_POINTER(st);
}

/* reach[1..9]: rows at or beyond visitor .. won (bigint[], never NULL). */
PG_FUNCTION_INFO_V1(lf_funnel_reach_final);
Datum
lf_funnel_reach_final(PG_FUNCTION_ARGS)
{
	Datum		elems[LF_NUM_REACH_STAGES];
	LfReachState *st = PG_ARGISNULL(0) ? NULL : DatumGetReachState(PG_GETARG_DATUM(0));
	int64		cumulative = 0;

	for (int s = LF_NUM_REACH_STAGES - 1; s >= 0; s--)
	{
		if (st != NULL && pg_add_s64_overflow(cumulative, st->counts[s], &cumulative))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("funnel_reach count out of range")));
		elems[s] = Int64GetDatum(cumulative);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, LF_NUM_REACH_STAGES, INT8OID,
										  sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

PG_FUNCTION_INFO_V1(lf_funnel_reach_state_out);
Datum
lf_funnel_reach_state_out(PG_FUNCTION_ARGS)
{
	LfReachState *st = DatumGetReachState(PG_GETARG_DATUM(0));
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int s = 0; s < LF_NUM_STAGES; s++)
	{
		if (st->counts[s] == 0)
			continue;
		appendStringInfo(&buf, "%s%s:" INT64_FORMAT, first ? "" : ",", lf_stage_names[s], st->counts[s]);
		first = false;
	}
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

static void
reach_check_total(LfReachState *st, void (*fail) (const char *, void *), void *arg)
{
	int64		total = 0;

	for (int s = 0; s < LF_NUM_STAGES; s++)
	{
		if (st->counts[s] < 0)
			fail("A count is negative.", arg);
		if (pg_add_s64_overflow(total, st->counts[s], &total))
			fail("The counts add up to more than a bigint holds.", arg);
	}
}

static void
reach_text_fail(const char *detail, void *arg)
{
	lf_text_error((LfTextReader *) arg, detail);
}

static void
reach_binary_fail(const char *detail, void *arg)
{
	lf_binary_error(REACH_TYPNAME, detail);
}

/* {stage:count,...}: stages in enum order, each at most once. */
PG_FUNCTION_INFO_V1(lf_funnel_reach_state_in);
Datum
lf_funnel_reach_state_in(PG_FUNCTION_ARGS)
{
	LfTextReader r;
	LfReachState *st = reach_new();
	int			prev = -1;

	lf_text_init(&r, REACH_TYPNAME, PG_GETARG_CSTRING(0));
	lf_text_expect(&r, "{");
	if (!lf_text_accept(&r, "}"))
	{
		do
		{
			int			s = lf_text_stage(&r);

			if (s <= prev)
				lf_text_error(&r, "Stages must be listed once each, in the order of leadfunnel.lead_stage.");
			prev = s;
			lf_text_expect(&r, ":");
			st->counts[s] = lf_text_int64(&r);
		} while (lf_text_accept(&r, ","));
		lf_text_expect(&r, "}");
	}
	lf_text_end(&r);
	reach_check_total(st, reach_text_fail, &r);
	PG_RETURN_POINTER(st);
}

/* Binary: version byte, number of stages (int16, 12), one int64 count per stage. */
PG_FUNCTION_INFO_V1(lf_funnel_reach_state_send);
Datum
lf_funnel_reach_state_send(PG_FUNCTION_ARGS)
{
	LfReachState *st = DatumGetReachState(PG_GETARG_DATUM(0));
	StringInfoData buf;

	lf_binary_begin(&buf);
	pq_sendint16(&buf, LF_NUM_STAGES);
	for (int s = 0; s < LF_NUM_STAGES; s++)
		pq_sendint64(&buf, st->counts[s]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(lf_funnel_reach_state_recv);
Datum
lf_funnel_reach_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	LfReachState *st = reach_new();

	lf_binary_version(buf, REACH_TYPNAME);
	lf_binary_need(buf, 2, REACH_TYPNAME);
	if (pq_getmsgint(buf, 2) != LF_NUM_STAGES)
		lf_binary_error(REACH_TYPNAME, "The number of stages must be 12.");
	lf_binary_need(buf, LF_NUM_STAGES * 8, REACH_TYPNAME);
	for (int s = 0; s < LF_NUM_STAGES; s++)
		st->counts[s] = pq_getmsgint64(buf);
	lf_binary_end(buf, REACH_TYPNAME);
	reach_check_total(st, reach_binary_fail, NULL);
	PG_RETURN_POINTER(st);
}
