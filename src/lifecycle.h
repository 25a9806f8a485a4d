/*-------------------------------------------------------------------------
 *
 * lifecycle.h
 *	  Account lifecycle, lead motion and contact status (lifecycle.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_LIFECYCLE_H
#define LEADFUNNEL_LIFECYCLE_H

extern void lf_lifecycle_init(void);
/* called by the extension's one relcache callback (leadfunnel.c) */
extern void lf_lifecycle_relcache_invalidate(Oid relid);

#endif							/* LEADFUNNEL_LIFECYCLE_H */
