/*-------------------------------------------------------------------------
 *
 * stages.c
 *	  Funnel rules: compiling a funnel definition into per-stage sets of
 *	  allowed next stages, the per-backend cache of compiled funnels, the
 *	  triggers that guard the configuration tables, and allowed_next().
 *
 * The transition trigger runs for every stage move, so it must never read
 * leadfunnel.funnel itself.  All funnels are compiled in one pass into a hash
 * table that lives until a relcache invalidation names one of the two
 * configuration tables; funnel_config_changed() sends that invalidation after
 * every statement that writes them, so all backends see new rules at commit
 * (and the writing backend at its next command).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "vocabulary.h"
#include "invalidation.h"
#include "stages.h"

#define CLOSING_STAGES \
	(LF_STAGE_BIT(LF_STAGE_RECYCLED) | LF_STAGE_BIT(LF_STAGE_DISQUALIFIED) | LF_STAGE_BIT(LF_STAGE_LOST))

static HTAB *funnel_cache = NULL;
static MemoryContext funnel_cache_context = NULL;
static bool funnel_cache_valid = false;
static Oid	funnel_relid = InvalidOid;
static Oid	transition_relid = InvalidOid;

static void
stages_relcache_invalidate(Oid relid)
{
	if (relid == InvalidOid || relid == funnel_relid || relid == transition_relid)
		funnel_cache_valid = false;
}

/*
 * Stage set of a lead_stage[] datum; NULL elements and duplicates are the
 * caller's to reject, so they are reported through *has_null and *ascending.
 */
static LfStageSet
stage_array_to_set(ArrayType *arr, bool *has_null, bool *ascending)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			prev = -1;
	LfStageSet	set = 0;

	deconstruct_array(arr, ARR_ELEMTYPE(arr), sizeof(Oid), true, TYPALIGN_INT,
					  &elems, &nulls, &n);
	*has_null = false;
	*ascending = true;
	for (int i = 0; i < n; i++)
	{
		int			s;

		if (nulls[i])
		{
			*has_null = true;
			continue;
		}
		s = lf_stage_from_oid(DatumGetObjectId(elems[i]));
		if (s <= prev)
			*ascending = false;
		prev = s;
		set |= LF_STAGE_BIT(s);
	}
	return set;
}

static int
lowest_stage(LfStageSet set)
{
	for (int s = 0; s < LF_NUM_STAGES; s++)
		if (set & LF_STAGE_BIT(s))
			return s;
	return -1;
}

static void
definition_error(const char *funnel, const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("invalid definition of funnel \"%s\"", funnel),
			 errdetail("%s", what),
			 errhint("%s", hint),
			 errtable_constraint_name("funnel_definition")));
}

/* errtableconstraint() needs a Relation; config errors only name the rule. */
int
errtable_constraint_name(const char *conname)
{
	return err_generic_string(PG_DIAG_CONSTRAINT_NAME, conname);
}

/*
 * Compile one funnel definition.  Raises 23514 (constraint funnel_definition)
 * for a definition no lead could follow, so the configuration trigger and the
 * cache share one notion of "valid".
 */
