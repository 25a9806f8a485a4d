/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  Owns the account lifecycle, the lead motion and the contact status of
 *	  a model: reads an account's facts (SPI) and hands them to the one
 *	  implementation of the status rule (lifecycle_rule.c, pure
 *	  computation), for the model's lifecycle triggers, the as-of functions
 *	  and the refresh, and writes the statuses it derives.
 *
 * An account's status is derived from facts, never from the order in which
 * they arrived:
 *	  - wins: the rows of lead_stage_history that enter stage won (a partial
 *		index on (account_id, entered_at) WHERE to_stage = 'won' finds them),
 *		of the current truth only (superseded_at IS NULL: rows a correction
 *		or an import superseded are no facts any more; see history_source());
 *	  - churns and advocate changes: rows of the model's account_event table,
 *		which the account trigger writes when churned_at or is_advocate change.
 * Given those facts and the windows new_customer_window and customer_term
 * (settings.c), lf_status_at() answers "what was the status at time t, and
 * since when", for any t; the status history is the sequence of those
 * answers at the moments where something can change.  So a win backfilled
 * years into the past after later events changes the history and every
 * as-of answer correctly, and "now" honours the windows without a batch job.
 * account.status/status_since are stored as evaluated at the last event (a
 * win, a churn or advocate change, a refresh).
 *
 * Triggers created by model_add_lifecycle() all take the same five
 * arguments naming the model's tables: account, contact, lead,
 * lead_stage_history, account_event.  Table names are never derived from
 * the relation a trigger fires on (on Citus that is a shard); the arguments
 * are resolved to OIDs by lc_resolve_tables() alone.  Per trigger (by OID)
 * we cache the resolved tables and the column numbers of the relation it
 * fires on; per set of tables, prepared SPI plans.  A relcache callback drops
 * both when any of the tables changes.
 *
 * The triggers write as the owner of the table they fire on (as
 * transition.c writes the history), so a role that may only move leads
 * still updates account and contact statuses.  Their writes of the
 * maintained columns (account.status, status_since, contact.status,
 * lead.motion) raise a backend-local flag that lets them past the guards.
 *
 * Lock order, so that concurrent moves of leads of one account cannot
 * deadlock each other: lead row (held by the moving statement), then the
 * account row (SELECT ... FOR NO KEY UPDATE, only when a lead is won), then
 * contact rows in contact_id order.  Facts are read after the locks are
 * taken, by statements with fresh snapshots, so concurrent wins serialise
 * on the account row and the later one sees the earlier.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "colocation.h"
#include "compat.h"
#include "invalidation.h"
#include "lifecycle.h"
#include "lifecycle_rule.h"
#include "settings.h"
#include "transition.h"
#include "vocabulary.h"

#define LC_CHRONOLOGY_CONSTRAINT	"account_lifecycle_chronology"

/* The model tables the lifecycle code reads and writes, in trigger argument order. */
typedef enum LcTable
{
	LC_ACCOUNT = 0,
	LC_CONTACT,
	LC_LEAD,
	LC_HISTORY,
	LC_EVENT,
	LC_NUM_TABLES
} LcTable;

static const char *const lc_table_roles[LC_NUM_TABLES] = {
	"account", "contact", "lead", "lead_stage_history", "account_event"
};

typedef struct LcKey
{
	Oid			rel[LC_NUM_TABLES];
} LcKey;

typedef enum LcPlanKind
{
	PLAN_WINS = 0,
	PLAN_EVENTS,
	PLAN_LOCK_ACCOUNT,
	PLAN_SET_ACCOUNT,
	PLAN_LOCK_CONTACTS,
	PLAN_SET_CONTACTS,
	PLAN_CONTACT_RULE,
	PLAN_ADD_EVENT,
	PLAN_DEL_EVENT,
	PLAN_DEL_CHURN,
	PLAN_ACCOUNTS,
	PLAN_LEADS,
	PLAN_SET_MOTION,
	PLAN_ACCOUNT_EXISTS,
	PLAN_ALL_WINS,
	PLAN_ALL_EVENTS,
	PLAN_ALL_LEADS,
	PLAN_BATCH_SET_ACCOUNTS,
	PLAN_BATCH_SET_CONTACTS,
	PLAN_BATCH_SET_MOTIONS,
	LC_NUM_PLANS
} LcPlanKind;

typedef struct LcPlanSpec
{
	const char *sql;			/* %s for each table, in order */
	const char *args;			/* per parameter: i int8, t timestamptz, x text,
								 * b bool, s account_status, m lead_motion;
								 * upper case: an array of it */
	int			ntables;
	LcTable		tables[3];
} LcPlanSpec;

#define EQ	" OPERATOR(pg_catalog.=) "
#define WON "'won'::" LF_SCHEMA ".lead_stage"

static const LcPlanSpec plan_specs[LC_NUM_PLANS] = {
	[PLAN_WINS] = {
		"SELECT h.entered_at FROM %s h WHERE h.account_id" EQ "$1 AND h.to_stage" EQ WON " ORDER BY h.entered_at",
	"i", 1, {LC_HISTORY}},
	[PLAN_EVENTS] = {
		"SELECT event_at, event FROM %s WHERE account_id" EQ "$1 ORDER BY event_at, event COLLATE \"C\"",
	"i", 1, {LC_EVENT}},
	[PLAN_LOCK_ACCOUNT] = {
		"SELECT status, status_since FROM %s WHERE account_id" EQ "$1 FOR NO KEY UPDATE",
	"i", 1, {LC_ACCOUNT}},
	[PLAN_SET_ACCOUNT] = {
		"UPDATE %s SET status = $2, status_since = $3 WHERE account_id" EQ "$1",
	"ist", 1, {LC_ACCOUNT}},
	[PLAN_LOCK_CONTACTS] = {
		"SELECT 1 FROM %s WHERE account_id" EQ "$1 AND ($2 IS NULL OR contact_id" EQ "$2)"
		" ORDER BY contact_id FOR NO KEY UPDATE",
	"ii", 1, {LC_CONTACT}},
	[PLAN_SET_CONTACTS] = {
		"UPDATE %s c SET status = x.s"
		"  FROM (SELECT c2.contact_id,"
		"               " LF_SCHEMA ".contact_status_rule($3, EXISTS (SELECT 1 FROM %s l"
		"                     WHERE l.account_id" EQ "c2.account_id AND l.contact_id" EQ "c2.contact_id"
		"                       AND l.stage OPERATOR(pg_catalog.<) " WON "), c2.opt_in) AS s"
		"          FROM %s c2 WHERE c2.account_id" EQ "$1 AND ($2 IS NULL OR c2.contact_id" EQ "$2)) x"
		" WHERE c.account_id" EQ "$1 AND c.contact_id" EQ "x.contact_id"
		"   AND c.status OPERATOR(pg_catalog.<>) x.s",
	"iib", 3, {LC_CONTACT, LC_LEAD, LC_CONTACT}},
	[PLAN_CONTACT_RULE] = {
		"SELECT " LF_SCHEMA ".contact_status_rule($1, EXISTS (SELECT 1 FROM %s l"
		" WHERE l.account_id" EQ "$2 AND l.contact_id" EQ "$3 AND l.stage OPERATOR(pg_catalog.<) " WON "), $4)",
	"biib", 1, {LC_LEAD}},
	[PLAN_ADD_EVENT] = {
		"INSERT INTO %s (account_id, event_at, event) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
	"itx", 1, {LC_EVENT}},
	[PLAN_DEL_EVENT] = {
		"DELETE FROM %s WHERE account_id" EQ "$1 AND event_at" EQ "$2 AND event" EQ "$3",
	"itx", 1, {LC_EVENT}},
	[PLAN_DEL_CHURN] = {
		"DELETE FROM %s WHERE account_id" EQ "$1 AND event" EQ "'churned' AND event_at" EQ "$2"
		" AND NOT EXISTS (SELECT 1 FROM %s h WHERE h.account_id" EQ "$1 AND h.to_stage" EQ WON
		" AND h.entered_at OPERATOR(pg_catalog.>) $2)",
	"it", 2, {LC_EVENT, LC_HISTORY}},
	[PLAN_ACCOUNTS] = {
		"SELECT account_id, status, status_since FROM %s ORDER BY account_id",
	"", 1, {LC_ACCOUNT}},
	[PLAN_LEADS] = {
		"SELECT lead_id, created_at, motion FROM %s WHERE account_id" EQ "$1 ORDER BY lead_id",
	"i", 1, {LC_LEAD}},
	[PLAN_SET_MOTION] = {
		"UPDATE %s SET motion = $3 WHERE account_id" EQ "$1 AND lead_id" EQ "$2",
	"iim", 1, {LC_LEAD}},
	[PLAN_ACCOUNT_EXISTS] = {
		"SELECT 1 FROM %s WHERE account_id" EQ "$1",
	"i", 1, {LC_ACCOUNT}},
	/* the batch refresh: the facts of every account in one pass, ... */
	[PLAN_ALL_WINS] = {
		"SELECT h.account_id, h.entered_at FROM %s h WHERE h.to_stage" EQ WON
		" ORDER BY h.account_id, h.entered_at",
	"", 1, {LC_HISTORY}},
	[PLAN_ALL_EVENTS] = {
		"SELECT account_id, event_at, event FROM %s ORDER BY account_id, event_at, event COLLATE \"C\"",
	"", 1, {LC_EVENT}},
	[PLAN_ALL_LEADS] = {
		"SELECT account_id, lead_id, created_at, motion FROM %s ORDER BY account_id, lead_id",
	"", 1, {LC_LEAD}},
	/* ... and what changed written in one statement per table */
	[PLAN_BATCH_SET_ACCOUNTS] = {
		"UPDATE %s a SET status = u.s, status_since = u.t"
		"  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3)) u(id, s, t) WHERE a.account_id" EQ "u.id",
	"IST", 1, {LC_ACCOUNT}},
	[PLAN_BATCH_SET_CONTACTS] = {
		"UPDATE %s c SET status = x.s"
		"  FROM (SELECT c2.account_id, c2.contact_id,"
		"               " LF_SCHEMA ".contact_status_rule(u.customer, EXISTS (SELECT 1 FROM %s l"
		"                     WHERE l.account_id" EQ "c2.account_id AND l.contact_id" EQ "c2.contact_id"
		"                       AND l.stage OPERATOR(pg_catalog.<) " WON "), c2.opt_in) AS s"
		"          FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) u(id, customer)"
		"          JOIN %s c2 ON c2.account_id" EQ "u.id) x"
		" WHERE c.account_id" EQ "x.account_id AND c.contact_id" EQ "x.contact_id"
		"   AND c.status OPERATOR(pg_catalog.<>) x.s",
	"IB", 3, {LC_CONTACT, LC_LEAD, LC_CONTACT}},
	[PLAN_BATCH_SET_MOTIONS] = {
		"UPDATE %s l SET motion = u.m"
		"  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3)) u(account_id, lead_id, m)"
		" WHERE l.account_id" EQ "u.account_id AND l.lead_id" EQ "u.lead_id",
	"IIM", 1, {LC_LEAD}},
};

