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
 * initial load.  Where the lead table allows it the sync inserts them itself
 * instead (insert_new_leads(): their SELECT, their accounts, the rows through
 * the executor with the BEFORE triggers, constraints and indexes of any
 * insert, the account's foreign key checked once for the batch); either way,
 * with lf_tracking_batch_lead raised, the AFTER INSERT triggers leave their
 * history and lifecycle to the sync, which writes them set-based from the
 * rows as stored (lf_record_inserted_leads, lf_lifecycle_inserted_leads): the
 * same rows as the row triggers write, in less time (bench/README.md).  The
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
#include "catalog/pg_constraint.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "rewrite/rewriteHandler.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "compat.h"
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
	char	   *new_leads;		/* the new leads' rows (batch), or NULL */
	char	   *new_accounts;	/* their accounts created, or NULL */
} SyncStatements;

/* The new leads' SELECT and their accounts' INSERT, prepared (tracking_statements()). */
typedef struct NewLeadPlans
{
	SPIPlanPtr	leads;
	SPIPlanPtr	accounts;
} NewLeadPlans;

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
	NewLeadPlans new_leads;		/* prepared new_leads, new_accounts, or NULLs */
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
	if (SPI_execute_with_args("SELECT model_owner, record_mode, statements, lead_table, batch_insert, new_leads, new_accounts FROM "
							  LF_SCHEMA ".tracking_statements($1, $2)",
							  2, argtypes, args, nulls, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the tracking statements");
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	out->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	out->record = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
	out->lead = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
	out->batch = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
	out->new_leads = SPI_getvalue(tup, desc, 6);
	out->new_accounts = SPI_getvalue(tup, desc, 7);
	arr = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 3, &isnull));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &n);
	if (n > MAX_SYNC_STATEMENTS)
		elog(ERROR, "too many tracking statements");
	out->n = n;
	for (int i = 0; i < n; i++)
		out->sql[i] = TextDatumGetCString(elems[i]);
}

/*
 * Inserting the new leads without a statement.
 *
 * The last statement of the sync (INSERT INTO lead ... SELECT ... RETURNING)
 * spent about an eighth of an initial load's time (bench/README.md) on the
 * AFTER INSERT row events of the new leads, queued and fired one by one,
 * five per lead, although none of them does anything
 * the sync could not do once for the batch: lead_stage_record and
 * lead_lifecycle return at once for a lead of the batch (the sync writes
 * their rows set-based afterwards), the foreign-key checks of columns the
 * sync leaves NULL (contact, campaign) find a NULL and return, and the
 * check of the account, one query per lead, locks an account row that
 * the batch's other leads lock again.  So where the lead table allows it
 * (no statement-level INSERT triggers or transition tables, no rules, the
 * SELECT's columns of the lead's own types) the sync runs the SELECT
 * (new_leads of tracking_statements()) and inserts its rows through the
 * executor as the INSERT would -- column defaults, BEFORE triggers,
 * constraints, unique indexes, the other AFTER triggers as before -- but:
 *
 * - the two triggers above are not queued for these rows;
 * - a foreign-key check whose key has a NULL (MATCH SIMPLE; all NULL for
 *   MATCH FULL) is not queued for that row, decided after the BEFORE
 *   triggers, on the row as stored: the check would return without a look;
 * - the immediate single-column bigint keys (the account) are checked once
 *   for the batch after the inserts, as the checks would run at the end of
 *   the statement: one SELECT ... FOR KEY SHARE of the distinct keys, as
 *   the referenced table's owner, with the snapshot an RI check takes, so
 *   a concurrent delete of an account blocks on, or fails, the batch as
 *   it did; a missing key raises the check's own error (23503) for the
 *   first lead that has it.
 */

/* An AFTER INSERT foreign-key check of the lead table, handled per batch or per row. */
typedef struct LeadFkey
{
	int			trigger;		/* index into the trigger descriptor */
	char		enabled;		/* its tgenabled */
	bool		batch;			/* checked once for the batch */
	bool		match_full;
	int			nkeys;
	AttrNumber	keys[INDEX_MAX_KEYS];	/* in lead */
	/* batch: the referenced table, its key column, the constraint */
	Oid			pkrel;
	AttrNumber	pkattnum;
	char	   *conname;
	int64	   *values;
	int			nvalues;
} LeadFkey;

