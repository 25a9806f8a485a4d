/*-------------------------------------------------------------------------
 *
 * history.c
 *	  import_history() and correct_history(): the two ways to rewrite a
 *	  span of a model's bitemporal stage history.
 *
 * Both are thin C entry points around SQL (src/sql/35_history.sql): they
 * check the caller's privileges, read an import's source as the caller, and
 * then run the merge as the owner of the model's lead table -- as the
 * transition trigger writes the history as that owner -- with the rewrite
 * flag of transition.c raised.  While it is raised the history's append-only
 * guard lets the merge's writes through and the lead table's transition
 * triggers neither validate nor record (the merge validates the moves
 * set-based and flags those the funnel rules refuse), and the lifecycle's
 * per-row lead trigger stands aside (the merge re-derives the lifecycle of
 * the accounts concerned once).  The flag is backend-local, raised only
 * here, and put back however the merge ends.
 *
 * history_merge_walk() is the one pass of the merge over each lead's rows in
 * merge order (src/sql/35_history.sql says which order and why): which rows
 * are dropped, and each one's seq, from_stage and left_at, and the lead's
 * first entry and highest stage up to won.  Window functions computed the
 * same in four passes over the sorted rows, each keeping a lead's rows.
 *
 * Privileges: EXECUTE on the function (revoked from PUBLIC; the DBA grants
 * it to the roles that may rewrite history) and UPDATE on the model's lead
 * table (INSERT too for an import that creates leads), so a role that may
 * import into one model cannot rewrite another.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "vocabulary.h"
#include "transition.h"

/* local buffers for an import's temporary tables (see lf_import_history) */
#define IMPORT_TEMP_BUFFERS_MB 256
#define IMPORT_TEMP_BUFFERS (IMPORT_TEMP_BUFFERS_MB * 1024L * 1024L)

/* The model's lead table; model_schema() raises the errors of a bad schema. */
static Oid
model_lead_table(Datum target_schema, bool isnull)
{
	Oid			argtypes[1] = {NAMEOID};
	Datum		values[1] = {target_schema};
	char		nulls[1] = {isnull ? 'n' : ' '};
	Oid			nsp;

	if (SPI_execute_with_args("SELECT " LF_SCHEMA ".model_schema($1)", 1, argtypes, values, nulls,
							  true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not check the model schema");
	nsp = get_namespace_oid(NameStr(*DatumGetName(target_schema)), false);
	return get_relname_relid("lead", nsp);
}

static Oid
rel_owner(Oid relid)
{
	HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tp))->relowner;
	ReleaseSysCache(tp);
	return owner;
}

