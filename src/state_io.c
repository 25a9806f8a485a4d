/*-------------------------------------------------------------------------
 *
 * state_io.c
 *	  What every state type of the analytic aggregates shares (see
 *	  state_io.h): the checked readers of their text and binary forms, the
 *	  version of those forms, durations as microseconds, the state to update
 *	  in place or copy, and final results that are arrays of rows.  Used by
 *	  aggregates.c (funnel_reach, window_funnel), sketch.c (cycle_time) and
 *	  attribution.c (attribution_totals).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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

int64
lf_interval_usec(const Interval *iv)
{
	int128		span = (int128) iv->month * (DAYS_PER_MONTH * USECS_PER_DAY)
		+ (int128) iv->day * USECS_PER_DAY + iv->time;

	if (span > PG_INT64_MAX || span < PG_INT64_MIN)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range for leadfunnel aggregates"),
				 errdetail("Durations are counted in microseconds (a month as 30 days) and must fit in 64 bits.")));
	return (int64) span;
}

Interval *
lf_usec_interval(int64 usec)
{
	Interval   *iv = palloc(sizeof(Interval));

	iv->month = 0;
	iv->day = (int32) (usec / USECS_PER_DAY);
	iv->time = usec % USECS_PER_DAY;
	return iv;
}

bool
lf_in_aggregate(FunctionCallInfo fcinfo)
{
	return AggCheckCallContext(fcinfo, NULL) != 0;
}

/*
 * The row type of the array a final function returns, as a blessed tuple
 * descriptor.  Citus's coordinator calls final functions without a call
 * expression (coord_combine_agg), so the declared result type of the
 * function stands in for the expression's.
 */
TupleDesc
lf_result_row_desc(FunctionCallInfo fcinfo, Oid *rowtype)
{
	Oid			arraytype = get_fn_expr_rettype(fcinfo->flinfo);

	if (!OidIsValid(arraytype))
		arraytype = get_func_rettype(fcinfo->flinfo->fn_oid);
	*rowtype = OidIsValid(arraytype) ? get_element_type(arraytype) : InvalidOid;
	if (!OidIsValid(*rowtype))
		elog(ERROR, "function %u does not return an array of rows", fcinfo->flinfo->fn_oid);
	return BlessTupleDesc(lookup_rowtype_tupdesc_copy(*rowtype, -1));
}

Datum
lf_row_array(Datum *rows, int n, Oid rowtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(rowtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_array(rows, n, rowtype, typlen, typbyval, typalign));
}

struct varlena *
lf_mutable_state(FunctionCallInfo fcinfo)
{
	struct varlena *st = PG_DETOAST_DATUM(PG_GETARG_DATUM(0));

	/* a detoasted value is already a copy */
	if (st == (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(0)) && !lf_in_aggregate(fcinfo))
		st = pg_detoast_datum_copy(st);
	return st;
}

void
lf_text_begin(StringInfo buf)
{
	initStringInfo(buf);
	appendStringInfoString(buf, LF_STATE_VERSION_TEXT);
}

void
lf_binary_begin(StringInfo buf)
{
	pq_begintypsend(buf);
	pq_sendbyte(buf, LF_STATE_VERSION);
}

void
lf_text_init(LfTextReader *r, const char *typname, const char *input)
{
	r->typname = typname;
	r->input = input;
	r->p = input;
}

void
lf_text_error(LfTextReader *r, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", r->typname, r->input),
			 errdetail("%s", detail),
			 errhint("Use a value produced by the type's output function.")));
}

bool
lf_text_accept(LfTextReader *r, const char *literal)
{
	size_t		n = strlen(literal);

	if (strncmp(r->p, literal, n) != 0)
		return false;
	r->p += n;
	return true;
}

void
lf_text_expect(LfTextReader *r, const char *literal)
{
	if (!lf_text_accept(r, literal))
	{
		char	   *detail = psprintf("Expected \"%s\" at position %d.", literal,
									  (int) (r->p - r->input) + 1);

		lf_text_error(r, detail);
	}
}

/* An optionally signed decimal integer of at most 39 digits, as int128. */
static int128
text_integer(LfTextReader *r, int128 limit)
{
	bool		neg = false;
	int128		v = 0;
	int			digits = 0;

	if (*r->p == '-')
	{
		neg = true;
		r->p++;
	}
	while (isdigit((unsigned char) *r->p))
	{
		if (v > (limit - (*r->p - '0')) / 10)
			lf_text_error(r, "A number is out of range.");
		v = v * 10 + (*r->p - '0');
		r->p++;
		digits++;
	}
	if (digits == 0)
	{
		char	   *detail = psprintf("Expected a number at position %d.", (int) (r->p - r->input) + 1);

		lf_text_error(r, detail);
	}
	return neg ? -v : v;
}

int64
lf_text_int64(LfTextReader *r)
{
	return (int64) text_integer(r, (int128) PG_INT64_MAX);
}

int128
lf_text_int128(LfTextReader *r)
{
	/* 2^127 - 1 */
	return text_integer(r, (int128) (~(uint128) 0 >> 1));
}

void
lf_text_end(LfTextReader *r)
{
	if (*r->p != '\0')
	{
		char	   *detail = psprintf("Unexpected \"%c\" at position %d.", *r->p, (int) (r->p - r->input) + 1);

		lf_text_error(r, detail);
	}
}

void
lf_append_int128(StringInfo buf, int128 v)
{
	char		digits[48];
	int			n = 0;
	uint128		u = v < 0 ? -(uint128) v : (uint128) v;

	do
	{
		digits[n++] = '0' + (int) (u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		appendStringInfoChar(buf, '-');
	while (n > 0)
		appendStringInfoChar(buf, digits[--n]);
}

void
lf_binary_error(const char *typname, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary value for type %s", typname),
			 errdetail("%s", detail)));
}

void
lf_binary_need(StringInfo buf, int nbytes, const char *typname)
{
	if (nbytes < 0 || buf->len - buf->cursor < nbytes)
		lf_binary_error(typname, "The value is truncated.");
}

void
lf_binary_version(StringInfo buf, const char *typname)
{
	int			version;

	lf_binary_need(buf, 1, typname);
	version = pq_getmsgbyte(buf);
	if (version != LF_STATE_VERSION)
	{
		char	   *detail = psprintf("Format version %d is not supported; this build reads version %d.",
									  version, LF_STATE_VERSION);

		lf_binary_error(typname, detail);
	}
}

void
lf_binary_end(StringInfo buf, const char *typname)
{
	if (buf->cursor != buf->len)
		lf_binary_error(typname, "The value has trailing bytes.");
}

/* Stage ordinal of a label name, or -1. */
static int
stage_by_name(const char *name, size_t len)
{
	for (int s = 0; s < LF_NUM_STAGES; s++)
		if (strlen(lf_stage_names[s]) == len && strncmp(lf_stage_names[s], name, len) == 0)
			return s;
	return -1;
}

int
lf_text_stage(LfTextReader *r)
{
	const char *start = r->p;
	int			s;

	while (*r->p >= 'a' && *r->p <= 'z')
		r->p++;
	s = stage_by_name(start, r->p - start);
	if (s < 0)
	{
		char	   *detail = psprintf("Expected a stage label of leadfunnel.lead_stage at position %d.",
									  (int) (start - r->input) + 1);

		lf_text_error(r, detail);
	}
	return s;
}
