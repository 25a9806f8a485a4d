/*-------------------------------------------------------------------------
 *
 * lifecycle_rule.c
 *	  Owns the account status rule: from an account's facts (wins, churns,
 *	  advocate intervals) and the windows new_customer_window and
 *	  customer_term to its status at any moment, its status timeline and
 *	  the motion of a lead.  Pure computation: no SPI, no catalog access, no
 *	  error to raise; lifecycle.c reads the facts and the settings and calls
 *	  it, test/unit/lifecycle_rule_test.c calls it on hand-made facts without
 *	  a server.  Of the backend it uses palloc and qsort only.  The rule is
 *	  doc/lifecycle.md, "The rule".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "datatype/timestamp.h"

#include "lifecycle_rule.h"

static TimestampTz
ts_plus(const LcWindows *w, TimestampTz ts, const Interval *iv)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		return ts;
	return w->plus(ts, iv);
}

/* index of the last element <= t, -1 if none */
static int
last_at_or_before(const TimestampTz *a, int n, TimestampTz t)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (a[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

/* index of the first element >= t, n if none */
static int
first_at_or_after(const TimestampTz *a, int n, TimestampTz t)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (a[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Advocate intervals from the advocate / not_advocate events in time order:
 * a flag set opens an interval, cleared closes it; repeats change nothing.
 */
void
lf_facts_set_advocacy(LcFacts *f, const TimestampTz *toggles, const bool *toggle_on, int ntoggles)
{
	bool		on = false;

	f->nadv = 0;
	for (int i = 0; i < ntoggles; i++)
	{
		if (toggle_on[i] && !on)
		{
			f->adv_from[f->nadv] = toggles[i];
			on = true;
		}
		else if (!toggle_on[i] && on)
		{
			f->adv_until[f->nadv++] = toggles[i];
			on = false;
		}
	}
	if (on)
		f->adv_until[f->nadv++] = DT_NOEND;
}

/*
 * Derive the customer episodes: a win starts a new episode when it is the
 * first, when the customer term after the previous win had run out by then,
 * or when a churn lies between the previous win (inclusive) and this one.
 */
void
lf_facts_prepare(LcFacts *f, const LcWindows *w)
{
	const Interval *term = w->customer_term;
	const Interval *window = w->new_customer_window;

	for (int i = 0; i < f->nwins; i++)
	{
		bool		starts = (i == 0);

		f->win_end[i] = ts_plus(w, f->wins[i], term);
		if (!starts)
		{
			int			c = first_at_or_after(f->churns, f->nchurns, f->wins[i - 1]);

			starts = f->wins[i] >= f->win_end[i - 1] ||
				(c < f->nchurns && f->churns[c] < f->wins[i]);
		}
		f->episode[i] = starts ? f->wins[i] : f->episode[i - 1];
		f->episode_end[i] = starts ? ts_plus(w, f->wins[i], window) : f->episode_end[i - 1];
	}
}

/*
 * The rule: the account's status at time t and since when it holds.
 *	  no win at or before t				  prospect (since: NULL, the beginning)
 *	  last win w; the first churn at or after w, or w + customer_term, is at
 *	  or before t						  former_customer, since the earlier of the two
 *	  else, in the episode started by e:  advocate while is_advocate was set,
 *										  else new_customer until e + window,
 *										  then active_customer
 */
LcStatus
lf_status_at(const LcFacts *f, TimestampTz t)
{
	LcStatus	r = {LF_STATUS_PROSPECT, true, 0};
	int			k = last_at_or_before(f->wins, f->nwins, t);
	int			c,
				a;
	TimestampTz former_at,
				e,
				ew;

	if (k < 0)
		return r;
	r.since_null = false;

	former_at = f->win_end[k];
	c = first_at_or_after(f->churns, f->nchurns, f->wins[k]);
	if (c < f->nchurns && f->churns[c] < former_at)
		former_at = f->churns[c];
	if (former_at <= t)
	{
		r.status = LF_STATUS_FORMER_CUSTOMER;
		r.since = former_at;
		return r;
	}

	e = f->episode[k];
	ew = f->episode_end[k];
	a = last_at_or_before(f->adv_from, f->nadv, t);
	if (a >= 0 && f->adv_until[a] > t)
	{
		r.status = LF_STATUS_ADVOCATE;
		r.since = Max(f->adv_from[a], e);
		return r;
	}
	r.status = t < ew ? LF_STATUS_NEW_CUSTOMER : LF_STATUS_ACTIVE_CUSTOMER;
	r.since = t < ew ? e : ew;
	if (a >= 0 && f->adv_until[a] > r.since)
		r.since = f->adv_until[a];	/* was an advocate until then */
	return r;
}

LfMotion
lf_motion_of(LfAccountStatus s)
{
	if (s == LF_STATUS_PROSPECT)
		return LF_MOTION_NEW_BUSINESS;
	if (s == LF_STATUS_FORMER_CUSTOMER)
		return LF_MOTION_WIN_BACK;
	return LF_MOTION_EXPANSION;
}

static int
ts_cmp(const void *a, const void *b)
{
	TimestampTz x = *(const TimestampTz *) a;
	TimestampTz y = *(const TimestampTz *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * The status history: the answers of lf_status_at() at every moment where
 * the status can change (wins, their term ends, episode window ends, churns,
 * advocate changes), consecutive equal answers merged.  Returns the number
 * of stretches; out[0] is always the prospect stretch.
 */
int
lf_status_timeline(const LcFacts *f, LcStatus **out)
{
	int			npoints = 0;
	TimestampTz *points = palloc(sizeof(TimestampTz) * (3 * f->nwins + f->nchurns + 2 * f->nadv + 1));
	LcStatus   *res;
	int			n = 0;

	for (int i = 0; i < f->nwins; i++)
	{
		points[npoints++] = f->wins[i];
		points[npoints++] = f->win_end[i];
		points[npoints++] = f->episode_end[i];
	}
	for (int i = 0; i < f->nchurns; i++)
		points[npoints++] = f->churns[i];
	for (int i = 0; i < f->nadv; i++)
	{
		points[npoints++] = f->adv_from[i];
		if (!TIMESTAMP_IS_NOEND(f->adv_until[i]))
			points[npoints++] = f->adv_until[i];
	}
	qsort(points, npoints, sizeof(TimestampTz), ts_cmp);

	res = palloc(sizeof(LcStatus) * (npoints + 1));
	res[n].status = LF_STATUS_PROSPECT;
	res[n].since_null = true;
	res[n++].since = 0;
	for (int i = 0; i < npoints; i++)
	{
		LcStatus	s;

		if (i > 0 && points[i] == points[i - 1])
			continue;
		s = lf_status_at(f, points[i]);
		if (s.status != res[n - 1].status || s.since_null != res[n - 1].since_null ||
			s.since != res[n - 1].since)
			res[n++] = s;
	}
	*out = res;
	return n;
}
