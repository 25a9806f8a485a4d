/*-------------------------------------------------------------------------
 *
 * labels.c
 *	  Stage labels: the per-backend cache of leadfunnel.stage_label, the
 *	  trigger that validates its rows, and resolve_stage().
 *
 * A label is a company's own name for a stage of one funnel ("Discovery",
 * "Closed Won", "marketingqualifiedlead"), mapped to one canonical stage;
 * several labels may share a stage.  The transition trigger resolves labels
 * on every move, so, as for the funnel rules (stages.c), all labels are
 * loaded in one query into hash tables that live until a relcache
 * invalidation names leadfunnel.stage_label; the statement trigger on that
 * table sends it (funnel_config_changed()).
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
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "invalidation.h"
#include "labels.h"
#include "stages.h"
#include "vocabulary.h"

/* "<2 hex digits: length of the funnel name><funnel><label>" */
#define LABEL_KEY_SIZE (2 + NAMEDATALEN + LF_LABEL_MAX)

typedef struct LabelEntry
{
	char		key[LABEL_KEY_SIZE];	/* hash key */
	int			stage;
} LabelEntry;

typedef struct FunnelLabels
{
	char		funnel[NAMEDATALEN];	/* hash key */
	const char *first[LF_NUM_STAGES];	/* first label of each stage, or NULL */
	StringInfoData all;			/* every label, in order, for hints */
} FunnelLabels;

static HTAB *label_cache = NULL;
static HTAB *funnel_labels = NULL;
static MemoryContext label_cache_context = NULL;
static bool label_cache_valid = false;
static Oid	stage_label_relid = InvalidOid;

static void
labels_relcache_invalidate(Oid relid)
{
	if (relid == InvalidOid || relid == stage_label_relid)
		label_cache_valid = false;
}

/* false when the names are too long to be a label of a funnel */
static bool
label_key(char *key, const char *funnel, const char *label)
{
	size_t		flen = strlen(funnel);
	size_t		llen = strlen(label);

	if (flen >= NAMEDATALEN || llen >= LF_LABEL_MAX)
		return false;
	snprintf(key, LABEL_KEY_SIZE, "%02x%s%s", (unsigned) flen, funnel, label);
	return true;
}

static void
label_cache_load(void)
{
	HASHCTL		ctl;
	Oid			nsp;
	MemoryContext oldcxt;

	if (label_cache_context == NULL)
		label_cache_context = AllocSetContextCreate(CacheMemoryContext,
													"leadfunnel stage labels",
													ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(label_cache_context);
	label_cache = NULL;
	funnel_labels = NULL;
	lf_on_relcache_invalidation(labels_relcache_invalidate);

	nsp = get_namespace_oid(LF_SCHEMA, false);
	stage_label_relid = get_relname_relid("stage_label", nsp);
	/* from here on an invalidation of the table restarts the load */
	label_cache_valid = true;

	ctl.keysize = LABEL_KEY_SIZE;
	ctl.entrysize = sizeof(LabelEntry);
	ctl.hcxt = label_cache_context;
	label_cache = hash_create("leadfunnel stage labels", 64, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(FunnelLabels);
	funnel_labels = hash_create("leadfunnel labels per funnel", 16, &ctl,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT funnel, label, stage FROM " LF_SCHEMA ".stage_label"
					" ORDER BY funnel, position, label COLLATE \"C\"", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read " LF_SCHEMA ".stage_label");

	oldcxt = MemoryContextSwitchTo(label_cache_context);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *funnel = SPI_getvalue(tup, desc, 1);
		char	   *label = SPI_getvalue(tup, desc, 2);
		int			stage = lf_stage_from_oid(DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull)));
		char		key[LABEL_KEY_SIZE];
		LabelEntry *e;
		FunnelLabels *fl;
		bool		found;

		if (!label_key(key, funnel, label))
			continue;			/* the table's CHECK constraints rule this out */
		e = hash_search(label_cache, key, HASH_ENTER, NULL);
		e->stage = stage;
		fl = hash_search(funnel_labels, funnel, HASH_ENTER, &found);
		if (!found)
		{
			memset(fl->first, 0, sizeof(fl->first));
			initStringInfo(&fl->all);
		}
		if (fl->first[stage] == NULL)
			fl->first[stage] = pstrdup(label);
		appendStringInfo(&fl->all, "%s\"%s\"", fl->all.len > 0 ? ", " : "", label);
	}
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
}

