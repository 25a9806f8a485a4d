/*-------------------------------------------------------------------------
 *
 * colocation.c
 *	  Which table a trigger writes to when it fires on a Citus shard.
 *
 * A model distributed on Citus (create_model(..., distributed => true)) has
 * its tables split into shards by account_id; the shards of co-located
 * tables that cover the same hash range live on the same node.  A trigger
 * on a distributed table fires on the shards (crm.lead_102008, not
 * crm.lead), and the table its argument names (crm.lead_stage_history) is
 * on a worker only an empty shell: a row written there would be lost to
 * every query.  So a trigger that writes to another table of the model maps
 * that table to its shard co-located with the shard it fires on, here, once
 * per fill of its cache.
 *
 * Functions that read or write one account's rows of a model's tables by
 * name (the lifecycle's as-of functions and its refresh, called with the
 * tables as regclass arguments) face the same problem from the other side:
 * when Citus pushes a query such as SELECT crm.account_status_at(account_id,
 * now()) FROM crm.account down to a worker, the function runs there with
 * the OIDs of the empty shells.  lf_account_shard_relid() maps a table and
 * an account_id to the shard that holds the account, when that shard is
 * placed on this node; per table, the shards' hash ranges are cached.
 *
 * Citus is found at run time through its catalog tables (pg_dist_shard,
 * pg_dist_partition, pg_dist_placement, pg_dist_local_group) and its SQL
 * function shard_name(), read through SPI: no link dependency on citus.so,
 * and without Citus (or for a table that is merely named like a shard) the
 * target table is returned unchanged.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"

#include "colocation.h"
#include "compat.h"
#include "invalidation.h"

/* The shard id a Citus shard name ends in ("lead_102008" -> 102008), else 0. */
static int64
shard_suffix(const char *relname)
{
	const char *p = strrchr(relname, '_');
	int64		id = 0;

	if (p == NULL || p[1] == '\0' || p[1] == '0')
		return 0;
	for (p++; *p; p++)
	{
		if (!isdigit((unsigned char) *p) || id > (PG_INT64_MAX - 9) / 10)
			return 0;
		id = id * 10 + (*p - '0');
	}
	return id;
}

/* Whether Citus can own shards here: the extension and its shard catalog exist. */
static bool
citus_present(void)
{
	return OidIsValid(get_extension_oid("citus", true)) &&
		OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE));
}

/*
 * The relation a name returned by Citus's shard_name() denotes: qualified,
 * or unqualified for shards in schema public (then looked up in the schema
 * of the distributed table, never along the search path).
 */
static Oid
shard_relid(const char *shard_name, Oid namespace_of)
{
	List	   *names = stringToQualifiedNameList(shard_name, NULL);
	Oid			nsp = list_length(names) == 2 ? get_namespace_oid(strVal(linitial(names)), true)
		: namespace_of;

	if (list_length(names) > 2 || !OidIsValid(nsp))
		return InvalidOid;
	return get_relname_relid(strVal(llast(names)), nsp);
}

/*
 * If rel is a Citus shard, its shard id and distributed table.  Caller is
 * connected to SPI.
 */
static bool
lookup_shard(Relation rel, int64 *shardid, Oid *logical_relid)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	bool		isnull;
	Oid			logical;
	char	   *name;

	*shardid = shard_suffix(RelationGetRelationName(rel));
	if (*shardid == 0)
		return false;
	args[0] = Int64GetDatum(*shardid);
	if (SPI_execute_with_args("SELECT f.logicalrelid::pg_catalog.oid, "
							  "       pg_catalog.shard_name(f.logicalrelid, f.shardid) "
							  "  FROM pg_catalog.pg_dist_shard f "
							  " WHERE f.shardid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus shard catalog");
	if (SPI_processed == 0)
		return false;
	logical = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (isnull || name == NULL ||
		shard_relid(name, get_rel_namespace(logical)) != RelationGetRelid(rel))
		return false;			/* a table named like a shard */
	*logical_relid = logical;
	return true;
}