static void
require_privilege(Oid lead_relid, const char *fn, Name target_schema)
{
	if (pg_class_aclcheck(lead_relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to rewrite the history of model \"%s\"", NameStr(*target_schema)),
				 errdetail("%s needs UPDATE on table %s.", fn,
						   quote_qualified_identifier(NameStr(*target_schema), "lead")),
				 errhint("The model's owner grants it: GRANT UPDATE ON %s TO %s;",
						 quote_qualified_identifier(NameStr(*target_schema), "lead"),
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

/*
 * Run one SQL statement of the merge as the model's owner with the rewrite
 * flag raised; returns its one row (copied out of SPI).
 */
static HeapTuple
run_rewrite(Oid owner, const char *sql, int nargs, Oid *argtypes, Datum *values, char *nulls,
			TupleDesc *desc)
{
	Oid			save_userid;
	int			save_sec_context;
	bool		save_rewrite = lf_history_rewrite;
	HeapTuple	result = NULL;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	lf_history_rewrite = true;
	PG_TRY();
	{
		if (SPI_execute_with_args(sql, nargs, argtypes, values, nulls, false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "history merge returned no row");
		result = SPI_copytuple(SPI_tuptable->vals[0]);
		*desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
	}
	PG_FINALLY();
	{
		lf_history_rewrite = save_rewrite;
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	return result;
}

static int64
get_int8_col(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, col, desc, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * import_history(target_schema name, source regclass,
 *				  OUT rows_read, OUT loaded, OUT duplicates, OUT flagged, OUT rejected)
 */
PG_FUNCTION_INFO_V1(lf_import_history);
Datum
lf_import_history(PG_FUNCTION_ARGS)
{
	Oid			lead_relid;
	Oid			owner;
	TupleDesc	result_desc;
	TupleDesc	desc;
	HeapTuple	tup;
	int64		rows_read;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	MemoryContext callcxt = CurrentMemoryContext;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source of import_history must not be null"),
				 errhint("Pass a table or view with columns lead_id, stage and changed_at.")));
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	SPI_connect();
	lead_relid = model_lead_table(PG_GETARG_DATUM(0), PG_ARGISNULL(0));
	require_privilege(lead_relid, "import_history", PG_GETARG_NAME(0));
	owner = rel_owner(lead_relid);

	/*
	 * The import's working tables are temporary; a large import's outgrow the
	 * default 8MB of local buffers many times over, and each page is then
	 * written to and read back from the kernel.  While the session has not
	 * used a temporary table yet (only then may temp_buffers change), it is
	 * raised to IMPORT_TEMP_BUFFERS for this transaction; the buffers are
	 * allocated as they are used and kept by the session.
	 */
	if (NLocBuffer == 0 && num_temp_buffers < IMPORT_TEMP_BUFFERS / BLCKSZ)
		(void) set_config_option("temp_buffers", CppAsString2(IMPORT_TEMP_BUFFERS_MB) "MB",
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, WARNING, false);

	/* the source, read as the caller */
	{
		Oid			argtypes[2] = {REGCLASSOID, NAMEOID};
		Datum		args[2] = {PG_GETARG_DATUM(1), CStringGetDatum(GetUserNameFromId(owner, false))};
		bool		isnull;

		args[1] = DirectFunctionCall1(namein, args[1]);
		if (SPI_execute_with_args("SELECT " LF_SCHEMA ".import_history_read($1, $2)", 2, argtypes, args,
								  NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read the import source");
		rows_read = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}

	/* the rest as the model's owner */
	{
		Oid			argtypes[3] = {NAMEOID, REGCLASSOID, NAMEOID};
		Datum		args[3];

		args[0] = PG_GETARG_DATUM(0);
		args[1] = PG_GETARG_DATUM(1);
		args[2] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
		tup = run_rewrite(owner, "SELECT * FROM " LF_SCHEMA ".import_history_load($1, $2, $3)",
						  3, argtypes, args, NULL, &desc);
	}
	values[0] = Int64GetDatum(rows_read);
	for (int i = 0; i < 4; i++)
		values[i + 1] = Int64GetDatum(get_int8_col(tup, desc, i + 1));
	SPI_execute("DROP TABLE IF EXISTS pg_temp.lf_import_source", false, 0);
	SPI_finish();

	MemoryContextSwitchTo(callcxt);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(result_desc), values, nulls)));
}

/*
 * correct_history(target_schema name, lead_id bigint, moves stage_move[], reason text) returns bigint
 */
PG_FUNCTION_INFO_V1(lf_correct_history);
Datum
lf_correct_history(PG_FUNCTION_ARGS)
{
	Oid			lead_relid;
	Oid			owner;
	TupleDesc	desc;
	HeapTuple	tup;
	int64		superseded;
	Oid			argtypes[5] = {NAMEOID, INT8OID, get_fn_expr_argtype(fcinfo->flinfo, 2), TEXTOID, NAMEOID};
	Datum		args[5];
	char		nulls[5];

	SPI_connect();
	lead_relid = model_lead_table(PG_GETARG_DATUM(0), PG_ARGISNULL(0));
	require_privilege(lead_relid, "correct_history", PG_GETARG_NAME(0));
	owner = rel_owner(lead_relid);

	for (int i = 0; i < 4; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	nulls[4] = ' ';
	args[4] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	tup = run_rewrite(owner, "SELECT " LF_SCHEMA ".correct_history_apply($1, $2, $3, $4, $5)",
					  5, argtypes, args, nulls, &desc);
	superseded = get_int8_col(tup, desc, 1);
	SPI_finish();
	PG_RETURN_INT64(superseded);
}

/*
 * history_merge_walk(rows_query text) returns setof record: walks the rows
 * of rows_query -- the merged history of the leads, ordered by lead_id and
 * then in merge order, with the columns WALK_IN_COLS below -- one lead at a
 * time and returns each row with, appended:
 *   dropped     it enters the stage the row before it entered (no move);
 *   seq         the rows not dropped so far, itself included;
 *   from_stage  the stage of the row before it (NULL for the first);
 *   left_at     the entered_at of the next row not dropped (NULL: none);
 *   first_at    the earliest entered_at of the lead's rows not dropped;
 *   max_stage   the highest stage up to won of those rows (NULL: none).
 * Only within import_history() or correct_history().
 */
#define WALK_IN_COLS 14			/* lead_id, account_id, funnel, to_stage,
								 * entered_at, kind, old_seq, given, old_from,
								 * old_left, changed_by, reason, old_flag, rn */
#define WALK_OUT_COLS (WALK_IN_COLS + 6)
#define WALK_BATCH 10000

typedef struct WalkRow
{
	Datum		values[WALK_OUT_COLS];
	bool		nulls[WALK_OUT_COLS];
} WalkRow;

/* The computed columns of one lead's rows, then the rows into ts. */
static void
walk_lead(Tuplestorestate *ts, TupleDesc outdesc, WalkRow *rows, int n)
{
	int64		seq = 0;
	int			max_stage = -1;
	bool		have_first = false;
	TimestampTz first_at = 0;
	bool		have_next = false;
	TimestampTz next_at = 0;

	for (int i = 0; i < n; i++)
	{
		WalkRow    *r = &rows[i];
		bool		dropped;

		/* to_stage IS NOT DISTINCT FROM the row before's */
		dropped = i > 0 && r->nulls[3] == rows[i - 1].nulls[3] &&
			(r->nulls[3] || DatumGetObjectId(r->values[3]) == DatumGetObjectId(rows[i - 1].values[3]));
		r->values[WALK_IN_COLS] = BoolGetDatum(dropped);
		r->nulls[WALK_IN_COLS] = false;
		if (!dropped)
		{
			seq++;
			if (!r->nulls[4] && (!have_first || DatumGetTimestampTz(r->values[4]) < first_at))
			{
				first_at = DatumGetTimestampTz(r->values[4]);
				have_first = true;
			}
			if (!r->nulls[3])
			{
				int			st = lf_stage_from_oid(DatumGetObjectId(r->values[3]));

				if (st <= LF_STAGE_WON && st > max_stage)
					max_stage = st;
			}
		}
		r->values[WALK_IN_COLS + 1] = Int64GetDatum(seq);
		r->nulls[WALK_IN_COLS + 1] = false;
		r->values[WALK_IN_COLS + 2] = i > 0 ? rows[i - 1].values[3] : (Datum) 0;
		r->nulls[WALK_IN_COLS + 2] = i == 0 || rows[i - 1].nulls[3];
	}
	/* left_at: the earliest entered_at of the rows not dropped after it */
	for (int i = n - 1; i >= 0; i--)
	{
		WalkRow    *r = &rows[i];

		r->values[WALK_IN_COLS + 3] = TimestampTzGetDatum(next_at);
		r->nulls[WALK_IN_COLS + 3] = !have_next;
		if (!DatumGetBool(r->values[WALK_IN_COLS]) && !r->nulls[4] &&
			(!have_next || DatumGetTimestampTz(r->values[4]) < next_at))
		{
			next_at = DatumGetTimestampTz(r->values[4]);
			have_next = true;
		}
	}
	for (int i = 0; i < n; i++)
	{
		WalkRow    *r = &rows[i];

		r->values[WALK_IN_COLS + 4] = TimestampTzGetDatum(first_at);
		r->nulls[WALK_IN_COLS + 4] = !have_first;
		r->values[WALK_IN_COLS + 5] = max_stage >= 0 ? ObjectIdGetDatum(lf_stage_to_oid(max_stage)) : (Datum) 0;
		r->nulls[WALK_IN_COLS + 5] = max_stage < 0;
		tuplestore_putvalues(ts, outdesc, r->values, r->nulls);
	}
}

PG_FUNCTION_INFO_V1(lf_history_merge_walk);
Datum
lf_history_merge_walk(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Tuplestorestate *ts;
	TupleDesc	outdesc;
	MemoryContext leadcxt;
	Portal		portal;
	WalkRow    *rows;
	int			nrows = 0;
	int			maxrows = 16;
	int64		lead = 0;

	if (!lf_history_rewrite)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("function \"%s\" can only run within import_history() or correct_history()",
						"history_merge_walk"),
				 errhint("Call leadfunnel.import_history() or leadfunnel.correct_history().")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument of history_merge_walk must not be null")));
	InitMaterializedSRF(fcinfo, 0);
	ts = rsinfo->setResult;
	outdesc = rsinfo->setDesc;
	if (outdesc->natts != WALK_OUT_COLS)
		elog(ERROR, "history_merge_walk must return %d columns", WALK_OUT_COLS);

	/* a lead's rows, their values copied, live until the next lead */
	leadcxt = AllocSetContextCreate(CurrentMemoryContext, "history_merge_walk lead", ALLOCSET_DEFAULT_SIZES);
	rows = palloc(sizeof(WalkRow) * maxrows);

	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL, text_to_cstring(PG_GETARG_TEXT_PP(0)), 0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		TupleDesc	indesc;

		SPI_cursor_fetch(portal, true, WALK_BATCH);
		if (SPI_processed == 0)
			break;
		indesc = SPI_tuptable->tupdesc;
		if (indesc->natts != WALK_IN_COLS)
			elog(ERROR, "the rows to walk must have %d columns", WALK_IN_COLS);
		for (int i = 0; i < WALK_IN_COLS; i++)
			if (TupleDescAttr(indesc, i)->atttypid != TupleDescAttr(outdesc, i)->atttypid)
				elog(ERROR, "column %d of the rows to walk does not match the result", i + 1);
		for (uint64 t = 0; t < SPI_processed; t++)
		{
			HeapTuple	tup = SPI_tuptable->vals[t];
			WalkRow    *r;
			bool		isnull;
			int64		lead_id = DatumGetInt64(SPI_getbinval(tup, indesc, 1, &isnull));

			if (isnull)
				elog(ERROR, "a row to walk has no lead_id");
			if (nrows > 0 && lead_id != lead)
			{
				walk_lead(ts, outdesc, rows, nrows);
				MemoryContextReset(leadcxt);
				nrows = 0;
			}
			lead = lead_id;
			if (nrows == maxrows)
			{
				maxrows *= 2;
				rows = repalloc(rows, sizeof(WalkRow) * maxrows);
			}
			r = &rows[nrows++];
			for (int i = 0; i < WALK_IN_COLS; i++)
			{
				Form_pg_attribute att = TupleDescAttr(indesc, i);
				Datum		d = SPI_getbinval(tup, indesc, i + 1, &r->nulls[i]);

				if (r->nulls[i] || att->attbyval)
					r->values[i] = d;
				else
				{
					MemoryContext oldcxt = MemoryContextSwitchTo(leadcxt);

					r->values[i] = datumCopy(d, false, att->attlen);
					MemoryContextSwitchTo(oldcxt);
				}
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	if (nrows > 0)
		walk_lead(ts, outdesc, rows, nrows);
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextDelete(leadcxt);
	return (Datum) 0;
}
