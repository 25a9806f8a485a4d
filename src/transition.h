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
#include "executor/tuptable.h"

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
 * The lead table whose leads the sync of a tracked table is updating in one
 * statement (InvalidOid otherwise).  Between lf_batch_update_begin() and
 * the end of that statement, the AFTER UPDATE row triggers of that table
 * (lead_stage_record, lead_lifecycle, lead_value_record) keep what they
 * would write instead of writing it; after it, the sync writes it with
 * lf_record_updated_leads(), lf_value_record_updated_leads() and
 * lf_lifecycle_updated_leads(), history first, with one executor state per
 * table.  lf_batch_update_end() drops what was kept (on an error).
 */
extern Oid	lf_tracking_batch_update;

extern void lf_batch_update_begin(void);
extern MemoryContext lf_batch_update_context(void);
extern void lf_batch_update_end(void);
extern void lf_record_updated_leads(Relation rel);

/*
 * The AFTER INSERT row trigger of rel calling leadfunnel.<fn>() that fires
 * in this session, as trigger data without a row; false when none.
 */
extern bool lf_insert_trigger_data(Relation rel, const char *fn, TriggerData *td);

/* The function leadfunnel.<fn>() without arguments; whether a trigger fires in this session. */
extern Oid	lf_function_oid(const char *fn);
extern bool lf_trigger_fires(const Trigger *trig);

/*
 * Rows appended to a model's own append-only table (the value history)
 * through the executor, as the stage history's are: indexes, constraints and
 * user triggers as for an INSERT, but the table's guard (function guard_fn)
 * and the foreign-key check to the lead -- locked by the caller, who is
 * writing about it -- skipped.  The caller runs as whom the rows may be
 * written by.
 */
typedef struct LfRowWriter LfRowWriter;

extern LfRowWriter *lf_row_writer_open(Oid relid, Oid guard_fn);
extern Relation lf_row_writer_relation(LfRowWriter *rw);
extern TupleTableSlot *lf_row_writer_slot(LfRowWriter *rw);
extern bool lf_history_last_row(Relation hrel, Oid index, int64 account_id, int64 lead_id,
								TupleTableSlot *slot);
extern void lf_row_writer_insert(LfRowWriter *rw, TupleTableSlot *slot);
extern void lf_row_writer_close(LfRowWriter *rw);

/* The end of an executor state of our own writes (AFTER events fired, all closed). */
extern void lf_own_writes_end(struct EState *estate, struct ResultRelInfo *rri);

#endif							/* LEADFUNNEL_TRANSITION_H */