/* Prepared plans of one model (one set of tables). */
typedef struct LcTarget
{
	LcKey		key;			/* hash key */
	bool		valid;
	int			busy;			/* plans of this entry are executing */
	SPIPlanPtr	plans[LC_NUM_PLANS];
} LcTarget;

/* The tables a trigger works on and the columns of the relation it fires on. */
typedef enum LcRelKind
{
	LC_ON_LEAD = 0,
	LC_ON_ACCOUNT,
	LC_ON_CONTACT
} LcRelKind;

#define LC_MAX_COLS 6

/* column indexes into LcTrigger.col, per kind */
enum
{
	LEAD_LEAD_ID = 0, LEAD_ACCOUNT_ID, LEAD_CONTACT_ID, LEAD_STAGE, LEAD_CREATED_AT, LEAD_MOTION
};
enum
{
	ACC_ACCOUNT_ID = 0, ACC_IS_ADVOCATE, ACC_CHURNED_AT, ACC_STATUS, ACC_STATUS_SINCE
};
enum
{
	CON_CONTACT_ID = 0, CON_ACCOUNT_ID, CON_OPT_IN, CON_STATUS
};

static const char *const lc_columns[3][LC_MAX_COLS] = {
	{"lead_id", "account_id", "contact_id", "stage", "created_at", "motion"},
	{"account_id", "is_advocate", "churned_at", "status", "status_since", NULL},
	{"contact_id", "account_id", "opt_in", "status", NULL, NULL},
};

typedef struct LcTrigger
{
	Oid			tgoid;			/* hash key */
	bool		valid;
	Oid			relid;
	LcKey		key;
	AttrNumber	col[LC_MAX_COLS];
} LcTrigger;

static HTAB *lc_targets = NULL;
static HTAB *lc_triggers = NULL;

/* Raised only while this file writes maintained columns; see the guards. */
static bool lifecycle_write_allowed = false;

static bool
key_has(const LcKey *key, Oid relid)
{
	for (int i = 0; i < LC_NUM_TABLES; i++)
		if (key->rel[i] == relid)
			return true;
	return false;
}

static void
lifecycle_relcache_invalidate(Oid relid)
{
	HASH_SEQ_STATUS seq;

	if (lc_triggers != NULL)
	{
		LcTrigger  *tr;

		hash_seq_init(&seq, lc_triggers);
		while ((tr = hash_seq_search(&seq)) != NULL)
			if (relid == InvalidOid || relid == tr->relid || key_has(&tr->key, relid))
				tr->valid = false;
	}
	if (lc_targets != NULL)
	{
		LcTarget   *t;

		hash_seq_init(&seq, lc_targets);
		while ((t = hash_seq_search(&seq)) != NULL)
			if (relid == InvalidOid || key_has(&t->key, relid))
				t->valid = false;
	}
}

/* The caches of this file, made and hooked to invalidation on first use. */
static void
lifecycle_cache_init(void)
{
	HASHCTL		ctl;

	if (lc_targets != NULL)
		return;
	ctl.keysize = sizeof(LcKey);
	ctl.entrysize = sizeof(LcTarget);
	ctl.hcxt = TopMemoryContext;
	lc_targets = hash_create("leadfunnel lifecycle plans", 16, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LcTrigger);
	lc_triggers = hash_create("leadfunnel lifecycle triggers", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	lf_on_relcache_invalidation(lifecycle_relcache_invalidate);
}

/* t + iv, as timestamptz + interval computes it in this session. */
static TimestampTz
ts_plus_interval(TimestampTz t, const Interval *iv)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(t),
												   PointerGetDatum(iv)));
}

/* ---------------------------------------------------------------------
 * Tables, plans, facts
 * ---------------------------------------------------------------------
 */

static Oid
plan_arg_type(char c)
{
	if (c >= 'A' && c <= 'Z')
	{
		Oid			elem = plan_arg_type(c - 'A' + 'a');
		Oid			array = get_array_type(elem);

		if (!OidIsValid(array))
			elog(ERROR, "no array type for type %u", elem);
		return array;
	}
	switch (c)
	{
		case 'i':
			return INT8OID;
		case 't':
			return TIMESTAMPTZOID;
		case 'x':
			return TEXTOID;
		case 'b':
			return BOOLOID;
		case 's':
			return lf_enum_type(LF_ENUM_ACCOUNT_STATUS);
		case 'm':
			return lf_enum_type(LF_ENUM_MOTION);
	}
	elog(ERROR, "unknown plan argument type '%c'", c);
	return InvalidOid;			/* keep compiler quiet */
}

static char *
rel_qualified_name(Oid relid, LcTable role)
{
	char	   *relname = get_rel_name(relid);

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s table of a leadfunnel model (OID %u) does not exist", lc_table_roles[role], relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), relname);
}

/*
 * What the plans read as the history: its current truth, the rows with
 * superseded_at IS NULL (a subquery the planner flattens, so the partial
 * index of wins still serves), or the whole table in a model of an earlier
 * version that has no superseded_at yet (not yet upgrade_model()ed).
 */
static char *
history_source(Oid relid, const char *name)
{
	if (get_attnum(relid, "superseded_at") == InvalidAttrNumber)
		return pstrdup(name);
	return psprintf("(SELECT * FROM %s WHERE superseded_at IS NULL)", name);
}

static LcTarget *
lc_get_target(const LcKey *key)
{
	bool		found;
	LcTarget   *t;

	lifecycle_cache_init();
	t = hash_search(lc_targets, key, HASH_ENTER, &found);

	if (!found)
	{
		t->busy = 0;
		memset(t->plans, 0, sizeof(t->plans));
	}
	else if (!t->valid)
	{
		/* plans still executing further up the stack are left alone (leaked) */
		for (int i = 0; i < LC_NUM_PLANS; i++)
			if (t->plans[i] != NULL && t->busy == 0)
				SPI_freeplan(t->plans[i]);
		memset(t->plans, 0, sizeof(t->plans));
		t->busy = 0;
	}
	t->valid = true;
	return t;
}

static SPIPlanPtr
lc_plan(LcTarget *t, LcPlanKind kind)
{
	const LcPlanSpec *spec = &plan_specs[kind];
	char	   *names[3];
	char	   *sql;
	Oid			argtypes[4];
	int			nargs = strlen(spec->args);
	SPIPlanPtr	plan;

	if (t->plans[kind] != NULL)
		return t->plans[kind];
	for (int i = 0; i < spec->ntables; i++)
	{
		if (!OidIsValid(t->key.rel[spec->tables[i]]))
			elog(ERROR, "lifecycle plan %d needs the %s table", (int) kind, lc_table_roles[spec->tables[i]]);
		names[i] = rel_qualified_name(t->key.rel[spec->tables[i]], spec->tables[i]);
		if (spec->tables[i] == LC_HISTORY)
			names[i] = history_source(t->key.rel[LC_HISTORY], names[i]);
	}
	switch (spec->ntables)
	{
		case 1:
			sql = psprintf(spec->sql, names[0]);
			break;
		case 2:
			sql = psprintf(spec->sql, names[0], names[1]);
			break;
		default:
			sql = psprintf(spec->sql, names[0], names[1], names[2]);
			break;
	}
	for (int i = 0; i < nargs; i++)
		argtypes[i] = plan_arg_type(spec->args[i]);
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare lifecycle statement: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	t->plans[kind] = plan;
	return plan;
}

