/*-------------------------------------------------------------------------
 *
 * labels.h
 *	  Stage labels: the company's own stage names per funnel, each mapped to
 *	  one canonical stage (leadfunnel.stage_label), cached per backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_LABELS_H
#define LEADFUNNEL_LABELS_H

#include "vocabulary.h"

/* a label is at most this many bytes long (CHECK on leadfunnel.stage_label) */
#define LF_LABEL_MAX 256

/* The stage a label of a funnel maps to; false for an unknown label. */
extern bool lf_label_stage(const char *funnel, const char *label, int *stage);

/* The first label (lowest position) of a stage in a funnel, or NULL. */
extern const char *lf_first_label(const char *funnel, int stage);

/*
 * A label or a canonical stage name of a funnel: its stage and label (the
 * label itself, or the first label of the named canonical stage, or NULL).
 * A label takes precedence over a canonical name.  false when unknown.
 */
extern bool lf_resolve_stage(const char *funnel, const char *name, int *stage,
							 const char **label);

/* "Closed Lost, Closed Won, ..." -- the labels of a funnel, for hints */
extern char *lf_funnel_labels_text(const char *funnel);

#endif							/* LEADFUNNEL_LABELS_H */