typedef struct LeadInserter
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	TriggerDesc *trigdesc;		/* our copy, in ri_TrigDesc */
	bool		before_row;
	int			nfkeys;
	LeadFkey   *fkeys;
	AttrNumber *from_select;	/* per lead column: column of the SELECT, or 0 */
	ExprState **defaults;		/* per lead column not selected: its default, or NULL */
} LeadInserter;

/*
 * Can the sync insert the SELECT's rows (columns sel) into the lead table
 * itself, with the INSERT's effects?  Not when the table has statement
 * triggers or transition tables for INSERT (the INSERT fires them), rules,
 * a selected column the table lacks or has with another type, or an
 * unselected column of a domain type without a default (the INSERT checks
 * the domain on its NULL).
 */
static bool
can_insert_leads(Relation rel, TupleDesc sel)
{
	TriggerDesc *td = rel->trigdesc;
	TupleDesc	desc = RelationGetDescr(rel);
	bool	   *selected = palloc0(sizeof(bool) * desc->natts);

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rules != NULL)
		return false;
	if (td && (td->trig_insert_before_statement || td->trig_insert_after_statement ||
			   td->trig_insert_instead_row || td->trig_insert_new_table))
		return false;
	for (int i = 0; i < sel->natts; i++)
	{
		Form_pg_attribute s = TupleDescAttr(sel, i);
		int			attnum = SPI_fnumber(desc, NameStr(s->attname));
		Form_pg_attribute a;

		if (attnum <= 0)
			return false;
		a = TupleDescAttr(desc, attnum - 1);
		if (a->attisdropped || a->attgenerated || a->atttypid != s->atttypid ||
			(a->atttypmod != -1 && a->atttypmod != s->atttypmod) || selected[attnum - 1])
			return false;
		selected[attnum - 1] = true;
	}
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!selected[i] && !a->attisdropped && !a->attgenerated &&
			get_typtype(a->atttypid) == TYPTYPE_DOMAIN && build_column_default(rel, i + 1) == NULL)
			return false;
	}
	return true;
}

/* The AFTER INSERT foreign-key checks of the lead table in our trigger descriptor. */
static void
lead_fkeys(LeadInserter *li)
{
	TriggerDesc *td = li->trigdesc;

	li->fkeys = palloc0(sizeof(LeadFkey) * Max(td->numtriggers, 1));
	for (int i = 0; i < td->numtriggers; i++)
	{
		Trigger    *trig = &td->triggers[i];
		LeadFkey   *fk = &li->fkeys[li->nfkeys];
		HeapTuple	tup;
		Form_pg_constraint con;
		Datum		d;
		bool		isnull;
		ArrayType  *arr;

		if (trig->tgfoid != F_RI_FKEY_CHECK_INS || !lf_trigger_fires(trig) ||
			!TRIGGER_TYPE_MATCHES(trig->tgtype, TRIGGER_TYPE_ROW, TRIGGER_TYPE_AFTER, TRIGGER_TYPE_INSERT))
			continue;
		tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(trig->tgconstraint));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for constraint %u", trig->tgconstraint);
		con = (Form_pg_constraint) GETSTRUCT(tup);
		d = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conkey, &isnull);
		arr = isnull ? NULL : DatumGetArrayTypeP(d);
		if (arr == NULL || ARR_NDIM(arr) != 1 || ARR_DIMS(arr)[0] < 1 || ARR_DIMS(arr)[0] > INDEX_MAX_KEYS ||
			con->confmatchtype == FKCONSTR_MATCH_PARTIAL)
		{
			ReleaseSysCache(tup);
			continue;			/* left to the trigger */
		}
		fk->nkeys = ARR_DIMS(arr)[0];
		for (int k = 0; k < fk->nkeys; k++)
			fk->keys[k] = ((int16 *) ARR_DATA_PTR(arr))[k];
		fk->trigger = i;
		fk->enabled = trig->tgenabled;
		fk->match_full = con->confmatchtype == FKCONSTR_MATCH_FULL;
		if (fk->nkeys == 1 && !trig->tgdeferrable && !trig->tginitdeferred &&
			get_rel_relkind(con->confrelid) == RELKIND_RELATION &&
			TupleDescAttr(RelationGetDescr(li->rel), fk->keys[0] - 1)->atttypid == INT8OID)
		{
			ArrayType  *pk = DatumGetArrayTypeP(SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_confkey, &isnull));
			ArrayType  *ops = DatumGetArrayTypeP(SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conpfeqop, &isnull));

			fk->pkattnum = ((int16 *) ARR_DATA_PTR(pk))[0];
			if (get_atttype(con->confrelid, fk->pkattnum) == INT8OID &&
				get_opcode(((Oid *) ARR_DATA_PTR(ops))[0]) == F_INT8EQ)
			{
				fk->batch = true;
				fk->pkrel = con->confrelid;
				fk->conname = pstrdup(NameStr(con->conname));
				/* checked for the batch: never queued */
				trig->tgenabled = TRIGGER_DISABLED;
			}
		}
		ReleaseSysCache(tup);
		li->nfkeys++;
	}
}