/* Run a plan (SPI connected); writes of maintained columns pass the guards. */
static int
lc_exec(LcTarget *t, LcPlanKind kind, Datum *values, const char *nulls, bool read_only, bool write)
{
	SPIPlanPtr	plan = lc_plan(t, kind);
	bool		save_allowed = lifecycle_write_allowed;
	int			rc;

	/* the previous result of this connection is no longer needed */
	SPI_freetuptable(SPI_tuptable);
	t->busy++;
	PG_TRY();
	{
		if (write)
			lifecycle_write_allowed = true;
		rc = SPI_execute_plan(plan, values, nulls, read_only, 0);
	}
	PG_FINALLY();
	{
		lifecycle_write_allowed = save_allowed;
		t->busy--;
	}
	PG_END_TRY();
	if (rc < 0)
		elog(ERROR, "lifecycle statement failed: %s", SPI_result_code_string(rc));
	return rc;
}

static bool
text_is(text *t, const char *s)
{
	size_t		len = strlen(s);

	return VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

/* Kinds of account_event rows the rule reads (others are ignored). */
typedef enum LcEventKind
{
	LC_EV_OTHER = 0,
	LC_EV_CHURNED,
	LC_EV_ADVOCATE,
	LC_EV_NOT_ADVOCATE
} LcEventKind;

static LcEventKind
event_kind(text *event)
{
	if (text_is(event, "churned"))
		return LC_EV_CHURNED;
	if (text_is(event, "advocate"))
		return LC_EV_ADVOCATE;
	if (text_is(event, "not_advocate"))
		return LC_EV_NOT_ADVOCATE;
	return LC_EV_OTHER;
}

/*
 * Build an account's facts from its wins and its events (each in time order,
 * events as PLAN_EVENTS orders them); the arrays of f are allocated in cxt.
 * The one place where read facts become LcFacts, for one account
 * (lc_load_facts) and for all of a model's accounts at once
 * (lf_lifecycle_refresh_batch).
 */
static void
lc_facts_build(LcFacts *f, const TimestampTz *wins, int nwins,
			   const TimestampTz *ev_at, const char *ev_kind, int nev, MemoryContext cxt)
{
	TimestampTz *toggles;
	bool	   *toggle_on;
	int			ntoggles = 0;
	LcWindows	windows;

	f->nwins = nwins;
	f->wins = MemoryContextAlloc(cxt, sizeof(TimestampTz) * (nwins + 1));
	f->win_end = MemoryContextAlloc(cxt, sizeof(TimestampTz) * (nwins + 1));
	f->episode = MemoryContextAlloc(cxt, sizeof(TimestampTz) * (nwins + 1));
	f->episode_end = MemoryContextAlloc(cxt, sizeof(TimestampTz) * (nwins + 1));
	if (nwins > 0)
		memcpy(f->wins, wins, sizeof(TimestampTz) * nwins);

	f->churns = MemoryContextAlloc(cxt, sizeof(TimestampTz) * (nev + 1));
	f->adv_from = MemoryContextAlloc(cxt, sizeof(TimestampTz) * (nev + 1));
	f->adv_until = MemoryContextAlloc(cxt, sizeof(TimestampTz) * (nev + 1));
	toggles = MemoryContextAlloc(cxt, sizeof(TimestampTz) * (nev + 1));
	toggle_on = MemoryContextAlloc(cxt, sizeof(bool) * (nev + 1));
	f->nchurns = 0;
	for (int i = 0; i < nev; i++)
	{
		if (ev_kind[i] == LC_EV_CHURNED)
			f->churns[f->nchurns++] = ev_at[i];
		else if (ev_kind[i] == LC_EV_ADVOCATE || ev_kind[i] == LC_EV_NOT_ADVOCATE)
		{
			toggles[ntoggles] = ev_at[i];
			toggle_on[ntoggles++] = ev_kind[i] == LC_EV_ADVOCATE;
		}
	}
	lf_facts_set_advocacy(f, toggles, toggle_on, ntoggles);
	windows.new_customer_window = lf_setting(LF_SETTING_NEW_CUSTOMER_WINDOW);
	windows.customer_term = lf_setting(LF_SETTING_CUSTOMER_TERM);
	windows.plus = ts_plus_interval;
	lf_facts_prepare(f, &windows);
}

/* Read an account's facts (SPI connected); the arrays are allocated in cxt. */
static void
lc_load_facts(LcTarget *t, int64 account_id, bool read_only, LcFacts *f, MemoryContext cxt)
{
	Datum		arg = Int64GetDatum(account_id);
	uint64		n;
	TimestampTz *wins;
	int			nwins;
	TimestampTz *ev_at;
	char	   *ev_kind;

	lc_exec(t, PLAN_WINS, &arg, NULL, read_only, false);
	n = SPI_processed;
	nwins = (int) n;
	wins = palloc(sizeof(TimestampTz) * (n + 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		wins[i] = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}

	lc_exec(t, PLAN_EVENTS, &arg, NULL, read_only, false);
	n = SPI_processed;
	ev_at = palloc(sizeof(TimestampTz) * (n + 1));
	ev_kind = palloc(n + 1);
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		Datum		d;

		ev_at[i] = DatumGetTimestampTz(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
		ev_kind[i] = isnull ? LC_EV_OTHER : event_kind(DatumGetTextPP(d));
	}
	lc_facts_build(f, wins, nwins, ev_at, ev_kind, (int) n, cxt);
	pfree(wins);
	pfree(ev_at);
	pfree(ev_kind);
}

static TimestampTz
lc_now(void)
{
	return GetCurrentTimestamp();
}

/* ---------------------------------------------------------------------
 * Writing statuses
 * ---------------------------------------------------------------------
 */

/* Recompute the status of one contact, or of all contacts of an account (contact_id 0). */
static void
refresh_contacts(LcTarget *t, int64 account_id, int64 contact_id, bool is_customer, bool lock)
{
	Datum		values[3];
	char		nulls[3] = {' ', contact_id == 0 ? 'n' : ' ', ' '};

	values[0] = Int64GetDatum(account_id);
	values[1] = Int64GetDatum(contact_id);
	values[2] = BoolGetDatum(is_customer);
	if (lock)
		lc_exec(t, PLAN_LOCK_CONTACTS, values, nulls, false, false);
	lc_exec(t, PLAN_SET_CONTACTS, values, nulls, false, true);
}

typedef enum LcContacts
{
	CONTACTS_NONE,
	CONTACTS_IF_CHANGED,		/* all of the account's, if it became or stopped being a customer */
	CONTACTS_ALL
} LcContacts;

/*
 * Bring an account's stored status up to date (SPI connected): lock its row,
 * read its facts with a fresh snapshot, evaluate now, write if different.
 * Returns whether the stored status changed.
 */
static bool
refresh_account(LcTarget *t, int64 account_id, LcContacts contacts, MemoryContext cxt)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	LfAccountStatus old_status;
	bool		old_since_null;
	TimestampTz old_since = 0;
	LcFacts		f;
	LcStatus	now;
	bool		changed;
	bool		isnull;

	values[0] = Int64GetDatum(account_id);
	lc_exec(t, PLAN_LOCK_ACCOUNT, values, NULL, false, false);
	if (SPI_processed == 0)
		return false;			/* deleted meanwhile */
	old_status = (LfAccountStatus) lf_enum_ordinal(LF_ENUM_ACCOUNT_STATUS,
												   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
	if (isnull)
		old_status = LF_STATUS_PROSPECT;
	old_since = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &old_since_null));

	lc_load_facts(t, account_id, false, &f, cxt);
	now = lf_status_at(&f, lc_now());
	changed = now.status != old_status || now.since_null != old_since_null ||
		(!now.since_null && now.since != old_since);
	if (changed)
	{
		values[1] = ObjectIdGetDatum(lf_enum_label(LF_ENUM_ACCOUNT_STATUS, now.status));
		values[2] = TimestampTzGetDatum(now.since);
		nulls[2] = now.since_null ? 'n' : ' ';
		lc_exec(t, PLAN_SET_ACCOUNT, values, nulls, false, true);
	}
	if (contacts == CONTACTS_ALL ||
		(contacts == CONTACTS_IF_CHANGED && LF_STATUS_IS_CUSTOMER(now.status) != LF_STATUS_IS_CUSTOMER(old_status)))
		refresh_contacts(t, account_id, 0, LF_STATUS_IS_CUSTOMER(now.status), true);
	return changed;
}

static bool
account_is_customer_now(LcTarget *t, int64 account_id, bool read_only)
{
	LcFacts		f;

	lc_load_facts(t, account_id, read_only, &f, CurrentMemoryContext);
	return LF_STATUS_IS_CUSTOMER(lf_status_at(&f, lc_now()).status);
}

/* ---------------------------------------------------------------------
 * Triggers
 * ---------------------------------------------------------------------
 */

/*
 * The one place where trigger arguments become tables: account, contact,
 * lead, lead_stage_history, account_event, in that order.  On Citus a
 * trigger fires on a shard, and each table is mapped to its shard
 * co-located with that one (on the same node, holding the same accounts);
 * the prepared statements then name the shards.
 */
static void
lc_resolve_tables(Trigger *trigger, Relation rel, LcKey *key)
{
	if (trigger->tgnargs != LC_NUM_TABLES)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" on table \"%s\" has %d arguments, not %d",
						trigger->tgname, RelationGetRelationName(rel), trigger->tgnargs, LC_NUM_TABLES),
				 errhint("Create the model's triggers with leadfunnel.create_model().")));
	for (int i = 0; i < LC_NUM_TABLES; i++)
	{
		Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(trigger->tgargs[i], NULL)),
											 AccessShareLock, false);

		key->rel[i] = lf_colocated_relid(rel, relid);
	}
}

