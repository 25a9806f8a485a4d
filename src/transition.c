/*-------------------------------------------------------------------------
 *
 * transition.c
 *	  The stage transition trigger on a model's lead table, and the guard
 *	  that keeps its stage history append-only.
 *
 * lead_stage_transition() is a BEFORE INSERT OR UPDATE row trigger.  It
 * validates the move against the compiled rules of the lead's funnel
 * (stages.c), dates it and maintains the derived columns of the lead
 * (stage_entered_at, max_stage, closed_at).  lead_stage_record(), an AFTER
 * row trigger, appends the move to the history once the lead row is stored.
 *
 * The history table is named by lead_stage_record's one argument.  The
 * triggers never derive a table name from the relation they fire on: on
 * Citus they fire on shards, and the history is written to the shard of the
 * named table co-located with the lead shard (colocation.c).
 *
 * Per trigger (keyed by trigger OID) we keep the lead table's column numbers
 * and two prepared SPI plans; a relcache callback drops them when either
 * table changes.  The history is written as the owner of the lead table (as
 * RI triggers act as the owner of the referenced table), so a role that may
 * only update leads still records its moves, and with a backend-local flag
 * raised so that history_append_only() lets exactly these writes through.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/sysattr.h"
#include "nodes/bitmapset.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "parser/parse_func.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "miscadmin.h"
#include "utils/regproc.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "colocation.h"
#include "labels.h"
#include "compat.h"
#include "invalidation.h"
#include "vocabulary.h"
#include "stages.h"
#include "transition.h"

#define TRANSITION_CONSTRAINT	"lead_stage_transition"
#define CHRONOLOGY_CONSTRAINT	"lead_stage_chronology"
#define LABEL_CONSTRAINT		"lead_stage_label"

/* Columns of the lead table the trigger reads or maintains. */
typedef struct LeadColumns
{
	AttrNumber	lead_id;
	AttrNumber	account_id;
	AttrNumber	funnel;
	AttrNumber	stage;
	AttrNumber	max_stage;
	AttrNumber	created_at;
	AttrNumber	stage_entered_at;
	AttrNumber	closed_at;
	AttrNumber	close_reason;
	AttrNumber	stage_label;	/* 0 in a model without stage labels */
} LeadColumns;

/*
 * A history table: the stage history (one row per stage entered) or the
 * label history (one row per (stage, label) entered).  Both are keyed by
 * (account_id, lead_id, seq), the last row of a lead being its current one.
 */
typedef struct HistoryTable
{
	Oid			relid;
	char	   *name;			/* quoted, schema-qualified */
	AttrNumber	lead_id;
	AttrNumber	account_id;
	AttrNumber	seq;
	AttrNumber	from_stage;		/* 0 in the label history */
	AttrNumber	to_stage;		/* to_stage; stage in the label history */
	AttrNumber	entered_at;
	AttrNumber	left_at;
	AttrNumber	changed_by;
	AttrNumber	text;			/* reason; label in the label history */
	AttrNumber	recorded_at;	/* 0 in a model not yet upgraded to 0.3 */
	AttrNumber	superseded_at;	/* 0 likewise */
	AttrNumber	flag;			/* 0 likewise, and in the label history */
	Oid			key;			/* unique (account_id, lead_id, seq) of the current
								 * truth; see resolve_history() */
} HistoryTable;

typedef struct TransitionTarget
{
	Oid			tgoid;			/* hash key: the trigger */
	bool		valid;
	Oid			lead_relid;
	Oid			guard_fn;		/* leadfunnel.history_append_only() */
	LeadColumns col;
	HistoryTable hist;			/* relid InvalidOid for the BEFORE trigger */
	HistoryTable labels;		/* relid InvalidOid without a label history */
} TransitionTarget;

static HTAB *targets = NULL;

static void keep_move(TriggerData *trigdata, TransitionTarget *t, HeapTuple newtup, int64 lead_id,
					  int64 account_id, int from, int to, TimestampTz entered, bool label_changed);

/* Raised by the sync of a table tracked in record mode (tracking.c). */
bool		lf_tracking_record_mode = false;

/* Set by the sync while it inserts new leads in one statement (tracking.c). */
Oid			lf_tracking_batch_lead = InvalidOid;

/* Set by the sync while it updates leads in one statement (tracking.c). */
Oid			lf_tracking_batch_update = InvalidOid;

/*
 * The moves lead_stage_record() kept, while lf_tracking_batch_update is set,
 * for lf_record_updated_leads() to write (in pending_cxt, a child of the
 * transaction's context made by lf_batch_update_begin()).
 */
typedef struct PendingMove
{
	int64		lead_id;
	int64		account_id;
	int			from;
	int			to;
	bool		stage_row;		/* a stage history row (from != to) */
	bool		label_row;		/* a label history row */
	TimestampTz entered;		/* the stage row's time */
	TimestampTz label_at;		/* the label row's time */
	text	   *reason;			/* close reason, or NULL */
	char	   *flag;			/* record mode's flag, or NULL */
	text	   *label;			/* the new label, or NULL */
} PendingMove;

static MemoryContext pending_cxt = NULL;
static Oid	pending_tgoid = InvalidOid;
static PendingMove *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

/* Raised only while this file writes history; see history_append_only(). */
static bool history_write_allowed = false;

/*
 * Raised by history.c while import_history() or correct_history() rewrite
 * histories: the append-only guard lets their writes through, and the
 * transition triggers pass lead rows through unvalidated and record nothing
 * (the merge validates, flags and records the moves itself).
 */
bool		lf_history_rewrite = false;

/* current_user's name, kept so a move costs no catalog lookup */
static Oid	changed_by_role = InvalidOid;
static NameData changed_by_name;

static void
transition_relcache_invalidate(Oid relid)
{
	HASH_SEQ_STATUS seq;
	TransitionTarget *t;

	if (targets == NULL)
		return;
	hash_seq_init(&seq, targets);
	while ((t = hash_seq_search(&seq)) != NULL)
		if (relid == InvalidOid || relid == t->lead_relid || relid == t->hist.relid ||
			relid == t->labels.relid)
			t->valid = false;
}

static void
role_names_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	changed_by_role = InvalidOid;
}

/* The caches of this file, made and hooked to invalidation on first use. */
static void
transition_cache_init(void)
{
	HASHCTL		ctl;

	if (targets != NULL)
		return;
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TransitionTarget);
	ctl.hcxt = TopMemoryContext;
	targets = hash_create("leadfunnel transition triggers", 16, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterSyscacheCallback(AUTHOID, role_names_invalidate, (Datum) 0);
	lf_on_relcache_invalidation(transition_relcache_invalidate);
}

static AttrNumber
model_column(Relation rel, const char *name, Oid typid)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("table \"%s\" has no column \"%s\"", RelationGetRelationName(rel), name),
				 errdetail("The stage triggers need the tables created by leadfunnel.create_model().")));
	if (TupleDescAttr(desc, attnum - 1)->atttypid != typid)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("column \"%s\" of table \"%s\" must be of type %s",
						name, RelationGetRelationName(rel), format_type_be(typid)),
				 errdetail("The stage triggers need the tables created by leadfunnel.create_model().")));
	return attnum;
}

/*
 * Is idx the index of the current truth: UNIQUE (account_id, lead_id, seq)
 * WHERE superseded_at IS NULL (bitemporal history, 0.3), or, in a model not
 * yet upgraded (no superseded_at), the primary key (account_id, lead_id, seq)?
 */
static bool
is_history_key(Relation idx, const HistoryTable *h)
{
	int2vector *keys = &idx->rd_index->indkey;
	List	   *pred;
	NullTest   *nt;

	if (!idx->rd_index->indisunique || idx->rd_index->indnkeyatts != 3 ||
		keys->values[0] != h->account_id || keys->values[1] != h->lead_id ||
		keys->values[2] != h->seq)
		return false;
	if (h->superseded_at == 0)
		return idx->rd_index->indisprimary;
	pred = RelationGetIndexPredicate(idx);
	if (list_length(pred) != 1 || !IsA(linitial(pred), NullTest))
		return false;
	nt = (NullTest *) linitial(pred);
	return nt->nulltesttype == IS_NULL && IsA(nt->arg, Var) &&
		((Var *) nt->arg)->varattno == h->superseded_at;
}

