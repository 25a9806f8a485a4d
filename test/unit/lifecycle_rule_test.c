/*-------------------------------------------------------------------------
 *
 * lifecycle_rule_test.c
 *	  Unit test of the account status rule (src/lifecycle_rule.c) on
 *	  hand-made facts, without a server: compiled with the server headers
 *	  and linked with lifecycle_rule.c alone (tools/unit-tests.sh).  What the
 *	  rule needs of the backend, palloc and pg_qsort, is stubbed below with
 *	  malloc and the C library's qsort; the session's timestamptz + interval
 *	  is replaced by UTC arithmetic of days (the windows here are in days).
 *
 * The expected timelines are worked out by hand from doc/lifecycle.md
 * ("The rule", "Decisions worth knowing"), one case per transition and
 * edge case documented there.  Output is TAP; exit status 1 on a failure.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "datatype/timestamp.h"

#include "lifecycle_rule.h"

/* port.h maps these to libpgport's; the test uses the C library's */
#undef printf
#undef fprintf
#undef snprintf

/* ---- the backend functions the rule uses ---- */

void *
palloc(Size size)
{
	void	   *p = malloc(size > 0 ? size : 1);

	if (p == NULL)
		abort();
	return p;
}

#undef qsort
void
pg_qsort(void *base, size_t nel, size_t elsize, int (*cmp) (const void *, const void *))
{
	qsort(base, nel, elsize, cmp);
}

/* ---- time ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
static int64
days_from_civil(int y, int m, int d)
{
	int64		era,
				yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Midnight UTC of a date, as a TimestampTz (microseconds since 2000-01-01 UTC). */
static TimestampTz
DATE(int y, int m, int d)
{
	return (days_from_civil(y, m, d) - days_from_civil(2000, 1, 1)) * USECS_PER_DAY;
}

/* Day n after 2020-01-01 (negative: before). */
#define D(n) (DATE(2020, 1, 1) + (int64) (n) * USECS_PER_DAY)

/* timestamptz + interval for intervals of days and time, in UTC (no DST: a day is 24 hours). */
static TimestampTz
plus_days(TimestampTz t, const Interval *iv)
{
	if (iv->month != 0)
	{
		fprintf(stderr, "plus_days: intervals of months are not used by this test\n");
		abort();
	}
	return t + (int64) iv->day * USECS_PER_DAY + iv->time;
}

static const char *const status_names[LF_NUM_ACCOUNT_STATUSES] = {
	"prospect", "new_customer", "active_customer", "advocate", "former_customer"
};

static char *
ts_text(TimestampTz t)
{
	static char buf[4][32];
	static int	k = 0;
	char	   *out = buf[k++ % 4];

	if (TIMESTAMP_IS_NOEND(t))
		return strcpy(out, "infinity");
	snprintf(out, 32, "day %lld", (long long) ((t - D(0)) / USECS_PER_DAY));
	return out;
}

/* ---- facts ---- */