static LcTrigger *
lc_get_trigger(TriggerData *trigdata, LcRelKind kind)
{
	Trigger    *trigger = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	bool		found;
	LcTrigger  *tr;

	lifecycle_cache_init();
	tr = hash_search(lc_triggers, &trigger->tgoid, HASH_ENTER, &found);
	if (found && tr->valid)
		return tr;
	tr->valid = false;
	tr->relid = RelationGetRelid(rel);
	memset(&tr->key, 0, sizeof(LcKey));
	lc_resolve_tables(trigger, rel, &tr->key);
	for (int i = 0; i < LC_MAX_COLS; i++)
	{
		const char *name = lc_columns[kind][i];

		tr->col[i] = InvalidAttrNumber;
		if (name == NULL)
			continue;
		tr->col[i] = SPI_fnumber(desc, name);
		if (tr->col[i] <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("table \"%s\" has no column \"%s\"", RelationGetRelationName(rel), name),
					 errdetail("The lifecycle triggers need the tables created by leadfunnel.create_model().")));
	}
	tr->valid = true;
	return tr;
}

static void
check_trigger_call(FunctionCallInfo fcinfo, const char *fname)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager", fname)));
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired for INSERT OR UPDATE FOR EACH ROW", fname)));
}

static int64
get_int8(HeapTuple tup, TupleDesc desc, AttrNumber attnum, bool *isnull)
{
	Datum		d = heap_getattr(tup, attnum, desc, isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

static void
maintained_error(const char *table, int64 id, const char *column)
{
	ereport(ERROR,
			(errcode(ERRCODE_GENERATED_ALWAYS),
			 errmsg("column \"%s\" of %s %lld is maintained by leadfunnel", column, table, (long long) id),
			 errdetail("It is derived from the account's lifecycle facts: won leads, churned_at and is_advocate."),
			 errhint("Leave it out of INSERT and UPDATE statements; call leadfunnel.refresh_lifecycle() to bring stored statuses up to date.")));
}

/* Run fn(arg) connected to SPI as the owner of rel, restoring everything on error. */
typedef void (*LcWork) (void *arg);

static void
run_as_owner(Relation rel, LcWork fn, void *arg)
{
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		fn(arg);
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

typedef struct LcWorkArgs
{
	LcTarget   *t;
	int64		account_id;
	int64		contact_id;
	int64		old_contact_id;
	TimestampTz at;
	LcStatus	result;
	bool		is_customer;
	bool		flag;
	/* account changes */
	bool		adv_changed;
	bool		adv_new;
	bool		churn_old_null;
	TimestampTz churn_old;
	bool		churn_new_null;
	TimestampTz churn_new;
	LcContacts	contacts;
	/* contact rule */
	bool		opt_in;
	Oid			contact_status;
} LcWorkArgs;

static void
work_status_at(void *arg)
{
	LcWorkArgs *w = arg;
	LcFacts		f;

	lc_load_facts(w->t, w->account_id, false, &f, CurrentMemoryContext);
	w->result = lf_status_at(&f, w->at);
}

/*
 * BEFORE INSERT OR UPDATE OF motion on lead: sets motion at insert from the
 * account's status at the lead's created_at; refuses changing it later.
 */
PG_FUNCTION_INFO_V1(lf_lead_motion);
Datum
lf_lead_motion(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	LcTrigger  *tr;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tup;
	bool		isnull;
	LcWorkArgs	w = {0};
	LfMotion	motion;
	Datum		motion_datum;
	int			col;
	bool		null = false;

	check_trigger_call(fcinfo, "lead_motion");
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"lead_motion\" must be fired BEFORE INSERT OR UPDATE")));
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	tr = lc_get_trigger(trigdata, LC_ON_LEAD);

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		tup = trigdata->tg_newtuple;
		if (!lifecycle_write_allowed && lf_column_changed(trigdata->tg_trigtuple, tup, desc, tr->col[LEAD_MOTION]))
			maintained_error("lead", get_int8(tup, desc, tr->col[LEAD_LEAD_ID], &isnull), "motion");
		return PointerGetDatum(tup);
	}

	tup = trigdata->tg_trigtuple;
	w.account_id = get_int8(tup, desc, tr->col[LEAD_ACCOUNT_ID], &isnull);
	if (isnull)
		return PointerGetDatum(tup);	/* the transition trigger reports it */
	/* the sync's batch of new leads states the motion where it knows it set-based */
	if (RelationGetRelid(rel) == lf_tracking_batch_lead && !heap_attisnull(tup, tr->col[LEAD_MOTION], desc))
		return PointerGetDatum(tup);
	w.at = DatumGetTimestampTz(heap_getattr(tup, tr->col[LEAD_CREATED_AT], desc, &isnull));
	if (isnull)
		w.at = GetCurrentTransactionStartTimestamp();
	w.t = lc_get_target(&tr->key);
	run_as_owner(rel, work_status_at, &w);
	motion = lf_motion_of(w.result.status);
	motion_datum = ObjectIdGetDatum(lf_enum_label(LF_ENUM_MOTION, motion));

	heap_getattr(tup, tr->col[LEAD_MOTION], desc, &isnull);
	if (!isnull && DatumGetObjectId(heap_getattr(tup, tr->col[LEAD_MOTION], desc, &isnull)) != DatumGetObjectId(motion_datum))
		ereport(ERROR,
				(errcode(ERRCODE_GENERATED_ALWAYS),
				 errmsg("column \"motion\" of lead %lld is maintained by leadfunnel",
						(long long) get_int8(tup, desc, tr->col[LEAD_LEAD_ID], &isnull)),
				 errdetail("The account's status at the lead's created_at gives motion \"%s\".", lf_motion_names[motion]),
				 errhint("Leave motion out of the INSERT.")));
	col = tr->col[LEAD_MOTION];
	return PointerGetDatum(heap_modify_tuple_by_cols(tup, desc, 1, &col, &motion_datum, &null));
}

static void
work_lead_changed(void *arg)
{
	LcWorkArgs *w = arg;

	if (w->contacts == CONTACTS_ALL)
		refresh_account(w->t, w->account_id, CONTACTS_ALL, CurrentMemoryContext);
	else
	{
		bool		customer = account_is_customer_now(w->t, w->account_id, false);

		if (w->contact_id != 0)
			refresh_contacts(w->t, w->account_id, w->contact_id, customer, true);
		if (w->old_contact_id != 0 && w->old_contact_id != w->contact_id)
			refresh_contacts(w->t, w->account_id, w->old_contact_id, customer, true);
	}
}

/*
 * What lead_lifecycle() kept while the sync of a tracked table updated
 * leads in one statement (lf_tracking_batch_update, transition.h), in the
 * memory of that batch: the accounts of won leads, and the (account,
 * contact) pairs of the other leads' contacts to refresh.
 */
static int64 *kept_won = NULL;
static int	nkept_won = 0;
static int64 *kept_contact_account = NULL;
static int64 *kept_contact = NULL;
static int	nkept_contacts = 0;
static int	maxkept = 0;
static Oid	kept_tgoid = InvalidOid;

static void
kept_reset(void *arg)
{
	kept_won = kept_contact_account = kept_contact = NULL;
	nkept_won = nkept_contacts = maxkept = 0;
	kept_tgoid = InvalidOid;
}

