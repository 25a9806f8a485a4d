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

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"

#include "colocation.h"
#include "compat.h"
#include "invalidation.h"
#include "transition.h"
#include "value_history.h"
#include "vocabulary.h"

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
	Oid			last_index;		/* btree (account_id, lead_id, changed_at, ...) of the
								 * history, or InvalidOid */
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

/*
 * The history's index that gives a lead's last change: a btree whose keys
 * start (account_id, lead_id, changed_at) (found by shape: on Citus a
 * shard's index carries a suffixed name).
 */
static Oid
find_last_index(Oid history_relid)
{
	Relation	hrel = table_open(history_relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(hrel);
	int			acc = SPI_fnumber(desc, "account_id");
	int			lead = SPI_fnumber(desc, "lead_id");
	int			chg = SPI_fnumber(desc, "changed_at");
	List	   *indexes = RelationGetIndexList(hrel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		int2vector *keys = &idx->rd_index->indkey;

		if (idx->rd_rel->relam == BTREE_AM_OID && idx->rd_index->indnkeyatts >= 3 &&
			RelationGetIndexPredicate(idx) == NIL &&
			keys->values[0] == acc && keys->values[1] == lead && keys->values[2] == chg &&
			(idx->rd_indoption[2] & INDOPTION_DESC) == 0)
			found = lfirst_oid(lc);
		index_close(idx, AccessShareLock);
		if (OidIsValid(found))
			break;
	}
	list_free(indexes);
	table_close(hrel, AccessShareLock);
	return found;
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
	t->last_index = find_last_index(t->history_relid);
	t->valid = true;
	return t;
}

/*
 * The changes lead_value_record() kept while the sync of a tracked table
 * updated leads in one statement (lf_tracking_batch_update, transition.h),
 * in the memory of that batch; lf_value_record_updated_leads() writes them.
 */
typedef struct KeptValue
{
	int64		account_id;
	int64		lead_id;
	bool		at_null;
	TimestampTz at;				/* before the lead's last change is considered */
	Datum		values[4];		/* old and new amount, old and new expected close date */
	bool		nulls[4];
} KeptValue;

static KeptValue *kept = NULL;
static int	nkept = 0;
static int	maxkept = 0;
static Oid	kept_tgoid = InvalidOid;

/* the lead table's columns keep_value() reads, found by name once per batch (one trigger per batch) */
enum
{
	KEPT_ACCOUNT_ID, KEPT_LEAD_ID, KEPT_STAGE_ENTERED_AT, KEPT_AMOUNT, KEPT_CLOSE_DATE, KEPT_NCOLS
};
static AttrNumber kept_cols[KEPT_NCOLS];

/* the batch's memory is gone: forget what it held */
static void
kept_reset(void *arg)
{
	kept = NULL;
	nkept = maxkept = 0;
	kept_tgoid = InvalidOid;
}

/*
 * When a change takes effect before the lead's last change is considered:
 * the time of the stage move made by the same UPDATE, else now().
 */
static TimestampTz
change_time(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, AttrNumber stage_entered_at, bool *at_null)
{
	bool		old_null,
				new_null;
	Datum		old_entered = heap_getattr(oldtup, stage_entered_at, desc, &old_null);
	Datum		new_entered = heap_getattr(newtup, stage_entered_at, desc, &new_null);

	*at_null = false;
	if (old_null != new_null ||
		(!new_null && DatumGetTimestampTz(old_entered) != DatumGetTimestampTz(new_entered)))
	{
		*at_null = new_null;
		return new_null ? 0 : DatumGetTimestampTz(new_entered);
	}
	return GetCurrentTransactionStartTimestamp();
}

static void
keep_value(TriggerData *trigdata)
{
	HeapTuple	oldtup = trigdata->tg_trigtuple;
	HeapTuple	newtup = trigdata->tg_newtuple;
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext cxt = lf_batch_update_context();
	MemoryContext oldcxt;
	KeptValue  *k;
	bool		isnull;
	AttrNumber	cols[4];

	oldcxt = MemoryContextSwitchTo(cxt);
	if (kept == NULL)
	{
		MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

		cb->func = kept_reset;
		MemoryContextRegisterResetCallback(cxt, cb);
		kept_cols[KEPT_ACCOUNT_ID] = lead_column(rel, "account_id");
		kept_cols[KEPT_LEAD_ID] = lead_column(rel, "lead_id");
		kept_cols[KEPT_STAGE_ENTERED_AT] = lead_column(rel, "stage_entered_at");
		kept_cols[KEPT_AMOUNT] = lead_column(rel, "amount");
		kept_cols[KEPT_CLOSE_DATE] = lead_column(rel, "expected_close_date");
	}
	cols[0] = cols[1] = kept_cols[KEPT_AMOUNT];
	cols[2] = cols[3] = kept_cols[KEPT_CLOSE_DATE];
	if (nkept == maxkept)
	{
		maxkept = maxkept == 0 ? 1024 : maxkept * 2;
		kept = kept == NULL ? palloc(sizeof(KeptValue) * maxkept)
			: repalloc_huge(kept, sizeof(KeptValue) * maxkept);
	}
	kept_tgoid = trigdata->tg_trigger->tgoid;
	k = &kept[nkept++];
	k->account_id = DatumGetInt64(heap_getattr(newtup, kept_cols[KEPT_ACCOUNT_ID], desc, &isnull));
	k->lead_id = DatumGetInt64(heap_getattr(newtup, kept_cols[KEPT_LEAD_ID], desc, &isnull));
	k->at = change_time(oldtup, newtup, desc, kept_cols[KEPT_STAGE_ENTERED_AT], &k->at_null);
	for (int i = 0; i < 4; i++)
	{
		Datum		d = heap_getattr(i % 2 == 0 ? oldtup : newtup, cols[i], desc, &k->nulls[i]);
		Form_pg_attribute att = TupleDescAttr(desc, cols[i] - 1);

		k->values[i] = k->nulls[i] ? (Datum) 0 : datumCopy(d, att->attbyval, att->attlen);
	}
	MemoryContextSwitchTo(oldcxt);
}

static AttrNumber
history_column(TupleDesc desc, const char *name)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("the value history has no column \"%s\"", name),
				 errdetail("The value history trigger needs the lead_value_history of a leadfunnel model.")));
	return attnum;
}

