/*-------------------------------------------------------------------------
 *
 * lifecycle.h
 *	  What the lifecycle triggers (lifecycle.c) offer other concerns: the
 *	  lifecycle effects of leads the sync of a tracked table inserted in one
 *	  statement (see lf_tracking_batch_lead in transition.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_LIFECYCLE_H
#define LEADFUNNEL_LIFECYCLE_H

#include "executor/spi.h"
#include "utils/relcache.h"

extern void lf_lifecycle_inserted_leads(Relation rel, SPITupleTable *rows, uint64 nrows);

/* The lifecycle effects of the leads the sync updated (lf_tracking_batch_update). */
extern void lf_lifecycle_updated_leads(Relation rel);

#endif							/* LEADFUNNEL_LIFECYCLE_H */
