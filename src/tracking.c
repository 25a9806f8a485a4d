/*-------------------------------------------------------------------------
 *
 * tracking.c
 *	  Tables leadfunnel did not create, tracked: the statement trigger that
 *	  mirrors a batch of changed rows into a model, and track_resync().
 *
 * leadfunnel.track() attaches two AFTER ... FOR EACH STATEMENT triggers with
 * a transition table (REFERENCING NEW TABLE AS lf_new) to the user's table:
 * one for INSERT (also COPY, the insert half of INSERT ... ON CONFLICT and of
 * MERGE), one for UPDATE.  Whatever the batch shape, the trigger sees the
 * changed rows once, as a set, and runs a few set-based statements over them
 * (written by leadfunnel.tracking_statements() from the table's row of
 * leadfunnel.tracked_table): flag what the funnel would refuse, create
 * missing accounts, update the leads that exist, insert the new ones.  The
 * model's own row triggers validate, date and record every move as for any
 * other write.  The statements are prepared once per trigger and backend
 * and kept; a relcache invalidation of leadfunnel.tracked_table or of the
 * tracked table drops them.
 *
 * In record mode the model's transition trigger is told (lf_tracking_record_mode)
 * to record moves and starts its rules would refuse -- the first statement
 * has flagged them, the history rows carry the reason in their flag -- so
 * that a CRM's batch is never refused.
 *
 * New leads (the last statement, an INSERT ... RETURNING) are the bulk of an
 * initial load.  Their lead rows go through the model's row triggers as any
 * insert (validation, dating, foreign keys), but with lf_tracking_batch_lead
 * raised the AFTER INSERT triggers leave their history and lifecycle to the
 * sync, which writes them set-based from the returned rows
 * (lf_record_inserted_leads, lf_lifecycle_inserted_leads): the same rows as
 * the row triggers write, in less time (bench/README.md).  The
 * statement also states each lead's motion where it is new business (its
 * account has no win), so the motion trigger reads no facts per row.
 * leadfunnel.tracking_batch_insert = off makes the sync leave everything to
 * the row triggers, to compare (27_tracking).  Not on a model Citus
 * distributes: there the row triggers fire on the shards, on other nodes.  The
 * statements run as the owner of the model's lead table, as referential
 * integrity triggers run as the owner of the referenced table: a loader that
 * may write its table needs no privilege on the model.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "invalidation.h"
#include "lifecycle.h"
#include "tracking.h"
#include "transition.h"
#include "value_history.h"
#include "vocabulary.h"

#define MAX_SYNC_STATEMENTS 8

typedef struct SyncStatements
{
	Oid			owner;			/* owner of the model's lead table */
	bool		record;			/* record mode (else enforce) */
	Oid			lead;			/* the model's lead table */
	bool		batch;			/* the last statement returns the new leads */
	int			n;
	char	   *sql[MAX_SYNC_STATEMENTS];
} SyncStatements;

typedef struct TrackPlans
{
	Oid			tgoid;			/* hash key: the trigger */
	bool		valid;
	Oid			source;
	Oid			owner;
	bool		record;
	Oid			lead;
	bool		batch;
	int			n;
	SPIPlanPtr	plans[MAX_SYNC_STATEMENTS];
} TrackPlans;

static HTAB *track_plans = NULL;

/* leadfunnel.tracking_batch_insert, leadfunnel.tracking_batch_update */
static bool tracking_batch_insert = true;
static bool tracking_batch_update = true;