/*
 * Open a history table named by a trigger argument: its column numbers and
 * its key of the current truth, found by shape, not by name: on Citus shards
 * carry suffixed names, and the table written is the shard co-located with
 * the lead shard the trigger fires on.
 *
 * The stage history is bitemporal (0.3): a row also records when it was
 * recorded (recorded_at), and a correction or an import that merges rows
 * into the past supersedes rows (stamps superseded_at) instead of deleting
 * them.  The current truth is the rows with superseded_at IS NULL; its
 * (account_id, lead_id, seq) is unique by a partial index, and a lead's
 * current row is the last entry of that index.  A model created by 0.2 and
 * not yet upgraded (leadfunnel.upgrade_model()) has neither column and its
 * primary key instead.  The label history is bitemporal in the same way
 * (imports and corrections supersede its rows too).
 */
static void
resolve_history(HistoryTable *h, Relation rel, const char *arg, bool labels)
{
	List	   *names = stringToQualifiedNameList(arg, NULL);
	Oid			logical = RangeVarGetRelid(makeRangeVarFromNameList(names), AccessShareLock, false);
	Oid			stage_type = lf_enum_type(LF_ENUM_STAGE);
	Relation	hrel;
	MemoryContext oldcxt;
	List	   *indexes;
	ListCell   *lc;

	if (h->name)
		pfree(h->name);
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	h->name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(logical)),
										 get_rel_name(logical));
	MemoryContextSwitchTo(oldcxt);
	h->relid = lf_colocated_relid(rel, logical);

	hrel = table_open(h->relid, AccessShareLock);
	h->lead_id = model_column(hrel, "lead_id", INT8OID);
	h->account_id = model_column(hrel, "account_id", INT8OID);
	h->seq = model_column(hrel, "seq", INT4OID);
	h->from_stage = labels ? 0 : model_column(hrel, "from_stage", stage_type);
	h->to_stage = model_column(hrel, labels ? "stage" : "to_stage", stage_type);
	h->entered_at = model_column(hrel, "entered_at", TIMESTAMPTZOID);
	h->left_at = model_column(hrel, "left_at", TIMESTAMPTZOID);
	h->changed_by = model_column(hrel, "changed_by", NAMEOID);
	h->text = model_column(hrel, labels ? "label" : "reason", TEXTOID);
	h->recorded_at = 0;
	h->superseded_at = 0;
	h->flag = 0;
	if (SPI_fnumber(RelationGetDescr(hrel), "superseded_at") > 0)
	{
		h->recorded_at = model_column(hrel, "recorded_at", TIMESTAMPTZOID);
		h->superseded_at = model_column(hrel, "superseded_at", TIMESTAMPTZOID);
		if (!labels)
			h->flag = model_column(hrel, "flag", TEXTOID);
	}

	h->key = InvalidOid;
	indexes = RelationGetIndexList(hrel);
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		bool		match = is_history_key(idx, h);

		index_close(idx, AccessShareLock);
		if (match)
		{
			h->key = lfirst_oid(lc);
			break;
		}
	}
	list_free(indexes);
	table_close(hrel, AccessShareLock);

	if (!OidIsValid(h->key))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg(h->superseded_at == 0 ? "table %s has no primary key (account_id, lead_id, seq)"
						: "table %s has no unique index (account_id, lead_id, seq) WHERE superseded_at IS NULL",
						h->name),
				 errdetail("The stage triggers need the history tables created by leadfunnel.create_model()."),
				 errhint("Bring a model of an earlier version up to date with leadfunnel.upgrade_model().")));
}

/* The lead table's stage_label column, if the model has stage labels. */
static AttrNumber
optional_text_column(Relation rel, const char *name)
{
	int			attnum = SPI_fnumber(RelationGetDescr(rel), name);

	if (attnum <= 0)
		return 0;
	return model_column(rel, name, TEXTOID);
}

/*
 * The trigger's cached target.  lead_stage_transition has no arguments;
 * lead_stage_record has the stage history and, in a model with stage
 * labels, the label history.
 */
static TransitionTarget *
get_target(TriggerData *trigdata, bool needs_history)
{
	Trigger    *trigger = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	TransitionTarget *t;
	bool		found;
	Oid			stage_type;

	transition_cache_init();
	t = hash_search(targets, &trigger->tgoid, HASH_ENTER, &found);
	if (found && t->valid)
		return t;
	if (!found)
	{
		t->hist.name = NULL;
		t->labels.name = NULL;
	}
	t->valid = false;

	if (needs_history ? (trigger->tgnargs < 1 || trigger->tgnargs > 2) : trigger->tgnargs != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" on table \"%s\" has %d arguments, not %s",
						trigger->tgname, RelationGetRelationName(rel), trigger->tgnargs,
						needs_history ? "1 or 2" : "0"),
				 errhint("Create the model's triggers with leadfunnel.create_model().")));

	stage_type = lf_enum_type(LF_ENUM_STAGE);
	t->lead_relid = RelationGetRelid(rel);
	t->col.lead_id = model_column(rel, "lead_id", INT8OID);
	t->col.account_id = model_column(rel, "account_id", INT8OID);
	t->col.funnel = model_column(rel, "funnel", TEXTOID);
	t->col.stage = model_column(rel, "stage", stage_type);
	t->col.max_stage = model_column(rel, "max_stage", stage_type);
	t->col.created_at = model_column(rel, "created_at", TIMESTAMPTZOID);
	t->col.stage_entered_at = model_column(rel, "stage_entered_at", TIMESTAMPTZOID);
	t->col.closed_at = model_column(rel, "closed_at", TIMESTAMPTZOID);
	t->col.close_reason = model_column(rel, "close_reason", TEXTOID);
	t->col.stage_label = optional_text_column(rel, "stage_label");

	t->hist.relid = InvalidOid;
	t->labels.relid = InvalidOid;
	if (needs_history)
	{
		resolve_history(&t->hist, rel, trigger->tgargs[0], false);
		if (trigger->tgnargs > 1)
		{
			if (t->col.stage_label == 0)
				ereport(ERROR,
						(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						 errmsg("table \"%s\" has no column \"stage_label\"", RelationGetRelationName(rel)),
						 errdetail("A label history needs the stage_label column that leadfunnel.model_add_labels() adds.")));
			resolve_history(&t->labels, rel, trigger->tgargs[1], true);
		}
		t->guard_fn = lf_function_oid("history_append_only");
	}
	t->valid = true;
	return t;
}

static Name
current_role_name(void)
{
	Oid			role = GetUserId();

	transition_cache_init();
	if (role != changed_by_role)
	{
		namestrcpy(&changed_by_name, GetUserNameFromId(role, false));
		changed_by_role = role;
	}
	return &changed_by_name;
}

/*
 * The last row of one lead in a history table (the stage history's current
 * row, the value history's last change), into slot, materialized: a backward
 * scan of an index whose leading columns are (account_id, lead_id).
 * The lead row is locked by the statement that moves it, so no other writer
 * touches this lead's history; the latest snapshot sees a move that another
 * transaction committed after our statement started (READ COMMITTED).  The
 * index stays locked as the writer's own index inserts keep it.
 */
