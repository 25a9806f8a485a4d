-- Bad input to the objects of the lifecycle, analytics, attribution and
-- upgrade concerns: each gives a clear error with a standard SQLSTATE (never
-- XX000, never a crash) or a documented result, and a failed statement leaves
-- nothing behind.
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('bad2');
-- views on an empty model: every view answers, with no rows or zeros
SELECT c.relname AS view_name, try(format('SELECT * FROM bad2.%I', c.relname)) AS outcome
  FROM pg_class c WHERE c.relnamespace = 'bad2'::regnamespace AND c.relkind = 'v' ORDER BY 1;
SELECT (SELECT count(*) FROM bad2.funnel_summary) AS funnel_rows, (SELECT count(*) FROM bad2.cycle_times) AS cycle_rows,
       (SELECT count(*) FROM bad2.campaign_pipeline) AS campaigns, (SELECT count(*) FROM bad2.account_lifecycle) AS accounts;
SELECT sum(rows_added) > 0 AS generated FROM leadfunnel.generate_demo('bad2', 60, -0.4);
SELECT (SELECT count(*) FROM bad2.lead) AS leads, (SELECT count(*) FROM bad2.touch) AS touches,
       (SELECT count(*) FROM bad2.account_event) AS events \gset before_

-- funnel_reach: NULLs are skipped, no rows give nine zeros
SELECT leadfunnel.funnel_reach(s) AS all_null FROM (VALUES (NULL::leadfunnel.lead_stage), (NULL)) v(s);
SELECT leadfunnel.funnel_reach(s) AS no_rows FROM (VALUES ('mql'::leadfunnel.lead_stage)) v(s) WHERE false;
SELECT try($$SELECT leadfunnel.funnel_reach('closed')$$);
SELECT try($$SELECT leadfunnel.funnel_reach_combine('{mql:9223372036854775807}', '{mql:1}')$$);
SELECT try($$SELECT leadfunnel.funnel_reach_remove(NULL, 'mql')$$);
SELECT try($$SELECT leadfunnel.funnel_reach_remove('{mql:1}', 'won')$$);
SELECT leadfunnel.funnel_reach_remove('{mql:1}', NULL)::text AS remove_null_keeps_state;
-- funnel_reach_steps: NULL reach gives no rows; anything that is not a reach array is refused
SELECT count(*) AS rows_for_null FROM leadfunnel.funnel_reach_steps(NULL);
SELECT try(format('SELECT * FROM leadfunnel.funnel_reach_steps(%L)', r)) FROM (VALUES
    ('{}'), ('{1,2,3}'), ('{9,8,7,6,5,4,3,2,1,0}'), ('{{9,8,7},{6,5,4},{3,2,1}}'), ('{NULL,1,1,1,1,1,1,1,1}'),
    ('{-1,-1,-1,-1,-1,-1,-1,-1,-1}'), ('{1,5,1,1,1,1,1,1,1}'), ('[0:8]={9,8,7,6,5,4,3,2,1}')) v(r);
SELECT * FROM leadfunnel.funnel_reach_steps('{4,4,2,2,2,2,2,1,0}', '{won,lost,NULL,mql,mql,visitor}');
SELECT * FROM leadfunnel.funnel_reach_steps('{0,0,0,0,0,0,0,0,0}', '{}');

