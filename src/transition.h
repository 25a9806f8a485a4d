/*-------------------------------------------------------------------------
 *
 * transition.h
 *	  What the stage transition trigger (transition.c) lets other concerns
 *	  set: the record mode of the sync of tracked tables (tracking.c), and the
 *	  rewrite flag of import_history() and correct_history() (history.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_TRANSITION_H
#define LEADFUNNEL_TRANSITION_H

/*
 * While raised, the transition trigger records moves and starts its funnel
 * rules would refuse (the sync of a table tracked in record mode, which
 * flags them itself).
 */
extern bool lf_tracking_record_mode;

/*
 * While raised (by history.c, rewriting a model's history), the transition
 * triggers pass lead rows through and record nothing, the history's
 * append-only guard lets the writes through and the lifecycle's lead
 * trigger stands aside: the merge does all of that itself, set-based.
 */
extern bool lf_history_rewrite;

#endif							/* LEADFUNNEL_TRANSITION_H */