bool
lf_history_last_row(Relation hrel, Oid index, int64 account_id, int64 lead_id,
					TupleTableSlot *slot)
{
	Relation	idx = index_open(index, RowExclusiveLock);
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyData keys[2];
	IndexScanDesc scan;
	bool		found;

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(account_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(lead_id));
	scan = index_beginscan(hrel, idx, snap, NULL, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	found = index_getnext_slot(scan, BackwardScanDirection, slot);
	if (found)
		ExecMaterializeSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(snap);
	index_close(idx, NoLock);
	return found;
}

static void
set_column(TupleTableSlot *slot, AttrNumber attnum, Datum value, bool isnull)
{
	slot->tts_values[attnum - 1] = value;
	slot->tts_isnull[attnum - 1] = isnull;
}

/*
 * The history's triggers that our own writes need: all but the append-only
 * guard (which exists to stop everybody else) and the foreign-key check on
 * insert (the referenced lead is the row being moved, locked by this
 * transaction, so the check could not fail).  User triggers still fire.
 */
static TriggerDesc *
own_write_triggers(TriggerDesc *all, Oid guard_fn)
{
	TriggerDesc *td;

	if (all == NULL)
		return NULL;
	td = palloc0(sizeof(TriggerDesc));
	td->triggers = palloc(sizeof(Trigger) * all->numtriggers);
	for (int i = 0; i < all->numtriggers; i++)
	{
		Trigger    *trig = &all->triggers[i];
		int16		type = trig->tgtype;

		if (trig->tgfoid == guard_fn || trig->tgfoid == F_RI_FKEY_CHECK_INS)
			continue;
		td->triggers[td->numtriggers++] = *trig;
		td->trig_insert_before_row |= TRIGGER_TYPE_MATCHES(type, TRIGGER_TYPE_ROW, TRIGGER_TYPE_BEFORE, TRIGGER_TYPE_INSERT);
		td->trig_insert_after_row |= TRIGGER_TYPE_MATCHES(type, TRIGGER_TYPE_ROW, TRIGGER_TYPE_AFTER, TRIGGER_TYPE_INSERT);
		td->trig_update_before_row |= TRIGGER_TYPE_MATCHES(type, TRIGGER_TYPE_ROW, TRIGGER_TYPE_BEFORE, TRIGGER_TYPE_UPDATE);
		td->trig_update_after_row |= TRIGGER_TYPE_MATCHES(type, TRIGGER_TYPE_ROW, TRIGGER_TYPE_AFTER, TRIGGER_TYPE_UPDATE);
	}
	/* transition tables belong to statement triggers, which never fire here */
	return td;
}

/*
 * A history opened for the extension's own writes through the executor's
 * simple-relation routines (as logical replication applies changes):
 * indexes, constraints and the history's other triggers behave as for an
 * INSERT or UPDATE, without planning or running a statement per row.
 */
typedef struct HistoryWriter
{
	Relation	hrel;
	EState	   *estate;
	ResultRelInfo *rri;
} HistoryWriter;

static void
history_writer_open(HistoryWriter *w, Oid history_relid, Oid guard_fn)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	List	   *perminfos = NIL;

	w->hrel = table_open(history_relid, RowExclusiveLock);
	w->estate = CreateExecutorState();
	w->rri = makeNode(ResultRelInfo);
	rte->rtekind = RTE_RELATION;
	rte->relid = history_relid;
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	addRTEPermissionInfo(&perminfos, rte);
	ExecInitRangeTable(w->estate, list_make1(rte), perminfos, bms_make_singleton(1));
	InitResultRelInfo(w->rri, w->hrel, 1, NULL, 0);
	w->rri->ri_TrigDesc = own_write_triggers(w->rri->ri_TrigDesc, guard_fn);
	w->estate->es_output_cid = GetCurrentCommandId(true);
	w->estate->es_snapshot = GetActiveSnapshot();
	ExecOpenIndices(w->rri, false);
	AfterTriggerBeginQuery();
}

/*
 * The end of an executor state set up for our own writes (as
 * history_writer_open and tracking.c's lead inserter set it up): the queued
 * AFTER trigger events fired, indexes and relations closed, the state freed.
 */
void
lf_own_writes_end(EState *estate, ResultRelInfo *rri)
{
	AfterTriggerEndQuery(estate);
	ExecCloseIndices(rri);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
}

static void
history_writer_close(HistoryWriter *w)
{
	lf_own_writes_end(w->estate, w->rri);
	table_close(w->hrel, NoLock);
}

/*
 * A writer for another concern's own history table (value_history.c): the
 * same executor state as the stage history's, without the guard guard_fn
 * and the foreign-key check on insert.
 */
struct LfRowWriter
{
	HistoryWriter w;
};

LfRowWriter *
lf_row_writer_open(Oid relid, Oid guard_fn)
{
	LfRowWriter *rw = palloc0(sizeof(LfRowWriter));

	history_writer_open(&rw->w, relid, guard_fn);
	return rw;
}

Relation
lf_row_writer_relation(LfRowWriter *rw)
{
	return rw->w.hrel;
}

TupleTableSlot *
lf_row_writer_slot(LfRowWriter *rw)
{
	return table_slot_create(rw->w.hrel, &rw->w.estate->es_tupleTable);
}

void
lf_row_writer_insert(LfRowWriter *rw, TupleTableSlot *slot)
{
	ExecSimpleRelationInsert(rw->w.rri, rw->w.estate, slot);
	ResetPerTupleExprContext(rw->w.estate);
}

void
lf_row_writer_close(LfRowWriter *rw)
{
	history_writer_close(&rw->w);
	pfree(rw);
}

/* The memory of what the triggers keep for the sync's batch update, or NULL. */
MemoryContext
lf_batch_update_context(void)
{
	return pending_cxt;
}

/*
 * Append one row through slot (of the writer's table): seq, from (-1: none, the first row), to, entered at, and
 * the text (close reason, or label in the label history) and flag (stage
 * history of a bitemporal model only), either NULL.
 */
static void
history_writer_insert(HistoryWriter *w, TupleTableSlot *slot, HistoryTable *h, int64 lead_id,
					  int64 account_id, int32 seq, int from, int to, TimestampTz at,
					  Name changed_by, text *textval, const char *flag)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(GetPerTupleMemoryContext(w->estate));

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	set_column(slot, h->lead_id, Int64GetDatum(lead_id), false);
	set_column(slot, h->account_id, Int64GetDatum(account_id), false);
	set_column(slot, h->seq, Int32GetDatum(seq), false);
	if (h->from_stage)
		set_column(slot, h->from_stage, from >= 0 ? ObjectIdGetDatum(lf_stage_to_oid(from)) : (Datum) 0, from < 0);
	set_column(slot, h->to_stage, ObjectIdGetDatum(lf_stage_to_oid(to)), false);
	set_column(slot, h->entered_at, TimestampTzGetDatum(at), false);
	set_column(slot, h->changed_by, NameGetDatum(changed_by), false);
	set_column(slot, h->text, PointerGetDatum(textval), textval == NULL);
	if (h->recorded_at != 0)
		set_column(slot, h->recorded_at,
				   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), false);
	if (h->flag != 0 && flag != NULL)
		set_column(slot, h->flag, CStringGetTextDatum(flag), false);
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(w->rri, w->estate, slot);
	MemoryContextSwitchTo(oldcxt);
	ResetPerTupleExprContext(w->estate);
}

/* The slots write_history_row() works with, made once per writer. */
typedef struct HistorySlots
{
	TupleTableSlot *slot;
	TupleTableSlot *current;
	TupleTableSlot *closed;
} HistorySlots;

static void
history_slots_create(HistoryWriter *w, HistorySlots *s)
{
	s->slot = table_slot_create(w->hrel, &w->estate->es_tupleTable);
	s->current = table_slot_create(w->hrel, &w->estate->es_tupleTable);
	s->closed = table_slot_create(w->hrel, &w->estate->es_tupleTable);
}

/*
 * Append a row to a history table through an open writer, closing the
 * lead's current row first.
 *
 * Stage history (labels false): the first row when from == -1, else the
 * current row must be in stage from; text is the close reason; flag why the
 * funnel would have refused the move (record mode), or NULL.  Label history
 * (labels true): the current row, if any, is closed whatever its stage;
 * text is the label; the row is dated no earlier than the current row (a
 * label move within a stage happens at now(), which may precede the current
 * label's start only by the clock of another transaction).
 */
static void
write_history_row(HistoryWriter *w, HistorySlots *s, HistoryTable *h, bool labels, int64 lead_id,
				  int64 account_id, int from, int to, TimestampTz at, Name changed_by,
				  text *textval, const char *flag)
{
	int32		seq = 1;

	if (from >= 0 || labels)
	{
		EPQState	epqstate;
		bool		isnull;
		bool		found = lf_history_last_row(w->hrel, h->key, account_id, lead_id, s->current);

		if (!labels &&
			(!found ||
			 (slot_getattr(s->current, h->left_at, &isnull), !isnull) ||
			 lf_stage_from_oid(DatumGetObjectId(slot_getattr(s->current, h->to_stage, &isnull))) != from))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("history of lead %lld has no current row in stage \"%s\"",
							(long long) lead_id, lf_stage_names[from]),
					 errdetail("Table %s must hold one row with left_at IS NULL per lead, written by the transition trigger.",
							   h->name),
					 errhint("Check the model with leadfunnel.verify_model().")));
		if (found && labels)
		{
			/* a lead's last label row is current unless the model was tampered with */
			seq = DatumGetInt32(slot_getattr(s->current, h->seq, &isnull)) + 1;
			slot_getattr(s->current, h->left_at, &isnull);
			if (!isnull)
				found = false;
			else
				at = Max(at, DatumGetTimestampTz(slot_getattr(s->current, h->entered_at, &isnull)));
		}
		if (found)
		{
			if (!labels)
				seq = DatumGetInt32(slot_getattr(s->current, h->seq, &isnull)) + 1;
			ExecClearTuple(s->closed);
			slot_getallattrs(s->current);
			memcpy(s->closed->tts_values, s->current->tts_values, sizeof(Datum) * s->current->tts_nvalid);
			memcpy(s->closed->tts_isnull, s->current->tts_isnull, sizeof(bool) * s->current->tts_nvalid);
			set_column(s->closed, h->left_at, TimestampTzGetDatum(at), false);
			ExecStoreVirtualTuple(s->closed);

			EvalPlanQualInit(&epqstate, w->estate, NULL, NIL, -1, NIL);
			ExecSimpleRelationUpdate(w->rri, w->estate, &epqstate, s->current, s->closed);
			EvalPlanQualEnd(&epqstate);
		}
	}
	history_writer_insert(w, s->slot, h, lead_id, account_id, seq, from, to, at, changed_by, textval, flag);
}