static void
lead_inserter_open(LeadInserter *li, Relation rel, TupleDesc sel, uint64 nrows)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	List	   *perminfos = NIL;
	TupleDesc	desc = RelationGetDescr(rel);

	memset(li, 0, sizeof(LeadInserter));
	li->rel = rel;
	li->estate = CreateExecutorState();
	li->rri = makeNode(ResultRelInfo);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	addRTEPermissionInfo(&perminfos, rte);
	ExecInitRangeTable(li->estate, list_make1(rte), perminfos, bms_make_singleton(1));
	InitResultRelInfo(li->rri, rel, 1, NULL, 0);
	if (rel->trigdesc)
	{
		Oid			stage_record = lf_function_oid("lead_stage_record");
		Oid			lifecycle = lf_function_oid("lead_lifecycle");

		/* a copy with the same triggers in the same places, some disabled */
		li->trigdesc = CopyTriggerDesc(rel->trigdesc);
		li->rri->ri_TrigDesc = li->trigdesc;
		li->before_row = li->trigdesc->trig_insert_before_row;
		/* they return at once for a lead of the batch (lf_tracking_batch_lead) */
		for (int i = 0; i < li->trigdesc->numtriggers; i++)
		{
			Trigger    *trig = &li->trigdesc->triggers[i];

			if ((trig->tgfoid == stage_record || trig->tgfoid == lifecycle) &&
				TRIGGER_TYPE_MATCHES(trig->tgtype, TRIGGER_TYPE_ROW, TRIGGER_TYPE_AFTER, TRIGGER_TYPE_INSERT))
				trig->tgenabled = TRIGGER_DISABLED;
		}
		lead_fkeys(li);
		for (int f = 0; f < li->nfkeys; f++)
			if (li->fkeys[f].batch)
				li->fkeys[f].values = palloc(sizeof(int64) * Max(nrows, 1));
	}
	li->estate->es_output_cid = GetCurrentCommandId(true);
	li->estate->es_snapshot = GetActiveSnapshot();
	ExecOpenIndices(li->rri, false);
	li->slot = table_slot_create(rel, &li->estate->es_tupleTable);

	li->from_select = palloc0(sizeof(AttrNumber) * desc->natts);
	li->defaults = palloc0(sizeof(ExprState *) * desc->natts);
	for (int i = 0; i < sel->natts; i++)
		li->from_select[SPI_fnumber(desc, NameStr(TupleDescAttr(sel, i)->attname)) - 1] = i + 1;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);
		Node	   *def;

		if (li->from_select[i] || a->attisdropped || a->attgenerated)
			continue;
		def = build_column_default(rel, i + 1);
		if (def)
			li->defaults[i] = ExecPrepareExpr((Expr *) def, li->estate);
	}
	AfterTriggerBeginQuery();
}

/*
 * Insert one row of the SELECT; returns the row as stored (in the caller's
 * memory context), or NULL when a BEFORE trigger skipped it.
 */