void
lf_tracking_init(void)
{
	DefineCustomBoolVariable("leadfunnel.tracking_batch_insert",
							 "Writes the history and lifecycle of a tracked table's new leads set-based.",
							 "Off: the model's row triggers write them one lead at a time (the same rows, slower); for comparison.",
							 &tracking_batch_insert, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("leadfunnel.tracking_batch_update",
							 "Writes the history, value history and lifecycle of a tracked table's updated leads set-based.",
							 "Off: the model's row triggers write them one lead at a time (the same rows, slower); for comparison.",
							 &tracking_batch_update, true, PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * The statements name everything they use schema-qualified or from
 * pg_catalog; they are planned and run with search_path pinned, as a
 * function with SET search_path would be, so that no object of the writer's
 * search_path (an operator of the same name in public) is picked up.
 */
static int
pin_search_path(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest;
}
static Oid	tracked_table_relid = InvalidOid;

static void
tracking_relcache_invalidate(Oid relid)
{
	HASH_SEQ_STATUS seq;
	TrackPlans *p;

	if (track_plans == NULL)
		return;
	hash_seq_init(&seq, track_plans);
	while ((p = hash_seq_search(&seq)) != NULL)
		if (relid == InvalidOid || relid == tracked_table_relid || relid == p->source)
			p->valid = false;
}

/*
 * The statements that mirror rows of the tracked table into its model, read
 * from `from_relation` (the transition table lf_new, or NULL for the table
 * itself), from leadfunnel.tracking_statements().  Called inside SPI.
 */
static void
load_statements(Oid source, const char *from_relation, SyncStatements *out)
{
	Oid			argtypes[2] = {REGCLASSOID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;

	args[0] = ObjectIdGetDatum(source);
	if (from_relation)
		args[1] = CStringGetTextDatum(from_relation);
	else
		nulls[1] = 'n';
	if (SPI_execute_with_args("SELECT model_owner, record_mode, statements, lead_table, batch_insert FROM "
							  LF_SCHEMA ".tracking_statements($1, $2)",
							  2, argtypes, args, nulls, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the tracking statements");
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	out->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	out->record = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
	out->lead = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
	out->batch = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
	arr = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 3, &isnull));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &n);
	if (n > MAX_SYNC_STATEMENTS)
		elog(ERROR, "too many tracking statements");
	out->n = n;
	for (int i = 0; i < n; i++)
		out->sql[i] = TextDatumGetCString(elems[i]);
}

/*
 * The new leads the last statement inserted, with lf_tracking_batch_lead
 * raised: their history, then their lifecycle effects.
 */
static void
record_batch(Oid lead, SPITupleTable *rows, uint64 nrows)
{
	Relation	rel = table_open(lead, RowExclusiveLock);

	CommandCounterIncrement();
	lf_record_inserted_leads(rel, rows, nrows);
	CommandCounterIncrement();
	lf_lifecycle_inserted_leads(rel, rows, nrows);
	table_close(rel, NoLock);
}

/*
 * The leads the UPDATE statement updated with lf_tracking_batch_update set:
 * their history, value history, then lifecycle effects, which their row
 * triggers kept.
 */
static void
record_updates(Oid lead)
{
	Relation	rel = table_open(lead, RowExclusiveLock);

	CommandCounterIncrement();
	lf_record_updated_leads(rel);
	CommandCounterIncrement();
	lf_value_record_updated_leads(rel);
	CommandCounterIncrement();
	lf_lifecycle_updated_leads(rel);
	table_close(rel, NoLock);
	lf_batch_update_end();
}

/*
 * Run the sync: as the model's owner, with record mode raised in record
 * mode.  Either the kept plans (plans != NULL) or the statements' text.
 * Returns the number of leads written (the last two statements).
 */
static uint64
run_sync(SyncStatements *st, SPIPlanPtr *plans, int n, Oid owner, bool record, Oid lead, bool batch)
{
	Oid			save_userid;
	int			save_sec_context;
	bool		save_record = lf_tracking_record_mode;
	Oid			save_batch_lead = lf_tracking_batch_lead;
	Oid			save_batch_update = lf_tracking_batch_update;
	volatile bool began = false;
	uint64		written = 0;

	int			nest;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	nest = pin_search_path();
	lf_tracking_record_mode = record;
	PG_TRY();
	{
		for (int i = 0; i < n; i++)
		{
			bool		batch_now = batch && tracking_batch_insert && i == n - 1;
			/* (not in a sync nested in another's batch update: one batch at a time) */
			bool		batch_update = batch && tracking_batch_update && i == n - 2 &&
				lf_batch_update_context() == NULL;
			int			rc;

			if (batch_now)
				lf_tracking_batch_lead = lead;
			if (batch_update)
			{
				lf_batch_update_begin();
				began = true;
				lf_tracking_batch_update = lead;
			}
			rc = plans ? SPI_execute_plan(plans[i], NULL, NULL, false, 0)
				: SPI_execute(st->sql[i], false, 0);
			lf_tracking_batch_lead = save_batch_lead;
			lf_tracking_batch_update = save_batch_update;
			if (rc < 0)
				elog(ERROR, "tracking statement %d failed: %s", i + 1, SPI_result_code_string(rc));
			if (i >= n - 2)
				written += SPI_processed;
			if (batch_update)
			{
				record_updates(lead);
				began = false;
			}
			if (batch_now && SPI_processed > 0)
				record_batch(lead, SPI_tuptable, SPI_processed);
		}
		/* (on an error, the abort of the (sub)transaction restores the setting) */
		AtEOXact_GUC(true, nest);
	}
	PG_FINALLY();
	{
		lf_tracking_record_mode = save_record;
		lf_tracking_batch_lead = save_batch_lead;
		lf_tracking_batch_update = save_batch_update;
		if (began)
			lf_batch_update_end();
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	return written;
}

static TrackPlans *
get_plans(TriggerData *trigdata)
{
	Oid			tgoid = trigdata->tg_trigger->tgoid;
	TrackPlans *p;
	bool		found;
	SyncStatements st;
	Oid			save_userid;
	int			save_sec_context;
	int			nest;

	if (track_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TrackPlans);
		ctl.hcxt = TopMemoryContext;
		track_plans = hash_create("leadfunnel tracking plans", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		lf_on_relcache_invalidation(tracking_relcache_invalidate);
	}
	p = hash_search(track_plans, &tgoid, HASH_ENTER, &found);
	if (found && p->valid)
		return p;
	if (found)
		for (int i = 0; i < p->n; i++)
			SPI_freeplan(p->plans[i]);
	p->n = 0;
	p->valid = false;
	p->source = RelationGetRelid(trigdata->tg_relation);

	tracked_table_relid = get_relname_relid("tracked_table", get_namespace_oid(LF_SCHEMA, false));
	load_statements(p->source, "lf_new", &st);

	/* prepared as the owner too: name lookup checks USAGE on the model's schema */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(st.owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	nest = pin_search_path();
	PG_TRY();
	{
		for (int i = 0; i < st.n; i++)
		{
			SPIPlanPtr	plan = SPI_prepare(st.sql[i], 0, NULL);

			if (plan == NULL)
				elog(ERROR, "could not prepare tracking statement %d: %s", i + 1,
					 SPI_result_code_string(SPI_result));
			SPI_keepplan(plan);
			p->plans[p->n++] = plan;
		}
		AtEOXact_GUC(true, nest);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	p->owner = st.owner;
	p->record = st.record;
	p->lead = st.lead;
	p->batch = st.batch;
	p->valid = true;
	return p;
}

/*
 * AFTER INSERT or AFTER UPDATE ... REFERENCING NEW TABLE AS lf_new FOR EACH
 * STATEMENT trigger on a tracked table.
 */
PG_FUNCTION_INFO_V1(lf_track_sync);
Datum
lf_track_sync(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TrackPlans *p;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"track_sync\" was not called by trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) || TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)) ||
		trigdata->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"track_sync\" must be fired AFTER INSERT or AFTER UPDATE FOR EACH STATEMENT with REFERENCING NEW TABLE AS lf_new"),
				 errhint("Attach a table with leadfunnel.track().")));
	if (tuplestore_tuple_count(trigdata->tg_newtable) == 0)
		return PointerGetDatum(NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition table");
	p = get_plans(trigdata);
	run_sync(NULL, p->plans, p->n, p->owner, p->record, p->lead, p->batch);
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * track_resync(source regclass) returns bigint: mirror every row of a tracked
 * table into its model again (after its labels were fixed, or to repair);
 * returns the number of leads written.
 */
PG_FUNCTION_INFO_V1(lf_track_resync);
Datum
lf_track_resync(PG_FUNCTION_ARGS)
{
	Oid			source = PG_GETARG_OID(0);
	SyncStatements st;
	uint64		written;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	load_statements(source, NULL, &st);
	written = run_sync(&st, NULL, st.n, st.owner, st.record, st.lead, st.batch);
	SPI_finish();
	PG_RETURN_INT64((int64) written);
}