void
lf_compile_funnel(LfFunnel *f, const char *name, ArrayType *stages,
				  ArrayType *entry, ArrayType *reopen, bool allow_skip)
{
	bool		has_null,
				ascending;
	LfStageSet	open;

	memset(f, 0, sizeof(LfFunnel));
	strlcpy(f->name, name, sizeof(f->name));
	f->allow_skip = allow_skip;

	f->stages = stage_array_to_set(stages, &has_null, &ascending);
	if (has_null || !ascending)
		definition_error(name, "Its stages must be distinct, non-null and in enum order.",
						 "List the stages as in leadfunnel.lead_stage, e.g. {visitor,lead,mql,won}.");
	if (f->stages & CLOSING_STAGES)
		definition_error(name, "Stages recycled, disqualified and lost belong to every funnel and are not listed.",
						 "List only open stages and won.");
	if (!(f->stages & LF_STAGE_BIT(LF_STAGE_WON)) || f->stages == LF_STAGE_BIT(LF_STAGE_WON))
		definition_error(name, "A funnel has at least one open stage and ends with won.",
						 "Add won as the last stage.");
	open = f->stages & ~LF_STAGE_BIT(LF_STAGE_WON);

	if (entry != NULL)
	{
		f->entry = stage_array_to_set(entry, &has_null, &ascending);
		if (has_null)
			definition_error(name, "Its entry stages contain a null.", "Remove the null.");
	}
	else
		f->entry = open & (LF_STAGE_BIT(LF_STAGE_VISITOR) | LF_STAGE_BIT(LF_STAGE_LEAD));
	if (f->entry == 0 || (f->entry & ~open))
		definition_error(name, "Its entry stages must be one or more of its open stages.",
						 "Set entry_stages explicitly when the funnel has neither visitor nor lead.");

	if (reopen != NULL)
	{
		f->reopen = stage_array_to_set(reopen, &has_null, &ascending);
		if (has_null || f->reopen == 0 || (f->reopen & ~open))
			definition_error(name, "Its reopen stages must be one or more of its open stages.",
							 "Set reopen_stages to NULL to reopen into the entry stages.");
	}
	else
		f->reopen = f->entry;

	for (int s = 0; s < LF_NUM_STAGES; s++)
	{
		LfStageSet	next = 0;

		if (LF_STAGE_IS_OPEN(s))
		{
			/* funnel stages after s; a stage outside the funnel moves on too */
			LfStageSet	later = f->stages & ~(LF_STAGE_BIT(s + 1) - 1);

			if (allow_skip)
				next = later;
			else if (later != 0)
				next = LF_STAGE_BIT(lowest_stage(later));
			next |= CLOSING_STAGES;
		}
		else if (s == LF_STAGE_RECYCLED)
			next = f->reopen;
		f->next[s] = next;
	}
}

static void
add_extra_transition(LfFunnel *f, int from, int to)
{
	if (from != to)
		f->next[from] |= LF_STAGE_BIT(to);
}

/*
 * Compile a row of leadfunnel.funnel, as the cache loader reads it and as the
 * configuration trigger checks it: one decoding for both.
 */
static void
compile_funnel_row(LfFunnel *f, HeapTuple tup, TupleDesc desc)
{
	bool		name_null,
				stages_null,
				entry_null,
				reopen_null,
				skip_null;
	Datum		name = heap_getattr(tup, SPI_fnumber(desc, "name"), desc, &name_null);
	Datum		stages = heap_getattr(tup, SPI_fnumber(desc, "stages"), desc, &stages_null);
	Datum		entry = heap_getattr(tup, SPI_fnumber(desc, "entry_stages"), desc, &entry_null);
	Datum		reopen = heap_getattr(tup, SPI_fnumber(desc, "reopen_stages"), desc, &reopen_null);
	Datum		skip = heap_getattr(tup, SPI_fnumber(desc, "allow_skip"), desc, &skip_null);

	/* NOT NULL constraints on name and stages are checked after BEFORE triggers */
	if (name_null || stages_null)
		return;
	lf_compile_funnel(f, TextDatumGetCString(name), DatumGetArrayTypeP(stages),
					  entry_null ? NULL : DatumGetArrayTypeP(entry),
					  reopen_null ? NULL : DatumGetArrayTypeP(reopen),
					  !skip_null && DatumGetBool(skip));
}

