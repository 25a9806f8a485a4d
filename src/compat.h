/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The differences between the PostgreSQL majors leadfunnel builds on
 *	  (15, 17 and 18 tested; 16 built with the APIs 15 and 17 share).
 *
 * The concerns are written against the newest API; this header maps it to
 * the older ones.  Include it after postgres.h, in place of the headers
 * named here.  Each block names the release that changed the API, so a block
 * can go once the oldest supported major has the change.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_COMPAT_H
#define LEADFUNNEL_COMPAT_H

#include "access/genam.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "parser/parse_relation.h"
#include "utils/regproc.h"
#include "utils/relcache.h"

/*
 * PostgreSQL 18 replaced pg_attribute_noreturn(), written after a
 * declaration, by pg_noreturn, written before it.  GCC and Clang accept the
 * attribute in front as well, so older majors spell pg_noreturn with it.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * PostgreSQL 16 gave stringToQualifiedNameList() a soft-error context
 * (NULL: errors are thrown, as before).
 */
#if PG_VERSION_NUM < 160000
#define stringToQualifiedNameList(string, escontext) \
	stringToQualifiedNameList(string)
#endif

/*
 * PostgreSQL 16 moved the permission fields of a range table entry into
 * RTEPermissionInfo nodes that ExecInitRangeTable() receives beside the range
 * table; 18 added the set of range table indexes that survived pruning.  On
 * 15 an entry carries its own (empty) permissions and needs no node.
 */
#if PG_VERSION_NUM < 160000
#define addRTEPermissionInfo(rteperminfos, rte) ((void) (rteperminfos), (void) (rte))
#define ExecInitRangeTable(estate, rangeTable, permInfos, unpruned_relids) \
	((void) (permInfos), (void) (unpruned_relids), ExecInitRangeTable(estate, rangeTable))
#elif PG_VERSION_NUM < 180000
#define ExecInitRangeTable(estate, rangeTable, permInfos, unpruned_relids) \
	((void) (unpruned_relids), ExecInitRangeTable(estate, rangeTable, permInfos))
#endif

/* PostgreSQL 16 added onlySummarizing (false: every index, as before). */
#if PG_VERSION_NUM < 160000
#define ExecInsertIndexTuples(resultRelInfo, slot, estate, update, noDupErr, specConflict, arbiterIndexes, onlySummarizing) \
	((void) (onlySummarizing), ExecInsertIndexTuples(resultRelInfo, slot, estate, update, noDupErr, specConflict, arbiterIndexes))
#endif

/* PostgreSQL 16 added the result relations an EPQ recheck may touch. */
#if PG_VERSION_NUM < 160000
#define EvalPlanQualInit(epqstate, parentestate, subplan, auxrowmarks, epqParam, resultRelations) \
	EvalPlanQualInit(epqstate, parentestate, subplan, auxrowmarks, epqParam)
#endif

/*
 * PostgreSQL 18: index scans take an instrumentation struct (NULL: none), and
 * the primary key lookup says whether a deferrable key will do (false: the
 * old behaviour, only an immediate key counts).
 */
#if PG_VERSION_NUM < 180000
#define index_beginscan(heapRelation, indexRelation, snapshot, instrument, nkeys, norderbys) \
	((void) (instrument), index_beginscan(heapRelation, indexRelation, snapshot, nkeys, norderbys))
#define RelationGetPrimaryKeyIndex(relation, deferrable_ok) \
	((void) (deferrable_ok), RelationGetPrimaryKeyIndex(relation))
#endif

#endif							/* LEADFUNNEL_COMPAT_H */