/*
 * Append a row to a history table (write_history_row()), as the owner of
 * the lead table, with the append-only guard's permission raised.
 */
static void
write_history(TransitionTarget *t, HistoryTable *h, Relation rel, int64 lead_id,
			  int64 account_id, int from, int to, TimestampTz at, text *textval,
			  const char *flag)
{
	bool		labels = (h == &t->labels);
	Oid			save_userid;
	int			save_sec_context;
	Name		changed_by = current_role_name();
	bool		save_write_allowed = history_write_allowed;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	history_write_allowed = true;
	PG_TRY();
	{
		HistoryWriter w;
		HistorySlots s;

		history_writer_open(&w, h->relid, t->guard_fn);
		history_slots_create(&w, &s);
		write_history_row(&w, &s, h, labels, lead_id, account_id, from, to, at, changed_by, textval, flag);
		history_writer_close(&w);
	}
	PG_FINALLY();
	{
		/* restored, not cleared: a user trigger on the history may move another lead */
		history_write_allowed = save_write_allowed;
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

/*
 * In record mode (and only there can such a move pass the transition
 * trigger): why the funnel rules would have refused this move or start --
 * the text of the history row's flag -- or NULL.
 */
static char *
record_mode_flag(const char *funnel, int from, int to)
{
	const LfFunnel *f;

	if (!lf_tracking_record_mode)
		return NULL;
	f = lf_require_row_funnel(funnel);
	if (from < 0)
		return (f->entry & LF_STAGE_BIT(to)) ? NULL
			: psprintf("stage %s is not an entry stage of funnel %s", lf_stage_names[to], f->name);
	return (f->next[from] & LF_STAGE_BIT(to)) ? NULL
		: psprintf("funnel %s does not allow the move from %s to %s", f->name,
				   lf_stage_names[from], lf_stage_names[to]);
}

static char *
ts_text(TimestampTz ts)
{
	return pstrdup(timestamptz_to_str(ts));
}

static void
transition_error(Relation rel, int64 lead_id, const LfFunnel *f, int from, int to)
{
	LfStageSet	allowed = f->next[from];
	const char *detail;

	if (LF_STAGE_IS_CLOSED(from) && from != LF_STAGE_RECYCLED)
		detail = psprintf("Stage \"%s\" is closed; a closed lead cannot move unless a rule in leadfunnel.funnel_transition allows it.",
						  lf_stage_names[from]);
	else if (from == LF_STAGE_RECYCLED)
		detail = psprintf("A recycled lead can only be reopened into the reopen stages of funnel \"%s\": %s.",
						  f->name, lf_stage_set_to_text(f->reopen));
	else if (!(f->stages & LF_STAGE_BIT(to)) && !LF_STAGE_IS_LOSS(to))
		detail = psprintf("Funnel \"%s\" has no stage \"%s\".", f->name, lf_stage_names[to]);
	else if (to < from)
		detail = pstrdup("Backward moves are refused unless a rule in leadfunnel.funnel_transition allows them.");
	else
		detail = psprintf("Funnel \"%s\" does not allow skipping stages; moves go one stage forward, and won only from its last open stage.",
						  f->name);

	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("lead %lld cannot move from stage \"%s\" to stage \"%s\" in funnel \"%s\"",
					(long long) lead_id, lf_stage_names[from], lf_stage_names[to], f->name),
			 errdetail("%s", detail),
			 allowed ? errhint("Allowed next stages from \"%s\": %s.",
							   lf_stage_names[from], lf_stage_set_to_text(allowed))
			 : errhint("No move is allowed from stage \"%s\" in funnel \"%s\".",
					   lf_stage_names[from], f->name),
			 errtableconstraint(rel, TRANSITION_CONSTRAINT)));
}

static void
chronology_error(Relation rel, const char *msg, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg_internal("%s", msg),
			 errdetail_internal("%s", detail),
			 hint ? errhint("%s", hint) : 0,
			 errtableconstraint(rel, CHRONOLOGY_CONSTRAINT)));
}

static void
maintained_column_error(int64 lead_id, const char *column)
{
	ereport(ERROR,
			(errcode(ERRCODE_GENERATED_ALWAYS),
			 errmsg("column \"%s\" of lead %lld is maintained by leadfunnel", column, (long long) lead_id),
			 errdetail("It is derived from the lead's stage history."),
			 errhint("Leave it out of INSERT and UPDATE statements; move the lead with UPDATE ... SET stage.")));
}

static int64
required_int8(HeapTuple tuple, TupleDesc desc, AttrNumber attnum, const char *column)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, desc, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"%s\" of a lead", column),
				 errdetail("Every lead has a lead_id, an account_id, a funnel and a stage.")));
	return DatumGetInt64(d);
}

static Datum
required_datum(HeapTuple tuple, TupleDesc desc, AttrNumber attnum, const char *column,
			   int64 lead_id)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, desc, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"%s\" of lead %lld", column, (long long) lead_id),
				 errdetail("Every lead has a lead_id, an account_id, a funnel and a stage.")));
	return d;
}

/* A nullable timestamptz column: its value, or DT_NOBEGIN-free sentinel via *isnull. */
static TimestampTz
get_ts(HeapTuple tuple, TupleDesc desc, AttrNumber attnum, bool *isnull)
{
	Datum		d = heap_getattr(tuple, attnum, desc, isnull);

	return *isnull ? 0 : DatumGetTimestampTz(d);
}

/* A nullable text column as a C string, or NULL. */
static char *
row_text(HeapTuple tuple, TupleDesc desc, AttrNumber attnum)
{
	bool		isnull;
	Datum		d;

	if (attnum == 0)
		return NULL;
	d = heap_getattr(tuple, attnum, desc, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

static void
unknown_label_error(Relation rel, int64 lead_id, const char *funnel, const char *label)
{
	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 errmsg("lead %lld names stage label \"%s\", which funnel \"%s\" does not have",
					(long long) lead_id, label, funnel),
			 errdetail("Stage labels of funnel \"%s\": %s.", funnel, lf_funnel_labels_text(funnel)),
			 errhint("Add the label as a row of leadfunnel.stage_label, or write a canonical stage into stage."),
			 errtableconstraint(rel, LABEL_CONSTRAINT)));
}

static void
label_mismatch_error(Relation rel, int64 lead_id, const char *label, int label_stage, int stage)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("stage label \"%s\" of lead %lld maps to stage \"%s\", not \"%s\"",
					label, (long long) lead_id, lf_stage_names[label_stage], lf_stage_names[stage]),
			 errdetail("A lead's stage_label and stage must agree."),
			 errhint("Write only stage_label (the stage follows it) or only stage (the label becomes the stage's first label)."),
			 errtableconstraint(rel, LABEL_CONSTRAINT)));
}

/* Collects the columns a BEFORE trigger sets in the row it returns. */
typedef struct RowChanges
{
	int			n;
	int			cols[8];
	Datum		values[8];
	bool		nulls[8];
} RowChanges;

static void
change_column(RowChanges *rc, AttrNumber attnum, Datum value, bool isnull)
{
	Assert(rc->n < lengthof(rc->cols));
	rc->cols[rc->n] = attnum;
	rc->values[rc->n] = value;
	rc->nulls[rc->n++] = isnull;
}

static void
change_label(RowChanges *rc, AttrNumber attnum, const char *label)
{
	change_column(rc, attnum, label ? CStringGetTextDatum(label) : (Datum) 0, label == NULL);
}

static HeapTuple
apply_changes(HeapTuple tuple, TupleDesc desc, RowChanges *rc)
{
	return rc->n == 0 ? tuple : heap_modify_tuple_by_cols(tuple, desc, rc->n, rc->cols, rc->values, rc->nulls);
}

