/*-------------------------------------------------------------------------
 *
 * invalidation.h
 *	  The extension's one relcache callback, and how a concern hooks its
 *	  cache into it (invalidation.c).
 *
 * A concern that caches something derived from a table (compiled funnels,
 * settings, trigger column numbers, prepared plans, shard maps) registers a
 * handler the first time it builds its cache; every relcache invalidation
 * then reaches the handler with the relation's OID (InvalidOid: all of
 * them).  Adding a concern means adding a file: nothing here names one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_INVALIDATION_H
#define LEADFUNNEL_INVALIDATION_H

#include "postgres.h"

typedef void (*LfRelcacheHandler) (Oid relid);

/* At load (_PG_init): take the one relcache callback slot. */
extern void lf_invalidation_init(void);

/* Call handler on every relcache invalidation from now on; registering it again is a no-op. */
extern void lf_on_relcache_invalidation(LfRelcacheHandler handler);

#endif							/* LEADFUNNEL_INVALIDATION_H */
