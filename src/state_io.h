/*-------------------------------------------------------------------------
 *
 * state_io.h
 *	  What every state type of the analytic aggregates shares (state_io.c;
 *	  used by aggregates.c: funnel_reach and window_funnel, sketch.c:
 *	  cycle_time, attribution.c: attribution_totals): durations as
 *	  microseconds, the checked readers of the text and binary forms of
 *	  their states, versioned headers, and row-array results.
 *
 * The state types are real varlena types, not internal, so that Citus can
 * push partial aggregation to its workers and ship the states through the
 * types' output/input (text) and send/receive (binary) functions; users can
 * store them too.  Input and receive functions read untrusted bytes, so every
 * size, count and version is checked and a bad value is SQLSTATE 22P02 (text)
 * or 22P03 (binary), never a crash.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_STATE_IO_H
#define LEADFUNNEL_STATE_IO_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"

#include "compat.h"
#include "utils/timestamp.h"

#ifndef HAVE_INT128
#error "leadfunnel's aggregates need a 128-bit integer type"
#endif

/* Version byte of the binary forms of the state types (and "v1" in text). */
#define LF_STATE_VERSION 1
#define LF_STATE_VERSION_TEXT "v" CppAsString2(LF_STATE_VERSION)

/* Start the text form of a state with its version ("v1"). */
extern void lf_text_begin(StringInfo buf);
/* Start the binary form of a state (pq_begintypsend) with its version byte. */
extern void lf_binary_begin(StringInfo buf);

/*
 * An interval as microseconds, the way interval comparison linearizes it
 * (a month is 30 days, a day 24 hours), so the sketch orders values exactly
 * as ORDER BY and percentile_disc do.  Out of int64 range: SQLSTATE 22008.
 */
extern int64 lf_interval_usec(const Interval *iv);
/* Microseconds as an interval of days and time (months 0), as timestamp - timestamp gives. */
extern Interval *lf_usec_interval(int64 usec);

/* Whether the call comes from an aggregate or window aggregate (state may be updated in place). */
extern bool lf_in_aggregate(FunctionCallInfo fcinfo);

/*
 * Final functions that return an array of a composite type: the row type,
 * blessed, and the array of rows built from it.
 */
extern TupleDesc lf_result_row_desc(FunctionCallInfo fcinfo, Oid *rowtype);
extern Datum lf_row_array(Datum *rows, int n, Oid rowtype);
/*
 * The state (argument 0, not NULL) to update: in place inside an aggregate,
 * else a copy, so a direct call never changes its argument.
 */
extern struct varlena *lf_mutable_state(FunctionCallInfo fcinfo);

/*
 * Transition and combine functions are not strict: a NULL input (row or
 * state to merge) leaves the state (argument 0) as it is.
 */
#define LF_KEEP_STATE_IF(fcinfo, input_is_null) \
	do { \
		if (input_is_null) \
		{ \
			if (PG_ARGISNULL(0)) \
				PG_RETURN_NULL(); \
			PG_RETURN_DATUM(PG_GETARG_DATUM(0)); \
		} \
	} while (0)
#define LF_KEEP_STATE_IF_ARG1_NULL(fcinfo) LF_KEEP_STATE_IF(fcinfo, PG_ARGISNULL(1))

/* A cursor over the text form of a state; errors are 22P02 naming the type. */
typedef struct LfTextReader
{
	const char *typname;
	const char *input;			/* the whole string, for messages */
	const char *p;				/* next character */
} LfTextReader;

extern void lf_text_init(LfTextReader *r, const char *typname, const char *input);
extern pg_noreturn void lf_text_error(LfTextReader *r, const char *detail);
extern bool lf_text_accept(LfTextReader *r, const char *literal);
extern void lf_text_expect(LfTextReader *r, const char *literal);
extern int64 lf_text_int64(LfTextReader *r);
extern int128 lf_text_int128(LfTextReader *r);
extern void lf_text_end(LfTextReader *r);
/* Reads a stage label in a state's text form; returns its ordinal. */
extern int	lf_text_stage(LfTextReader *r);
/* Append an int128 in decimal. */
extern void lf_append_int128(StringInfo buf, int128 v);

/* Binary reading: each read checks that the bytes are there (22P03). */
extern pg_noreturn void lf_binary_error(const char *typname, const char *detail);
extern void lf_binary_need(StringInfo buf, int nbytes, const char *typname);
extern void lf_binary_version(StringInfo buf, const char *typname);
extern void lf_binary_end(StringInfo buf, const char *typname);

#endif							/* LEADFUNNEL_STATE_IO_H */