static HeapTuple
on_insert(TriggerData *trigdata, TransitionTarget *t)
{
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	tuple = trigdata->tg_trigtuple;
	LeadColumns *c = &t->col;
	int64		lead_id = required_int8(tuple, desc, c->lead_id, "lead_id");
	char	   *funnel = TextDatumGetCString(required_datum(tuple, desc, c->funnel, "funnel", lead_id));
	const LfFunnel *f = lf_require_row_funnel(funnel);
	char	   *label = row_text(tuple, desc, c->stage_label);
	int			stage;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	bool		isnull;
	TimestampTz created,
				entered;
	RowChanges	rc = {0};

	if (label != NULL)
	{
		/*
		 * The label decides the stage: the stage column holds its default
		 * ('lead') when the INSERT names only the label, and a BEFORE trigger
		 * cannot tell a default from a value written.
		 */
		if (!lf_label_stage(funnel, label, &stage))
			unknown_label_error(rel, lead_id, funnel, label);
		change_column(&rc, c->stage, ObjectIdGetDatum(lf_stage_to_oid(stage)), false);
		f = lf_require_row_funnel(funnel);
	}
	else
	{
		stage = lf_stage_from_oid(DatumGetObjectId(required_datum(tuple, desc, c->stage, "stage", lead_id)));
		if (c->stage_label)
		{
			label = (char *) lf_first_label(funnel, stage);
			if (label != NULL)
				change_label(&rc, c->stage_label, label);
			f = lf_require_row_funnel(funnel);
		}
	}

	if (!(f->entry & LF_STAGE_BIT(stage)) && !lf_tracking_record_mode)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("lead %lld cannot start in stage \"%s\" of funnel \"%s\"",
						(long long) lead_id, lf_stage_names[stage], f->name),
				 errdetail("A lead is created in one of the entry stages of its funnel."),
				 errhint("Entry stages of funnel \"%s\": %s.", f->name, lf_stage_set_to_text(f->entry)),
				 errtableconstraint(rel, TRANSITION_CONSTRAINT)));

	heap_getattr(tuple, c->max_stage, desc, &isnull);
	if (!isnull && lf_stage_from_oid(DatumGetObjectId(heap_getattr(tuple, c->max_stage, desc, &isnull))) != stage)
		maintained_column_error(lead_id, "max_stage");
	heap_getattr(tuple, c->closed_at, desc, &isnull);
	if (!isnull)
		maintained_column_error(lead_id, "closed_at");

	created = get_ts(tuple, desc, c->created_at, &isnull);
	if (isnull)
		created = now;
	entered = get_ts(tuple, desc, c->stage_entered_at, &isnull);
	if (isnull)
		entered = created;
	if (TIMESTAMP_NOT_FINITE(created) || created > GetCurrentTimestamp())
		chronology_error(rel,
						 psprintf("lead %lld cannot be created at %s", (long long) lead_id, ts_text(created)),
						 "A lead's created_at is a finite time that is not in the future.",
						 "Leave created_at out to use the current time.");
	if (entered < created || entered > GetCurrentTimestamp())
		chronology_error(rel,
						 psprintf("lead %lld cannot enter stage \"%s\" at %s, %s it was created at %s",
								  (long long) lead_id, lf_stage_names[stage], ts_text(entered),
								  entered < created ? "before" : "in the future after", ts_text(created)),
						 "A lead enters its first stage when it is created or later, and never in the future.",
						 "Leave stage_entered_at out to use created_at.");

	change_column(&rc, c->created_at, TimestampTzGetDatum(created), false);
	change_column(&rc, c->stage_entered_at, TimestampTzGetDatum(entered), false);
	/* (a closed first stage only where record mode lets a lead start there) */
	change_column(&rc, c->max_stage, ObjectIdGetDatum(lf_stage_to_oid(stage)), LF_STAGE_IS_LOSS(stage));
	change_column(&rc, c->closed_at, TimestampTzGetDatum(entered), !LF_STAGE_IS_CLOSED(stage));
	return apply_changes(tuple, desc, &rc);
}

/*
 * The label a move leaves the lead with (model with stage labels only), and
 * the stage a written label moves it to.  Writing stage_label moves stage
 * to the label's stage; writing stage alone (or clearing the label) sets the
 * label to the stage's first label; a funnel change keeps a label the new
 * funnel has for the stage.  *to is the stage after the move.
 */
static void
resolve_update_label(Relation rel, TransitionTarget *t, HeapTuple oldtup, HeapTuple newtup,
					 int64 lead_id, const char *funnel, int from, int *to,
					 bool funnel_changed, RowChanges *rc)
{
	LeadColumns *c = &t->col;
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *label = row_text(newtup, desc, c->stage_label);
	bool		label_changed = lf_column_changed(oldtup, newtup, desc, c->stage_label);
	int			label_stage;

	if (label_changed && label != NULL)
	{
		if (!lf_label_stage(funnel, label, &label_stage))
			unknown_label_error(rel, lead_id, funnel, label);
		if (*to != from && *to != label_stage)
			label_mismatch_error(rel, lead_id, label, label_stage, *to);
		if (*to != label_stage)
			change_column(rc, c->stage, ObjectIdGetDatum(lf_stage_to_oid(label_stage)), false);
		*to = label_stage;
	}
	else if (label_changed || *to != from ||
			 (funnel_changed && !(label != NULL && lf_label_stage(funnel, label, &label_stage) &&
								  label_stage == *to)))
		change_label(rc, c->stage_label, lf_first_label(funnel, *to));
}

static HeapTuple
on_update(TriggerData *trigdata, TransitionTarget *t)
{
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	oldtup = trigdata->tg_trigtuple;
	HeapTuple	newtup = trigdata->tg_newtuple;
	LeadColumns *c = &t->col;
	int64		lead_id = required_int8(newtup, desc, c->lead_id, "lead_id");
	int			from = lf_stage_from_oid(DatumGetObjectId(required_datum(oldtup, desc, c->stage, "stage", lead_id)));
	int			to = lf_stage_from_oid(DatumGetObjectId(required_datum(newtup, desc, c->stage, "stage", lead_id)));
	bool		funnel_changed = lf_column_changed(oldtup, newtup, desc, c->funnel);
	bool		entered_changed = lf_column_changed(oldtup, newtup, desc, c->stage_entered_at);
	bool		label_changed = c->stage_label != 0 && lf_column_changed(oldtup, newtup, desc, c->stage_label);
	const LfFunnel *f;
	char	   *funnel;
	bool		isnull;
	TimestampTz old_entered,
				entered;
	int			old_max,
				new_max;
	RowChanges	rc = {0};

	if (lf_column_changed(oldtup, newtup, desc, c->max_stage))
		maintained_column_error(lead_id, "max_stage");
	if (lf_column_changed(oldtup, newtup, desc, c->closed_at))
		maintained_column_error(lead_id, "closed_at");
	if (lf_column_changed(oldtup, newtup, desc, c->created_at))
		chronology_error(rel,
						 psprintf("created_at of lead %lld cannot change", (long long) lead_id),
						 "It is the start of the lead's stage history.",
						 "Insert the lead with the right created_at.");

	/* the cheap and common case: a column unrelated to the funnel changed */
	if (from == to && !funnel_changed && !entered_changed && !label_changed)
		return newtup;

	funnel = TextDatumGetCString(required_datum(newtup, desc, c->funnel, "funnel", lead_id));
	lf_require_row_funnel(funnel);
	if (c->stage_label)
		resolve_update_label(rel, t, oldtup, newtup, lead_id, funnel, from, &to, funnel_changed, &rc);
	/* (the pointer is valid until the next lookup, so taken after the labels') */
	f = lf_require_row_funnel(funnel);
	old_entered = get_ts(oldtup, desc, c->stage_entered_at, &isnull);
	if (isnull)
		old_entered = get_ts(oldtup, desc, c->created_at, &isnull);

	if (from == to)
	{
		if (entered_changed)
			chronology_error(rel,
							 psprintf("stage_entered_at of lead %lld can only change together with its stage",
									  (long long) lead_id),
							 psprintf("It is the time the lead entered stage \"%s\", as recorded in its history.",
									  lf_stage_names[from]),
							 "Set stage_entered_at in the UPDATE that moves the lead.");
		if (LF_STAGE_IS_OPEN(from) && !(f->stages & LF_STAGE_BIT(from)))
		{
			Datum		old_funnel = heap_getattr(oldtup, c->funnel, desc, &isnull);

			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("lead %lld in stage \"%s\" cannot move from funnel \"%s\" to funnel \"%s\"",
							(long long) lead_id, lf_stage_names[from],
							isnull ? "" : TextDatumGetCString(old_funnel), f->name),
					 errdetail("Funnel \"%s\" has no stage \"%s\".", f->name, lf_stage_names[from]),
					 errhint("Stages of funnel \"%s\": %s.", f->name, lf_stage_set_to_text(f->stages)),
					 errtableconstraint(rel, TRANSITION_CONSTRAINT)));
		}
		/* a move between labels of one stage: the label history records it */
		return apply_changes(newtup, desc, &rc);
	}

	if (!(f->next[from] & LF_STAGE_BIT(to)) && !lf_tracking_record_mode)
		transition_error(rel, lead_id, f, from, to);

	/* explicit: the UPDATE names stage_entered_at (a backfill), even if unchanged */
	if (bms_is_member(c->stage_entered_at - FirstLowInvalidHeapAttributeNumber,
					  trigdata->tg_updatedcols) &&
		!heap_attisnull(newtup, c->stage_entered_at, desc))
	{
		entered = get_ts(newtup, desc, c->stage_entered_at, &isnull);
		if (entered < old_entered)
			chronology_error(rel,
							 psprintf("lead %lld cannot enter stage \"%s\" at %s, before it entered stage \"%s\" at %s",
									  (long long) lead_id, lf_stage_names[to], ts_text(entered),
									  lf_stage_names[from], ts_text(old_entered)),
							 "A stage move cannot be dated before the lead entered its current stage.",
							 "Set stage_entered_at to a later time, or leave it unchanged to use the current time.");
		if (entered > GetCurrentTimestamp())
			chronology_error(rel,
							 psprintf("lead %lld cannot enter stage \"%s\" at %s, which is in the future",
									  (long long) lead_id, lf_stage_names[to], ts_text(entered)),
							 "A stage move is dated at the current time or, for backfills, at an earlier time.",
							 "Leave stage_entered_at unchanged to use the current time.");
	}
	else
	{
		/*
		 * now(); but a transaction that started before a concurrent move of
		 * this lead committed must not date its move before that one.
		 */
		entered = Max(GetCurrentTransactionStartTimestamp(), old_entered);
	}

	/* NULL: no open or won stage reached yet (a lead that started closed in record mode) */
	old_max = LF_STAGE_IS_LOSS(from) ? -1 : from;
	if (!heap_attisnull(oldtup, c->max_stage, desc))
		old_max = lf_stage_from_oid(DatumGetObjectId(heap_getattr(oldtup, c->max_stage, desc, &isnull)));
	new_max = (!LF_STAGE_IS_LOSS(to) && to > old_max) ? to : old_max;

	change_column(&rc, c->stage_entered_at, TimestampTzGetDatum(entered), false);
	change_column(&rc, c->max_stage, new_max >= 0 ? ObjectIdGetDatum(lf_stage_to_oid(new_max)) : (Datum) 0, new_max < 0);
	change_column(&rc, c->closed_at, TimestampTzGetDatum(entered), !LF_STAGE_IS_CLOSED(to));
	if (!LF_STAGE_IS_CLOSED(to))
	{
		/* a reopened lead is no longer closed for a reason */
		change_column(&rc, c->close_reason, (Datum) 0, true);
	}
	return apply_changes(newtup, desc, &rc);
}

