"""An application backend's view of leadfunnel, through psycopg2 (Debian's
python3-psycopg2): native types come back, and a refused move is an
IntegrityError carrying SQLSTATE 23514 and the constraint name."""
import datetime
import decimal
import os
import sys

import psycopg2
import psycopg2.errors

failures = []


def check(what, ok):
    print(("ok     " if ok else "FAILED ") + what)
    if not ok:
        failures.append(what)


conn = psycopg2.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"],
                        user=os.environ["PGUSER"], dbname=sys.argv[1])
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION leadfunnel")
cur.execute("SELECT leadfunnel.create_model('app')")
cur.execute("INSERT INTO app.account (account_id, name) VALUES (1, 'Acme')")
cur.execute("""INSERT INTO app.lead (lead_id, account_id, funnel, amount, created_at)
               VALUES (1, 1, 'inside_sales', 12000.50, '2024-01-01T09:00:00Z')""")
cur.execute("UPDATE app.lead SET stage = %s, stage_entered_at = %s WHERE lead_id = %s",
            ("mql", datetime.datetime(2024, 1, 3, tzinfo=datetime.timezone.utc), 1))

cur.execute("SELECT stage, max_stage, amount, created_at, stage_entered_at, closed_at FROM app.lead WHERE lead_id = 1")
stage, max_stage, amount, created_at, entered, closed = cur.fetchone()
check("enum comes back as str", stage == "mql" and max_stage == "mql")
check("numeric comes back as Decimal", amount == decimal.Decimal("12000.50"))
check("timestamptz comes back as aware datetime", isinstance(created_at, datetime.datetime) and created_at.tzinfo is not None)
check("stage_entered_at is the backfilled time", entered == datetime.datetime(2024, 1, 3, tzinfo=datetime.timezone.utc))
check("closed_at is NULL -> None while open", closed is None)

cur.execute("SELECT leadfunnel.allowed_next('inside_sales', 'mql')")
check("lead_stage[] comes back as a string array literal", cur.fetchone()[0] in ("{tal,recycled,disqualified,lost}", ["tal", "recycled", "disqualified", "lost"]))

cur.execute("SELECT entered_at, left_at - entered_at FROM app.lead_stage_history WHERE lead_id = 1 AND seq = 1")
entered_at, stay = cur.fetchone()
check("interval comes back as timedelta", stay == datetime.timedelta(days=1, hours=15))

try:
    cur.execute("UPDATE app.lead SET stage = 'won' WHERE lead_id = 1")
    check("a refused move raises", False)
except psycopg2.IntegrityError as e:
    check("refused move is an IntegrityError (CheckViolation)", isinstance(e, psycopg2.errors.CheckViolation))
    check("SQLSTATE 23514", e.pgcode == "23514")
    check("constraint name lead_stage_transition", e.diag.constraint_name == "lead_stage_transition")
    check("message names lead, stages and funnel",
          'lead 1 cannot move from stage "mql" to stage "won" in funnel "inside_sales"' in e.diag.message_primary)
    check("hint lists the allowed next stages", "tal, recycled, disqualified, lost" in (e.diag.message_hint or ""))
    check("table and schema are reported", e.diag.table_name == "lead" and e.diag.schema_name == "app")

try:
    cur.execute("UPDATE app.lead SET stage = 'tal', stage_entered_at = '2023-01-01' WHERE lead_id = 1")
    check("a backdated move raises", False)
except psycopg2.errors.CheckViolation as e:
    check("backdated move: constraint lead_stage_chronology", e.diag.constraint_name == "lead_stage_chronology")

cur.execute("SELECT count(*) FROM app.lead_stage_history WHERE lead_id = 1")
check("refused moves left no history behind", cur.fetchone()[0] == 2)

try:
    cur.execute("UPDATE app.lead SET funnel = 'no_such_funnel' WHERE lead_id = 1")
    check("an unknown funnel in a row raises", False)
