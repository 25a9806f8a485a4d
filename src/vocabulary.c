/*-------------------------------------------------------------------------
 *
 * vocabulary.c
 *	  The shared vocabulary at the bottom of src/ (see vocabulary.h): the
 *	  names of the stages, attribution models, account statuses and lead
 *	  motions, the mapping between their ordinals and the OIDs of the SQL
 *	  enum labels, stage sets, and a helper of the triggers
 *	  (lf_column_changed).  It calls no other file of src/.
 *
 * The SQL enums (lead_stage, attribution_model, account_status,
 * lead_motion) are looked up once per
 * backend and kept as arrays of label OIDs indexed by ordinal; a syscache
 * callback on pg_type, registered when a map is first loaded, drops them
 * when any type changes, so a DROP and CREATE EXTENSION in the same session
 * is seen.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"

#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "vocabulary.h"

const char *const lf_stage_names[LF_NUM_STAGES] = {
	"visitor", "lead", "mql", "tal", "tql", "sal", "sql", "opportunity",
	"won", "recycled", "disqualified", "lost"
};

const char *const lf_model_names[LF_NUM_MODELS] = {
	"first_touch", "last_touch", "linear", "u_shaped", "w_shaped",
	"full_path", "time_decay", "j_shaped", "inverse_j"
};

const char *const lf_account_status_names[LF_NUM_ACCOUNT_STATUSES] = {
	"prospect", "new_customer", "active_customer", "advocate", "former_customer"
};

const char *const lf_motion_names[LF_NUM_MOTIONS] = {
	"new_business", "expansion", "win_back"
};

typedef struct LfEnumMap
{
	const char *typname;
	int			nlabels;
	const char *const *labels;
	bool		valid;
	Oid			typoid;
	Oid			label_oids[LF_NUM_STAGES];	/* the largest enum we map */
} LfEnumMap;

static LfEnumMap enum_maps[LF_NUM_ENUM_KINDS] = {
	{"lead_stage", LF_NUM_STAGES, lf_stage_names},
	{"attribution_model", LF_NUM_MODELS, lf_model_names},
	{"account_status", LF_NUM_ACCOUNT_STATUSES, lf_account_status_names},
	{"lead_motion", LF_NUM_MOTIONS, lf_motion_names},
};

StaticAssertDecl(LF_NUM_MODELS <= LF_NUM_STAGES && LF_NUM_ACCOUNT_STATUSES <= LF_NUM_STAGES &&
				 LF_NUM_MOTIONS <= LF_NUM_STAGES, "label_oids too small");

static bool enum_maps_callback_registered = false;

static void
invalidate_enum_maps(Datum arg, int cacheid, uint32 hashvalue)
{
	for (int k = 0; k < LF_NUM_ENUM_KINDS; k++)
		enum_maps[k].valid = false;
}

static LfEnumMap *
load_enum_map(LfEnumKind kind)
{
	LfEnumMap  *map = &enum_maps[kind];
	Oid			nsp;

	if (map->valid)
		return map;

	if (!enum_maps_callback_registered)
	{
		CacheRegisterSyscacheCallback(TYPEOID, invalidate_enum_maps, (Datum) 0);
		enum_maps_callback_registered = true;
	}
	nsp = get_namespace_oid(LF_SCHEMA, false);
	map->typoid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								  CStringGetDatum(map->typname),
								  ObjectIdGetDatum(nsp));
	if (!OidIsValid(map->typoid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("type \"%s.%s\" does not exist", LF_SCHEMA, map->typname),
				 errhint("Reinstall the extension with DROP EXTENSION leadfunnel and CREATE EXTENSION leadfunnel.")));

	for (int i = 0; i < map->nlabels; i++)
	{
		Oid			label = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
											ObjectIdGetDatum(map->typoid),
											CStringGetDatum(map->labels[i]));

		if (!OidIsValid(label))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("enum \"%s.%s\" has no label \"%s\"",
							LF_SCHEMA, map->typname, map->labels[i])));
		map->label_oids[i] = label;
	}
	map->valid = true;
	return map;
}

int
lf_enum_ordinal(LfEnumKind kind, Oid label)
{
	LfEnumMap  *map = load_enum_map(kind);

	for (int i = 0; i < map->nlabels; i++)
		if (map->label_oids[i] == label)
			return i;
	/* the caller's datum is typed, so this means the map is stale or the data bad */
	elog(ERROR, "OID %u is not a label of %s.%s", label, LF_SCHEMA, map->typname);
	return -1;					/* keep compiler quiet */
}

Oid
lf_enum_label(LfEnumKind kind, int ordinal)
{
	LfEnumMap  *map = load_enum_map(kind);

	Assert(ordinal >= 0 && ordinal < map->nlabels);
	return map->label_oids[ordinal];
}

Oid
lf_enum_type(LfEnumKind kind)
{
	return load_enum_map(kind)->typoid;
}

ArrayType *
lf_stage_set_to_array(LfStageSet set)
{
	Datum		elems[LF_NUM_STAGES];
	int			n = 0;

	for (int s = 0; s < LF_NUM_STAGES; s++)
		if (set & LF_STAGE_BIT(s))
			elems[n++] = ObjectIdGetDatum(lf_stage_to_oid(s));
	return construct_array(elems, n, lf_enum_type(LF_ENUM_STAGE),
						   sizeof(Oid), true, TYPALIGN_INT);
}

char *
lf_stage_set_to_text(LfStageSet set)
{
	StringInfoData buf;

	if (set == 0)
		return pstrdup("(none)");
	initStringInfo(&buf);
	for (int s = 0; s < LF_NUM_STAGES; s++)
		if (set & LF_STAGE_BIT(s))
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", lf_stage_names[s]);
	return buf.data;
}

bool
lf_column_changed(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, AttrNumber attnum)
{
	bool		oldnull,
				newnull;
	Datum		o = heap_getattr(oldtup, attnum, desc, &oldnull);
	Datum		n = heap_getattr(newtup, attnum, desc, &newnull);
	Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);

	if (oldnull || newnull)
		return oldnull != newnull;
	return !datumIsEqual(o, n, att->attbyval, att->attlen);
}