PG_FUNCTION_INFO_V1(lf_lead_stage_transition);
Datum
lf_lead_stage_transition(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TransitionTarget *t;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"lead_stage_transition\" was not called by trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"lead_stage_transition\" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW")));

	t = get_target(trigdata, false);
	/* account_id is checked here so that the history write cannot meet a null */
	required_int8(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ? trigdata->tg_trigtuple : trigdata->tg_newtuple,
				  RelationGetDescr(trigdata->tg_relation), t->col.account_id, "account_id");
	/* an import or a correction writes the lead as its merged history says */
	if (lf_history_rewrite)
		return PointerGetDatum(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ? trigdata->tg_trigtuple
							   : trigdata->tg_newtuple);
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return PointerGetDatum(on_insert(trigdata, t));
	return PointerGetDatum(on_update(trigdata, t));
}

/*
 * AFTER INSERT OR UPDATE row trigger (WHEN the stage changed): appends the
 * move that lead_stage_transition() validated and dated to the history.
 * Writing it after the row is stored means the history's foreign key to the
 * lead holds, and that the history shows the row as finally written even
 * when other BEFORE triggers ran after ours.
 */
PG_FUNCTION_INFO_V1(lf_lead_stage_record);
Datum
lf_lead_stage_record(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TransitionTarget *t;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	newtup;
	int64		lead_id;
	int64		account_id;
	int			from = -1;
	int			to;
	bool		isnull;
	bool		label_changed = false;
	TimestampTz entered;
	text	   *reason = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"lead_stage_record\" was not called by trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"lead_stage_record\" must be fired AFTER INSERT OR UPDATE FOR EACH ROW")));

	/* an import or a correction appends the history itself */
	if (lf_history_rewrite)
		return PointerGetDatum(NULL);
	/* a new lead of the sync's batch: lf_record_inserted_leads() writes its rows */
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) &&
		RelationGetRelid(trigdata->tg_relation) == lf_tracking_batch_lead)
		return PointerGetDatum(NULL);
	t = get_target(trigdata, true);
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	newtup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	lead_id = required_int8(newtup, desc, t->col.lead_id, "lead_id");
	account_id = required_int8(newtup, desc, t->col.account_id, "account_id");
	to = lf_stage_from_oid(DatumGetObjectId(required_datum(newtup, desc, t->col.stage, "stage", lead_id)));
	entered = DatumGetTimestampTz(required_datum(newtup, desc, t->col.stage_entered_at,
												 "stage_entered_at", lead_id));
	if (OidIsValid(t->labels.relid))
	{
		/* a label row for every change of (stage, label) but from no label to none */
		label_changed = !heap_attisnull(newtup, t->col.stage_label, desc);
		if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
			label_changed = (label_changed || !heap_attisnull(trigdata->tg_trigtuple, t->col.stage_label, desc)) &&
				(lf_column_changed(trigdata->tg_trigtuple, newtup, desc, t->col.stage_label) ||
				 lf_column_changed(trigdata->tg_trigtuple, newtup, desc, t->col.stage));
	}
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		from = lf_stage_from_oid(DatumGetObjectId(required_datum(trigdata->tg_trigtuple, desc,
																  t->col.stage, "stage", lead_id)));
		if (from == to && !label_changed)
			return PointerGetDatum(NULL);	/* no WHEN clause on this trigger */
	}
	/* the sync's batch of updated leads: kept for lf_record_updated_leads() */
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) && pending_cxt != NULL &&
		RelationGetRelid(rel) == lf_tracking_batch_update &&
		(!OidIsValid(pending_tgoid) || pending_tgoid == trigdata->tg_trigger->tgoid))
	{
		keep_move(trigdata, t, newtup, lead_id, account_id, from, to, entered, label_changed);
		return PointerGetDatum(NULL);
	}
	if (from != to)
	{
		char	   *flag = NULL;

		if (LF_STAGE_IS_CLOSED(to) && !heap_attisnull(newtup, t->col.close_reason, desc))
			reason = DatumGetTextPP(heap_getattr(newtup, t->col.close_reason, desc, &isnull));
		if (lf_tracking_record_mode && t->hist.flag != 0)
			flag = record_mode_flag(TextDatumGetCString(required_datum(newtup, desc, t->col.funnel, "funnel", lead_id)),
									from, to);
		write_history(t, &t->hist, rel, lead_id, account_id, from, to, entered, reason, flag);
	}
	if (label_changed)
	{
		Datum		label = heap_getattr(newtup, t->col.stage_label, desc, &isnull);

		/* a move within one stage happens now, a stage move when the stage is entered */
		write_history(t, &t->labels, rel, lead_id, account_id, from, to,
					  from == to ? GetCurrentTransactionStartTimestamp() : entered,
					  isnull ? NULL : DatumGetTextPP(label), NULL);
	}
	return PointerGetDatum(NULL);
}

/*
 * Keep an updated lead's history rows, as lead_stage_record() would write
 * them, for lf_record_updated_leads().
 */
