/*-------------------------------------------------------------------------
 *
 * tracking.h
 *	  The sync of tracked tables (tracking.c): its setting, defined when the
 *	  module is loaded.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_TRACKING_H
#define LEADFUNNEL_TRACKING_H

/* Defines leadfunnel.tracking_batch_insert. */
extern void lf_tracking_init(void);

#endif							/* LEADFUNNEL_TRACKING_H */