static void
keep_lead_change(Oid tgoid, const LcWorkArgs *w)
{
	MemoryContext cxt = lf_batch_update_context();
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);

	if (maxkept == 0)
	{
		MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

		cb->func = kept_reset;
		MemoryContextRegisterResetCallback(cxt, cb);
		maxkept = 256;
		kept_won = palloc(sizeof(int64) * maxkept);
		kept_contact_account = palloc(sizeof(int64) * maxkept);
		kept_contact = palloc(sizeof(int64) * maxkept);
	}
	/* (at most two contacts per lead) */
	if (nkept_won + 1 > maxkept || nkept_contacts + 2 > maxkept)
	{
		maxkept *= 2;
		kept_won = repalloc_huge(kept_won, sizeof(int64) * maxkept);
		kept_contact_account = repalloc_huge(kept_contact_account, sizeof(int64) * maxkept);
		kept_contact = repalloc_huge(kept_contact, sizeof(int64) * maxkept);
	}
	kept_tgoid = tgoid;
	if (w->contacts == CONTACTS_ALL)
		kept_won[nkept_won++] = w->account_id;
	else
	{
		if (w->contact_id != 0)
		{
			kept_contact_account[nkept_contacts] = w->account_id;
			kept_contact[nkept_contacts++] = w->contact_id;
		}
		if (w->old_contact_id != 0 && w->old_contact_id != w->contact_id)
		{
			kept_contact_account[nkept_contacts] = w->account_id;
			kept_contact[nkept_contacts++] = w->old_contact_id;
		}
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * AFTER INSERT / AFTER UPDATE OF stage, contact_id on lead: a won lead
 * refreshes its account's status and the account's contacts; a lead that
 * opens or closes (or changes contact) refreshes its contact's status.
 */
PG_FUNCTION_INFO_V1(lf_lead_lifecycle);
Datum
lf_lead_lifecycle(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	LcTrigger  *tr;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	newtup;
	bool		isnull;
	LcWorkArgs	w = {0};
	int			to,
				from = -1;

	check_trigger_call(fcinfo, "lead_lifecycle");
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"lead_lifecycle\" must be fired AFTER INSERT OR UPDATE")));
	/* an import or a correction re-derives the lifecycle of its accounts at its end */
	if (lf_history_rewrite)
		return PointerGetDatum(NULL);
	rel = trigdata->tg_relation;
	/* a new lead of the sync's batch: lf_lifecycle_inserted_leads() follows */
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) && RelationGetRelid(rel) == lf_tracking_batch_lead)
		return PointerGetDatum(NULL);
	desc = RelationGetDescr(rel);
	tr = lc_get_trigger(trigdata, LC_ON_LEAD);
	newtup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;

	w.account_id = get_int8(newtup, desc, tr->col[LEAD_ACCOUNT_ID], &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	w.contact_id = get_int8(newtup, desc, tr->col[LEAD_CONTACT_ID], &isnull);
	to = lf_stage_from_oid(DatumGetObjectId(heap_getattr(newtup, tr->col[LEAD_STAGE], desc, &isnull)));
	if (isnull)
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		HeapTuple	oldtup = trigdata->tg_trigtuple;

		from = lf_stage_from_oid(DatumGetObjectId(heap_getattr(oldtup, tr->col[LEAD_STAGE], desc, &isnull)));
		w.old_contact_id = get_int8(oldtup, desc, tr->col[LEAD_CONTACT_ID], &isnull);
		if (from == to && w.old_contact_id == w.contact_id)
			return PointerGetDatum(NULL);
		if (from != to && LF_STAGE_IS_CLOSED(from) == LF_STAGE_IS_CLOSED(to) && to != LF_STAGE_WON &&
			w.old_contact_id == w.contact_id)
			return PointerGetDatum(NULL);	/* open -> open: nothing changes */
	}
	if (to == LF_STAGE_WON && from != LF_STAGE_WON)
		w.contacts = CONTACTS_ALL;
	else if (w.contact_id == 0 && w.old_contact_id == 0)
		return PointerGetDatum(NULL);

	/* the sync's batch of updated leads: kept for lf_lifecycle_updated_leads() */
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) && RelationGetRelid(rel) == lf_tracking_batch_update &&
		lf_batch_update_context() != NULL &&
		(!OidIsValid(kept_tgoid) || kept_tgoid == trigdata->tg_trigger->tgoid))
	{
		keep_lead_change(trigdata->tg_trigger->tgoid, &w);
		return PointerGetDatum(NULL);
	}
	w.t = lc_get_target(&tr->key);
	run_as_owner(rel, work_lead_changed, &w);
	return PointerGetDatum(NULL);
}

/* The accounts and contacts of a batch of new leads (lf_lifecycle_inserted_leads). */
typedef struct LcBatch
{
	LcTarget   *t;
	int64	   *won;			/* accounts with a won lead, sorted, distinct */
	int			nwon;
	int64	   *contact_account;	/* (account, contact) of the other leads with a contact */
	int64	   *contact;
	int			ncontacts;
} LcBatch;

static void
work_batch(void *arg)
{
	LcBatch    *b = arg;

	for (int i = 0; i < b->nwon; i++)
		refresh_account(b->t, b->won[i], CONTACTS_ALL, CurrentMemoryContext);
	for (int i = 0; i < b->ncontacts; i++)
	{
		bool		customer = account_is_customer_now(b->t, b->contact_account[i], false);

		refresh_contacts(b->t, b->contact_account[i], b->contact[i], customer, true);
	}
}

/*
 * The lifecycle effects of the new leads the sync of a tracked table
 * inserted in one statement with lf_tracking_batch_lead raised (for which
 * lead_lifecycle() returned at once), after their history is written: what
 * lead_lifecycle() does for an inserted row, once per account instead of
 * once per lead -- a won lead refreshes its account's status and all its
 * contacts (in account order, the order concurrent writers lock them in),
 * a lead with a contact refreshes that contact.  Each refresh reads the
 * account's facts as they are after the whole batch, as the row triggers'
 * last refresh of the account did.  rows are the INSERT's RETURNING rows
 * (account_id, stage, contact_id).  Nothing when lead_lifecycle would not
 * fire on an insert.
 */
void
lf_lifecycle_inserted_leads(Relation rel, SPITupleTable *rows, uint64 nrows)
{
	TriggerData td;
	LcTrigger  *tr;
	LcBatch		b = {0};
	int			c_account,
				c_stage,
				c_contact;
	int			n;

	if (nrows == 0 || !lf_insert_trigger_data(rel, "lead_lifecycle", &td))
		return;
	c_account = SPI_fnumber(rows->tupdesc, "account_id");
	c_stage = SPI_fnumber(rows->tupdesc, "stage");
	c_contact = SPI_fnumber(rows->tupdesc, "contact_id");
	if (c_account <= 0 || c_stage <= 0 || c_contact <= 0)
		elog(ERROR, "the batch of new leads lacks account_id, stage or contact_id");

	b.won = palloc(sizeof(int64) * nrows);
	b.contact_account = palloc(sizeof(int64) * nrows);
	b.contact = palloc(sizeof(int64) * nrows);
	for (uint64 r = 0; r < nrows; r++)
	{
		HeapTuple	tup = rows->vals[r];
		bool		isnull;
		int64		account_id = DatumGetInt64(SPI_getbinval(tup, rows->tupdesc, c_account, &isnull));
		Datum		stage;
		int64		contact_id;

		if (isnull)
			continue;
		stage = SPI_getbinval(tup, rows->tupdesc, c_stage, &isnull);
		if (isnull)
			continue;
		if (lf_stage_from_oid(DatumGetObjectId(stage)) == LF_STAGE_WON)
		{
			b.won[b.nwon++] = account_id;
			continue;
		}
		contact_id = DatumGetInt64(SPI_getbinval(tup, rows->tupdesc, c_contact, &isnull));
		if (!isnull && contact_id != 0)
		{
			b.contact_account[b.ncontacts] = account_id;
			b.contact[b.ncontacts++] = contact_id;
		}
	}
	if (b.nwon == 0 && b.ncontacts == 0)
		return;
	qsort(b.won, b.nwon, sizeof(int64), lf_int64_cmp);
	n = 0;
	for (int i = 0; i < b.nwon; i++)
		if (n == 0 || b.won[n - 1] != b.won[i])
			b.won[n++] = b.won[i];
	b.nwon = n;

	tr = lc_get_trigger(&td, LC_ON_LEAD);
	b.t = lc_get_target(&tr->key);
	run_as_owner(rel, work_batch, &b);
}

/*
 * The lifecycle effects of the leads the sync of a tracked table updated in
 * one statement with lf_tracking_batch_update set (for which
 * lead_lifecycle() kept what it would do), after their history is written:
 * each account with a newly won lead refreshed once (status and all its
 * contacts, in account order), then the contacts of the other leads that
 * opened, closed or changed contact.  Each refresh reads the facts as they
 * are after the whole batch, as the row triggers' last refresh did.
 */
void
lf_lifecycle_updated_leads(Relation rel)
{
	TriggerData td;
	LcTrigger  *tr;
	LcBatch		b = {0};
	int			n = 0;

	if (nkept_won == 0 && nkept_contacts == 0)
		return;
	memset(&td, 0, sizeof(td));
	for (int i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers; i++)
		if (rel->trigdesc->triggers[i].tgoid == kept_tgoid)
			td.tg_trigger = &rel->trigdesc->triggers[i];
	if (td.tg_trigger == NULL)
		elog(ERROR, "trigger %u of the kept lifecycle changes is gone", kept_tgoid);
	td.type = T_TriggerData;
	td.tg_event = TRIGGER_EVENT_UPDATE | TRIGGER_EVENT_ROW | TRIGGER_EVENT_AFTER;
	td.tg_relation = rel;

	qsort(kept_won, nkept_won, sizeof(int64), lf_int64_cmp);
	for (int i = 0; i < nkept_won; i++)
		if (n == 0 || kept_won[n - 1] != kept_won[i])
			kept_won[n++] = kept_won[i];
	b.won = kept_won;
	b.nwon = n;
	b.contact_account = kept_contact_account;
	b.contact = kept_contact;
	b.ncontacts = nkept_contacts;
	tr = lc_get_trigger(&td, LC_ON_LEAD);
	b.t = lc_get_target(&tr->key);
	run_as_owner(rel, work_batch, &b);
}

static void
work_account_changed(void *arg)
{
	LcWorkArgs *w = arg;
	Datum		values[3];
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	values[0] = Int64GetDatum(w->account_id);
	if (w->adv_changed)
	{
		/* one advocate change per moment: a later change in this transaction supersedes */
		values[1] = TimestampTzGetDatum(now);
		values[2] = CStringGetTextDatum(w->adv_new ? "not_advocate" : "advocate");
		lc_exec(w->t, PLAN_DEL_EVENT, values, NULL, false, false);
		values[2] = CStringGetTextDatum(w->adv_new ? "advocate" : "not_advocate");
		lc_exec(w->t, PLAN_ADD_EVENT, values, NULL, false, false);
	}
	if (!w->churn_old_null && (w->churn_new_null || w->churn_new != w->churn_old))
	{
		/* a correction, unless the account was won again after that churn */
		values[1] = TimestampTzGetDatum(w->churn_old);
		lc_exec(w->t, PLAN_DEL_CHURN, values, NULL, false, false);
	}
	if (!w->churn_new_null && (w->churn_old_null || w->churn_new != w->churn_old))
	{
		values[1] = TimestampTzGetDatum(w->churn_new);
		values[2] = CStringGetTextDatum("churned");
		lc_exec(w->t, PLAN_ADD_EVENT, values, NULL, false, false);
	}
	refresh_account(w->t, w->account_id, CONTACTS_IF_CHANGED, CurrentMemoryContext);
}

