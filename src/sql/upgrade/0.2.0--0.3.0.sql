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
