/*-------------------------------------------------------------------------
 *
 * transition.h
 *	  The stage transition trigger and the append-only guard of the history.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_TRANSITION_H
#define LEADFUNNEL_TRANSITION_H

extern void lf_transition_init(void);

#endif							/* LEADFUNNEL_TRANSITION_H */