static void
keep_move(TriggerData *trigdata, TransitionTarget *t, HeapTuple newtup, int64 lead_id,
		  int64 account_id, int from, int to, TimestampTz entered, bool label_changed)
{
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	MemoryContext oldcxt;
	PendingMove *m;
	bool		isnull;
	char	   *flag = NULL;

	if (from != to && lf_tracking_record_mode && t->hist.flag != 0)
		flag = record_mode_flag(TextDatumGetCString(required_datum(newtup, desc, t->col.funnel, "funnel", lead_id)),
								from, to);
	oldcxt = MemoryContextSwitchTo(pending_cxt);
	if (npending == maxpending)
	{
		maxpending = maxpending == 0 ? 1024 : maxpending * 2;
		pending = pending == NULL ? palloc(sizeof(PendingMove) * maxpending)
			: repalloc_huge(pending, sizeof(PendingMove) * maxpending);
	}
	pending_tgoid = trigdata->tg_trigger->tgoid;
	m = &pending[npending++];
	memset(m, 0, sizeof(PendingMove));
	m->lead_id = lead_id;
	m->account_id = account_id;
	m->from = from;
	m->to = to;
	m->stage_row = (from != to);
	m->label_row = label_changed;
	m->entered = entered;
	/* a move within one stage happens now, a stage move when the stage is entered */
	m->label_at = from == to ? GetCurrentTransactionStartTimestamp() : entered;
	if (from != to && LF_STAGE_IS_CLOSED(to) && !heap_attisnull(newtup, t->col.close_reason, desc))
		m->reason = DatumGetTextPCopy(heap_getattr(newtup, t->col.close_reason, desc, &isnull));
	if (flag != NULL)
		m->flag = pstrdup(flag);
	if (label_changed && !heap_attisnull(newtup, t->col.stage_label, desc))
		m->label = DatumGetTextPCopy(heap_getattr(newtup, t->col.stage_label, desc, &isnull));
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The sync of a tracked table is about to update leads of rel in one
 * statement: lead_stage_record() keeps their moves from now on, until
 * lf_record_updated_leads() writes them or lf_batch_update_end() drops them.
 */
void
lf_batch_update_begin(void)
{
	Assert(pending_cxt == NULL);
	pending_cxt = AllocSetContextCreate(TopTransactionContext, "leadfunnel pending moves",
										ALLOCSET_DEFAULT_SIZES);
}

void
lf_batch_update_end(void)
{
	if (pending_cxt != NULL)
		MemoryContextDelete(pending_cxt);
	pending_cxt = NULL;
	pending = NULL;
	npending = maxpending = 0;
	pending_tgoid = InvalidOid;
}

/*
 * The history rows of the leads the sync updated in one statement with
 * lf_tracking_batch_update set, which lead_stage_record() kept: the same
 * rows it would have written -- each moved lead's current stage history
 * row closed and the new one appended (its close reason, in record mode the
 * flag of a move its funnel refuses), and for a changed label the label
 * history's likewise -- with one executor state per history table instead
 * of one per row.  Each lead is updated once by the statement, so the rows
 * of one lead do not depend on another's.
 */
void
lf_record_updated_leads(Relation rel)
{
	TriggerData td;
	TransitionTarget *t;
	Name		changed_by;
	Oid			save_userid;
	int			save_sec_context;
	bool		save_write_allowed = history_write_allowed;
	Trigger    *trig = NULL;

	if (npending == 0)
		return;
	/* the trigger that kept them (by the trigger manager's description of it) */
	for (int i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers; i++)
		if (rel->trigdesc->triggers[i].tgoid == pending_tgoid)
			trig = &rel->trigdesc->triggers[i];
	if (trig == NULL)
		elog(ERROR, "trigger %u of the kept moves is gone", pending_tgoid);
	memset(&td, 0, sizeof(td));
	td.type = T_TriggerData;
	td.tg_event = TRIGGER_EVENT_UPDATE | TRIGGER_EVENT_ROW | TRIGGER_EVENT_AFTER;
	td.tg_relation = rel;
	td.tg_trigger = trig;
	t = get_target(&td, true);

	changed_by = current_role_name();
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	history_write_allowed = true;
	PG_TRY();
	{
		for (int pass = 0; pass < 2; pass++)
		{
			HistoryTable *h = pass == 0 ? &t->hist : &t->labels;
			HistoryWriter w;
			HistorySlots s;
			bool		opened = false;

			for (int i = 0; i < npending; i++)
			{
				PendingMove *m = &pending[i];

				if (pass == 0 ? !m->stage_row : !m->label_row)
					continue;
				if (!opened)
				{
					history_writer_open(&w, h->relid, t->guard_fn);
					history_slots_create(&w, &s);
					opened = true;
				}
				if (pass == 0)
					write_history_row(&w, &s, h, false, m->lead_id, m->account_id, m->from, m->to,
									  m->entered, changed_by, m->reason, m->flag);
				else
					write_history_row(&w, &s, h, true, m->lead_id, m->account_id, m->from, m->to,
									  m->label_at, changed_by, m->label, NULL);
			}
			if (opened)
				history_writer_close(&w);
		}
	}
	PG_FINALLY();
	{
		history_write_allowed = save_write_allowed;
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

/* The function leadfunnel.<fn>() without arguments (a trigger function). */
Oid
lf_function_oid(const char *fn)
{
	return LookupFuncName(list_make2(makeString(LF_SCHEMA), makeString(pstrdup(fn))), 0, NULL, false);
}

/*
 * Does a trigger fire in this session (by its tgenabled and
 * session_replication_role, as the trigger manager decides)?
 */
bool
lf_trigger_fires(const Trigger *trig)
{
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return trig->tgenabled == TRIGGER_FIRES_ON_REPLICA || trig->tgenabled == TRIGGER_FIRES_ALWAYS;
	return trig->tgenabled == TRIGGER_FIRES_ON_ORIGIN || trig->tgenabled == TRIGGER_FIRES_ALWAYS;
}

/*
 * The AFTER INSERT row trigger of rel that calls the extension's function fn
 * and fires in this session, as the trigger manager would describe it to
 * the function for an inserted row (without the row); false when rel has
 * none.
 */
bool
lf_insert_trigger_data(Relation rel, const char *fn, TriggerData *td)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	Oid			fnoid;

	memset(td, 0, sizeof(TriggerData));
	if (trigdesc == NULL)
		return false;
	fnoid = lf_function_oid(fn);
	for (int i = 0; i < trigdesc->numtriggers; i++)
		if (trigdesc->triggers[i].tgfoid == fnoid && lf_trigger_fires(&trigdesc->triggers[i]) &&
			TRIGGER_TYPE_MATCHES(trigdesc->triggers[i].tgtype, TRIGGER_TYPE_ROW, TRIGGER_TYPE_AFTER, TRIGGER_TYPE_INSERT))
			td->tg_trigger = &trigdesc->triggers[i];
	if (td->tg_trigger == NULL)
		return false;
	td->type = T_TriggerData;
	td->tg_event = TRIGGER_EVENT_INSERT | TRIGGER_EVENT_ROW | TRIGGER_EVENT_AFTER;
	td->tg_relation = rel;
	return true;
}

/* A column of the rows an INSERT ... RETURNING gave, by name; 0 when absent. */
static int
returned_column(SPITupleTable *rows, const char *name, bool required)
{
	int			attnum = SPI_fnumber(rows->tupdesc, name);

	if (attnum <= 0 && required)
		elog(ERROR, "the batch of new leads lacks column \"%s\"", name);
	return attnum > 0 ? attnum : 0;
}

/*
 * The history rows of the new leads the sync of a tracked table inserted in
 * one statement with lf_tracking_batch_lead raised, for which
 * lead_stage_record() returned at once: the rows it would have written --
 * each lead's first stage history row (its close reason, in record mode the
 * flag of a start its funnel refuses) and, with a label, its first label
 * history row -- written with one executor state per history table instead
 * of one per row.  rows are the INSERT's RETURNING rows (lead_id,
 * account_id, funnel, stage, stage_entered_at, close_reason, stage_label),
 * the rows as stored.  A lead just inserted has no history yet, so every
 * row is seq 1.  Nothing is written when lead_stage_record would not fire.
 */
void
lf_record_inserted_leads(Relation rel, SPITupleTable *rows, uint64 nrows)
{
	TriggerData td;
	TransitionTarget *t;
	int			c_lead,
				c_account,
				c_funnel,
				c_stage,
				c_entered,
				c_reason,
				c_label;
	Name		changed_by;
	Oid			save_userid;
	int			save_sec_context;
	bool		save_write_allowed = history_write_allowed;

	if (nrows == 0 || !lf_insert_trigger_data(rel, "lead_stage_record", &td))
		return;
	t = get_target(&td, true);

	c_lead = returned_column(rows, "lead_id", true);
	c_account = returned_column(rows, "account_id", true);
	c_funnel = returned_column(rows, "funnel", true);
	c_stage = returned_column(rows, "stage", true);
	c_entered = returned_column(rows, "stage_entered_at", true);
	c_reason = returned_column(rows, "close_reason", true);
	c_label = OidIsValid(t->labels.relid) ? returned_column(rows, "stage_label", true) : 0;

	changed_by = current_role_name();
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	history_write_allowed = true;
	PG_TRY();
	{
		for (int pass = 0; pass < (c_label ? 2 : 1); pass++)
		{
			HistoryTable *h = pass == 0 ? &t->hist : &t->labels;
			HistoryWriter w;
			TupleTableSlot *slot;

			history_writer_open(&w, h->relid, t->guard_fn);
			slot = table_slot_create(w.hrel, &w.estate->es_tupleTable);
			for (uint64 r = 0; r < nrows; r++)
			{
				HeapTuple	tup = rows->vals[r];
				TupleDesc	desc = rows->tupdesc;
				int64		lead_id = DatumGetInt64(required_datum(tup, desc, c_lead, "lead_id", 0));
				int64		account_id = DatumGetInt64(required_datum(tup, desc, c_account, "account_id", lead_id));
				int			to = lf_stage_from_oid(DatumGetObjectId(required_datum(tup, desc, c_stage, "stage", lead_id)));
				TimestampTz entered = DatumGetTimestampTz(required_datum(tup, desc, c_entered, "stage_entered_at", lead_id));
				bool		isnull;
				Datum		d;
				text	   *textval = NULL;
				char	   *flag = NULL;

				if (pass == 0)
				{
					d = SPI_getbinval(tup, desc, c_reason, &isnull);
					if (LF_STAGE_IS_CLOSED(to) && !isnull)
						textval = DatumGetTextPP(d);
					if (lf_tracking_record_mode && h->flag != 0)
						flag = record_mode_flag(TextDatumGetCString(required_datum(tup, desc, c_funnel, "funnel", lead_id)),
												-1, to);
				}
				else
				{
					d = SPI_getbinval(tup, desc, c_label, &isnull);
					if (isnull)
						continue;	/* no label row for a lead without a label */
					textval = DatumGetTextPP(d);
				}
				history_writer_insert(&w, slot, h, lead_id, account_id, 1, -1, to, entered, changed_by, textval, flag);
			}
			history_writer_close(&w);
		}
	}
	PG_FINALLY();
	{
		history_write_allowed = save_write_allowed;
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

/*
 * Trigger on the history table, BEFORE INSERT OR UPDATE OR DELETE FOR EACH
 * ROW and BEFORE TRUNCATE: only the transition trigger writes history.
 */
PG_FUNCTION_INFO_V1(lf_history_append_only);
Datum
lf_history_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"history_append_only\" must be fired BEFORE")));
	if (!history_write_allowed && !lf_history_rewrite)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("stage history \"%s\" is append-only", lf_logical_relname(trigdata->tg_relation)),
				 errdetail("Its rows are written only by leadfunnel's transition trigger, import_history() and correct_history()."),
				 errhint("Move a lead with UPDATE ... SET stage = ... on its lead table, or correct its history with leadfunnel.correct_history().")));
	if (TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		return PointerGetDatum(NULL);
	return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple
						   : trigdata->tg_trigtuple);
}

