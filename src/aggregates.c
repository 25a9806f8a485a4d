/*-------------------------------------------------------------------------
 *
 * aggregates.c
 *	  The funnel aggregates funnel_reach(lead_stage) and
 *	  window_funnel(interval, timestamptz, lead_stage), their state types
 *	  leadfunnel.funnel_reach_state and leadfunnel.window_funnel_state.  The
 *	  helpers every state type shares are in state_io.c; the cycle-time
 *	  sketch lives in sketch.c, the attribution totals in attribution.c.
 *
 * Both states are small and of fixed size: 12 counters for funnel_reach, the
 * window and the earliest time of each open-or-won stage for window_funnel.
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

/* ----------------------------------------------------------------------
 * window_funnel(window interval, at timestamptz, stage lead_stage)
 *
 * State: the window and, per open-or-won stage, the earliest time a row of
 * that stage was seen.  The chain starts at the group's first event (the
 * earliest); any event at or after it within the window whose stage is later
 * extends it (stages a funnel skips do not break it), so the result is the
 * furthest stage whose earliest event lies within the window of the first.
 * Elementwise minimum makes the state mergeable in any order.
 * ---------------------------------------------------------------------- */

#define WF_TYPNAME "leadfunnel.window_funnel_state"

typedef struct LfWindowFunnelState
{
	int32		vl_len_;
	uint16		version;
	uint16		seen;			/* bit s: earliest[s] is set */
	int64		window;			/* microseconds, >= 0 */
	TimestampTz earliest[LF_NUM_REACH_STAGES];
} LfWindowFunnelState;

#define DatumGetWindowFunnelState(d) ((LfWindowFunnelState *) PG_DETOAST_DATUM(d))

static LfWindowFunnelState *
wf_new(int64 window)
{
	LfWindowFunnelState *st = palloc0(sizeof(LfWindowFunnelState));

	SET_VARSIZE(st, sizeof(LfWindowFunnelState));
	st->version = LF_STATE_VERSION;
	st->window = window;
	return st;
}

static void
wf_same_window(int64 a, int64 b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window of window_funnel must be the same for all rows of a group"),
				 errdetail("Windows of " INT64_FORMAT " and " INT64_FORMAT " microseconds were given.", a, b),
				 errhint("Pass a constant window.")));
}

static void
wf_note(LfWindowFunnelState *st, int s, TimestampTz at)
{
	if (!(st->seen & (1 << s)) || at < st->earliest[s])
		st->earliest[s] = at;
	st->seen |= (1 << s);
}