-- cycle_time and the sketch functions
SELECT try($$SELECT leadfunnel.cycle_time(interval '-1 microsecond')$$);
SELECT try($$SELECT leadfunnel.cycle_time(interval '1 mon -30 days -1 microsecond')$$);
SELECT try($$SELECT leadfunnel.cycle_time(interval '178000000 years')$$);
SELECT (leadfunnel.cycle_time(d)).* FROM (VALUES (NULL::interval), (NULL)) v(d);
SELECT (leadfunnel.cycle_time(d)).* FROM (VALUES (interval '0'), (interval '0')) v(d);
SELECT leadfunnel.cycle_time_sketch(d) IS NULL AS sketch_of_nothing_is_null FROM (VALUES (NULL::interval)) v(d) WHERE false;
SELECT try($$SELECT leadfunnel.cycle_time_sketch('1 day')$$);
SELECT leadfunnel.cycle_time_merge(s) IS NULL AS merge_of_nulls_is_null FROM (VALUES (NULL::leadfunnel.cycle_time_sketch)) v(s);
SELECT try($$SELECT leadfunnel.cycle_time_add('v1 n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=1112:1', interval '-1 day')$$);
SELECT try($$SELECT leadfunnel.cycle_time_remove(NULL, interval '1 day')$$);
SELECT try($$SELECT leadfunnel.cycle_time_remove(leadfunnel.cycle_time_sketch(interval '1 day'), interval '2 days')$$);
SELECT try($$SELECT leadfunnel.cycle_time_remove(leadfunnel.cycle_time_sketch(interval '1 day'), interval '1 hour')$$);
SELECT try(format('SELECT leadfunnel.cycle_time_quantile(%L, %s)', 'v1 n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=1112:1', q))
  FROM (VALUES ('''NaN''::float8'), ('''Infinity''::float8'), ('-0.000001'), ('1.000001'), ('NULL')) v(q);
SELECT leadfunnel.cycle_time_quantile('v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=', 0.5) IS NULL AS empty_sketch_quantile_null;
SELECT (leadfunnel.cycle_time_stats('v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=')).*;
SELECT leadfunnel.cycle_time_combine(NULL, NULL) IS NULL AS combine_nulls;
-- text input of the state types: garbage, truncated, other versions, huge or inconsistent counts
SELECT try(format('SELECT %L::leadfunnel.cycle_time_sketch', v)) FROM (VALUES
    ('garbage'), ('v1'), ('v1 n=1 zero=0 max=5 max_n=1 sum=5'), ('V1 n=0 zero=0 max=0 max_n=0 sum=0 bins='),
    ('v0 n=0 zero=0 max=0 max_n=0 sum=0 bins='), ('v1 n=-1 zero=0 max=0 max_n=0 sum=0 bins='),
    ('v1 n=9223372036854775807 zero=9223372036854775807 max=0 max_n=0 sum=0 bins='),
    ('v1 n=2 zero=0 max=3600000000 max_n=1 sum=7200000000 bins=1112:9223372036854775807,1113:9223372036854775807'),
    ('v1 n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=1112:1,'),
    ('v1 n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=-1:1'),
    ('v1 n=1 zero=1 max=0 max_n=2 sum=0 bins=')) v(v);
SELECT try(format('SELECT %L::leadfunnel.funnel_reach_state', v)) FROM (VALUES
    ('garbage'), ('{'), ('{mql}'), ('{mql:}'), ('{mql:1,mql:1}'), ('{visitor:1,,lead:1}'), ('{mql:99999999999999999999}'), ('{MQL:1}')) v(v);
SELECT try(format('SELECT %L::leadfunnel.window_funnel_state', v)) FROM (VALUES
    ('garbage'), ('{window:}'), ('{window:1,mql:}'), ('{window:1,mql:9223372036854775807}'), ('{window:99999999999999999999}'),
    ('{window:1,visitor:1,visitor:2}'), ('{window:1,mql:1') ) v(v);
-- binary receive, through COPY FROM ... (FORMAT binary) of a hand-made file:
-- empty, wrong version, truncated, huge counts, trailing bytes
CREATE TABLE recv_sketch (sketch leadfunnel.cycle_time_sketch);
CREATE TABLE recv_reach (reach leadfunnel.funnel_reach_state);
CREATE TABLE recv_wf (wf leadfunnel.window_funnel_state);
SELECT what, copy_in_binary(tbl, payload) AS outcome FROM (VALUES
    ('sketch: empty', 'recv_sketch', ''::bytea),
    ('sketch: version 2', 'recv_sketch', '\x02'::bytea || substr(leadfunnel.cycle_time_sketch_send('v1 n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=1112:1'), 2)),
    ('sketch: header only', 'recv_sketch', substr(leadfunnel.cycle_time_sketch_send('v1 n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=1112:1'), 1, 9)),
    ('sketch: huge bin count', 'recv_sketch', substr(leadfunnel.cycle_time_sketch_send('v1 n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=1112:1'), 1, 53)
                                  || int4send(2147483647) || int8send(1)),
    ('sketch: negative count', 'recv_sketch', '\x01'::bytea || int8send(-5) || substr(leadfunnel.cycle_time_sketch_send('v1 n=0 zero=0 max=0 max_n=0 sum=0 bins='), 10)),
    ('sketch: valid', 'recv_sketch', leadfunnel.cycle_time_sketch_send('v1 n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=1112:1')),
    ('reach: empty', 'recv_reach', ''::bytea),
    ('reach: short', 'recv_reach', substr(leadfunnel.funnel_reach_state_send('{mql:1}'), 1, 20)),
    ('reach: negative', 'recv_reach', overlay(leadfunnel.funnel_reach_state_send('{mql:1}') PLACING int8send(-1) FROM length(leadfunnel.funnel_reach_state_send('{mql:1}')) - 7 FOR 8)),
    ('reach: trailing', 'recv_reach', leadfunnel.funnel_reach_state_send('{mql:1}') || '\x00'::bytea),
    ('window: empty', 'recv_wf', ''::bytea),
    ('window: short', 'recv_wf', substr(leadfunnel.window_funnel_state_send('{window:1,mql:1}'), 1, 7)),
    ('window: negative window', 'recv_wf', overlay(leadfunnel.window_funnel_state_send('{window:1,mql:1}') PLACING int8send(-1) FROM 2 FOR 8)),
    ('window: 0.2.0 value', 'recv_wf', '\x01'::bytea || int8send(86400000000) || int2send(6::int2) || int8send(788918400000000) || int8send(789004800000000)),
    ('window: 0.2.0 lost', 'recv_wf', '\x01'::bytea || int8send(1) || int2send(2048::int2) || int8send(5)),
    ('window: 0.2.0 short', 'recv_wf', '\x01'::bytea || int8send(1) || int2send(6::int2) || int8send(5)),
    ('window: version 3', 'recv_wf', '\x03'::bytea || substr(leadfunnel.window_funnel_state_send('{window:1,mode:default,until:won,events:[mql:1]}'), 2)),
    ('window: huge event count', 'recv_wf', '\x02'::bytea || int8send(1) || '\x0008'::bytea || int4send(2147483647)),
    ('window: negative event count', 'recv_wf', '\x02'::bytea || int8send(1) || '\x0008'::bytea || int4send(-1)),
    ('window: stage 12', 'recv_wf', '\x02'::bytea || int8send(1) || '\x0008'::bytea || int4send(1) || int8send(5) || '\x0c'::bytea),
    ('window: unknown mode', 'recv_wf', '\x02'::bytea || int8send(1) || '\x4008'::bytea || int4send(0)),
    ('window: trailing', 'recv_wf', leadfunnel.window_funnel_state_send('{window:1,mode:default,until:won,events:[mql:1]}') || '\x00'::bytea),
    ('window: valid', 'recv_wf', leadfunnel.window_funnel_state_send('{window:1,mode:strict_order+strict_increase,until:sql,events:[lost:1,mql:1]}'))
  ) v(what, tbl, payload);
DROP TABLE recv_sketch, recv_reach, recv_wf;

-- window_funnel
SELECT try($$SELECT leadfunnel.window_funnel(NULL, '2024-01-01', 'mql')$$);
SELECT try($$SELECT leadfunnel.window_funnel('-1 microsecond', '2024-01-01', 'mql')$$);
SELECT try($$SELECT leadfunnel.window_funnel('300000 years', '2024-01-01', 'mql')$$);
SELECT try($$SELECT leadfunnel.window_funnel(w, '2024-01-01', 'mql') FROM (VALUES (interval '1 day'), (interval '2 days')) v(w)$$);
SELECT try($$SELECT leadfunnel.window_funnel_combine('{window:1}', '{window:2}')$$);
SELECT leadfunnel.window_funnel('1 day', t, s) AS only_skipped_events
  FROM (VALUES ('infinity'::timestamptz, 'mql'::leadfunnel.lead_stage), ('-infinity', 'lead'), (NULL, 'tal'), ('2024-01-01', NULL), ('2024-01-01', 'lost')) v(t, s);
SELECT leadfunnel.window_funnel('0', t, s) AS zero_window, leadfunnel.window_funnel('0', t, s, 'skip_allowed') AS zero_window_skip_allowed,
       leadfunnel.window_funnel('0', t, s, 'strict_increase') AS zero_window_strict_increase
  FROM (VALUES ('2024-01-01'::timestamptz, 'visitor'::leadfunnel.lead_stage), ('2024-01-01', 'lead'), ('2024-01-01', 'mql'),
               ('2024-01-01 00:00:00.000001', 'tal')) v(t, s);
-- modes: unknown, misspelt, combinations ClickHouse refuses, NULL, varying between rows or states
SELECT try(format($$SELECT leadfunnel.window_funnel('1 day', '2024-01-01', 'mql', %L)$$, m)) FROM (VALUES
    ('strict'), ('strict_once'), ('allow_reentry'), ('strict_order,skip_allowed'), ('strict_ordr'), ('until=lost'),
    ('until=nosuch'), ('strict_order;'), (NULL)) v(m);
SELECT try($$SELECT leadfunnel.window_funnel('1 day', '2024-01-01', 'mql', m) FROM (VALUES ('strict_order'), ('')) v(m)$$);
SELECT try($$SELECT leadfunnel.window_funnel_combine('{window:1,mode:default,until:won,events:[]}', '{window:1,lead:5}')$$);
SELECT leadfunnel.window_funnel('1 day', '2024-01-01', 'mql', m) AS valid_modes, m
  FROM (VALUES (''), ('default'), (' strict_order , strict_deduplication '), ('strict_order+allow_reentry'),
               ('strict_increase,until=sql'), ('skip_allowed')) v(m) GROUP BY m ORDER BY m;
-- state text forms of 0.3.0 that are malformed or inconsistent
SELECT try(format('SELECT %L::leadfunnel.window_funnel_state', v)) FROM (VALUES
    ('{window:1,mode:,until:won,events:[]}'), ('{window:1,mode:strict_order+strict_order,until:won,events:[]}'),
    ('{window:1,mode:allow_reentry,until:won,events:[]}'), ('{window:1,mode:default,until:lost,events:[]}'),
    ('{window:1,mode:default,until:won,events:[lost:5]}'), ('{window:1,mode:default,until:mql,events:[sql:5]}'),
    ('{window:1,mode:skip_allowed,until:won,events:[mql:5,mql:6]}'), ('{window:1,mode:default,until:won,events:[mql:9223372036854775807]}'),
    ('{window:1,mode:default,until:won,events:[mql:5]'), ('{window:1,mode:default,until:won,events:[mql:5,]}')) v(v);
-- and one that is valid: events in any order are kept, output in (time, step) order
SELECT '{window:1,mode:strict_order,until:sql,events:[mql:7,lost:5,visitor:5,won:6]}'::leadfunnel.window_funnel_state::text AS normalized;

-- attribution_weights
SELECT leadfunnel.attribution_weights(NULL, '{2025-01-01}', NULL, NULL, NULL) AS null_model,
       leadfunnel.attribution_weights('linear', NULL, NULL, NULL, NULL) AS null_touches,
       leadfunnel.attribution_weights('linear', '{}', NULL, NULL, NULL) AS no_touches,
       leadfunnel.attribution_weights('linear', '{NULL,NULL}', NULL, NULL, NULL) AS null_touches_weigh_0,
       leadfunnel.attribution_weights('time_decay', '{2025-01-01}', NULL, NULL, NULL, NULL) AS null_half_life;
SELECT try($$SELECT leadfunnel.attribution_weights('time_decay', '{2025-01-01}', NULL, NULL, NULL, '1 mon -31 days')$$);
SELECT try($$SELECT leadfunnel.attribution_weights('first_touch', '{2025-01-01}', NULL, NULL, NULL, '0')$$);
SELECT try($$SELECT leadfunnel.attribution_weights('linear', '{{2025-01-01}}', NULL, NULL, NULL)$$);
SELECT try($$SELECT leadfunnel.attribution_weights('linear', '{2025-01-01}', 'NaN', NULL, NULL)$$);
SELECT try($$SELECT leadfunnel.attribution_weights('nearest', '{2025-01-01}', NULL, NULL, NULL)$$);
SELECT leadfunnel.attribution_weights('time_decay', '{-infinity,2025-01-01,infinity}', NULL, NULL, NULL) AS infinite_touches,
       leadfunnel.attribution_weights('full_path', '{2025-01-01,2025-01-02}', 'infinity', '-infinity', 'infinity') AS infinite_milestones,
       leadfunnel.attribution_weights('time_decay', '{2025-01-01,2025-01-02}', NULL, NULL, NULL, '1 microsecond') AS tiny_half_life,
       leadfunnel.attribution_weights('time_decay', '{4713-01-01 BC,294276-12-31}', NULL, NULL, NULL, '1 microsecond') AS extreme_times,
       (SELECT array_agg(round(w::numeric, 9)) FROM unnest(leadfunnel.attribution_weights('time_decay', '{2025-01-01,2025-01-08}', NULL, NULL, NULL, '178000000 years')) w) AS huge_half_life,
       leadfunnel.attribution_weights('linear', '[5:6]={2025-01-01,2025-01-02}', NULL, NULL, NULL) AS keeps_subscripts;
-- 10,000 touches: one weight each, summing to 1 under every model
SELECT m AS model, count(*) AS weights, round(sum(w)::numeric, 9) AS total, min(w) >= 0 AS none_negative
  FROM unnest(enum_range(NULL::leadfunnel.attribution_model)) m,
       unnest(leadfunnel.attribution_weights(m, (SELECT array_agg('2025-01-01'::timestamptz + i * interval '1 minute') FROM generate_series(1, 10000) i),
                                             '2025-01-03', '2025-01-05', '2025-01-08')) w
 GROUP BY m ORDER BY m;
-- touch_credit, campaign_credit, attribution_totals
SELECT count(*) AS credit_rows_for_nulls FROM leadfunnel.touch_credit(NULL, NULL, NULL, NULL, NULL);
SELECT try($$SELECT * FROM leadfunnel.touch_credit('{2025-01-01}', '{1,2}', NULL, NULL, NULL)$$);
SELECT try($$SELECT * FROM leadfunnel.touch_credit('{2025-01-01}', '{{1}}', NULL, NULL, NULL)$$);
SELECT try($$SELECT * FROM leadfunnel.touch_credit('{2025-01-01}', NULL, NULL, NULL, NULL, '-1 day')$$);
SELECT count(*) AS credit_rows_without_campaigns FROM leadfunnel.campaign_credit('{2025-01-01}', NULL, NULL, NULL, NULL, NULL);
SELECT try($$SELECT * FROM leadfunnel.campaign_credit('{2025-01-01,2025-01-02}', NULL, '{1}', NULL, NULL, NULL)$$);
SELECT model, campaign_id, credit FROM leadfunnel.campaign_credit('{2025-01-01,2025-01-02}', NULL, '{NULL,7}', NULL, NULL, NULL) ORDER BY model, campaign_id;
SELECT try($$SELECT leadfunnel.attribution_totals(t, NULL, c, NULL, NULL, NULL, '7 days', 1, 1) FROM (VALUES ('{2025-01-01}'::timestamptz[], '{1,2}'::bigint[])) v(t, c)$$);
SELECT try($$SELECT leadfunnel.attribution_totals(t, NULL, c, NULL, NULL, NULL, '0', 1, 1) FROM (VALUES ('{2025-01-01}'::timestamptz[], '{1}'::bigint[])) v(t, c)$$);
SELECT leadfunnel.attribution_totals(t, NULL, c, NULL, NULL, NULL, h, 1, 1) AS rows_with_nulls_add_nothing
  FROM (VALUES (NULL::timestamptz[], '{1}'::bigint[], interval '7 days'), ('{2025-01-01}', '{1}', NULL)) v(t, c, h);
SELECT leadfunnel.attribution_totals(t, NULL, c, NULL, NULL, NULL, '7 days', 1, 1) AS over_no_rows
  FROM (VALUES ('{2025-01-01}'::timestamptz[], '{1}'::bigint[])) v(t, c) WHERE false;

-- lifecycle
SELECT bad2.account_status_at(999999, '2025-01-01') AS unknown_account,
       bad2.account_status_at(1, NULL) AS null_time,
       bad2.account_status_at(NULL, '2025-01-01') AS null_account,
       bad2.account_status_at(1, '-infinity') AS at_minus_infinity,
       bad2.account_status_at(1, 'infinity') = bad2.account_status_at(1, '294276-12-31') AS at_infinity_as_latest;
SELECT count(*) AS history_of_unknown FROM bad2.account_status_history(999999);
SELECT try($$SELECT leadfunnel.refresh_lifecycle('public')$$);
SELECT try($$SELECT leadfunnel.refresh_lifecycle(NULL)$$);
SELECT leadfunnel.refresh_lifecycle('bad2', NULL) AS null_recompute_means_false;
SELECT try($$SELECT leadfunnel.lifecycle_status_at('pg_class', 'pg_class', 'pg_class', 1, now())$$);
SELECT try($$SELECT leadfunnel.lifecycle_refresh('bad2.account', 'bad2.contact', NULL, 'bad2.lead_stage_history', 'bad2.account_event', false)$$);
SELECT try($$UPDATE bad2.account SET churned_at = '2999-01-01' WHERE account_id = 1$$);
SELECT try($$UPDATE bad2.account SET churned_at = '-infinity' WHERE account_id = 1$$);
SELECT try($$UPDATE bad2.account SET status = 'advocate', status_since = '2020-01-01' WHERE account_id = 1$$);
SELECT try($$UPDATE bad2.lead SET motion = 'win_back' WHERE lead_id = 1$$);
SELECT try($$INSERT INTO bad2.account_event VALUES (1, '2024-01-01', 'bankrupt', '2024-01-02', 'crm')$$);
SELECT try($$INSERT INTO bad2.account_event VALUES (999999, '2024-01-01', 'churned', '2024-01-02', 'crm')$$);
SELECT try($$INSERT INTO bad2.account_event VALUES (1, NULL, 'churned', '2024-01-02', 'crm')$$);
-- given values of maintained columns in an INSERT are replaced by the derived ones (documented)
INSERT INTO bad2.account (account_id, name, status, status_since) VALUES (5000, 'given status', 'advocate', '2020-01-01');
INSERT INTO bad2.contact (contact_id, account_id, opt_in, status) VALUES (5000, 5000, false, 'customer');
SELECT a.account_id, a.status, a.status_since, c.status AS contact_status
  FROM bad2.account a JOIN bad2.contact c USING (account_id) WHERE a.account_id = 5000;
-- a failed multi-row UPDATE of churned_at writes no event and changes no status
SELECT count(*) AS events_before FROM bad2.account_event \gset
SELECT try($$UPDATE bad2.account SET churned_at = CASE account_id WHEN 1 THEN timestamptz '2025-06-01' ELSE 'infinity' END WHERE account_id IN (1, 2)$$);
SELECT count(*) - :events_before AS events_written FROM bad2.account_event;

-- settings, demo helpers, create_model, upgrade_model
SELECT try($$SELECT leadfunnel.set_setting('time_decay_half_life', '0')$$);
SELECT leadfunnel.setting_value(NULL) IS NULL AS null_setting_is_null;
SELECT try($$SELECT leadfunnel.generate_demo_touches('bad2', 0.1, NULL)$$);
SELECT try($$SELECT leadfunnel.generate_demo_touches('bad2', 'NaN')$$);
SELECT try($$SELECT leadfunnel.generate_demo_lifecycle('bad2', 5)$$);
SELECT try($$SELECT leadfunnel.create_model('bad2_null', NULL)$$);
SELECT count(*) AS schema_bad2_null FROM pg_namespace WHERE nspname = 'bad2_null';
SELECT try($$SELECT leadfunnel.create_model('bad2')$$);
SELECT try($$SELECT leadfunnel.upgrade_model('')$$);
SELECT try($$SELECT leadfunnel.upgrade_model('pg_catalog')$$);
SELECT leadfunnel.upgrade_model('bad2') AS upgrade_current_model;
SELECT try($$SELECT leadfunnel.model_add_attribution(NULL)$$);
SELECT try($$SELECT leadfunnel.model_add_lifecycle('nosuch')$$);
SELECT try($$SELECT leadfunnel.model_add_analytics('public')$$);

-- nothing half-written by the failures above
SELECT (SELECT count(*) FROM bad2.lead) - :before_leads AS leads_added,
       (SELECT count(*) FROM bad2.touch) - :before_touches AS touches_added,
       (SELECT count(*) FROM bad2.account_event) - :before_events AS events_added;
SELECT count(*) AS violations FROM leadfunnel.verify_model('bad2');
SET client_min_messages = warning;
DROP SCHEMA bad2 CASCADE;
RESET client_min_messages;