/*
 * On account: BEFORE INSERT OR UPDATE OF status, status_since, churned_at
 * guards the maintained columns and checks churned_at; AFTER INSERT OR
 * UPDATE OF is_advocate, churned_at records the change as a fact in
 * account_event and refreshes the account's status and its contacts.
 */
PG_FUNCTION_INFO_V1(lf_account_lifecycle);
Datum
lf_account_lifecycle(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	LcTrigger  *tr;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	newtup;
	HeapTuple	oldtup = NULL;
	bool		isnull;
	LcWorkArgs	w = {0};
	bool		is_update;

	check_trigger_call(fcinfo, "account_lifecycle");
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	tr = lc_get_trigger(trigdata, LC_ON_ACCOUNT);
	is_update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	newtup = is_update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	if (is_update)
		oldtup = trigdata->tg_trigtuple;
	w.account_id = get_int8(newtup, desc, tr->col[ACC_ACCOUNT_ID], &isnull);

	w.churn_new = DatumGetTimestampTz(heap_getattr(newtup, tr->col[ACC_CHURNED_AT], desc, &w.churn_new_null));
	w.churn_old_null = true;
	if (is_update)
		w.churn_old = DatumGetTimestampTz(heap_getattr(oldtup, tr->col[ACC_CHURNED_AT], desc, &w.churn_old_null));

	if (TRIGGER_FIRED_BEFORE(trigdata->tg_event))
	{
		if (lifecycle_write_allowed)
			return PointerGetDatum(newtup);
		if (!w.churn_new_null && (w.churn_old_null || w.churn_new != w.churn_old) &&
			(TIMESTAMP_NOT_FINITE(w.churn_new) || w.churn_new > GetCurrentTimestamp()))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("account %lld cannot churn at %s", (long long) w.account_id,
							timestamptz_to_str(w.churn_new)),
					 errdetail("churned_at records a churn that has happened: a finite time that is not in the future."),
					 errhint("Set churned_at when the customer has left, to the time it left."),
					 errtableconstraint(rel, LC_CHRONOLOGY_CONSTRAINT)));
		if (!is_update)
		{
			/* a new account has no wins yet: a prospect */
			int			cols[2] = {tr->col[ACC_STATUS], tr->col[ACC_STATUS_SINCE]};
			Datum		values[2] = {ObjectIdGetDatum(lf_enum_label(LF_ENUM_ACCOUNT_STATUS, LF_STATUS_PROSPECT)), 0};
			bool		nulls[2] = {false, true};

			return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, 2, cols, values, nulls));
		}
		if (lf_column_changed(oldtup, newtup, desc, tr->col[ACC_STATUS]))
			maintained_error("account", w.account_id, "status");
		if (lf_column_changed(oldtup, newtup, desc, tr->col[ACC_STATUS_SINCE]))
			maintained_error("account", w.account_id, "status_since");
		return PointerGetDatum(newtup);
	}

	/* AFTER: record what changed */
	w.adv_new = DatumGetBool(heap_getattr(newtup, tr->col[ACC_IS_ADVOCATE], desc, &isnull)) && !isnull;
	if (is_update)
	{
		bool		adv_old = DatumGetBool(heap_getattr(oldtup, tr->col[ACC_IS_ADVOCATE], desc, &isnull)) && !isnull;

		w.adv_changed = adv_old != w.adv_new;
	}
	else
		w.adv_changed = w.adv_new;
	if (!w.adv_changed &&
		w.churn_old_null == w.churn_new_null && (w.churn_new_null || w.churn_old == w.churn_new))
		return PointerGetDatum(NULL);
	w.t = lc_get_target(&tr->key);
	run_as_owner(rel, work_account_changed, &w);
	return PointerGetDatum(NULL);
}

static void
work_contact_rule(void *arg)
{
	LcWorkArgs *w = arg;
	Datum		values[4];
	bool		isnull;

	w->is_customer = account_is_customer_now(w->t, w->account_id, false);
	values[0] = BoolGetDatum(w->is_customer);
	values[1] = Int64GetDatum(w->account_id);
	values[2] = Int64GetDatum(w->contact_id);
	values[3] = BoolGetDatum(w->opt_in);
	lc_exec(w->t, PLAN_CONTACT_RULE, values, NULL, false, false);
	w->contact_status = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * BEFORE INSERT OR UPDATE OF opt_in, status on contact: derives the
 * contact's status (customer / lead / subscriber / contact) at insert and
 * when opt_in changes; refuses direct changes of status.
 */
PG_FUNCTION_INFO_V1(lf_contact_lifecycle);
Datum
lf_contact_lifecycle(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	LcTrigger  *tr;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	newtup;
	bool		isnull;
	LcWorkArgs	w = {0};
	int			col;
	Datum		value;
	bool		null = false;

	check_trigger_call(fcinfo, "contact_lifecycle");
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"contact_lifecycle\" must be fired BEFORE INSERT OR UPDATE")));
	if (lifecycle_write_allowed)
		return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple
							   : trigdata->tg_trigtuple);
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	tr = lc_get_trigger(trigdata, LC_ON_CONTACT);
	newtup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	w.contact_id = get_int8(newtup, desc, tr->col[CON_CONTACT_ID], &isnull);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		HeapTuple	oldtup = trigdata->tg_trigtuple;

		if (lf_column_changed(oldtup, newtup, desc, tr->col[CON_STATUS]))
			maintained_error("contact", w.contact_id, "status");
		if (!lf_column_changed(oldtup, newtup, desc, tr->col[CON_OPT_IN]) &&
			!lf_column_changed(oldtup, newtup, desc, tr->col[CON_ACCOUNT_ID]))
			return PointerGetDatum(newtup);
	}
	w.account_id = get_int8(newtup, desc, tr->col[CON_ACCOUNT_ID], &isnull);
	if (isnull)
		return PointerGetDatum(newtup);	/* the NOT NULL constraint reports it */
	w.opt_in = DatumGetBool(heap_getattr(newtup, tr->col[CON_OPT_IN], desc, &isnull)) && !isnull;
	w.t = lc_get_target(&tr->key);
	run_as_owner(rel, work_contact_rule, &w);

	col = tr->col[CON_STATUS];
	value = ObjectIdGetDatum(w.contact_status);
	return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, 1, &col, &value, &null));
}

/* ---------------------------------------------------------------------
 * SQL-callable functions
 * ---------------------------------------------------------------------
 */

/*
 * The model's tables as the refresh functions take them, their first
 * LC_NUM_TABLES arguments (none may be null); fills *key and returns the
 * cached target.
 */
static LcTarget *
lc_target_from_args(FunctionCallInfo fcinfo, LcKey *key)
{
	for (int i = 0; i < LC_NUM_TABLES; i++)
	{
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s table of a leadfunnel model must not be null", lc_table_roles[i])));
		key->rel[i] = PG_GETARG_OID(i);
	}
	return lc_get_target(key);
}

/*
 * The tables to read an account's facts from (and, if account is valid, to
 * check that it exists): the named ones, or on a Citus worker running a
 * pushed-down query, their shards that hold the account.
 */
static LcTarget *
target_for_facts(Oid account, Oid history, Oid events, int64 account_id)
{
	LcKey		key;

	memset(&key, 0, sizeof(key));
	if (OidIsValid(account))
		key.rel[LC_ACCOUNT] = lf_account_shard_relid(account, account_id);
	key.rel[LC_HISTORY] = lf_account_shard_relid(history, account_id);
	key.rel[LC_EVENT] = lf_account_shard_relid(events, account_id);
	return lc_get_target(&key);
}

/*
 * Read an account's facts; with check_account, return false if the
 * account does not exist.
 */
static bool
load_facts_readonly(LcTarget *t, int64 account_id, bool check_account, LcFacts *f)
{
	MemoryContext outer = CurrentMemoryContext;
	bool		exists = true;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (check_account)
	{
		Datum		arg = Int64GetDatum(account_id);

		lc_exec(t, PLAN_ACCOUNT_EXISTS, &arg, NULL, true, false);
		exists = SPI_processed > 0;
	}
	if (exists)
		lc_load_facts(t, account_id, true, f, outer);
	SPI_finish();
	return exists;
}

/*
 * lifecycle_status(history regclass, events regclass, account_id bigint,
 *					at timestamptz, OUT status, OUT status_since)
 */
