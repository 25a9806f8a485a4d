/*-------------------------------------------------------------------------
 *
 * value_history.h
 *	  What the value history trigger (value_history.c) offers the sync of
 *	  tracked tables: the value history of the leads it updated in one
 *	  statement (see lf_tracking_batch_update in transition.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_VALUE_HISTORY_H
#define LEADFUNNEL_VALUE_HISTORY_H

#include "utils/relcache.h"

extern void lf_value_record_updated_leads(Relation rel);

#endif							/* LEADFUNNEL_VALUE_HISTORY_H */
