/*-------------------------------------------------------------------------
 *
 * transition.h
 *	  What the stage transition trigger (transition.c) lets other concerns
 *	  set: the record mode of the sync of tracked tables (tracking.c).
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

#endif							/* LEADFUNNEL_TRANSITION_H */