static int
ts_cmp(const void *a, const void *b)
{
	TimestampTz x = *(const TimestampTz *) a;
	TimestampTz y = *(const TimestampTz *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

static TimestampTz *
ts_array(const TimestampTz *src, int n)
{
	TimestampTz *a = palloc(sizeof(TimestampTz) * (n + 1));

	if (n > 0)
		memcpy(a, src, sizeof(TimestampTz) * n);
	qsort(a, n, sizeof(TimestampTz), ts_cmp);
	return a;
}

/*
 * The facts of an account, as lifecycle.c assembles them from its tables:
 * wins and churns in any order (sorted here, as ORDER BY does there), the
 * advocate events (on = "advocate", off = "not_advocate") in time order.
 */
static LcFacts
make_facts(const TimestampTz *wins, int nwins, const TimestampTz *churns, int nchurns,
		   const TimestampTz *toggles, const bool *toggle_on, int ntoggles,
		   int window_days, int term_days)
{
	LcFacts		f;
	Interval	window = {0, window_days, 0};
	Interval	term = {0, term_days, 0};
	LcWindows	w = {&window, &term, plus_days};

	f.nwins = nwins;
	f.wins = ts_array(wins, nwins);
	f.win_end = palloc(sizeof(TimestampTz) * (nwins + 1));
	f.episode = palloc(sizeof(TimestampTz) * (nwins + 1));
	f.episode_end = palloc(sizeof(TimestampTz) * (nwins + 1));
	f.nchurns = nchurns;
	f.churns = ts_array(churns, nchurns);
	f.adv_from = palloc(sizeof(TimestampTz) * (ntoggles + 1));
	f.adv_until = palloc(sizeof(TimestampTz) * (ntoggles + 1));
	lf_facts_set_advocacy(&f, toggles, toggle_on, ntoggles);
	lf_facts_prepare(&f, &w);
	return f;
}

#define N(a) ((int) (sizeof(a) / sizeof((a)[0])))
#define FACTS(wins, churns, toggles, on) \
	make_facts(wins, N(wins), churns, N(churns), toggles, on, N(toggles), 90, 365)

/* ---- checks ---- */

static int	ntests = 0;
static int	nfailed = 0;

static void
result(bool ok, const char *name)
{
	ntests++;
	if (!ok)
		nfailed++;
	printf("%sok %d - %s\n", ok ? "" : "not ", ntests, name);
}

/* An expected stretch: status and since; since_null for the first (prospect) one. */
typedef struct Stretch
{
	LfAccountStatus status;
	bool		since_null;
	TimestampTz since;
} Stretch;

#define PROSPECT {LF_STATUS_PROSPECT, true, 0}
#define S(st, t) {LF_STATUS_##st, false, (t)}

static bool
same(LcStatus got, Stretch want)
{
	return got.status == want.status && got.since_null == want.since_null &&
		(want.since_null || got.since == want.since);
}

static void
show(const char *what, LfAccountStatus status, bool since_null, TimestampTz since)
{
	printf("#   %s %s since %s\n", what, status_names[status], since_null ? "the beginning" : ts_text(since));
}

static void
check_timeline(const char *name, const LcFacts *f, const Stretch *want, int nwant)
{
	LcStatus   *got;
	int			n = lf_status_timeline(f, &got);
	bool		ok = n == nwant;

	for (int i = 0; ok && i < n; i++)
		ok = same(got[i], want[i]);
	result(ok, name);
	if (!ok)
	{
		for (int i = 0; i < n; i++)
			show("got ", got[i].status, got[i].since_null, got[i].since);
		for (int i = 0; i < nwant; i++)
			show("want", want[i].status, want[i].since_null, want[i].since);
	}
}

static void
check_at(const char *name, const LcFacts *f, TimestampTz t, Stretch want)
{
	LcStatus	got = lf_status_at(f, t);
	bool		ok = same(got, want);

	result(ok, name);
	if (!ok)
	{
		printf("#   at %s\n", ts_text(t));
		show("got ", got.status, got.since_null, got.since);
		show("want", want.status, want.since_null, want.since);
	}
}

static void
check_motion(const char *name, const LcFacts *f, TimestampTz created_at, LfMotion want)
{
	LfMotion	got = lf_motion_of(lf_status_at(f, created_at).status);

	result(got == want, name);
	if (got != want)
		printf("#   got motion %d, want %d\n", (int) got, (int) want);
}

int
main(void)
{
	static const TimestampTz none[1];
	static const bool none_on[1];

#define NONE none, 0
#define F(wins, churns) make_facts(wins, N(wins), churns, N(churns), none, none_on, 0, 90, 365)
#define F0(wins) make_facts(wins, N(wins), NONE, none, none_on, 0, 90, 365)

	/* doc/lifecycle.md, "Example": windows 90 / 365 days */
	{
		const TimestampTz wins[] = {DATE(2020, 2, 1), DATE(2020, 12, 1), DATE(2022, 4, 1)};
		const TimestampTz churns[] = {DATE(2022, 12, 1)};
		const TimestampTz toggles[] = {DATE(2022, 8, 1), DATE(2022, 10, 1)};
		const bool	on[] = {true, false};
		LcFacts		f = FACTS(wins, churns, toggles, on);
		const Stretch want[] = {
			PROSPECT,
			S(NEW_CUSTOMER, DATE(2020, 2, 1)),
			S(ACTIVE_CUSTOMER, DATE(2020, 5, 1)),
			S(FORMER_CUSTOMER, DATE(2021, 12, 1)),
			S(NEW_CUSTOMER, DATE(2022, 4, 1)),
			S(ACTIVE_CUSTOMER, DATE(2022, 6, 30)),
			S(ADVOCATE, DATE(2022, 8, 1)),
			S(ACTIVE_CUSTOMER, DATE(2022, 10, 1)),
			S(FORMER_CUSTOMER, DATE(2022, 12, 1)),
		};

		check_timeline("the example of doc/lifecycle.md, stretch by stretch", &f, want, N(want));
		check_at("example: a day into the second episode is new_customer since the win-back",
				 &f, DATE(2022, 4, 2), (Stretch) S(NEW_CUSTOMER, DATE(2022, 4, 1)));
		check_motion("example: a lead created while former is win_back", &f, DATE(2022, 1, 1), LF_MOTION_WIN_BACK);
		check_motion("example: a lead created while active is expansion", &f, DATE(2021, 1, 1), LF_MOTION_EXPANSION);
		check_motion("example: a lead created while advocate is expansion", &f, DATE(2022, 9, 1), LF_MOTION_EXPANSION);
		check_motion("example: a lead created before the first win is new_business", &f, DATE(2019, 1, 1), LF_MOTION_NEW_BUSINESS);
	}

	/* no facts: a prospect from the beginning, for ever */
	{
		LcFacts		f = make_facts(NONE, NONE, none, none_on, 0, 90, 365);
		const Stretch want[] = {PROSPECT};

		check_timeline("no facts: one prospect stretch", &f, want, N(want));
		check_at("no facts: prospect since the beginning", &f, D(1000), (Stretch) PROSPECT);
	}

	/* a churn before any win is recorded but changes nothing */
	{
		const TimestampTz churns[] = {D(10)};
		LcFacts		f = make_facts(NONE, churns, 1, none, none_on, 0, 90, 365);
		const Stretch want[] = {PROSPECT};

		check_timeline("a churn before any win changes nothing", &f, want, N(want));
	}
	{
		const TimestampTz wins[] = {D(20)};
		const TimestampTz churns[] = {D(10)};
		LcFacts		f = F(wins, churns);
		const Stretch want[] = {PROSPECT, S(NEW_CUSTOMER, D(20)), S(ACTIVE_CUSTOMER, D(110)), S(FORMER_CUSTOMER, D(385))};

		check_timeline("a churn before the first win does not end the episode that win starts", &f, want, N(want));
	}

	/* one win: new_customer, active_customer after the window, former after the term */
	{
		const TimestampTz wins[] = {D(0)};
		LcFacts		f = F0(wins);
		const Stretch want[] = {PROSPECT, S(NEW_CUSTOMER, D(0)), S(ACTIVE_CUSTOMER, D(90)), S(FORMER_CUSTOMER, D(365))};

		check_timeline("one win: prospect, new, active after new_customer_window, former after customer_term", &f, want, N(want));
		check_at("one win: just before it, prospect", &f, D(0) - 1, (Stretch) PROSPECT);
		check_at("one win: at its instant, new_customer", &f, D(0), (Stretch) S(NEW_CUSTOMER, D(0)));
		check_at("one win: just before the window ends, new_customer", &f, D(90) - 1, (Stretch) S(NEW_CUSTOMER, D(0)));
		check_at("one win: when the window ends, active_customer", &f, D(90), (Stretch) S(ACTIVE_CUSTOMER, D(90)));
		check_at("one win: just before the term ends, active_customer", &f, D(365) - 1, (Stretch) S(ACTIVE_CUSTOMER, D(90)));
		check_at("one win: when the term ends, former_customer", &f, D(365), (Stretch) S(FORMER_CUSTOMER, D(365)));
	}

	/* wins inside an episode extend the term but do not restart the window */
	{
		const TimestampTz wins[] = {D(0), D(60)};
		LcFacts		f = F0(wins);
		const Stretch want[] = {PROSPECT, S(NEW_CUSTOMER, D(0)), S(ACTIVE_CUSTOMER, D(90)), S(FORMER_CUSTOMER, D(425))};

		check_timeline("a second win in the episode: term from the last win, window from the first", &f, want, N(want));
	}

	/* a churn ends the episode */
	{
		const TimestampTz wins[] = {D(0)};
		const TimestampTz churns[] = {D(30)};
		LcFacts		f = F(wins, churns);
		const Stretch want[] = {PROSPECT, S(NEW_CUSTOMER, D(0)), S(FORMER_CUSTOMER, D(30))};

		check_timeline("a churn makes a customer former from the churn", &f, want, N(want));
	}

	/* a churn at the same instant as a win wins */
	{
		const TimestampTz wins[] = {D(10)};
		const TimestampTz churns[] = {D(10)};
		LcFacts		f = F(wins, churns);
		const Stretch want[] = {PROSPECT, S(FORMER_CUSTOMER, D(10))};

		check_timeline("churn and win at the same instant: former from that instant, never a customer", &f, want, N(want));
		check_at("churn and win at the same instant: former at it", &f, D(10), (Stretch) S(FORMER_CUSTOMER, D(10)));
	}
	{
		const TimestampTz wins[] = {D(0), D(50)};
		const TimestampTz churns[] = {D(50)};
		LcFacts		f = F(wins, churns);
		const Stretch want[] = {PROSPECT, S(NEW_CUSTOMER, D(0)), S(FORMER_CUSTOMER, D(50))};

		check_timeline("a customer's churn at the instant of another win: former from it", &f, want, N(want));
	}

	/* win-back after a churn: a new episode, new_customer again */
	{
		const TimestampTz wins[] = {D(0), D(200)};
		const TimestampTz churns[] = {D(100)};
		LcFacts		f = F(wins, churns);
		const Stretch want[] = {
			PROSPECT, S(NEW_CUSTOMER, D(0)), S(ACTIVE_CUSTOMER, D(90)), S(FORMER_CUSTOMER, D(100)),
			S(NEW_CUSTOMER, D(200)), S(ACTIVE_CUSTOMER, D(290)), S(FORMER_CUSTOMER, D(565)),
		};

		check_timeline("win-back after a churn: new_customer again for the window", &f, want, N(want));
		check_motion("win-back: a lead created while former is win_back", &f, D(150), LF_MOTION_WIN_BACK);
		check_motion("win-back: a lead created after the win-back is expansion", &f, D(250), LF_MOTION_EXPANSION);
		check_motion("win-back: a lead created before any win is new_business", &f, D(-1), LF_MOTION_NEW_BUSINESS);
	}

	/* win-back after the term ran out */
	{
		const TimestampTz wins[] = {D(0), D(400)};
		LcFacts		f = F0(wins);
		const Stretch want[] = {
			PROSPECT, S(NEW_CUSTOMER, D(0)), S(ACTIVE_CUSTOMER, D(90)), S(FORMER_CUSTOMER, D(365)),
			S(NEW_CUSTOMER, D(400)), S(ACTIVE_CUSTOMER, D(490)), S(FORMER_CUSTOMER, D(765)),
		};

		check_timeline("win-back after customer_term ran out: a new episode", &f, want, N(want));
	}

	/* advocates count only while customer */
	{
		const TimestampTz wins[] = {D(0)};
		const TimestampTz churns[] = {D(200)};
		const TimestampTz toggles[] = {D(-50)};
		const bool	on[] = {true};
		LcFacts		f = FACTS(wins, churns, toggles, on);
		const Stretch want[] = {PROSPECT, S(ADVOCATE, D(0)), S(FORMER_CUSTOMER, D(200))};

		check_timeline("a flagged prospect: advocate from its first win, former at its churn", &f, want, N(want));
		check_at("a flagged prospect is a prospect", &f, D(-10), (Stretch) PROSPECT);
	}
	{
		const TimestampTz wins[] = {D(0)};
		const TimestampTz toggles[] = {D(10), D(30)};
		const bool	on[] = {true, false};
		LcFacts		f = make_facts(wins, 1, NONE, toggles, on, 2, 90, 365);
		const Stretch want[] = {
			PROSPECT, S(NEW_CUSTOMER, D(0)), S(ADVOCATE, D(10)), S(NEW_CUSTOMER, D(30)),
			S(ACTIVE_CUSTOMER, D(90)), S(FORMER_CUSTOMER, D(365)),
		};

		check_timeline("advocate cleared inside the window: new_customer since the flag was cleared", &f, want, N(want));
	}
	{
		const TimestampTz wins[] = {D(0)};
		const TimestampTz toggles[] = {D(10), D(120)};
		const bool	on[] = {true, false};
		LcFacts		f = make_facts(wins, 1, NONE, toggles, on, 2, 90, 365);
		const Stretch want[] = {
			PROSPECT, S(NEW_CUSTOMER, D(0)), S(ADVOCATE, D(10)), S(ACTIVE_CUSTOMER, D(120)), S(FORMER_CUSTOMER, D(365)),
		};

		check_timeline("advocate cleared after the window: active_customer since the flag was cleared", &f, want, N(want));
	}
	{
		const TimestampTz wins[] = {D(0), D(100)};
		const TimestampTz churns[] = {D(50)};
		const TimestampTz toggles[] = {D(10)};
		const bool	on[] = {true};
		LcFacts		f = FACTS(wins, churns, toggles, on);
		const Stretch want[] = {
			PROSPECT, S(NEW_CUSTOMER, D(0)), S(ADVOCATE, D(10)), S(FORMER_CUSTOMER, D(50)),
			S(ADVOCATE, D(100)), S(FORMER_CUSTOMER, D(465)),
		};

		check_timeline("an advocate who churns is former; won back while flagged, advocate since the win", &f, want, N(want));
	}

	/* a win backfilled into the past rewrites the history */
	{
		const TimestampTz before[] = {D(500)};
		const TimestampTz after[] = {D(500), D(0)};	/* the older win loaded last */
		LcFacts		f1 = F0(before);
		LcFacts		f2 = F0(after);
		const Stretch want1[] = {PROSPECT, S(NEW_CUSTOMER, D(500)), S(ACTIVE_CUSTOMER, D(590)), S(FORMER_CUSTOMER, D(865))};
		const Stretch want2[] = {
			PROSPECT, S(NEW_CUSTOMER, D(0)), S(ACTIVE_CUSTOMER, D(90)), S(FORMER_CUSTOMER, D(365)),
			S(NEW_CUSTOMER, D(500)), S(ACTIVE_CUSTOMER, D(590)), S(FORMER_CUSTOMER, D(865)),
		};

		check_timeline("backfill: before the older win is loaded", &f1, want1, N(want1));
		check_timeline("backfill: after the older win is loaded, the history starts with it", &f2, want2, N(want2));
		check_at("backfill: an as-of answer in the past changes with the older win", &f2, D(100), (Stretch) S(ACTIVE_CUSTOMER, D(90)));
		check_motion("backfill: a lead created between the wins is now win_back", &f2, D(400), LF_MOTION_WIN_BACK);
	}

	/* the advocate / not_advocate events fold into intervals */
	{
		const TimestampTz toggles[] = {D(10), D(20), D(30), D(40), D(50)};
		const bool	on[] = {true, true, false, false, true};
		LcFacts		f;

		f.adv_from = palloc(sizeof(TimestampTz) * N(toggles));
		f.adv_until = palloc(sizeof(TimestampTz) * N(toggles));
		lf_facts_set_advocacy(&f, toggles, on, N(toggles));
		result(f.nadv == 2 && f.adv_from[0] == D(10) && f.adv_until[0] == D(30) &&
			   f.adv_from[1] == D(50) && TIMESTAMP_IS_NOEND(f.adv_until[1]),
			   "advocate events: repeats change nothing, a flag still set is open-ended");
	}

	/* the motion of each status */
	result(lf_motion_of(LF_STATUS_PROSPECT) == LF_MOTION_NEW_BUSINESS &&
		   lf_motion_of(LF_STATUS_NEW_CUSTOMER) == LF_MOTION_EXPANSION &&
		   lf_motion_of(LF_STATUS_ACTIVE_CUSTOMER) == LF_MOTION_EXPANSION &&
		   lf_motion_of(LF_STATUS_ADVOCATE) == LF_MOTION_EXPANSION &&
		   lf_motion_of(LF_STATUS_FORMER_CUSTOMER) == LF_MOTION_WIN_BACK,
		   "motion: prospect new_business, customers expansion, former win_back");

	printf("1..%d\n", ntests);
	return nfailed == 0 ? 0 : 1;
}
