/*-------------------------------------------------------------------------
 *
 * window_funnel.c
 *	  window_funnel(window interval, at timestamptz, stage lead_stage
 *	  [, mode text]): ClickHouse's windowFunnel with the stages of
 *	  leadfunnel.lead_stage as its conditions (step k = the k-th stage), its
 *	  modes, and its state type leadfunnel.window_funnel_state.
 *
 * ClickHouse's answer depends on the order of all events of a group (a chain
 * starts only at a step-1 event, slides to each later step-1 event and
 * advances one step at a time), so the state keeps the group's events, as
 * ClickHouse's does: (time, stage) pairs, sorted by the final function.
 * Combine concatenates.  The mode "skip_allowed" (leadfunnel 0.2.0's rule:
 * the chain starts at the group's earliest event and may skip stages) needs
 * only the earliest time of each stage, so its state keeps at most one event
 * per stage.
 *
 * The state grows by doubling: a transition inside an aggregate appends in
 * place while there is room; a state that must grow is copied into a larger
 * one allocated in the current (per-row) memory context, which the executor
 * copies into the aggregate context (freeing the old one).
 *
 * Format version 2 (0.3.0).  Version 1 (0.2.0) held the window and the
 * earliest time per stage under the 0.2.0 rule; input and receive read it as
 * a skip_allowed state, which gives exactly the 0.2.0 answer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "vocabulary.h"
#include "state_io.h"

#define WF_TYPNAME "leadfunnel.window_funnel_state"
#define WF_VERSION 2			/* binary version byte; 1 = leadfunnel 0.2.0 */
#define WF_VERSION_0_2 1

/* Modes (bits), ClickHouse's names. */
#define WF_STRICT_DEDUPLICATION	0x01
#define WF_STRICT_ORDER			0x02
#define WF_STRICT_INCREASE		0x04
#define WF_ALLOW_REENTRY		0x08
#define WF_SKIP_ALLOWED			0x10	/* leadfunnel 0.2.0's rule */
#define WF_ALL_MODES			0x1f

static const struct
{
	const char *name;
	uint8		bit;
}			wf_modes[] =
{
	{"strict_order", WF_STRICT_ORDER},
	{"strict_deduplication", WF_STRICT_DEDUPLICATION},
	{"strict_increase", WF_STRICT_INCREASE},
	{"allow_reentry", WF_ALLOW_REENTRY},
	{"skip_allowed", WF_SKIP_ALLOWED},
};

/* At most this many events per group (16 bytes each). */
#define WF_MAX_EVENTS (1 << 22)

typedef struct WfEvent
{
	TimestampTz at;
	int32		stage;			/* ordinal of lead_stage */
	int32		pad;
} WfEvent;

typedef struct LfWindowFunnelState
{
	int32		vl_len_;
	uint8		version;
	uint8		modes;
	uint8		last;			/* ordinal of the last step (won unless "until") */
	uint8		sorted;			/* events are in (at, step) order */
	int32		n;				/* events held */
	int64		window;			/* microseconds, >= 0 */
	WfEvent		events[FLEXIBLE_ARRAY_MEMBER];
} LfWindowFunnelState;

#define WF_HEADER offsetof(LfWindowFunnelState, events)
#define WF_CAPACITY(st) ((int) ((VARSIZE(st) - WF_HEADER) / sizeof(WfEvent)))
#define DatumGetWindowFunnelState(d) ((LfWindowFunnelState *) PG_DETOAST_DATUM(d))

/* Step of a stage: 1 .. last + 1, or 0 when the stage is no step. */
static inline int
wf_step(const LfWindowFunnelState *st, int stage)
{
	return stage <= st->last ? stage + 1 : 0;
}

