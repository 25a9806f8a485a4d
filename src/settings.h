/*-------------------------------------------------------------------------
 *
 * settings.h
 *	  The time windows of the lifecycle and attribution rules, as C code
 *	  reads them: cached per backend, dropped when the settings change.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_SETTINGS_H
#define LEADFUNNEL_SETTINGS_H

#include "datatype/timestamp.h"

typedef enum LfSetting
{
	LF_SETTING_NEW_CUSTOMER_WINDOW = 0,
	LF_SETTING_CUSTOMER_TERM,
	LF_SETTING_ATTRIBUTION_LOOKBACK,
	LF_SETTING_TIME_DECAY_HALF_LIFE,
	LF_NUM_SETTINGS
} LfSetting;

/* The value in force; the pointer is valid until the next cache rebuild. */
extern const Interval *lf_setting(LfSetting which);

#endif							/* LEADFUNNEL_SETTINGS_H */
