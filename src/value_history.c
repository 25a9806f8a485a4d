/*-------------------------------------------------------------------------
 *
 * value_history.c
 *	  The trigger that records changes of a lead's amount and expected close
 *	  date in the model's lead_value_history (95_pipeline.sql).
 *
 * lead_value_record() is an AFTER UPDATE OF amount, expected_close_date row
 * trigger (with a WHEN clause: only when a value changed); its one argument
 * names the value history table.  It reads the lead's last change and
 * appends a row, with two SPI statements prepared once per history table and
 * backend and kept (a relcache invalidation of the table drops them), so
 * that a loader's batch that changes the amounts of 100,000 leads plans no
 * statement per row.  On Citus the trigger fires on a shard of lead and
 * writes the co-located shard of the history (colocation.c).  It runs as the
 * role that updates the lead, as the history's append-only guard expects
 * (it lets inserts through from within a trigger, pg_trigger_depth() > 1).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"

#include "colocation.h"
#include "compat.h"
#include "invalidation.h"

typedef struct ValueTarget
{
	Oid			tgoid;			/* hash key: the trigger */
	bool		valid;
	Oid			lead_relid;
	Oid			history_relid;	/* the table written (a shard on a Citus worker) */
	AttrNumber	account_id;
	AttrNumber	lead_id;
	AttrNumber	amount;
	AttrNumber	expected_close_date;
	AttrNumber	stage_entered_at;
	SPIPlanPtr	last_change;
	SPIPlanPtr	append;
} ValueTarget;

static HTAB *value_targets = NULL;

static void
value_relcache_invalidate(Oid relid)
{
	HASH_SEQ_STATUS seq;
	ValueTarget *t;

	if (value_targets == NULL)
		return;
	hash_seq_init(&seq, value_targets);
	while ((t = hash_seq_search(&seq)) != NULL)
		if (relid == InvalidOid || relid == t->lead_relid || relid == t->history_relid)
			t->valid = false;
}

static AttrNumber
lead_column(Relation rel, const char *name)
{
	int			attnum = SPI_fnumber(RelationGetDescr(rel), name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("table \"%s\" has no column \"%s\"", RelationGetRelationName(rel), name),
				 errdetail("The value history trigger needs the lead table of a leadfunnel model.")));
	return attnum;
}

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "could not prepare value history statement: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/* The trigger's cached target and plans (SPI connected). */
static ValueTarget *
get_value_target(TriggerData *trigdata)
{
	Trigger    *trigger = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	ValueTarget *t;
	bool		found;
	Oid			logical;
	char	   *name;
	Oid			select_types[2] = {INT8OID, INT8OID};
	Oid			insert_types[7] = {INT8OID, INT8OID, TIMESTAMPTZOID, NUMERICOID, NUMERICOID, DATEOID, DATEOID};

	if (value_targets == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ValueTarget);
		ctl.hcxt = TopMemoryContext;
		value_targets = hash_create("leadfunnel value history triggers", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		lf_on_relcache_invalidation(value_relcache_invalidate);
	}
	t = hash_search(value_targets, &trigger->tgoid, HASH_ENTER, &found);
	if (found && t->valid)
		return t;
	if (found)
	{
		if (t->last_change)
			SPI_freeplan(t->last_change);
		if (t->append)
			SPI_freeplan(t->append);
	}
	t->last_change = NULL;
	t->append = NULL;
	t->valid = false;

	t->lead_relid = RelationGetRelid(rel);
	t->account_id = lead_column(rel, "account_id");
	t->lead_id = lead_column(rel, "lead_id");
	t->amount = lead_column(rel, "amount");
	t->expected_close_date = lead_column(rel, "expected_close_date");
	t->stage_entered_at = lead_column(rel, "stage_entered_at");
	logical = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(trigger->tgargs[0], NULL)),
							   AccessShareLock, false);
	t->history_relid = lf_colocated_relid(rel, logical);
	name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(t->history_relid)),
									  get_rel_name(t->history_relid));
	t->last_change = prepare_kept(psprintf("SELECT pg_catalog.max(changed_at) FROM %s"
										   " WHERE account_id OPERATOR(pg_catalog.=) $1"
										   " AND lead_id OPERATOR(pg_catalog.=) $2", name),
								  2, select_types);
	t->append = prepare_kept(psprintf("INSERT INTO %s (account_id, lead_id, changed_at, old_amount, new_amount,"
									  " old_expected_close_date, new_expected_close_date)"
									  " VALUES ($1, $2, $3, $4, $5, $6, $7)", name),
							 7, insert_types);
	t->valid = true;
	return t;
}

/*
 * AFTER UPDATE OF amount, expected_close_date row trigger on a model's lead
 * (argument: its lead_value_history): appends the old and new amount and
 * expected close date, dated by the move's effective time when the same
 * UPDATE moves the stage, else by now(); never before the lead's previous
 * change.
 */
PG_FUNCTION_INFO_V1(lf_lead_value_record);
Datum
lf_lead_value_record(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	oldtup;
	HeapTuple	newtup;
	TupleDesc	desc;
	ValueTarget *t;
	Datum		values[7];
	char		nulls[7];
	bool		old_null,
				new_null,
				at_null,
				isnull;
	Datum		old_entered,
				new_entered;
	TimestampTz at;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || !TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		trigdata->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"lead_value_record\" must be fired AFTER UPDATE FOR EACH ROW with the value history table as argument")));
	oldtup = trigdata->tg_trigtuple;
	newtup = trigdata->tg_newtuple;
	desc = RelationGetDescr(trigdata->tg_relation);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	t = get_value_target(trigdata);

	/* a change made by the UPDATE that moves the lead takes the move's time */
	old_entered = heap_getattr(oldtup, t->stage_entered_at, desc, &old_null);
	new_entered = heap_getattr(newtup, t->stage_entered_at, desc, &new_null);
	at_null = false;
	if (old_null != new_null ||
		(!new_null && DatumGetTimestampTz(old_entered) != DatumGetTimestampTz(new_entered)))
	{
		at_null = new_null;
		at = new_null ? 0 : DatumGetTimestampTz(new_entered);
	}
	else
		at = GetCurrentTransactionStartTimestamp();

	values[0] = heap_getattr(newtup, t->account_id, desc, &isnull);
	nulls[0] = isnull ? 'n' : ' ';
	values[1] = heap_getattr(newtup, t->lead_id, desc, &isnull);
	nulls[1] = isnull ? 'n' : ' ';
	if (SPI_execute_plan(t->last_change, values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the last value change");
	if (SPI_processed == 1)
	{
		Datum		last = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		/* greatest(at, last), NULLs ignored: never before the lead's previous change */
		if (!isnull && (at_null || DatumGetTimestampTz(last) > at))
		{
			at = DatumGetTimestampTz(last);
			at_null = false;
		}
	}
	values[2] = TimestampTzGetDatum(at);
	nulls[2] = at_null ? 'n' : ' ';
	values[3] = heap_getattr(oldtup, t->amount, desc, &isnull);
	nulls[3] = isnull ? 'n' : ' ';
	values[4] = heap_getattr(newtup, t->amount, desc, &isnull);
	nulls[4] = isnull ? 'n' : ' ';
	values[5] = heap_getattr(oldtup, t->expected_close_date, desc, &isnull);
	nulls[5] = isnull ? 'n' : ' ';
	values[6] = heap_getattr(newtup, t->expected_close_date, desc, &isnull);
	nulls[6] = isnull ? 'n' : ' ';
	if (SPI_execute_plan(t->append, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not append to the value history");
	SPI_finish();
	return PointerGetDatum(NULL);
}