PG_FUNCTION_INFO_V1(lf_lifecycle_status);
Datum
lf_lifecycle_status(PG_FUNCTION_ARGS)
{
	LcTarget   *t = target_for_facts(InvalidOid, PG_GETARG_OID(0), PG_GETARG_OID(1), PG_GETARG_INT64(2));
	LcFacts		f;
	LcStatus	s;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	load_facts_readonly(t, PG_GETARG_INT64(2), false, &f);
	s = lf_status_at(&f, PG_GETARG_TIMESTAMPTZ(3));
	values[0] = ObjectIdGetDatum(lf_enum_label(LF_ENUM_ACCOUNT_STATUS, s.status));
	values[1] = TimestampTzGetDatum(s.since);
	nulls[1] = s.since_null;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * lifecycle_status_at(account regclass, history regclass, events regclass,
 *					   account_id bigint, at timestamptz) RETURNS account_status
 *	  The status at a moment; NULL for an account that does not exist.
 */
PG_FUNCTION_INFO_V1(lf_lifecycle_status_at);
Datum
lf_lifecycle_status_at(PG_FUNCTION_ARGS)
{
	int64		account_id = PG_GETARG_INT64(3);
	LcTarget   *t = target_for_facts(PG_GETARG_OID(0), PG_GETARG_OID(1), PG_GETARG_OID(2), account_id);
	LcFacts		f;

	if (!load_facts_readonly(t, account_id, true, &f))
		PG_RETURN_NULL();
	PG_RETURN_OID(lf_enum_label(LF_ENUM_ACCOUNT_STATUS, lf_status_at(&f, PG_GETARG_TIMESTAMPTZ(4)).status));
}

/*
 * lifecycle_history(account regclass, history regclass, events regclass,
 *					 account_id bigint) RETURNS TABLE (status, valid_from, valid_until)
 *	  No rows for an account that does not exist.
 */
PG_FUNCTION_INFO_V1(lf_lifecycle_history);
Datum
lf_lifecycle_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		account_id = PG_GETARG_INT64(3);
	LcTarget   *t = target_for_facts(PG_GETARG_OID(0), PG_GETARG_OID(1), PG_GETARG_OID(2), account_id);
	LcFacts		f;
	LcStatus   *stretches;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	if (!load_facts_readonly(t, account_id, true, &f))
		return (Datum) 0;
	n = lf_status_timeline(&f, &stretches);
	for (int i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = ObjectIdGetDatum(lf_enum_label(LF_ENUM_ACCOUNT_STATUS, stretches[i].status));
		values[1] = TimestampTzGetDatum(stretches[i].since);
		nulls[1] = stretches[i].since_null;
		nulls[2] = (i + 1 == n);
		values[2] = nulls[2] ? (Datum) 0 : TimestampTzGetDatum(stretches[i + 1].since);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Bring one account's stored status, its contacts' statuses and, if asked,
 * its leads' motions up to date (SPI connected), given its stored status as
 * read by the caller.  Returns whether the account's stored status changed.
 */
static bool
refresh_one(LcTarget *t, int64 account_id, const LcStatus *stored, bool recompute_motion, MemoryContext cxt)
{
	LcFacts		f;
	LcStatus	now;
	bool		customer;
	bool		changed = false;

	lc_load_facts(t, account_id, false, &f, cxt);
	now = lf_status_at(&f, lc_now());
	if (now.status != stored->status || now.since_null != stored->since_null ||
		(!now.since_null && now.since != stored->since))
	{
		/* lock, read the facts again and write, as a trigger would */
		if (refresh_account(t, account_id, CONTACTS_NONE, cxt))
			changed = true;
		lc_load_facts(t, account_id, false, &f, cxt);
		now = lf_status_at(&f, lc_now());
	}
	customer = LF_STATUS_IS_CUSTOMER(now.status);
	refresh_contacts(t, account_id, 0, customer, false);

	if (recompute_motion)
	{
		Datum		values[3];
		uint64		nleads;
		int64	   *lead_ids;
		Oid		   *motions;

		values[0] = Int64GetDatum(account_id);
		lc_exec(t, PLAN_LEADS, values, NULL, false, false);
		nleads = SPI_processed;
		lead_ids = MemoryContextAlloc(cxt, sizeof(int64) * (nleads + 1));
		motions = MemoryContextAlloc(cxt, sizeof(Oid) * (nleads + 1));
		for (uint64 j = 0; j < nleads; j++)
		{
			HeapTuple	tup = SPI_tuptable->vals[j];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Oid			want;
			Datum		cur;

			lead_ids[j] = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			want = lf_enum_label(LF_ENUM_MOTION,
								 lf_motion_of(lf_status_at(&f, DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull))).status));
			cur = SPI_getbinval(tup, desc, 3, &isnull);
			motions[j] = (!isnull && DatumGetObjectId(cur) == want) ? InvalidOid : want;
		}
		for (uint64 j = 0; j < nleads; j++)
			if (OidIsValid(motions[j]))
			{
				values[1] = Int64GetDatum(lead_ids[j]);
				values[2] = ObjectIdGetDatum(motions[j]);
				lc_exec(t, PLAN_SET_MOTION, values, NULL, false, true);
			}
	}
	return changed;
}

/*
 * lifecycle_refresh(account, contact, lead, history, events regclass,
 *					 recompute_motion boolean) RETURNS bigint
 *	  Brings every account's stored status, every contact's status and,
 *	  optionally, every lead's motion up to date; returns the number of
 *	  accounts whose stored status changed.  Runs as the caller.
 */
PG_FUNCTION_INFO_V1(lf_lifecycle_refresh);
Datum
lf_lifecycle_refresh(PG_FUNCTION_ARGS)
{
	LcKey		key;
	LcTarget   *t;
	bool		recompute_motion = PG_GETARG_BOOL(5);
	int64		changed = 0;
	int64	   *ids;
	LcStatus   *stored;
	uint64		naccounts;
	MemoryContext cxt;

	t = lc_target_from_args(fcinfo, &key);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lc_exec(t, PLAN_ACCOUNTS, NULL, NULL, false, false);
	naccounts = SPI_processed;
	ids = palloc(sizeof(int64) * (naccounts + 1));
	stored = palloc(sizeof(LcStatus) * (naccounts + 1));
	for (uint64 i = 0; i < naccounts; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		ids[i] = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		stored[i].status = isnull ? LF_STATUS_PROSPECT :
			(LfAccountStatus) lf_enum_ordinal(LF_ENUM_ACCOUNT_STATUS, DatumGetObjectId(d));
		d = SPI_getbinval(tup, desc, 3, &stored[i].since_null);
		stored[i].since = stored[i].since_null ? 0 : DatumGetTimestampTz(d);
	}

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lifecycle refresh", ALLOCSET_SMALL_SIZES);
	for (uint64 i = 0; i < naccounts; i++)
	{
		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(cxt);
		if (refresh_one(t, ids[i], &stored[i], recompute_motion, cxt))
			changed++;
	}
	SPI_finish();
	PG_RETURN_INT64(changed);
}

/*
 * lifecycle_refresh_account(account, contact, lead, history, events regclass,
 *							 account_id bigint, status account_status,
 *							 status_since timestamptz, recompute_motion boolean)
 *	  RETURNS boolean
 *	  The refresh of one account, given its stored status: called per row of
 *	  a query over the account table, so that on Citus it runs on the worker
 *	  holding the account, on the shards holding the account's rows.  Returns
 *	  whether the account's stored status changed.  Runs as the caller.
 */
PG_FUNCTION_INFO_V1(lf_lifecycle_refresh_account);
Datum
lf_lifecycle_refresh_account(PG_FUNCTION_ARGS)
{
	LcKey		key;
	LcTarget   *t;
	int64		account_id;
	LcStatus	stored;
	bool		changed;

	for (int i = 0; i <= LC_NUM_TABLES; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s of a leadfunnel model must not be null",
							i < LC_NUM_TABLES ? psprintf("%s table", lc_table_roles[i]) : "account_id")));
	account_id = PG_GETARG_INT64(LC_NUM_TABLES);
	for (int i = 0; i < LC_NUM_TABLES; i++)
		key.rel[i] = lf_account_shard_relid(PG_GETARG_OID(i), account_id);
	stored.status = PG_ARGISNULL(6) ? LF_STATUS_PROSPECT :
		(LfAccountStatus) lf_enum_ordinal(LF_ENUM_ACCOUNT_STATUS, PG_GETARG_OID(6));
	stored.since_null = PG_ARGISNULL(7);
	stored.since = stored.since_null ? 0 : PG_GETARG_TIMESTAMPTZ(7);
	t = lc_get_target(&key);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	changed = refresh_one(t, account_id, &stored, !PG_ARGISNULL(8) && PG_GETARG_BOOL(8), CurrentMemoryContext);
	SPI_finish();
	PG_RETURN_BOOL(changed);
}

/* One column of an SPI result row, as int64 / timestamptz (NULL flagged). */
static inline Datum
spi_col(uint64 row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/* A one-dimensional array of n elements of the plan argument type c. */
static Datum
make_array(char c, Datum *elems, bool *nulls, int n)
{
	Oid			type = plan_arg_type(c);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, type, typlen, typbyval, typalign));
}

/*
 * lifecycle_refresh_batch(account, contact, lead, history, events regclass,
 *						   recompute_motion boolean) RETURNS bigint
 *	  What lifecycle_refresh() does, for a single-node model, in one pass
 *	  over all accounts instead of several statements per account: the
 *	  accounts, every win, every event and (for recompute_motion) every lead
 *	  are read by one ordered query each and merged by account_id; each
 *	  account's facts go to the same rule (lc_facts_build, lf_status_at) as
 *	  there; the stored statuses that changed, every contact's status and the
 *	  motions that changed are then written by one statement per table.  The
 *	  account, contact and lead tables are locked first (SHARE ROW EXCLUSIVE:
 *	  readers go on, writers wait), so no lead is won and no status written
 *	  by another session between the reads and the writes.  Used by
 *	  generate_demo, which writes every account at once.  Runs as the caller.
 */