static void
funnel_cache_load(void)
{
	HASHCTL		ctl;
	Oid			nsp;

	lf_on_relcache_invalidation(stages_relcache_invalidate);
	if (funnel_cache_context == NULL)
		funnel_cache_context = AllocSetContextCreate(CacheMemoryContext,
													 "leadfunnel funnel rules",
													 ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(funnel_cache_context);
	funnel_cache = NULL;

	nsp = get_namespace_oid(LF_SCHEMA, false);
	funnel_relid = get_relname_relid("funnel", nsp);
	transition_relid = get_relname_relid("funnel_transition", nsp);
	/* from here on an invalidation of either table restarts the load */
	funnel_cache_valid = true;

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(LfFunnel);
	ctl.hcxt = funnel_cache_context;
	funnel_cache = hash_create("leadfunnel funnels", 16, &ctl,
							   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (SPI_execute("SELECT * FROM " LF_SCHEMA ".funnel", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read " LF_SCHEMA ".funnel");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		LfFunnel	compiled;

		compile_funnel_row(&compiled, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		memcpy(hash_search(funnel_cache, compiled.name, HASH_ENTER, NULL), &compiled, sizeof(LfFunnel));
	}

	if (SPI_execute("SELECT funnel, from_stage, to_stage FROM " LF_SCHEMA ".funnel_transition",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read " LF_SCHEMA ".funnel_transition");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *name = SPI_getvalue(tup, desc, 1);
		LfFunnel   *f = hash_search(funnel_cache, name, HASH_FIND, NULL);

		if (f != NULL)
			add_extra_transition(f,
								 lf_stage_from_oid(DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull))),
								 lf_stage_from_oid(DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull))));
	}
	SPI_finish();
}

/*
 * The compiled rules of a funnel, or NULL if there is none by that name.
 * The pointer is valid until the next call (an invalidation may rebuild).
 */
const LfFunnel *
lf_lookup_funnel(const char *name)
{
	/* a name longer than any key cannot be a funnel */
	if (strlen(name) >= NAMEDATALEN)
		return NULL;
	while (!funnel_cache_valid || funnel_cache == NULL)
	{
		PG_TRY();
		{
			funnel_cache_load();
		}
		PG_CATCH();
		{
			funnel_cache_valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return hash_search(funnel_cache, name, HASH_FIND, NULL);
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* "enterprise, inside_sales, self_serve": the known funnels, sorted, for hints */
char *
lf_known_funnels_text(void)
{
	HASH_SEQ_STATUS seq;
	LfFunnel   *f;
	StringInfoData buf;
	const char **names;
	long		n = 0;

	lf_lookup_funnel("");
	names = palloc(sizeof(char *) * (hash_get_num_entries(funnel_cache) + 1));
	hash_seq_init(&seq, funnel_cache);
	while ((f = hash_seq_search(&seq)) != NULL)
		names[n++] = pstrdup(f->name);
	qsort(names, n, sizeof(char *), compare_names);
	initStringInfo(&buf);
	for (long i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", names[i]);
	return buf.data;
}

static const LfFunnel *
require_funnel(const char *name, int sqlstate)
{
	const LfFunnel *f = lf_lookup_funnel(name);

	if (f == NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("funnel \"%.*s%s\" does not exist",
						pg_mbcliplen(name, strlen(name), NAMEDATALEN - 1), name,
						strlen(name) >= NAMEDATALEN ? "..." : ""),
				 sqlstate == ERRCODE_FOREIGN_KEY_VIOLATION ?
				 errdetail("The row refers to a funnel that is not a row of leadfunnel.funnel.") : 0,
				 errhint("Known funnels: %s. Add a funnel as a row of leadfunnel.funnel.",
						 lf_known_funnels_text())));
	return f;
}

/* A funnel named by a function argument: 42704 (undefined_object) if unknown. */
const LfFunnel *
lf_require_funnel(const char *name)
{
	return require_funnel(name, ERRCODE_UNDEFINED_OBJECT);
}

/*
 * A funnel named by row data (lead.funnel): 23503 (foreign_key_violation) if
 * unknown, the error of a reference to a missing row, which applications
 * catch as an integrity error.
 */
const LfFunnel *
lf_require_row_funnel(const char *name)
{
	return require_funnel(name, ERRCODE_FOREIGN_KEY_VIOLATION);
}

/*
 * Read and compile one funnel from leadfunnel.funnel, bypassing the cache
 * (for the configuration triggers, which must see rows written by the
 * current statement).  Extra transitions are not read.  false if missing.
 */
bool
lf_read_funnel(const char *name, LfFunnel *f)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		found;

	args[0] = CStringGetTextDatum(name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT * FROM " LF_SCHEMA ".funnel WHERE name OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read " LF_SCHEMA ".funnel");
	found = SPI_processed > 0;
	if (found)
		compile_funnel_row(f, SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
	SPI_finish();
	return found;
}

/*
 * A funnel's new stages must keep the stages its labels map to (the labels
 * are still under the old name: a rename cascades after this trigger).
 */
static void
check_labels_kept(const LfFunnel *f, HeapTuple oldtup, TupleDesc desc)
{
	Oid			argtypes[2] = {TEXTOID, lf_enum_type(LF_ENUM_STAGE)};
	Datum		args[2];
	bool		isnull;

	/* a library newer than the installed extension: no labels to keep */
	if (!OidIsValid(get_relname_relid("stage_label", get_namespace_oid(LF_SCHEMA, false))))
		return;
	args[0] = heap_getattr(oldtup, SPI_fnumber(desc, "name"), desc, &isnull);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int s = 0; s < LF_NUM_STAGES; s++)
	{
		if ((f->stages & LF_STAGE_BIT(s)) || LF_STAGE_IS_LOSS(s))
			continue;
		args[1] = ObjectIdGetDatum(lf_stage_to_oid(s));
		if (SPI_execute_with_args("SELECT label FROM " LF_SCHEMA ".stage_label"
								  " WHERE funnel OPERATOR(pg_catalog.=) $1 AND stage OPERATOR(pg_catalog.=) $2",
								  2, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read " LF_SCHEMA ".stage_label");
		if (SPI_processed > 0)
			definition_error(f->name,
							 psprintf("Stage label \"%s\" maps to stage \"%s\", which the new definition drops.",
									  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
									  lf_stage_names[s]),
							 "Delete or remap the funnel's labels of that stage in leadfunnel.stage_label first.");
	}
	SPI_finish();
}

/*
 * BEFORE ROW trigger on leadfunnel.funnel: built-in funnels are the
 * extension's (they are not dumped, so a change would be lost by a restore);
 * users' funnels must compile.
 */
PG_FUNCTION_INFO_V1(lf_funnel_config_check);
Datum
lf_funnel_config_check(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newtup = NULL;
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"funnel_config_check\" must be fired BEFORE ROW")));

	desc = RelationGetDescr(trigdata->tg_relation);
	if (!creating_extension)
	{
		if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) &&
			DatumGetBool(heap_getattr(trigdata->tg_trigtuple,
									  SPI_fnumber(desc, "builtin"), desc, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot change built-in funnel \"%s\"",
							SPI_getvalue(trigdata->tg_trigtuple, desc, SPI_fnumber(desc, "name"))),
					 errdetail("Built-in funnels belong to the extension and are recreated by CREATE EXTENSION."),
					 errhint("Insert a funnel of your own with the rules you need.")));
	}
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_trigtuple);

	newtup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	if (!creating_extension &&
		DatumGetBool(heap_getattr(newtup, SPI_fnumber(desc, "builtin"), desc, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot mark funnel \"%s\" as built-in",
						SPI_getvalue(newtup, desc, SPI_fnumber(desc, "name"))),
				 errdetail("Only the extension's own funnels are built-in; they are not dumped by pg_dump."),
				 errhint("Insert the row with builtin = false.")));
	{
		LfFunnel	compiled;

		compile_funnel_row(&compiled, newtup, desc);
		if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
			check_labels_kept(&compiled, trigdata->tg_trigtuple, desc);
	}
	return PointerGetDatum(newtup);
}