static LfWindowFunnelState *
wf_alloc(int capacity)
{
	LfWindowFunnelState *st;

	if (capacity > WF_MAX_EVENTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("window_funnel holds at most %d events per group", WF_MAX_EVENTS),
				 errdetail("The state keeps every event of its group, as ClickHouse's windowFunnel does."),
				 errhint("Group by a finer key (e.g. the lead), or filter the rows.")));
	st = palloc0(WF_HEADER + (Size) capacity * sizeof(WfEvent));
	SET_VARSIZE(st, WF_HEADER + (Size) capacity * sizeof(WfEvent));
	st->version = WF_VERSION;
	st->sorted = true;
	return st;
}

static LfWindowFunnelState *
wf_new(int64 window, uint8 modes, uint8 last, int capacity)
{
	LfWindowFunnelState *st = wf_alloc(capacity);

	st->window = window;
	st->modes = modes;
	st->last = last;
	return st;
}

/* A copy of st with room for at least need events (in the current context). */
static LfWindowFunnelState *
wf_grow(LfWindowFunnelState *st, int need)
{
	int			capacity = Max(8, WF_CAPACITY(st));
	LfWindowFunnelState *grown;

	while (capacity < need)
		capacity = capacity >= WF_MAX_EVENTS / 2 ? need : capacity * 2;
	grown = wf_alloc(capacity);
	memcpy(grown, st, WF_HEADER + (Size) st->n * sizeof(WfEvent));
	SET_VARSIZE(grown, WF_HEADER + (Size) capacity * sizeof(WfEvent));
	return grown;
}

/* Events compare by time, then step (non-steps first), then stage. */
static int
wf_cmp(const WfEvent *a, const WfEvent *b, uint8 last)
{
	int			sa = a->stage <= last ? a->stage + 1 : 0;
	int			sb = b->stage <= last ? b->stage + 1 : 0;

	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	if (sa != sb)
		return sa < sb ? -1 : 1;
	return (a->stage > b->stage) - (a->stage < b->stage);
}

static uint8 wf_sort_last;

static int
wf_qsort_cmp(const void *a, const void *b)
{
	return wf_cmp((const WfEvent *) a, (const WfEvent *) b, wf_sort_last);
}

/* The events in order: the state's own array when sorted, else a sorted copy. */
static const WfEvent *
wf_sorted_events(const LfWindowFunnelState *st)
{
	WfEvent    *copy;

	if (st->sorted || st->n < 2)
		return st->events;
	copy = palloc((Size) st->n * sizeof(WfEvent));
	memcpy(copy, st->events, (Size) st->n * sizeof(WfEvent));
	wf_sort_last = st->last;
	qsort(copy, st->n, sizeof(WfEvent), wf_qsort_cmp);
	return copy;
}

/*
 * Adds an event (st has room unless skip_allowed finds the stage already).
 * Returns false when st is full.
 */
static bool
wf_add(LfWindowFunnelState *st, int stage, TimestampTz at)
{
	if (st->modes & WF_SKIP_ALLOWED)
	{
		/* 0.2.0's rule needs the earliest time of each step only */
		for (int i = 0; i < st->n; i++)
			if (st->events[i].stage == stage)
			{
				if (at < st->events[i].at)
					st->events[i].at = at;
				st->sorted = false;
				return true;
			}
		st->sorted = false;
	}
	if (st->n >= WF_CAPACITY(st))
		return false;
	if (st->n > 0 && st->sorted &&
		wf_cmp(&st->events[st->n - 1], &(WfEvent) {.at = at,.stage = stage}, st->last) > 0)
		st->sorted = false;
	st->events[st->n].at = at;
	st->events[st->n].stage = stage;
	st->events[st->n].pad = 0;
	st->n++;
	return true;
}

/* Whether an event of this stage belongs in the state at all. */
static bool
wf_keeps(const LfWindowFunnelState *st, int stage)
{
	/* ClickHouse records a row that matches no condition only in strict_order */
	return wf_step(st, stage) > 0 || (st->modes & WF_STRICT_ORDER);
}

static int
wf_stage_by_name(const char *name, size_t len)
{
	for (int s = 0; s < LF_NUM_STAGES; s++)
		if (strlen(lf_stage_names[s]) == len && strncmp(lf_stage_names[s], name, len) == 0)
			return s;
	return -1;
}