static void
label_cache_ensure(void)
{
	while (!label_cache_valid || label_cache == NULL)
	{
		PG_TRY();
		{
			label_cache_load();
		}
		PG_CATCH();
		{
			label_cache_valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
}

bool
lf_label_stage(const char *funnel, const char *label, int *stage)
{
	char		key[LABEL_KEY_SIZE];
	LabelEntry *e;

	if (!label_key(key, funnel, label))
		return false;
	label_cache_ensure();
	e = hash_search(label_cache, key, HASH_FIND, NULL);
	if (e == NULL)
		return false;
	*stage = e->stage;
	return true;
}

static FunnelLabels *
find_funnel_labels(const char *funnel)
{
	if (strlen(funnel) >= NAMEDATALEN)
		return NULL;
	label_cache_ensure();
	return hash_search(funnel_labels, funnel, HASH_FIND, NULL);
}

const char *
lf_first_label(const char *funnel, int stage)
{
	FunnelLabels *fl = find_funnel_labels(funnel);

	return fl ? fl->first[stage] : NULL;
}

char *
lf_funnel_labels_text(const char *funnel)
{
	FunnelLabels *fl = find_funnel_labels(funnel);

	return fl ? pstrdup(fl->all.data) : pstrdup("(none)");
}

static int
canonical_stage(const char *name)
{
	for (int s = 0; s < LF_NUM_STAGES; s++)
		if (strcmp(name, lf_stage_names[s]) == 0)
			return s;
	return -1;
}

bool
lf_resolve_stage(const char *funnel, const char *name, int *stage, const char **label)
{
	int			s;

	if (lf_label_stage(funnel, name, stage))
	{
		*label = name;
		return true;
	}
	s = canonical_stage(name);
	if (s < 0)
		return false;
	*stage = s;
	*label = lf_first_label(funnel, s);
	return true;
}

/*
 * resolve_stage(funnel text, name text, OUT stage lead_stage, OUT label text):
 * a label or canonical stage name of a funnel as (stage, label); both NULL
 * for a name the funnel does not know.  Unknown funnel: 42704 (an argument).
 */
PG_FUNCTION_INFO_V1(lf_resolve_stage_sql);
Datum
lf_resolve_stage_sql(PG_FUNCTION_ARGS)
{
	char	   *funnel = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {true, true};
	int			stage;
	const char *label;

	/* the result's descriptor, built once per call site (the sync calls it per row) */
	desc = (TupleDesc) fcinfo->flinfo->fn_extra;
	if (desc == NULL)
	{
		MemoryContext oldcxt;

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "resolve_stage must return a row");
		oldcxt = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		desc = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(oldcxt);
		fcinfo->flinfo->fn_extra = desc;
	}
	lf_require_funnel(funnel);
	if (lf_resolve_stage(funnel, name, &stage, &label))
	{
		values[0] = ObjectIdGetDatum(lf_stage_to_oid(stage));
		nulls[0] = false;
		if (label != NULL)
		{
			values[1] = CStringGetTextDatum(label);
			nulls[1] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

static void
label_definition_error(const char *funnel, const char *label, const char *detail,
					   const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("invalid stage label \"%s\" of funnel \"%s\"", label, funnel),
			 errdetail("%s", detail),
			 errhint("%s", hint),
			 errtable_constraint_name("stage_label_definition")));
}

/*
 * BEFORE INSERT OR UPDATE row trigger on leadfunnel.stage_label: the funnel
 * exists, the stage belongs to it, a label spelled like a canonical stage
 * maps to that stage; a missing forecast category is derived from the stage.
 * The funnel is read from its table, not from the cache, so that a rename
 * cascading from leadfunnel.funnel is checked against the new row.
 */
PG_FUNCTION_INFO_V1(lf_stage_label_check);
Datum
lf_stage_label_check(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tup;
	bool		isnull;
	int			att_funnel,
				att_label,
				att_stage,
				att_category;
	Datum		d;
	char	   *funnel,
			   *label;
	int			stage,
				canonical;
	LfFunnel	f;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"stage_label_check\" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW")));

	desc = RelationGetDescr(trigdata->tg_relation);
	tup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	att_funnel = SPI_fnumber(desc, "funnel");
	att_label = SPI_fnumber(desc, "label");
	att_stage = SPI_fnumber(desc, "stage");
	att_category = SPI_fnumber(desc, "forecast_category");

	/* NOT NULL and CHECK constraints are checked after BEFORE triggers */
	d = heap_getattr(tup, att_funnel, desc, &isnull);
	if (isnull)
		return PointerGetDatum(tup);
	funnel = TextDatumGetCString(d);
	d = heap_getattr(tup, att_label, desc, &isnull);
	if (isnull)
		return PointerGetDatum(tup);
	label = TextDatumGetCString(d);
	d = heap_getattr(tup, att_stage, desc, &isnull);
	if (isnull)
		return PointerGetDatum(tup);
	stage = lf_stage_from_oid(DatumGetObjectId(d));

	if (!lf_read_funnel(funnel, &f))
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("funnel \"%s\" of stage label \"%s\" does not exist", funnel, label),
				 errhint("Insert the funnel into leadfunnel.funnel first, or create it with leadfunnel.apply_preset()."),
				 errtable_constraint_name("stage_label_funnel_fkey")));
	if (!(f.stages & LF_STAGE_BIT(stage)) && !LF_STAGE_IS_LOSS(stage))
		label_definition_error(funnel, label,
							   psprintf("Funnel \"%s\" has no stage \"%s\".", funnel, lf_stage_names[stage]),
							   psprintf("Stages of funnel \"%s\": %s, and the closing stages recycled, disqualified, lost.",
										funnel, lf_stage_set_to_text(f.stages)));
	canonical = canonical_stage(label);
	if (canonical >= 0 && canonical != stage)
		label_definition_error(funnel, label,
							   psprintf("A label spelled like canonical stage \"%s\" must map to it, not to \"%s\".",
										label, lf_stage_names[stage]),
							   "Rename the label or map it to the stage it names.");

	heap_getattr(tup, att_category, desc, &isnull);
	if (isnull)
	{
		/* closed for won, omitted for the closing stages, pipeline for open stages */
		const char *category = stage == LF_STAGE_WON ? "closed" :
			LF_STAGE_IS_LOSS(stage) ? "omitted" : "pipeline";
		Oid			typid = TupleDescAttr(desc, att_category - 1)->atttypid;
		Oid			input;
		Oid			ioparam;
		int			cols[1] = {att_category};
		Datum		values[1];
		bool		nulls[1] = {false};

		getTypeInputInfo(typid, &input, &ioparam);
		values[0] = OidInputFunctionCall(input, (char *) category, ioparam, -1);
		tup = heap_modify_tuple_by_cols(tup, desc, 1, cols, values, nulls);
	}
	return PointerGetDatum(tup);
}