/* AFTER STATEMENT trigger on both configuration tables. */
PG_FUNCTION_INFO_V1(lf_funnel_config_changed);
Datum
lf_funnel_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"funnel_config_changed\" was not called by trigger manager")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

static LfStage
stage_arg(FunctionCallInfo fcinfo, int argno)
{
	return lf_stage_from_oid(PG_GETARG_OID(argno));
}

PG_FUNCTION_INFO_V1(lf_allowed_next);
Datum
lf_allowed_next(PG_FUNCTION_ARGS)
{
	const LfFunnel *f = lf_require_funnel(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	PG_RETURN_ARRAYTYPE_P(lf_stage_set_to_array(f->next[stage_arg(fcinfo, 1)]));
}

PG_FUNCTION_INFO_V1(lf_entry_stages);
Datum
lf_entry_stages(PG_FUNCTION_ARGS)
{
	const LfFunnel *f = lf_require_funnel(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	PG_RETURN_ARRAYTYPE_P(lf_stage_set_to_array(f->entry));
}

PG_FUNCTION_INFO_V1(lf_funnel_stages);
Datum
lf_funnel_stages(PG_FUNCTION_ARGS)
{
	const LfFunnel *f = lf_require_funnel(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	PG_RETURN_ARRAYTYPE_P(lf_stage_set_to_array(f->stages));
}