static pg_noreturn void
wf_bad_mode(const char *mode, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid mode of window_funnel: \"%s\"", mode),
			 errdetail("%s", detail),
			 errhint("Modes are strict_order, strict_deduplication, strict_increase, allow_reentry (with strict_order) and skip_allowed (alone), separated by commas, and until=<stage> for a funnel that ends before won.")));
}

/*
 * Parses a mode argument: names separated by commas, '+' or spaces, and
 * until=<stage>.
 */
static void
wf_parse_mode(const char *mode, uint8 *modes, uint8 *last)
{
	const char *p = mode;

	*modes = 0;
	*last = LF_STAGE_WON;
	for (;;)
	{
		const char *start;
		size_t		len;
		bool		found = false;

		while (*p == ',' || *p == '+' || *p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while ((*p >= 'a' && *p <= 'z') || *p == '_')
			p++;
		len = p - start;
		if (len == 5 && strncmp(start, "until", 5) == 0 && *p == '=')
		{
			int			s;

			start = ++p;
			while (*p >= 'a' && *p <= 'z')
				p++;
			s = wf_stage_by_name(start, p - start);
			if (s < 0 || s > LF_STAGE_WON)
				wf_bad_mode(mode, "until= names the last step of the funnel, an open stage or won.");
			*last = (uint8) s;
			found = true;
		}
		else if (len == 7 && strncmp(start, "default", 7) == 0)
			found = true;
		else
			for (int i = 0; i < lengthof(wf_modes); i++)
				if (strlen(wf_modes[i].name) == len && strncmp(wf_modes[i].name, start, len) == 0)
				{
					*modes |= wf_modes[i].bit;
					found = true;
				}
		if (!found || len == 0)
		{
			if (len == 6 && strncmp(start, "strict", 6) == 0)
				wf_bad_mode(mode, "ClickHouse replaced the mode strict by strict_deduplication.");
			if (len == 11 && strncmp(start, "strict_once", 11) == 0)
				wf_bad_mode(mode, "strict_once keeps an event that matches several conditions from counting twice; a row has one stage, so every mode already counts it once.");
			wf_bad_mode(mode, psprintf("Unknown mode at position %d.", (int) (start - mode) + 1));
		}
	}
	if ((*modes & WF_ALLOW_REENTRY) && !(*modes & WF_STRICT_ORDER))
		wf_bad_mode(mode, "allow_reentry requires strict_order, as in ClickHouse.");
	if ((*modes & WF_SKIP_ALLOWED) && *modes != WF_SKIP_ALLOWED)
		wf_bad_mode(mode, "skip_allowed is leadfunnel 0.2.0's rule and combines with no other mode.");
}

/* The mode as the text form writes it: names joined by +, then until. */
static void
wf_append_mode(StringInfo buf, uint8 modes, uint8 last)
{
	bool		any = false;

	for (int i = 0; i < lengthof(wf_modes); i++)
		if (modes & wf_modes[i].bit)
		{
			appendStringInfo(buf, "%s%s", any ? "+" : "", wf_modes[i].name);
			any = true;
		}
	if (!any)
		appendStringInfoString(buf, "default");
	appendStringInfo(buf, ",until:%s", last < LF_NUM_STAGES ? lf_stage_names[last] : "?");
}

static void
wf_same_kind(const LfWindowFunnelState *a, int64 window, uint8 modes, uint8 last)
{
	if (a->window != window)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window of window_funnel must be the same for all rows of a group"),
				 errdetail("Windows of " INT64_FORMAT " and " INT64_FORMAT " microseconds were given.", a->window, window),
				 errhint("Pass a constant window.")));
	if (a->modes != modes || a->last != last)
	{
		StringInfoData one;
		StringInfoData other;

		initStringInfo(&one);
		initStringInfo(&other);
		wf_append_mode(&one, a->modes, a->last);
		wf_append_mode(&other, modes, last);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mode of window_funnel must be the same for all rows of a group"),
				 errdetail("Modes \"%s\" and \"%s\" were given.", one.data, other.data),
				 errhint("Pass a constant mode. A state written by leadfunnel 0.2.0 has the mode skip_allowed.")));
	}
}

