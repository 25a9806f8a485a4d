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
