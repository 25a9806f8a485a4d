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
/* called by the extension's one relcache callback (leadfunnel.c) */
extern void lf_transition_relcache_invalidate(Oid relid);

#endif							/* LEADFUNNEL_TRANSITION_H */