static void
require_rewrite(const char *fn)
{
	if (!lf_history_rewrite)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("function \"%s\" can only run within import_history() or correct_history()", fn),
				 errhint("Call leadfunnel.import_history() or leadfunnel.correct_history().")));
}

/* history_rewrite_check(): guards the internal functions of the merge */
PG_FUNCTION_INFO_V1(lf_history_rewrite_check);
Datum
lf_history_rewrite_check(PG_FUNCTION_ARGS)
{
	require_rewrite("history_rewrite_check");
	PG_RETURN_VOID();
}

/*
 * history_append_rows(history regclass, rows_query text) returns bigint:
 * appends the rows of a query, whose columns are named as the history's
 * (the others are NULL), through the executor as write_history() does --
 * the append-only guard and the foreign-key check of the new rows skipped,
 * since the merge holds the locks of their leads -- in batches read from a
 * cursor.  Only within import_history() or correct_history().
 *
 * When no other row trigger of the history fires on INSERT, it has no
 * generated column and is no partition (the model as created), the rows go
 * to the table in batches as COPY writes them (table_multi_insert(), then
 * the index entries of each row), each row checked against the table's
 * constraints (NOT NULL, CHECK) first, as ExecSimpleRelationInsert() checks
 * it; else one by one through ExecSimpleRelationInsert(), which fires those
 * triggers.
 */
#define APPEND_BATCH 10000
#define APPEND_MULTI 1000

static void
append_flush(HistoryWriter *w, TupleTableSlot **slots, int nslots, BulkInsertState bistate)
{
	if (nslots == 0)
		return;
	table_multi_insert(w->hrel, slots, nslots, w->estate->es_output_cid, 0, bistate);
	for (int i = 0; i < nslots; i++)
	{
		List	   *recheck = NIL;

		if (w->rri->ri_NumIndices > 0)
			recheck = ExecInsertIndexTuples(w->rri, slots[i], w->estate, false, false, NULL, NIL, false);
		list_free(recheck);
		ExecClearTuple(slots[i]);
	}
	ResetPerTupleExprContext(w->estate);
}

PG_FUNCTION_INFO_V1(lf_history_append_rows);
Datum
lf_history_append_rows(PG_FUNCTION_ARGS)
{
	Oid			history_relid;
	HistoryWriter w;
	TupleTableSlot *slot;
	TupleTableSlot **slots = NULL;
	BulkInsertState bistate = NULL;
	int			nslots = 0;
	TupleDesc	hdesc;
	Portal		portal;
	AttrNumber *map = NULL;
	int64		n = 0;
	bool		multi;

	require_rewrite("history_append_rows");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments of history_append_rows must not be null")));
	history_relid = PG_GETARG_OID(0);
	history_writer_open(&w, history_relid,
						LookupFuncName(list_make2(makeString(LF_SCHEMA), makeString("history_append_only")),
									   0, NULL, false));
	hdesc = RelationGetDescr(w.hrel);
	slot = table_slot_create(w.hrel, &w.estate->es_tupleTable);
	multi = w.hrel->rd_rel->relkind == RELKIND_RELATION && !w.hrel->rd_rel->relispartition &&
		(w.rri->ri_TrigDesc == NULL ||
		 (!w.rri->ri_TrigDesc->trig_insert_before_row && !w.rri->ri_TrigDesc->trig_insert_after_row &&
		  !w.rri->ri_TrigDesc->trig_insert_instead_row)) &&
		(hdesc->constr == NULL || !hdesc->constr->has_generated_stored);
	if (multi)
	{
		slots = palloc(sizeof(TupleTableSlot *) * APPEND_MULTI);
		for (int i = 0; i < APPEND_MULTI; i++)
			slots[i] = table_slot_create(w.hrel, &w.estate->es_tupleTable);
		bistate = GetBulkInsertState();
	}

	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL, text_to_cstring(PG_GETARG_TEXT_PP(1)), 0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		TupleDesc	rdesc;

		SPI_cursor_fetch(portal, true, APPEND_BATCH);
		if (SPI_processed == 0)
			break;
		rdesc = SPI_tuptable->tupdesc;
		if (map == NULL)
		{
			map = palloc(sizeof(AttrNumber) * rdesc->natts);
			for (int i = 0; i < rdesc->natts; i++)
			{
				Form_pg_attribute ra = TupleDescAttr(rdesc, i);
				int			attnum = SPI_fnumber(hdesc, NameStr(ra->attname));

				if (attnum <= 0 || TupleDescAttr(hdesc, attnum - 1)->atttypid != ra->atttypid)
					elog(ERROR, "column \"%s\" of the rows to append does not match the history", NameStr(ra->attname));
				map[i] = attnum;
			}
		}
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleTableSlot *s = multi ? slots[nslots] : slot;

			ExecClearTuple(s);
			memset(s->tts_isnull, true, sizeof(bool) * hdesc->natts);
			for (int i = 0; i < rdesc->natts; i++)
				s->tts_values[map[i] - 1] = SPI_getbinval(tup, rdesc, i + 1, &s->tts_isnull[map[i] - 1]);
			ExecStoreVirtualTuple(s);
			if (multi)
			{
				if (hdesc->constr)
					ExecConstraints(w.rri, s, w.estate);
				/* (its own copy: the batch outlives the SPI rows it was read from) */
				ExecMaterializeSlot(s);
				if (++nslots == APPEND_MULTI)
				{
					append_flush(&w, slots, nslots, bistate);
					nslots = 0;
				}
			}
			else
			{
				ExecSimpleRelationInsert(w.rri, w.estate, s);
				ResetPerTupleExprContext(w.estate);
			}
			n++;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	if (multi)
	{
		append_flush(&w, slots, nslots, bistate);
		FreeBulkInsertState(bistate);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	history_writer_close(&w);
	PG_RETURN_INT64(n);
}