Oid
lf_colocated_relid(Relation fired_on, Oid target_relid)
{
	Oid			argtypes[2] = {INT8OID, OIDOID};
	Datum		args[2];
	int64		shardid;
	Oid			logical;
	Oid			result;
	char	   *target_shard;

	if (shard_suffix(RelationGetRelationName(fired_on)) == 0 || !citus_present())
		return target_relid;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!lookup_shard(fired_on, &shardid, &logical))
	{
		SPI_finish();
		return target_relid;
	}

	/* the shard of target with the same hash range, if the tables are co-located */
	args[0] = Int64GetDatum(shardid);
	args[1] = ObjectIdGetDatum(target_relid);
	if (SPI_execute_with_args("SELECT pg_catalog.shard_name(t.logicalrelid, t.shardid) "
							  "  FROM pg_catalog.pg_dist_shard f "
							  "  JOIN pg_catalog.pg_dist_partition pf "
							  "    ON pf.logicalrelid OPERATOR(pg_catalog.=) f.logicalrelid "
							  "  JOIN pg_catalog.pg_dist_partition pt "
							  "    ON pt.colocationid OPERATOR(pg_catalog.=) pf.colocationid "
							  "  JOIN pg_catalog.pg_dist_shard t "
							  "    ON t.logicalrelid OPERATOR(pg_catalog.=) pt.logicalrelid "
							  "   AND coalesce(t.shardminvalue OPERATOR(pg_catalog.=) f.shardminvalue, "
							  "                t.shardminvalue IS NULL AND f.shardminvalue IS NULL) "
							  "   AND coalesce(t.shardmaxvalue OPERATOR(pg_catalog.=) f.shardmaxvalue, "
							  "                t.shardmaxvalue IS NULL AND f.shardmaxvalue IS NULL) "
							  " WHERE f.shardid OPERATOR(pg_catalog.=) $1 "
							  "   AND pt.logicalrelid::pg_catalog.oid OPERATOR(pg_catalog.=) $2",
							  2, argtypes, args, NULL, true, 2) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus shard catalog");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not co-located with table \"%s\"",
						get_rel_name(target_relid), get_rel_name(logical)),
				 errdetail("A trigger firing on shard \"%s\" writes to the shard of \"%s\" that covers the same accounts, on the same node.",
						   RelationGetRelationName(fired_on), get_rel_name(target_relid)),
				 errhint("Distribute the model's tables by account_id and co-located, as leadfunnel.create_model(..., distributed => true) does.")));
	target_shard = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	result = target_shard ? shard_relid(target_shard, get_rel_namespace(target_relid)) : InvalidOid;
	if (!OidIsValid(result))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shard %s of table \"%s\" is not on this node",
						target_shard ? target_shard : "(unnamed)", get_rel_name(target_relid)),
				 errdetail("Shard \"%s\" fired a trigger here; its co-located shards must be placed on the same node.",
						   RelationGetRelationName(fired_on)),
				 errhint("Move shards with Citus's colocation-aware functions (citus_move_shard_placement, the rebalancer).")));
	SPI_finish();
	return result;
}

/* ---------------------------------------------------------------------
 * The local shard of an account
 * ---------------------------------------------------------------------
 */

/* Per distributed table: its shards' hash ranges, and which are here. */
typedef struct AccountShards
{
	Oid			relid;			/* hash key: the distributed table */
	bool		valid;
	bool		mapped;			/* hash-distributed by account_id, or a reference table */
	bool		hashed;			/* false: a reference table (one shard) */
	int			nshards;
	int32	   *minvalue;		/* sorted by minvalue */
	int32	   *maxvalue;
	Oid		   *local;			/* the shard here, or InvalidOid */
} AccountShards;

static HTAB *account_shards = NULL;

static void
colocation_relcache_invalidate(Oid relid)
{
	HASH_SEQ_STATUS seq;
	AccountShards *e;

	if (account_shards == NULL)
		return;
	hash_seq_init(&seq, account_shards);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (relid == InvalidOid || relid == e->relid)
			e->valid = false;
		for (int i = 0; e->valid && i < e->nshards; i++)
			if (e->local[i] == relid)
				e->valid = false;
	}
}