except psycopg2.IntegrityError as e:
    check("unknown funnel in a row is an IntegrityError (ForeignKeyViolation, 23503)",
          isinstance(e, psycopg2.errors.ForeignKeyViolation) and e.pgcode == "23503")

cur.execute("SELECT leadfunnel.apply_preset('deals', 'hubspot_deal')")
cur.execute("""INSERT INTO app.lead (lead_id, account_id, funnel, stage_label)
               VALUES (7, 1, 'deals', 'qualifiedtobuy')""")
cur.execute("UPDATE app.lead SET stage_label = 'contractsent' WHERE lead_id = 7")
cur.execute("SELECT stage, stage_label FROM app.lead WHERE lead_id = 7")
check("writing a label moves the stage", cur.fetchone() == ("opportunity", "contractsent"))
try:
    cur.execute("UPDATE app.lead SET stage_label = 'Contract Sent' WHERE lead_id = 7")
    check("an unknown label raises", False)
except psycopg2.IntegrityError as e:
    check("unknown label is an IntegrityError (ForeignKeyViolation, 23503)",
          isinstance(e, psycopg2.errors.ForeignKeyViolation) and e.diag.constraint_name == "lead_stage_label")

# schema reflection as BI tools do it: the model's tables and columns with types and comments
cur.execute("""SELECT c.table_name, c.column_name, c.data_type, c.udt_name,
                      col_description(format('%I.%I', c.table_schema, c.table_name)::regclass, c.ordinal_position)
                 FROM information_schema.columns c
                WHERE c.table_schema = 'app' ORDER BY c.table_name, c.ordinal_position""")
cols = cur.fetchall()
check("information_schema lists the model's columns", len(cols) >= 50)
check("every model column has a comment", all(r[4] for r in cols))
check("stage is reported as the USER-DEFINED lead_stage enum",
      ("lead", "stage", "USER-DEFINED", "lead_stage") in [(r[0], r[1], r[2], r[3]) for r in cols])

# the views a BI tool or a backend reads, with native types
CONTRACT_VIEWS = {
    "funnel_summary": ["funnel", "stage", "reached", "conversion_from_previous", "conversion_from_top", "entered"],
    "waterfall": ["funnel", "period", "stage", "entered", "advanced", "won", "conversion", "conversion_low",
                  "conversion_high", "days_to_next_p50", "days_to_next_p90", "amount"],
    "pipeline": ["funnel", "stage", "stage_label", "forecast_category", "leads", "amount", "weighted_amount",
                 "age_in_stage_p50"],
    "conversion_by_cohort": ["funnel", "cohort", "from_stage", "to_stage", "entered", "within_30d", "within_60d",
                             "within_90d", "ever"],
    "conversion_by_segment": ["period", "funnel", "campaign_id", "product_area", "region", "stage", "reached",
                              "conversion_from_previous"],
    "cycle_times": ["funnel", "measure", "stage", "n", "mean", "p50", "p90", "p95", "max"],
    "dropoff": ["funnel", "last_open_stage", "outcome", "leads", "share"],
    "campaign_pipeline": ["campaign_id", "sourced_leads", "touched_leads", "sourced_pipeline", "touched_pipeline",
                          "sourced_won", "touched_won"],
    "campaign_attribution": ["campaign_id", "model", "attributed_leads", "attributed_pipeline", "attributed_won"],
    "channel_attribution": ["model", "channel", "attributed_leads", "attributed_pipeline", "attributed_won"],
    "attribution_coverage": ["period", "won_leads", "unattributed_won_leads", "pipeline_leads",
                             "unattributed_pipeline_leads"],
    "account_lifecycle": ["account_id", "status", "status_since", "open_leads", "won_leads", "closed_lost_leads",
                          "first_won_at", "last_won_at"],
}
cur.execute("SELECT leadfunnel.create_model('bi')")
cur.execute("SELECT * FROM leadfunnel.generate_demo('bi', 600, 0.5)")
cur.execute("""SELECT v.table_name, array_agg(c.column_name::text ORDER BY c.ordinal_position),
                      bool_and(col_description(format('bi.%I', v.table_name)::regclass, c.ordinal_position) IS NOT NULL),
                      obj_description(format('bi.%I', v.table_name)::regclass, 'pg_class') IS NOT NULL
                 FROM information_schema.views v JOIN information_schema.columns c USING (table_schema, table_name)
                WHERE v.table_schema = 'bi' GROUP BY v.table_name""")
