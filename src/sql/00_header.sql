-- leadfunnel install script, assembled by the Makefile from the files in
-- src/sql in name order (one file per concern).  Do not edit the assembled copy.
\echo Use "CREATE EXTENSION leadfunnel" to load this file. \quit
