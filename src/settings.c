/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Owns the per-backend cache of leadfunnel's settings (the time windows
 *	  of the lifecycle and attribution rules) and setting_value().
 *
 * The effective value of each setting is its row in leadfunnel.setting,
 * else its default in leadfunnel.setting_default.  Both tables are read in
 * one query when the cache is first needed; the statement trigger on
 * leadfunnel.setting sends a relcache invalidation of that table, and the
 * callback below drops the cache in every backend, so a trigger that needs a
 * window per row never reads a table for it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "vocabulary.h"
#include "invalidation.h"
#include "settings.h"

static const char *const setting_names[LF_NUM_SETTINGS] = {
	"new_customer_window",
	"customer_term",
	"attribution_lookback",
	"time_decay_half_life",
};

static Interval setting_values[LF_NUM_SETTINGS];
static bool settings_valid = false;
static Oid	setting_relid = InvalidOid;
static Oid	setting_default_relid = InvalidOid;

static void
settings_relcache_invalidate(Oid relid)
{
	if (relid == InvalidOid || relid == setting_relid || relid == setting_default_relid)
		settings_valid = false;
}

static void
settings_load(void)
{
	Oid			nsp = get_namespace_oid(LF_SCHEMA, false);
	bool		found[LF_NUM_SETTINGS] = {false};

	lf_on_relcache_invalidation(settings_relcache_invalidate);
	setting_relid = get_relname_relid("setting", nsp);
	setting_default_relid = get_relname_relid("setting_default", nsp);
	/* from here on an invalidation of either table forces another load */
	settings_valid = true;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT d.name, coalesce(s.value, d.default_value)"
					"  FROM " LF_SCHEMA ".setting_default d"
					"  LEFT JOIN " LF_SCHEMA ".setting s ON s.name OPERATOR(pg_catalog.=) d.name",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read " LF_SCHEMA ".setting");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		Datum		value = SPI_getbinval(tup, desc, 2, &isnull);

		for (int k = 0; k < LF_NUM_SETTINGS; k++)
			if (strcmp(name, setting_names[k]) == 0 && !isnull)
			{
				setting_values[k] = *DatumGetIntervalP(value);
				found[k] = true;
			}
	}
	SPI_finish();

	for (int k = 0; k < LF_NUM_SETTINGS; k++)
		if (!found[k])
		{
			settings_valid = false;
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("setting \"%s\" is missing from %s.setting_default",
							setting_names[k], LF_SCHEMA),
					 errhint("Update the extension with ALTER EXTENSION leadfunnel UPDATE.")));
		}
}

const Interval *
lf_setting(LfSetting which)
{
	Assert(which >= 0 && which < LF_NUM_SETTINGS);
	while (!settings_valid)
	{
		PG_TRY();
		{
			settings_load();
		}
		PG_CATCH();
		{
			settings_valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return &setting_values[which];
}

PG_FUNCTION_INFO_V1(lf_setting_value);
Datum
lf_setting_value(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Interval   *result = palloc(sizeof(Interval));

	for (int k = 0; k < LF_NUM_SETTINGS; k++)
		if (strcmp(name, setting_names[k]) == 0)
		{
			*result = *lf_setting(k);
			PG_RETURN_INTERVAL_P(result);
		}

	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("setting \"%s\" does not exist", name),
			 errhint("The settings are listed in the view leadfunnel.settings.")));
	PG_RETURN_NULL();			/* keep compiler quiet */
}