static LfWindowFunnelState *
wf_transition(FunctionCallInfo fcinfo, uint8 modes, uint8 last)
{
	LfWindowFunnelState *st;
	int64		window;
	int			s;
	TimestampTz at;

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
		st = wf_new(window, modes, last, 8);
	else
	{
		st = (LfWindowFunnelState *) lf_mutable_state(fcinfo);
		wf_same_kind(st, window, modes, last);
	}

	/* rows without a time or stage, or at an infinite time: no event */
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(2)))
		return st;
	s = lf_stage_from_oid(PG_GETARG_OID(3));
	at = PG_GETARG_TIMESTAMPTZ(2);
	if (!wf_keeps(st, s))
		return st;
	if (!wf_add(st, s, at))
	{
		st = wf_grow(st, st->n + 1);
		wf_add(st, s, at);
	}
	return st;
}

PG_FUNCTION_INFO_V1(lf_window_funnel_trans);
Datum
lf_window_funnel_trans(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(wf_transition(fcinfo, 0, LF_STAGE_WON));
}

PG_FUNCTION_INFO_V1(lf_window_funnel_mode_trans);
Datum
lf_window_funnel_mode_trans(PG_FUNCTION_ARGS)
{
	uint8		modes;
	uint8		last;

	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("mode of window_funnel must not be null"),
				 errhint("Pass '' for ClickHouse's default mode.")));
	wf_parse_mode(text_to_cstring(PG_GETARG_TEXT_PP(4)), &modes, &last);
	PG_RETURN_POINTER(wf_transition(fcinfo, modes, last));
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
	wf_same_kind(st, other->window, other->modes, other->last);
	if (other->n == 0)
		PG_RETURN_POINTER(st);
	if (st->n + other->n > WF_CAPACITY(st))
		st = wf_grow(st, st->n + other->n);
	for (int i = 0; i < other->n; i++)
		if (!wf_add(st, other->events[i].stage, other->events[i].at))
			elog(ERROR, "window_funnel state has no room after growing");
	PG_RETURN_POINTER(st);
}

/* The number of steps reached before the first step not reached. */
static int
wf_first_unset(const bool *set, int nsteps)
{
	for (int k = 0; k < nsteps; k++)
		if (!set[k])
			return k;
	return nsteps;
}

/* ClickHouse's windowFunnel over events in (time, step) order; the step reached, 0 if none. */
static int
wf_level(const LfWindowFunnelState *st, const WfEvent *ev)
{
	int			nsteps = st->last + 1;
	bool		dedup = (st->modes & WF_STRICT_DEDUPLICATION) != 0;
	bool		strict_order = (st->modes & WF_STRICT_ORDER) != 0;
	bool		strict_increase = (st->modes & WF_STRICT_INCREASE) != 0;
	bool		reentry = (st->modes & WF_ALLOW_REENTRY) != 0;
	bool		set[LF_NUM_STAGES] = {false};
	TimestampTz first[LF_NUM_STAGES];
	TimestampTz prev[LF_NUM_STAGES];
	bool		first_event = false;

	if (st->n == 0)
		return 0;
	if (!strict_order && nsteps == 1)
		return 1;				/* only step-1 events are kept */
	for (int i = 0; i < st->n; i++)
	{
		TimestampTz at = ev[i].at;
		int			idx = wf_step(st, ev[i].stage) - 1;

		if (strict_order && idx == -1)
		{
			if (first_event)
				break;
			continue;
		}
		if (idx == 0)
		{
			/* strict_order: step 1 again after step 2 stops the chain, unless allow_reentry */
			if (strict_order && !reentry && nsteps > 1 && set[1])
				return wf_first_unset(set, nsteps);
			set[0] = true;
			first[0] = prev[0] = at;
			first_event = true;
		}
		else if (dedup && set[idx])
		{
			/* the step of the event before the repeated one, as ClickHouse's reference answers */
			return wf_step(st, ev[i - 1].stage);
		}
		else if (strict_order && first_event && !set[idx - 1])
		{
			/* a step out of order stops the chain */
			return wf_first_unset(set, nsteps);
		}
		else if (set[idx - 1])
		{
			int64		since;
			bool		matched;

			matched = !pg_sub_s64_overflow(at, first[idx - 1], &since) && since <= st->window;
			if (strict_increase)
				matched = matched && prev[idx - 1] < at;
			if (matched)
			{
				set[idx] = true;
				first[idx] = first[idx - 1];
				prev[idx] = at;
				if (idx + 1 == nsteps)
					return nsteps;
			}
		}
	}
	for (int k = nsteps; k > 0; k--)
		if (set[k - 1])
			return k;
	return 0;
}

