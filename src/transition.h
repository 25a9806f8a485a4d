/*-------------------------------------------------------------------------
 *
 * transition.h
 *	  What the stage transition trigger (transition.c) lets other concerns
 *	  set: the record mode of the sync of tracked tables (tracking.c) and
 *	  its batch insert of new leads, and the rewrite flag of import_history()
 *	  and correct_history() (history.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_TRANSITION_H
#define LEADFUNNEL_TRANSITION_H

#include "executor/spi.h"
#include "utils/relcache.h"
#include "commands/trigger.h"

/*
 * While raised, the transition trigger records moves and starts its funnel
 * rules would refuse (the sync of a table tracked in record mode, which
 * flags them itself), and the history rows of such moves carry the reason
 * in their column flag.
 */
extern bool lf_tracking_record_mode;

/*
 * While raised (by history.c, rewriting a model's history), the transition
 * triggers pass lead rows through and record nothing, the history's
 * append-only guard lets the writes through and the lifecycle's lead
 * trigger stands aside: the merge does all of that itself, set-based.
 */
extern bool lf_history_rewrite;

/*
 * The lead table into which the sync of a tracked table is inserting new
 * leads in one statement (InvalidOid otherwise).  While set, the AFTER
 * INSERT row triggers of that table (lead_stage_record, lead_lifecycle)
 * leave the rows to the sync, which then writes their history with
 * lf_record_inserted_leads() and their lifecycle effects with
 * lf_lifecycle_inserted_leads() (lifecycle.c), set-based; lead_motion takes
 * a motion the statement supplies.
 */
extern Oid	lf_tracking_batch_lead;

extern void lf_record_inserted_leads(Relation rel, SPITupleTable *rows, uint64 nrows);

/*
 * The AFTER INSERT row trigger of rel calling leadfunnel.<fn>() that fires
 * in this session, as trigger data without a row; false when none.
 */
extern bool lf_insert_trigger_data(Relation rel, const char *fn, TriggerData *td);

#endif							/* LEADFUNNEL_TRANSITION_H */
