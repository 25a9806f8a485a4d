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

#endif							/* LEADFUNNEL_LIFECYCLE_H */