/*
 * The value history rows of the leads the sync updated in one statement
 * with lf_tracking_batch_update set, which lead_value_record() kept: the
 * rows it would have written (each dated as it dates them, never before the
 * lead's previous change), appended through one executor state, without
 * the append-only guard and the foreign-key check -- the leads are the rows
 * just updated, locked by this transaction -- and without a statement
 * planned and run per row.  SPI connected; run as the role that updated the
 * leads (changed_by), as the trigger does.
 */
void
lf_value_record_updated_leads(Relation rel)
{
	TriggerData td;
	ValueTarget *t;
	LfRowWriter *rw;
	Relation	hrel;
	TupleDesc	hdesc;
	TupleTableSlot *slot;
	TupleTableSlot *scan_slot;
	AttrNumber	c_account,
				c_lead,
				c_changed_at,
				c_recorded_at,
				c_changed_by,
				c_vals[4];
	NameData	changed_by;
	Oid			guard;

	if (nkept == 0)
		return;
	memset(&td, 0, sizeof(td));
	for (int i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers; i++)
		if (rel->trigdesc->triggers[i].tgoid == kept_tgoid)
			td.tg_trigger = &rel->trigdesc->triggers[i];
	if (td.tg_trigger == NULL || td.tg_trigger->tgnargs != 1)
		elog(ERROR, "trigger %u of the kept value changes is gone", kept_tgoid);
	td.type = T_TriggerData;
	td.tg_event = TRIGGER_EVENT_UPDATE | TRIGGER_EVENT_ROW | TRIGGER_EVENT_AFTER;
	td.tg_relation = rel;
	t = get_value_target(&td);

	guard = LookupFuncName(list_make2(makeString(LF_SCHEMA), makeString("lead_value_history_guard")),
						   0, NULL, false);
	namestrcpy(&changed_by, GetUserNameFromId(GetUserId(), false));
	rw = lf_row_writer_open(t->history_relid, guard);
	hrel = lf_row_writer_relation(rw);
	hdesc = RelationGetDescr(hrel);
	c_account = history_column(hdesc, "account_id");
	c_lead = history_column(hdesc, "lead_id");
	c_changed_at = history_column(hdesc, "changed_at");
	c_recorded_at = history_column(hdesc, "recorded_at");
	c_changed_by = history_column(hdesc, "changed_by");
	c_vals[0] = history_column(hdesc, "old_amount");
	c_vals[1] = history_column(hdesc, "new_amount");
	c_vals[2] = history_column(hdesc, "old_expected_close_date");
	c_vals[3] = history_column(hdesc, "new_expected_close_date");
	slot = lf_row_writer_slot(rw);
	scan_slot = lf_row_writer_slot(rw);
	for (int i = 0; i < nkept; i++)
	{
		KeptValue  *k = &kept[i];
		TimestampTz at = k->at;
		bool		at_null = k->at_null;
		TimestampTz last;
		bool		found;

		if (OidIsValid(t->last_index))
		{
			bool		isnull;

			found = lf_history_last_row(hrel, t->last_index, k->account_id, k->lead_id, scan_slot);
			if (found)
				last = DatumGetTimestampTz(slot_getattr(scan_slot, c_changed_at, &isnull));
		}
		else
		{
			Datum		args[2] = {Int64GetDatum(k->account_id), Int64GetDatum(k->lead_id)};
			bool		isnull;

			if (SPI_execute_plan(t->last_change, args, NULL, false, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not read the last value change");
			last = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			found = (SPI_processed == 1 && !isnull);
		}
		/* greatest(at, last), NULLs ignored: never before the lead's previous change */
		if (found && (at_null || last > at))
		{
			at = last;
			at_null = false;
		}
		ExecClearTuple(slot);
		memset(slot->tts_isnull, true, sizeof(bool) * hdesc->natts);
		slot->tts_values[c_account - 1] = Int64GetDatum(k->account_id);
		slot->tts_isnull[c_account - 1] = false;
		slot->tts_values[c_lead - 1] = Int64GetDatum(k->lead_id);
		slot->tts_isnull[c_lead - 1] = false;
		slot->tts_values[c_changed_at - 1] = TimestampTzGetDatum(at);
		slot->tts_isnull[c_changed_at - 1] = at_null;
		/* the columns' defaults: clock_timestamp(), current_user */
		slot->tts_values[c_recorded_at - 1] = TimestampTzGetDatum(GetCurrentTimestamp());
		slot->tts_isnull[c_recorded_at - 1] = false;
		slot->tts_values[c_changed_by - 1] = NameGetDatum(&changed_by);
		slot->tts_isnull[c_changed_by - 1] = false;
		for (int v = 0; v < 4; v++)
		{
			slot->tts_values[c_vals[v] - 1] = k->values[v];
			slot->tts_isnull[c_vals[v] - 1] = k->nulls[v];
		}
		ExecStoreVirtualTuple(slot);
		lf_row_writer_insert(rw, slot);
	}
	lf_row_writer_close(rw);
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
	bool		at_null,
				isnull;
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

	/* the sync's batch of updated leads: kept for lf_value_record_updated_leads() */
	if (RelationGetRelid(trigdata->tg_relation) == lf_tracking_batch_update &&
		lf_batch_update_context() != NULL &&
		(!OidIsValid(kept_tgoid) || kept_tgoid == trigdata->tg_trigger->tgoid))
	{
		keep_value(trigdata);
		return PointerGetDatum(NULL);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	t = get_value_target(trigdata);

	/* a change made by the UPDATE that moves the lead takes the move's time */
	at = change_time(oldtup, newtup, desc, t->stage_entered_at, &at_null);

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