static HeapTuple
lead_inserter_insert(LeadInserter *li, HeapTuple row, TupleDesc sel)
{
	TupleTableSlot *slot = li->slot;
	TupleDesc	desc = RelationGetDescr(li->rel);
	ExprContext *econtext = GetPerTupleExprContext(li->estate);
	MemoryContext caller = CurrentMemoryContext;
	HeapTuple	stored = NULL;
	bool		any_after = false;

	MemoryContextSwitchTo(GetPerTupleMemoryContext(li->estate));
	ExecClearTuple(slot);
	for (int i = 0; i < desc->natts; i++)
	{
		if (li->from_select[i])
			slot->tts_values[i] = heap_getattr(row, li->from_select[i], sel, &slot->tts_isnull[i]);
		else if (li->defaults[i])
			slot->tts_values[i] = ExecEvalExpr(li->defaults[i], econtext, &slot->tts_isnull[i]);
		else
		{
			slot->tts_values[i] = (Datum) 0;
			slot->tts_isnull[i] = true;
		}
	}
	ExecStoreVirtualTuple(slot);

	/* the BEFORE triggers ourselves, to see the row as it will be stored */
	if (li->before_row && !ExecBRInsertTriggers(li->estate, li->rri, slot))
		goto done;
	for (int f = 0; f < li->nfkeys; f++)
	{
		LeadFkey   *fk = &li->fkeys[f];
		int			nnull = 0;

		for (int k = 0; k < fk->nkeys; k++)
			nnull += slot_attisnull(slot, fk->keys[k]) ? 1 : 0;
		if (fk->batch)
			continue;
		/* the check would pass without a look (ri_NullCheck) */
		li->trigdesc->triggers[fk->trigger].tgenabled =
			(nnull == fk->nkeys || (nnull > 0 && !fk->match_full)) ? TRIGGER_DISABLED : fk->enabled;
	}
	if (li->trigdesc)
	{
		for (int i = 0; i < li->trigdesc->numtriggers && !any_after; i++)
			any_after = lf_trigger_fires(&li->trigdesc->triggers[i]) &&
				TRIGGER_TYPE_MATCHES(li->trigdesc->triggers[i].tgtype, TRIGGER_TYPE_ROW,
									 TRIGGER_TYPE_AFTER, TRIGGER_TYPE_INSERT);
		li->trigdesc->trig_insert_before_row = false;
		li->trigdesc->trig_insert_after_row = any_after;
	}
	ItemPointerSetInvalid(&slot->tts_tid);
	ExecSimpleRelationInsert(li->rri, li->estate, slot);
	if (li->trigdesc)
		li->trigdesc->trig_insert_before_row = li->before_row;
	if (!ItemPointerIsValid(&slot->tts_tid))
		elog(ERROR, "lead row was not stored");
	for (int f = 0; f < li->nfkeys; f++)
	{
		LeadFkey   *fk = &li->fkeys[f];
		bool		isnull;
		Datum		v;

		if (!fk->batch)
			continue;
		v = slot_getattr(slot, fk->keys[0], &isnull);
		if (!isnull)
			fk->values[fk->nvalues++] = DatumGetInt64(v);
	}
	MemoryContextSwitchTo(caller);
	stored = ExecCopySlotHeapTuple(slot);
done:
	MemoryContextSwitchTo(caller);
	ResetPerTupleExprContext(li->estate);
	return stored;
}

/*
 * The batch's check of a single-column key: the distinct keys locked FOR
 * KEY SHARE as the referenced table's owner, as ri_triggers.c checks each
 * row; the first lead (in rows) whose key is missing fails as its check
 * would have.
 */
