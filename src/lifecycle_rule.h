/*-------------------------------------------------------------------------
 *
 * lifecycle_rule.h
 *	  The account status rule on an account's facts (lifecycle_rule.c): no
 *	  SPI, no catalog, callable on hand-made facts.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_LIFECYCLE_RULE_H
#define LEADFUNNEL_LIFECYCLE_RULE_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "vocabulary.h"

/* The facts of one account, sorted by time. */
typedef struct LcFacts
{
	int			nwins;
	TimestampTz *wins;
	TimestampTz *win_end;		/* wins[i] + customer_term */
	TimestampTz *episode;		/* first win of the customer episode of wins[i] */
	TimestampTz *episode_end;	/* episode[i] + new_customer_window */
	int			nchurns;
	TimestampTz *churns;
	int			nadv;			/* advocate intervals [adv_from, adv_until) */
	TimestampTz *adv_from;
	TimestampTz *adv_until;		/* DT_NOEND while still an advocate */
} LcFacts;

typedef struct LcStatus
{
	LfAccountStatus status;
	bool		since_null;		/* prospect: since the account's beginning */
	TimestampTz since;
} LcStatus;


/* The windows of the rule, and how to add one to a (finite) time. */
typedef struct LcWindows
{
	const Interval *new_customer_window;
	const Interval *customer_term;
	/* t + iv as timestamptz + interval computes it (the session's time zone) */
	TimestampTz (*plus) (TimestampTz t, const Interval *iv);
} LcWindows;

/*
 * Fill f->adv_from/adv_until (room for ntoggles each) from the advocate
 * (toggle_on) and not_advocate events of the account, in time order.
 */
extern void lf_facts_set_advocacy(LcFacts *f, const TimestampTz *toggles, const bool *toggle_on,
								  int ntoggles);

/*
 * With f->wins, churns and the advocate intervals set (each sorted by time),
 * derive win_end, episode and episode_end (arrays of nwins the caller made).
 */
extern void lf_facts_prepare(LcFacts *f, const LcWindows *w);

/* The status at time t and since when it holds. */
extern LcStatus lf_status_at(const LcFacts *f, TimestampTz t);

/* The status history, consecutive equal answers merged (palloc'ed); out[0] is prospect. */
extern int	lf_status_timeline(const LcFacts *f, LcStatus **out);

/* The motion of a lead created while the account has status s. */
extern LfMotion lf_motion_of(LfAccountStatus s);

#endif							/* LEADFUNNEL_LIFECYCLE_RULE_H */