PG_FUNCTION_INFO_V1(lf_lifecycle_refresh_batch);
Datum
lf_lifecycle_refresh_batch(PG_FUNCTION_ARGS)
{
	LcKey		key;
	LcTarget   *t;
	bool		recompute_motion = PG_GETARG_BOOL(5);
	int64		changed = 0;
	uint64		naccounts,
				nwins,
				nevents,
				nleads = 0;
	int64	   *ids;
	LcStatus   *stored;
	int64	   *win_account;
	TimestampTz *win_at;
	int64	   *ev_account;
	TimestampTz *ev_at;
	char	   *ev_kind;
	int64	   *lead_account = NULL;
	int64	   *lead_id = NULL;
	TimestampTz *lead_created = NULL;
	bool	   *lead_created_null = NULL;
	Oid		   *lead_motion = NULL;
	Datum	   *set_id,
			   *set_status,
			   *set_since;
	bool	   *set_since_null;
	int			nset = 0;
	Datum	   *acc_id,
			   *acc_customer;
	Datum	   *mot_account = NULL,
			   *mot_lead = NULL,
			   *mot_motion = NULL;
	int			nmot = 0;
	uint64		w = 0,
				e = 0,
				l = 0;
	MemoryContext cxt;
	StringInfoData lock;

	t = lc_target_from_args(fcinfo, &key);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	initStringInfo(&lock);
	appendStringInfo(&lock, "LOCK TABLE %s, %s, %s IN SHARE ROW EXCLUSIVE MODE",
					 rel_qualified_name(key.rel[LC_ACCOUNT], LC_ACCOUNT),
					 rel_qualified_name(key.rel[LC_CONTACT], LC_CONTACT),
					 rel_qualified_name(key.rel[LC_LEAD], LC_LEAD));
	if (SPI_execute(lock.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not lock the tables of the lifecycle refresh");

	/* the accounts and their stored statuses */
	lc_exec(t, PLAN_ACCOUNTS, NULL, NULL, false, false);
	naccounts = SPI_processed;
	ids = palloc(sizeof(int64) * (naccounts + 1));
	stored = palloc(sizeof(LcStatus) * (naccounts + 1));
	for (uint64 i = 0; i < naccounts; i++)
	{
		bool		isnull;
		Datum		d;

		ids[i] = DatumGetInt64(spi_col(i, 1, &isnull));
		d = spi_col(i, 2, &isnull);
		stored[i].status = isnull ? LF_STATUS_PROSPECT :
			(LfAccountStatus) lf_enum_ordinal(LF_ENUM_ACCOUNT_STATUS, DatumGetObjectId(d));
		d = spi_col(i, 3, &stored[i].since_null);
		stored[i].since = stored[i].since_null ? 0 : DatumGetTimestampTz(d);
	}

	/* every win, by account and time */
	lc_exec(t, PLAN_ALL_WINS, NULL, NULL, false, false);
	nwins = SPI_processed;
	win_account = palloc(sizeof(int64) * (nwins + 1));
	win_at = palloc(sizeof(TimestampTz) * (nwins + 1));
	for (uint64 i = 0; i < nwins; i++)
	{
		bool		isnull;

		win_account[i] = DatumGetInt64(spi_col(i, 1, &isnull));
		win_at[i] = DatumGetTimestampTz(spi_col(i, 2, &isnull));
	}

	/* every event, by account in PLAN_EVENTS' order */
	lc_exec(t, PLAN_ALL_EVENTS, NULL, NULL, false, false);
	nevents = SPI_processed;
	ev_account = palloc(sizeof(int64) * (nevents + 1));
	ev_at = palloc(sizeof(TimestampTz) * (nevents + 1));
	ev_kind = palloc(nevents + 1);
	for (uint64 i = 0; i < nevents; i++)
	{
		bool		isnull;
		Datum		d;

		ev_account[i] = DatumGetInt64(spi_col(i, 1, &isnull));
		ev_at[i] = DatumGetTimestampTz(spi_col(i, 2, &isnull));
		d = spi_col(i, 3, &isnull);
		ev_kind[i] = isnull ? LC_EV_OTHER : event_kind(DatumGetTextPP(d));
	}

	/* every lead, by account and lead_id */
	if (recompute_motion)
	{
		lc_exec(t, PLAN_ALL_LEADS, NULL, NULL, false, false);
		nleads = SPI_processed;
		lead_account = palloc(sizeof(int64) * (nleads + 1));
		lead_id = palloc(sizeof(int64) * (nleads + 1));
		lead_created = palloc(sizeof(TimestampTz) * (nleads + 1));
		lead_created_null = palloc(sizeof(bool) * (nleads + 1));
		lead_motion = palloc(sizeof(Oid) * (nleads + 1));
		mot_account = palloc(sizeof(Datum) * (nleads + 1));
		mot_lead = palloc(sizeof(Datum) * (nleads + 1));
		mot_motion = palloc(sizeof(Datum) * (nleads + 1));
		for (uint64 i = 0; i < nleads; i++)
		{
			bool		isnull;
			Datum		d;

			d = spi_col(i, 1, &isnull);
			/* a lead without an account belongs to no account's refresh */
			lead_account[i] = isnull ? PG_INT64_MAX : DatumGetInt64(d);
			lead_id[i] = DatumGetInt64(spi_col(i, 2, &isnull));
			d = spi_col(i, 3, &lead_created_null[i]);
			lead_created[i] = lead_created_null[i] ? 0 : DatumGetTimestampTz(d);
			d = spi_col(i, 4, &isnull);
			lead_motion[i] = isnull ? InvalidOid : DatumGetObjectId(d);
		}
	}
	SPI_freetuptable(SPI_tuptable);

	set_id = palloc(sizeof(Datum) * (naccounts + 1));
	set_status = palloc(sizeof(Datum) * (naccounts + 1));
	set_since = palloc(sizeof(Datum) * (naccounts + 1));
	set_since_null = palloc(sizeof(bool) * (naccounts + 1));
	acc_id = palloc(sizeof(Datum) * (naccounts + 1));
	acc_customer = palloc(sizeof(Datum) * (naccounts + 1));

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lifecycle batch refresh", ALLOCSET_SMALL_SIZES);
	for (uint64 i = 0; i < naccounts; i++)
	{
		int64		id = ids[i];
		uint64		w0,
					e0;
		LcFacts		f;
		LcStatus	now;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(cxt);
		/* the rows of this account in each ordered list (rows of unknown accounts skipped) */
		while (w < nwins && win_account[w] < id)
			w++;
		for (w0 = w; w < nwins && win_account[w] == id; w++)
			;
		while (e < nevents && ev_account[e] < id)
			e++;
		for (e0 = e; e < nevents && ev_account[e] == id; e++)
			;
		lc_facts_build(&f, win_at + w0, (int) (w - w0), ev_at + e0, ev_kind + e0, (int) (e - e0), cxt);
		now = lf_status_at(&f, lc_now());
		if (now.status != stored[i].status || now.since_null != stored[i].since_null ||
			(!now.since_null && now.since != stored[i].since))
		{
			set_id[nset] = Int64GetDatum(id);
			set_status[nset] = ObjectIdGetDatum(lf_enum_label(LF_ENUM_ACCOUNT_STATUS, now.status));
			set_since[nset] = TimestampTzGetDatum(now.since);
			set_since_null[nset] = now.since_null;
			nset++;
			changed++;
		}
		acc_id[i] = Int64GetDatum(id);
		acc_customer[i] = BoolGetDatum(LF_STATUS_IS_CUSTOMER(now.status));

		if (recompute_motion)
		{
			while (l < nleads && lead_account[l] < id)
				l++;
			for (; l < nleads && lead_account[l] == id; l++)
			{
				/* a NULL created_at is read as the rule reads it in refresh_one */
				Oid			want = lf_enum_label(LF_ENUM_MOTION,
												 lf_motion_of(lf_status_at(&f, lead_created[l]).status));

				if (lead_motion[l] != want)
				{
					mot_account[nmot] = Int64GetDatum(id);
					mot_lead[nmot] = Int64GetDatum(lead_id[l]);
					mot_motion[nmot] = ObjectIdGetDatum(want);
					nmot++;
				}
			}
		}
	}
	MemoryContextDelete(cxt);

	if (nset > 0)
	{
		Datum		values[3];

		values[0] = make_array('i', set_id, NULL, nset);
		values[1] = make_array('s', set_status, NULL, nset);
		values[2] = make_array('t', set_since, set_since_null, nset);
		lc_exec(t, PLAN_BATCH_SET_ACCOUNTS, values, NULL, false, true);
	}
	if (naccounts > 0)
	{
		Datum		values[2];

		values[0] = make_array('i', acc_id, NULL, (int) naccounts);
		values[1] = make_array('b', acc_customer, NULL, (int) naccounts);
		lc_exec(t, PLAN_BATCH_SET_CONTACTS, values, NULL, false, true);
	}
	if (nmot > 0)
	{
		Datum		values[3];

		values[0] = make_array('i', mot_account, NULL, nmot);
		values[1] = make_array('i', mot_lead, NULL, nmot);
		values[2] = make_array('m', mot_motion, NULL, nmot);
		lc_exec(t, PLAN_BATCH_SET_MOTIONS, values, NULL, false, true);
	}
	SPI_finish();
	PG_RETURN_INT64(changed);
}