static void
check_fkey_batch(LeadInserter *li, LeadFkey *fk, HeapTuple *rows, uint64 nrows)
{
	Relation	pk = table_open(fk->pkrel, RowShareLock);
	char	   *pkatt = get_attname(fk->pkrel, fk->pkattnum, false);
	Oid			argtype = INT8ARRAYOID;
	Datum		arg;
	Datum	   *elems;
	int			n = 0;
	Oid			save_userid;
	int			save_sec_context;
	int64	   *found;
	uint64		nfound;
	char	   *sql;

	qsort(fk->values, fk->nvalues, sizeof(int64), lf_int64_cmp);
	for (int i = 0; i < fk->nvalues; i++)
		if (n == 0 || fk->values[n - 1] != fk->values[i])
			fk->values[n++] = fk->values[i];
	elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(fk->values[i]);
	arg = PointerGetDatum(construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	sql = psprintf("SELECT x.%s FROM ONLY %s.%s x WHERE x.%s OPERATOR(pg_catalog.=) ANY ($1) ORDER BY 1 FOR KEY SHARE OF x",
				   quote_identifier(pkatt), quote_identifier(get_namespace_name(RelationGetNamespace(pk))),
				   quote_identifier(RelationGetRelationName(pk)), quote_identifier(pkatt));

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(pk->rd_rel->relowner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the referenced rows of constraint \"%s\"", fk->conname);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	nfound = SPI_processed;
	found = palloc(sizeof(int64) * Max(nfound, 1));
	for (uint64 i = 0; i < nfound; i++)
	{
		bool		isnull;

		found[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	if (nfound < (uint64) n)
	{
		TupleDesc	desc = RelationGetDescr(li->rel);

		for (uint64 r = 0; r < nrows; r++)
		{
			bool		isnull;
			int64		key = DatumGetInt64(heap_getattr(rows[r], fk->keys[0], desc, &isnull));

			if (!isnull && bsearch(&key, found, nfound, sizeof(int64), lf_int64_cmp) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
						 errmsg("insert or update on table \"%s\" violates foreign key constraint \"%s\"",
								RelationGetRelationName(li->rel), fk->conname),
						 errdetail("Key (%s)=(%lld) is not present in table \"%s\".",
								   NameStr(TupleDescAttr(desc, fk->keys[0] - 1)->attname), (long long) key,
								   RelationGetRelationName(pk)),
						 errtableconstraint(li->rel, fk->conname)));
		}
	}
	table_close(pk, NoLock);
}

static void
lead_inserter_close(LeadInserter *li)
{
	lf_own_writes_end(li->estate, li->rri);
}

/*
 * Insert the rows of the new leads' SELECT (rows, its SPI result) into the
 * lead table; *stored gets the rows as stored, in a table shaped like the
 * INSERT's RETURNING rows (lead's own columns).
 */
static void
insert_new_leads(Relation rel, SPITupleTable *rows, uint64 nrows, SPITupleTable *stored)
{
	LeadInserter li;

	memset(stored, 0, sizeof(SPITupleTable));
	stored->tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
	stored->vals = palloc(sizeof(HeapTuple) * Max(nrows, 1));
	lead_inserter_open(&li, rel, rows->tupdesc, nrows);
	for (uint64 r = 0; r < nrows; r++)
	{
		HeapTuple	tup = lead_inserter_insert(&li, rows->vals[r], rows->tupdesc);

		if (tup)
			stored->vals[stored->numvals++] = tup;
	}
	for (int f = 0; f < li.nfkeys; f++)
		if (li.fkeys[f].batch && li.fkeys[f].nvalues > 0)
			check_fkey_batch(&li, &li.fkeys[f], stored->vals, stored->numvals);
	lead_inserter_close(&li);
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
 * Can the sync insert the batch's new leads itself (insert_new_leads())?
 * The lead table is locked from here on, so the answer holds for the sync.
 */
static bool
can_insert_directly(Oid lead, NewLeadPlans *plans)
{
	CachedPlanSource *ps;
	Relation	rel;
	bool		ok;

	if (plans->leads == NULL || plans->accounts == NULL ||
		list_length(SPI_plan_get_plan_sources(plans->leads)) != 1)
		return false;
	ps = linitial(SPI_plan_get_plan_sources(plans->leads));
	rel = table_open(lead, RowExclusiveLock);
	ok = ps->resultDesc != NULL && can_insert_leads(rel, ps->resultDesc);
	table_close(rel, NoLock);
	return ok;
}

/*
 * The new leads of the batch inserted by the sync itself: their rows
 * selected, their missing accounts created (as the second statement would
 * have, which the sync skipped), the leads inserted, then their history
 * and lifecycle.  Returns the number of leads inserted.
 */
static uint64
insert_leads_directly(Oid lead, NewLeadPlans *plans)
{
	Relation	rel;
	SPITupleTable *rows;
	uint64		nrows;
	SPITupleTable stored;
	int			rc;

	rc = SPI_execute_plan(plans->leads, NULL, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "the new leads' statement failed: %s", SPI_result_code_string(rc));
	rows = SPI_tuptable;
	nrows = SPI_processed;
	if (nrows == 0)
		return 0;
	rel = table_open(lead, RowExclusiveLock);
	/* (the plan may have been revalidated by the run: the rows' columns decide) */
	if (!can_insert_leads(rel, rows->tupdesc))
		elog(ERROR, "the columns of the new leads changed during the sync");

	/* their accounts, distinct, in order */
	{
		int			c = SPI_fnumber(rows->tupdesc, "account_id");
		int64	   *ids = palloc(sizeof(int64) * nrows);
		Datum	   *elems;
		int			n = 0;
		uint64		m = 0;
		Datum		arg;

		if (c <= 0)
			elog(ERROR, "the new leads lack account_id");
		for (uint64 r = 0; r < nrows; r++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(rows->vals[r], rows->tupdesc, c, &isnull);

			if (!isnull)
				ids[m++] = DatumGetInt64(d);
		}
		qsort(ids, m, sizeof(int64), lf_int64_cmp);
		elems = palloc(sizeof(Datum) * Max(m, 1));
		for (uint64 i = 0; i < m; i++)
			if (n == 0 || ids[i] != DatumGetInt64(elems[n - 1]))
				elems[n++] = Int64GetDatum(ids[i]);
		arg = PointerGetDatum(construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		rc = SPI_execute_plan(plans->accounts, &arg, NULL, false, 0);
		if (rc < 0)
			elog(ERROR, "the new leads' accounts statement failed: %s", SPI_result_code_string(rc));
		pfree(ids);
		pfree(elems);
	}

	insert_new_leads(rel, rows, nrows, &stored);
	SPI_freetuptable(rows);
	table_close(rel, NoLock);
	if (stored.numvals > 0)
		record_batch(lead, &stored, stored.numvals);
	return stored.numvals;
}

/*
 * Run the sync: as the model's owner, with record mode raised in record
 * mode.  Either the kept plans (plans != NULL) or the statements' text.
 * new_leads: the plans of the new leads inserted by the sync itself, or
 * NULL (then prepared from st, if it has them).
 * Returns the number of leads written (the last two statements).
 */
static uint64
run_sync(SyncStatements *st, SPIPlanPtr *plans, int n, Oid owner, bool record, Oid lead, bool batch,
		 NewLeadPlans *new_leads)
{
	Oid			save_userid;
	int			save_sec_context;
	bool		save_record = lf_tracking_record_mode;
	Oid			save_batch_lead = lf_tracking_batch_lead;
	Oid			save_batch_update = lf_tracking_batch_update;
	volatile bool began = false;
	uint64		written = 0;
	NewLeadPlans prepared = {NULL, NULL};
	bool		direct = false;

	int			nest;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	nest = pin_search_path();
	lf_tracking_record_mode = record;
	PG_TRY();
	{
		/* the text is prepared here, as the owner */
		if (new_leads == NULL && st != NULL && st->new_leads != NULL && st->new_accounts != NULL &&
			batch && tracking_batch_insert)
		{
			Oid			argtype = INT8ARRAYOID;

			prepared.leads = SPI_prepare(st->new_leads, 0, NULL);
			prepared.accounts = SPI_prepare(st->new_accounts, 1, &argtype);
			new_leads = &prepared;
		}
		/* the statements: [flags,] accounts, update, insert */
		direct = n >= 3 && batch && tracking_batch_insert && new_leads != NULL &&
			can_insert_directly(lead, new_leads);
		for (int i = 0; i < n; i++)
		{
			bool		batch_now = batch && tracking_batch_insert && i == n - 1;
			/* (not in a sync nested in another's batch update: one batch at a time) */
			bool		batch_update = batch && tracking_batch_update && i == n - 2 &&
				lf_batch_update_context() == NULL;
			int			rc;

			/* the new leads' accounts are created with them */
			if (direct && i == n - 3)
				continue;
			if (batch_now)
				lf_tracking_batch_lead = lead;
			if (direct && batch_now)
			{
				written += insert_leads_directly(lead, new_leads);
				lf_tracking_batch_lead = save_batch_lead;
				continue;
			}
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
	{
		for (int i = 0; i < p->n; i++)
			SPI_freeplan(p->plans[i]);
		if (p->new_leads.leads)
			SPI_freeplan(p->new_leads.leads);
		if (p->new_leads.accounts)
			SPI_freeplan(p->new_leads.accounts);
	}
	p->n = 0;
	p->new_leads.leads = NULL;
	p->new_leads.accounts = NULL;
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
		if (st.new_leads != NULL && st.new_accounts != NULL)
		{
			Oid			argtype = INT8ARRAYOID;
			SPIPlanPtr	leads = SPI_prepare(st.new_leads, 0, NULL);
			SPIPlanPtr	accounts = SPI_prepare(st.new_accounts, 1, &argtype);

			if (leads == NULL || accounts == NULL)
				elog(ERROR, "could not prepare the new leads' statements: %s",
					 SPI_result_code_string(SPI_result));
			SPI_keepplan(leads);
			SPI_keepplan(accounts);
			p->new_leads.leads = leads;
			p->new_leads.accounts = accounts;
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
	run_sync(NULL, p->plans, p->n, p->owner, p->record, p->lead, p->batch, &p->new_leads);
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
	written = run_sync(&st, NULL, st.n, st.owner, st.record, st.lead, st.batch, NULL);
	SPI_finish();
	PG_RETURN_INT64((int64) written);
}