PG_FUNCTION_INFO_V1(lf_window_funnel_trans);
Datum
lf_window_funnel_trans(PG_FUNCTION_ARGS)
{
	LfWindowFunnelState *st;
	int64		window;
	int			s;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("window of window_funnel must not be null")));
	window = lf_interval_usec(PG_GETARG_INTERVAL_P(1));
	if (window < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window of window_funnel must not be negative")));

	if (PG_ARGISNULL(0))
		st = wf_new(window);
	else
	{
		st = (LfWindowFunnelState *) lf_mutable_state(fcinfo);
		wf_same_window(st->window, window);
	}

	/* rows without a time or stage, at an infinite time, or closed-not-won: no step */
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(2)))
		PG_RETURN_POINTER(st);
	s = lf_stage_from_oid(PG_GETARG_OID(3));
	if (s < LF_NUM_REACH_STAGES)
		wf_note(st, s, PG_GETARG_TIMESTAMPTZ(2));
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(lf_window_funnel_combine);
Datum
lf_window_funnel_combine(PG_FUNCTION_ARGS)
{
	LfWindowFunnelState *st;
	LfWindowFunnelState *other;

	LF_KEEP_STATE_IF_ARG1_NULL(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	st = (LfWindowFunnelState *) lf_mutable_state(fcinfo);
	other = DatumGetWindowFunnelState(PG_GETARG_DATUM(1));
	wf_same_window(st->window, other->window);
	for (int s = 0; s < LF_NUM_REACH_STAGES; s++)
		if (other->seen & (1 << s))
			wf_note(st, s, other->earliest[s]);
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(lf_window_funnel_final);
Datum
lf_window_funnel_final(PG_FUNCTION_ARGS)
{
	LfWindowFunnelState *st;
	TimestampTz first = 0;
	int			result = -1;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = DatumGetWindowFunnelState(PG_GETARG_DATUM(0));
	if (st->seen == 0)
		PG_RETURN_NULL();
	for (int s = 0; s < LF_NUM_REACH_STAGES; s++)
		if ((st->seen & (1 << s)) && (result < 0 || st->earliest[s] < first))
		{
			first = st->earliest[s];
			result = s;
		}
	for (int s = LF_NUM_REACH_STAGES - 1; s > result; s--)
	{
		int64		since;

		/* finite timestamps are less than 2^63 microseconds apart */
		if ((st->seen & (1 << s)) &&
			!pg_sub_s64_overflow(st->earliest[s], first, &since) && since <= st->window)
		{
			result = s;
			break;
		}
	}
	PG_RETURN_OID(lf_stage_to_oid(result));
}

PG_FUNCTION_INFO_V1(lf_window_funnel_state_out);
Datum
lf_window_funnel_state_out(PG_FUNCTION_ARGS)
{
	LfWindowFunnelState *st = DatumGetWindowFunnelState(PG_GETARG_DATUM(0));
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{window:" INT64_FORMAT, st->window);
	for (int s = 0; s < LF_NUM_REACH_STAGES; s++)
		if (st->seen & (1 << s))
			appendStringInfo(&buf, ",%s:" INT64_FORMAT, lf_stage_names[s], st->earliest[s]);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

/* NULL when the state is valid, else why not. */
static const char *
wf_check(LfWindowFunnelState *st)
{
	if (st->window < 0)
		return "The window is negative.";
	for (int s = 0; s < LF_NUM_REACH_STAGES; s++)
		if ((st->seen & (1 << s)) &&
			(TIMESTAMP_NOT_FINITE(st->earliest[s]) || !IS_VALID_TIMESTAMP(st->earliest[s])))
			return "A time is out of range.";
	if (st->seen >> LF_NUM_REACH_STAGES)
		return "Only open stages and won have times.";
	return NULL;
}

/* {window:usec,stage:usec,...}: times in microseconds since 2000-01-01 UTC, stages in enum order. */
PG_FUNCTION_INFO_V1(lf_window_funnel_state_in);
Datum
lf_window_funnel_state_in(PG_FUNCTION_ARGS)
{
	LfTextReader r;
	LfWindowFunnelState *st;
	const char *problem;
	int			prev = -1;

	lf_text_init(&r, WF_TYPNAME, PG_GETARG_CSTRING(0));
	lf_text_expect(&r, "{window:");
	st = wf_new(lf_text_int64(&r));
	while (lf_text_accept(&r, ","))
	{
		int			s = lf_text_stage(&r);

		if (s <= prev || s >= LF_NUM_REACH_STAGES)
			lf_text_error(&r, "Open-or-won stages must be listed once each, in the order of leadfunnel.lead_stage.");
		prev = s;
		lf_text_expect(&r, ":");
		st->earliest[s] = lf_text_int64(&r);
		st->seen |= (1 << s);
	}
	lf_text_expect(&r, "}");
	lf_text_end(&r);
	if ((problem = wf_check(st)) != NULL)
		lf_text_error(&r, problem);
	PG_RETURN_POINTER(st);
}

/* Binary: version byte, window (int64), seen mask (int16), one int64 per seen stage. */
PG_FUNCTION_INFO_V1(lf_window_funnel_state_send);
Datum
lf_window_funnel_state_send(PG_FUNCTION_ARGS)
{
	LfWindowFunnelState *st = DatumGetWindowFunnelState(PG_GETARG_DATUM(0));
	StringInfoData buf;

	lf_binary_begin(&buf);
	pq_sendint64(&buf, st->window);
	pq_sendint16(&buf, st->seen);
	for (int s = 0; s < LF_NUM_REACH_STAGES; s++)
		if (st->seen & (1 << s))
			pq_sendint64(&buf, st->earliest[s]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(lf_window_funnel_state_recv);
Datum
lf_window_funnel_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	LfWindowFunnelState *st;
	const char *problem;

	lf_binary_version(buf, WF_TYPNAME);
	lf_binary_need(buf, 8 + 2, WF_TYPNAME);
	st = wf_new(pq_getmsgint64(buf));
	st->seen = (uint16) pq_getmsgint(buf, 2);
	if (st->seen >> LF_NUM_REACH_STAGES)
		lf_binary_error(WF_TYPNAME, "Only open stages and won have times.");
	for (int s = 0; s < LF_NUM_REACH_STAGES; s++)
		if (st->seen & (1 << s))
		{
			lf_binary_need(buf, 8, WF_TYPNAME);
			st->earliest[s] = pq_getmsgint64(buf);
		}
	lf_binary_end(buf, WF_TYPNAME);
	if ((problem = wf_check(st)) != NULL)
		lf_binary_error(WF_TYPNAME, problem);
	PG_RETURN_POINTER(st);
}