reflected = {name: (cols, commented, view_comment) for name, cols, commented, view_comment in cur.fetchall()}
for view, columns in CONTRACT_VIEWS.items():
    # the contract columns first, in order; later columns are extensions (campaign_attribution.model_name)
    check(f"view {view} is listed with the contract columns", view in reflected and reflected[view][0][:len(columns)] == columns)
    check(f"view {view} and each of its columns carry a comment", view in reflected and reflected[view][1] and reflected[view][2])

cur.execute("SELECT funnel, stage, reached, conversion_from_previous, conversion_from_top FROM bi.funnel_summary "
            "WHERE funnel = 'enterprise' AND stage = 'mql'")
funnel, stage, reached, conv_prev, conv_top = cur.fetchone()
check("funnel_summary: counts as int, ratios as Decimal in 0..1",
      isinstance(reached, int) and isinstance(conv_prev, decimal.Decimal) and 0 <= conv_prev <= 1 and 0 <= conv_top <= 1)
cur.execute("SELECT n, mean, p50, p90, p95, max FROM bi.cycle_times WHERE measure = 'lead_duration' AND funnel = 'enterprise'")
n, *durations = cur.fetchone()
check("cycle_times: n as int, durations as timedelta, quantiles ordered",
      isinstance(n, int) and all(isinstance(d, datetime.timedelta) for d in durations)
      and durations[1] <= durations[2] <= durations[3] <= durations[4])
cur.execute("SELECT period FROM bi.conversion_by_segment LIMIT 1")
check("conversion_by_segment: period as date", isinstance(cur.fetchone()[0], datetime.date))
cur.execute("SELECT share FROM bi.dropoff LIMIT 1")
check("dropoff: share as Decimal", isinstance(cur.fetchone()[0], decimal.Decimal))
cur.execute("SELECT model, sum(attributed_leads) FROM bi.campaign_attribution GROUP BY model ORDER BY model")
credit = cur.fetchall()
cur.execute("SELECT cardinality(enum_range(NULL::leadfunnel.attribution_model))")
models = cur.fetchone()[0]
check("campaign_attribution: every model, fractional credit as Decimal",
      len(credit) == models and all(isinstance(total, decimal.Decimal) for _, total in credit))
check("campaign_attribution: every model credits the same attributed leads",
      len({round(total, 6) for _, total in credit}) == 1)
cur.execute("SELECT touched_leads, touched_pipeline FROM bi.campaign_pipeline ORDER BY touched_leads DESC LIMIT 1")
touched_leads, touched_pipeline = cur.fetchone()
check("campaign_pipeline: touched leads as int, pipeline as Decimal",
      isinstance(touched_leads, int) and touched_leads > 0 and isinstance(touched_pipeline, decimal.Decimal))
cur.execute("SELECT status, status_since, first_won_at FROM bi.account_lifecycle WHERE first_won_at IS NOT NULL LIMIT 1")
status, since, first_won = cur.fetchone()
check("account_lifecycle: status as str, times as aware datetime",
      status in ("new_customer", "active_customer", "advocate", "former_customer")
      and isinstance(first_won, datetime.datetime) and first_won.tzinfo is not None)

conn.close()
print(f"client_psycopg2: {len(failures)} failed")
sys.exit(1 if failures else 0)