/* leadfunnel 0.2.0's rule: the furthest step within window of the earliest event. */
static int
wf_level_skip_allowed(const LfWindowFunnelState *st)
{
	TimestampTz first = 0;
	int			result = -1;

	for (int i = 0; i < st->n; i++)
	{
		const WfEvent *e = &st->events[i];

		if (result < 0 || e->at < first || (e->at == first && e->stage < result))
		{
			first = e->at;
			result = e->stage;
		}
	}
	for (int i = 0; i < st->n; i++)
	{
		int64		since;

		if (st->events[i].stage > result &&
			!pg_sub_s64_overflow(st->events[i].at, first, &since) && since <= st->window)
			result = st->events[i].stage;
	}
	return result + 1;
}

PG_FUNCTION_INFO_V1(lf_window_funnel_final);
Datum
lf_window_funnel_final(PG_FUNCTION_ARGS)
{
	LfWindowFunnelState *st;
	int			level;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = DatumGetWindowFunnelState(PG_GETARG_DATUM(0));
	if (st->modes & WF_SKIP_ALLOWED)
		level = wf_level_skip_allowed(st);
	else
		level = wf_level(st, wf_sorted_events(st));
	if (level == 0)
		PG_RETURN_NULL();
	PG_RETURN_OID(lf_stage_to_oid(level - 1));
}

/* ----------------------------------------------------------------------
 * Text form (version 2):
 *   {window:<usec>,mode:<names joined by +, or default>,until:<stage>,events:[<stage>:<usec>,...]}
 * events in (time, step) order, times in microseconds since 2000-01-01 UTC.
 * Version 1 (0.2.0): {window:<usec>,<stage>:<usec>,...}, read as skip_allowed.
 * ---------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(lf_window_funnel_state_out);
Datum
lf_window_funnel_state_out(PG_FUNCTION_ARGS)
{
	LfWindowFunnelState *st = DatumGetWindowFunnelState(PG_GETARG_DATUM(0));
	const WfEvent *ev;
	StringInfoData buf;

	ev = wf_sorted_events(st);	/* canonical: in (time, step) order */

	initStringInfo(&buf);
	appendStringInfo(&buf, "{window:" INT64_FORMAT ",mode:", st->window);
	wf_append_mode(&buf, st->modes, st->last);
	appendStringInfoString(&buf, ",events:[");
	for (int i = 0; i < st->n; i++)
		appendStringInfo(&buf, "%s%s:" INT64_FORMAT, i > 0 ? "," : "", lf_stage_names[ev[i].stage], ev[i].at);
	appendStringInfoString(&buf, "]}");
	PG_RETURN_CSTRING(buf.data);
}