/* Fill e from Citus's metadata (SPI connected). */
static void
load_account_shards(AccountShards *e)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	Oid			nsp = get_rel_namespace(e->relid);
	uint64		n;

	e->mapped = false;
	e->nshards = 0;
	args[0] = ObjectIdGetDatum(e->relid);
	/* placements of this node only: a shard left behind by a move does not count */
	if (SPI_execute_with_args("SELECT p.partmethod OPERATOR(pg_catalog.=) 'h', "
							  "       s.shardminvalue::pg_catalog.int4, s.shardmaxvalue::pg_catalog.int4, "
							  "       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement pl "
							  "                          WHERE pl.shardid OPERATOR(pg_catalog.=) s.shardid "
							  "                            AND pl.groupid OPERATOR(pg_catalog.=) "
							  "                                (SELECT groupid FROM pg_catalog.pg_dist_local_group)) "
							  "            THEN pg_catalog.shard_name(s.logicalrelid, s.shardid) END "
							  "  FROM pg_catalog.pg_dist_partition p "
							  "  JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid "
							  " WHERE p.logicalrelid::pg_catalog.oid OPERATOR(pg_catalog.=) $1 "
							  "   AND (p.partmethod OPERATOR(pg_catalog.=) 'n' OR "
							  "        (p.partmethod OPERATOR(pg_catalog.=) 'h' AND "
							  "         pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) OPERATOR(pg_catalog.=) 'account_id')) "
							  " ORDER BY 2",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus shard catalog");
	n = SPI_processed;
	if (n == 0)
		return;
	e->minvalue = MemoryContextAlloc(TopMemoryContext, sizeof(int32) * n);
	e->maxvalue = MemoryContextAlloc(TopMemoryContext, sizeof(int32) * n);
	e->local = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * n);
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *name;

		e->hashed = DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
		e->minvalue[i] = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		if (isnull)
			e->minvalue[i] = PG_INT32_MIN;
		e->maxvalue[i] = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		if (isnull)
			e->maxvalue[i] = PG_INT32_MAX;
		name = SPI_getvalue(tup, desc, 4);
		e->local[i] = name ? shard_relid(name, nsp) : InvalidOid;
	}
	e->nshards = (int) n;
	e->mapped = e->hashed || n == 1;
}

Oid
lf_account_shard_relid(Oid relid, int64 account_id)
{
	AccountShards *e;
	bool		found;
	int32		hash;
	int			lo,
				hi;

	if (!citus_present())
		return relid;
	if (account_shards == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(AccountShards);
		ctl.hcxt = TopMemoryContext;
		account_shards = hash_create("leadfunnel account shards", 16, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		lf_on_relcache_invalidation(colocation_relcache_invalidate);
	}
	e = hash_search(account_shards, &relid, HASH_ENTER, &found);
	if (found && !e->valid && e->nshards > 0)
	{
		pfree(e->minvalue);
		pfree(e->maxvalue);
		pfree(e->local);
	}
	if (!found || !e->valid)
	{
		e->valid = false;
		e->nshards = 0;
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		load_account_shards(e);
		SPI_finish();
		e->valid = true;
	}
	if (!e->mapped)
		return relid;
	if (!e->hashed)
		return OidIsValid(e->local[0]) ? e->local[0] : relid;

	/* Citus hashes a bigint distribution column with hashint8 */
	hash = DatumGetInt32(DirectFunctionCall1(hashint8, Int64GetDatum(account_id)));
	lo = 0;
	hi = e->nshards - 1;
	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (hash < e->minvalue[mid])
			hi = mid - 1;
		else if (hash > e->maxvalue[mid])
			lo = mid + 1;
		else
			return OidIsValid(e->local[mid]) ? e->local[mid] : relid;
	}
	return relid;
}

const char *
lf_logical_relname(Relation rel)
{
	int64		shardid;
	Oid			logical;
	const char *name = RelationGetRelationName(rel);
	MemoryContext caller = CurrentMemoryContext;

	if (shard_suffix(name) == 0 || !citus_present())
		return name;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (lookup_shard(rel, &shardid, &logical))
		name = MemoryContextStrdup(caller, get_rel_name(logical));
	SPI_finish();
	return name;
}

/*
 * SQL: leadfunnel.colocated_table(fired_on, target): the table a trigger
 * firing on fired_on writes to for target, as the transition trigger
 * resolves it.  For checking a Citus setup, and for tests.
 */
PG_FUNCTION_INFO_V1(lf_colocated_table);
Datum
lf_colocated_table(PG_FUNCTION_ARGS)
{
	Oid			fired_on = PG_GETARG_OID(0);
	Oid			target = PG_GETARG_OID(1);
	Relation	rel;
	Oid			result;

	if (get_rel_name(target) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", target)));
	rel = try_relation_open(fired_on, AccessShareLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", fired_on)));
	result = lf_colocated_relid(rel, target);
	relation_close(rel, AccessShareLock);
	PG_RETURN_OID(result);
}
