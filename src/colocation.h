/*-------------------------------------------------------------------------
 *
 * colocation.h
 *	  Which table a trigger writes to when it fires on a Citus shard.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_COLOCATION_H
#define LEADFUNNEL_COLOCATION_H

#include "utils/rel.h"

/*
 * The relation a trigger firing on fired_on must write to for the table
 * target_relid: target_relid itself, unless fired_on is a Citus shard, then
 * the shard of target_relid co-located with it.  Catalog work: call it when
 * a trigger's cache is filled, never per row.
 */
extern Oid	lf_colocated_relid(Relation fired_on, Oid target_relid);

/*
 * The relation holding account_id's rows of the table relid: the shard of
 * relid that holds the account when Citus has placed it on this node (a
 * worker running a pushed-down query), else relid itself (no Citus, not a
 * distributed table, or the coordinator, where Citus routes queries of
 * relid).  Cached per table: cheap per call.
 */
extern Oid	lf_account_shard_relid(Oid relid, int64 account_id);

/* The name of rel, or of its distributed table when rel is a Citus shard (for messages). */
extern const char *lf_logical_relname(Relation rel);

#endif							/* LEADFUNNEL_COLOCATION_H */