/* NULL when the state is valid, else why not. */
static const char *
wf_check(LfWindowFunnelState *st)
{
	if (st->window < 0)
		return "The window is negative.";
	if (st->modes & ~WF_ALL_MODES)
		return "The set of modes names a mode that does not exist.";
	if ((st->modes & WF_ALLOW_REENTRY) && !(st->modes & WF_STRICT_ORDER))
		return "allow_reentry requires strict_order.";
	if ((st->modes & WF_SKIP_ALLOWED) && st->modes != WF_SKIP_ALLOWED)
		return "skip_allowed combines with no other mode.";
	if (st->last > LF_STAGE_WON)
		return "The last step must be an open stage or won.";
	for (int i = 0; i < st->n; i++)
	{
		const WfEvent *e = &st->events[i];

		if (e->stage < 0 || e->stage >= LF_NUM_STAGES)
			return "An event names a stage that does not exist.";
		if (TIMESTAMP_NOT_FINITE(e->at) || !IS_VALID_TIMESTAMP(e->at))
			return "A time is out of range.";
		if (!wf_keeps(st, e->stage))
			return "An event's stage is no step of the funnel and the mode is not strict_order.";
		if (st->modes & WF_SKIP_ALLOWED)
			for (int j = 0; j < i; j++)
				if (st->events[j].stage == e->stage)
					return "A skip_allowed state holds one time per stage.";
	}
	return NULL;
}

/* Appends an event read from text, growing the state; returns it. */
static LfWindowFunnelState *
wf_push(LfWindowFunnelState *st, int stage, TimestampTz at)
{
	if (st->n >= WF_MAX_EVENTS)
		wf_alloc(WF_MAX_EVENTS + 1);	/* the limit's error */
	if (st->n >= WF_CAPACITY(st))
		st = wf_grow(st, st->n + 1);
	st->events[st->n].at = at;
	st->events[st->n].stage = stage;
	st->n++;
	return st;
}

static void
wf_set_sorted(LfWindowFunnelState *st)
{
	st->sorted = true;
	for (int i = 1; i < st->n && st->sorted; i++)
		if (wf_cmp(&st->events[i - 1], &st->events[i], st->last) > 0)
			st->sorted = false;
}

PG_FUNCTION_INFO_V1(lf_window_funnel_state_in);
Datum
lf_window_funnel_state_in(PG_FUNCTION_ARGS)
{
	LfTextReader r;
	LfWindowFunnelState *st;
	const char *problem;
	int64		window;

	lf_text_init(&r, WF_TYPNAME, PG_GETARG_CSTRING(0));
	lf_text_expect(&r, "{window:");
	window = lf_text_int64(&r);
	if (lf_text_accept(&r, ",mode:"))
	{
		const char *start = r.p;
		uint8		modes = 0;

		if (!lf_text_accept(&r, "default"))
			do
			{
				bool		found = false;

				start = r.p;
				for (int i = 0; i < lengthof(wf_modes) && !found; i++)
					if (lf_text_accept(&r, wf_modes[i].name) && (*r.p == '+' || *r.p == ','))
					{
						if (modes & wf_modes[i].bit)
							lf_text_error(&r, "A mode is listed twice.");
						modes |= wf_modes[i].bit;
						found = true;
					}
					else
						r.p = start;
				if (!found)
					lf_text_error(&r, psprintf("Expected a mode of window_funnel at position %d.",
											   (int) (start - r.input) + 1));
			} while (lf_text_accept(&r, "+"));
		lf_text_expect(&r, ",until:");
		st = wf_new(window, modes, 0, 8);
		st->last = (uint8) lf_text_stage(&r);
		lf_text_expect(&r, ",events:[");
		if (!lf_text_accept(&r, "]"))
		{
			do
			{
				int			s = lf_text_stage(&r);

				lf_text_expect(&r, ":");
				st = wf_push(st, s, lf_text_int64(&r));
			} while (lf_text_accept(&r, ","));
			lf_text_expect(&r, "]");
		}
		lf_text_expect(&r, "}");
	}
	else
	{
		/* leadfunnel 0.2.0: earliest time per open-or-won stage, in stage order */
		int			prev = -1;

		st = wf_new(window, WF_SKIP_ALLOWED, LF_STAGE_WON, 8);
		while (lf_text_accept(&r, ","))
		{
			int			s = lf_text_stage(&r);

			if (s <= prev || s > LF_STAGE_WON)
				lf_text_error(&r, "Open-or-won stages must be listed once each, in the order of leadfunnel.lead_stage.");
			prev = s;
			lf_text_expect(&r, ":");
			st = wf_push(st, s, lf_text_int64(&r));
		}
		lf_text_expect(&r, "}");
	}
	lf_text_end(&r);
	if ((problem = wf_check(st)) != NULL)
		lf_text_error(&r, problem);
	wf_set_sorted(st);
	PG_RETURN_POINTER(st);
}

