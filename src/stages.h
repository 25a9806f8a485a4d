/*-------------------------------------------------------------------------
 *
 * stages.h
 *	  Compiled funnel rules, shared by stages.c (which owns the cache) and
 *	  transition.c (which enforces them).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_STAGES_H
#define LEADFUNNEL_STAGES_H

#include "vocabulary.h"
#include "utils/array.h"

typedef struct LfFunnel
{
	char		name[NAMEDATALEN];	/* hash key */
	LfStageSet	stages;			/* open stages of the funnel, and won */
	LfStageSet	entry;			/* stages a lead may be created in */
	LfStageSet	reopen;			/* stages a recycled lead may reopen into */
	bool		allow_skip;
	LfStageSet	next[LF_NUM_STAGES];	/* allowed moves from each stage */
} LfFunnel;

extern void lf_compile_funnel(LfFunnel *f, const char *name, ArrayType *stages,
							  ArrayType *entry, ArrayType *reopen, bool allow_skip);
extern const LfFunnel *lf_lookup_funnel(const char *name);
extern const LfFunnel *lf_require_funnel(const char *name);
extern const LfFunnel *lf_require_row_funnel(const char *name);
extern bool lf_read_funnel(const char *name, LfFunnel *f);
extern char *lf_known_funnels_text(void);
extern int	errtable_constraint_name(const char *conname);

#endif							/* LEADFUNNEL_STAGES_H */
