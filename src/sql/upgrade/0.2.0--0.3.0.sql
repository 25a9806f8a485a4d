-- leadfunnel upgrade 0.2.0 -> 0.3.0, hand-written part: runs first, before the
-- files new in 0.3.0 and the current definitions of the changed objects that
-- the Makefile appends (UPGRADE_NEW, UPGRADE_REPLACE; see doc/releasing.md).
-- Put here what CREATE OR REPLACE cannot do: DROP of objects 0.3.0 no longer
-- has or whose signature or result type changed (then list them in
-- UPGRADE_REPLACE too, or add their new definition here), ALTER of the
-- extension's tables, migrations of the extension's configuration rows.
-- Models (the users' schemas) are not touched here: after ALTER EXTENSION
-- UPDATE their owners run leadfunnel.upgrade_model().
\echo Use "ALTER EXTENSION leadfunnel UPDATE" to load this file. \quit

-- window_funnel is ClickHouse's windowFunnel (issue 14): its state holds the
-- events; the 0.2.0 rule is the mode skip_allowed, and 0.2.0 states (format
-- version 1) are read as such.  New functions and comments follow in the
-- replaced definitions; the type's comment is here.
COMMENT ON TYPE @extschema@.window_funnel_state IS
'State of the window_funnel aggregate: the window, the mode and the events (time, stage) of the group (skip_allowed: the earliest time per stage). Text form {window:usec,mode:names joined by + or default,until:stage,events:[stage:usec,...]} (times in microseconds since 2000-01-01 UTC, in time order); binary form: version byte 2, int64 window, mode byte, last-step byte, int32 count, per event int64 time and stage byte. Version 1 (leadfunnel 0.2.0) is read as a skip_allowed state.';

-- attribution models j_shaped and inverse_j (issue 15).  A label added here
-- cannot be used before this transaction commits (PostgreSQL 15: "unsafe use
-- of new value"): nothing below names them as literals; the C code maps the
-- labels by name through the catalog, and the views list the models with
-- enum_range() when queried, after the upgrade has committed.
ALTER TYPE @extschema@.attribution_model ADD VALUE IF NOT EXISTS 'j_shaped';
ALTER TYPE @extschema@.attribution_model ADD VALUE IF NOT EXISTS 'inverse_j' AFTER 'j_shaped';
-- attribution_totals_state: format 2 with the two new models (format 1 still read)
COMMENT ON TYPE @extschema@.attribution_totals_state IS
'State of the attribution_totals aggregate: per campaign, 27 sums (for each of the 9 built-in attribution models: credit, credit times pipeline amount, credit times won amount) as 128-bit fixed-point integers in units of 2^-40, so that sums do not depend on the order of rows or on how states are combined. Text form v2 <campaign_id|null>:<27 integers>,... (campaigns in increasing order, null last); binary form: version byte 2, int32 count, per campaign a null flag byte, int64 id and 27 int128 (high, low int64). Format 1 (0.2.0: 7 models, 21 sums) is still read, j_shaped and inverse_j 0.';