/*
 * Binary (version 2): version byte, window (int64), modes (byte), last step
 * (byte), number of events (int32), per event time (int64) and stage (byte),
 * in (time, step) order.  Version 1 (0.2.0): window (int64), mask of stages
 * (int16), one int64 per stage in the mask.
 */
PG_FUNCTION_INFO_V1(lf_window_funnel_state_send);
Datum
lf_window_funnel_state_send(PG_FUNCTION_ARGS)
{
	LfWindowFunnelState *st = DatumGetWindowFunnelState(PG_GETARG_DATUM(0));
	const WfEvent *ev = wf_sorted_events(st);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, WF_VERSION);
	pq_sendint64(&buf, st->window);
	pq_sendbyte(&buf, st->modes);
	pq_sendbyte(&buf, st->last);
	pq_sendint32(&buf, st->n);
	for (int i = 0; i < st->n; i++)
	{
		pq_sendint64(&buf, ev[i].at);
		pq_sendbyte(&buf, (uint8) ev[i].stage);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(lf_window_funnel_state_recv);
Datum
lf_window_funnel_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	LfWindowFunnelState *st;
	const char *problem;
	int			version;

	lf_binary_need(buf, 1, WF_TYPNAME);
	version = pq_getmsgbyte(buf);
	if (version == WF_VERSION)
	{
		int64		window;
		uint8		modes;
		int			n;

		lf_binary_need(buf, 8 + 1 + 1 + 4, WF_TYPNAME);
		window = pq_getmsgint64(buf);
		modes = (uint8) pq_getmsgbyte(buf);
		st = wf_new(window, modes, (uint8) pq_getmsgbyte(buf), 0);
		n = (int) pq_getmsgint(buf, 4);
		if (n < 0 || n > WF_MAX_EVENTS)
			lf_binary_error(WF_TYPNAME, "The number of events is out of range.");
		lf_binary_need(buf, n * 9, WF_TYPNAME);
		st = wf_grow(st, n);
		for (int i = 0; i < n; i++)
		{
			st->events[i].at = pq_getmsgint64(buf);
			st->events[i].stage = pq_getmsgbyte(buf);
		}
		st->n = n;
	}
	else if (version == WF_VERSION_0_2)
	{
		uint16		seen;

		lf_binary_need(buf, 8 + 2, WF_TYPNAME);
		st = wf_new(pq_getmsgint64(buf), WF_SKIP_ALLOWED, LF_STAGE_WON, LF_STAGE_WON + 1);
		seen = (uint16) pq_getmsgint(buf, 2);
		if (seen >> (LF_STAGE_WON + 1))
			lf_binary_error(WF_TYPNAME, "Only open stages and won have times.");
		for (int s = 0; s <= LF_STAGE_WON; s++)
			if (seen & (1 << s))
			{
				lf_binary_need(buf, 8, WF_TYPNAME);
				st->events[st->n].at = pq_getmsgint64(buf);
				st->events[st->n].stage = s;
				st->n++;
			}
	}
	else
		lf_binary_error(WF_TYPNAME, psprintf("Format version %d is not supported; this build reads versions 1 (leadfunnel 0.2.0) and 2.", version));
	lf_binary_end(buf, WF_TYPNAME);
	if ((problem = wf_check(st)) != NULL)
		lf_binary_error(WF_TYPNAME, problem);
	wf_set_sorted(st);
	PG_RETURN_POINTER(st);
}
