#!/usr/bin/env bash
# The reference in doc/*.md is complete, read from the catalogs of a fresh
# database with the extension and a model (so objects added later are checked
# too, without a list to maintain here):
#  (a) every type, function, aggregate, table and view of schema leadfunnel,
#      every table, view and function create_model() puts in the model schema,
#      and every setting is MENTIONED: its name appears inside a code span
#      (`...` or a fenced block) of doc/*.md, as a whole identifier
#      (`leadfunnel.cycle_time(...)` mentions cycle_time).  Rule for the I/O
#      functions of a base type T (T_in, T_out, T_send, T_recv): they are
#      covered by one line that names `T` in a code span together with the
#      strings _in, _out, _send and _recv.  Every view column (model views and
#      leadfunnel's views) is mentioned in a code span of a section (text
#      between two headings) that also names its view in a code span.
#  (b) every such type, function, aggregate, table, view, view column and
#      table column (model tables and the extension's own tables) has a COMMENT.
#  (c) every SQLSTATE the sources raise -- errcode(ERRCODE_...) in src/*.c,
#      mapped to its code through the server's utils/errcodes.h, and
#      USING ERRCODE = '...' (a code or a condition name) in src/sql/*.sql --
#      is in the first cell of a row of an error table (a table under a heading
#      "Errors") of doc/*.md.
# Prints what is missing; exits non-zero when anything is.
set -euo pipefail
. "$(dirname "$0")/../../tools/lib.sh"
cd "$LF_ROOT"
db=leadfunnel_docs
lf_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
lf_psql -d "$db" -c "CREATE EXTENSION leadfunnel" -c "SELECT leadfunnel.create_model('crm')" >/dev/null

# kind <TAB> name [<TAB> view]: what must be mentioned.
lf_psql -d "$db" -At -F $'\t' > "$LF_TMP/docs_objects" <<'SQL'
SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' ELSE 'function' END
       || CASE WHEN n.nspname = 'leadfunnel' THEN '' ELSE ' (model)' END, p.proname
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('leadfunnel', 'crm')
UNION
SELECT 'type', t.typname FROM pg_type t
 WHERE t.typnamespace = 'leadfunnel'::regnamespace AND t.typrelid = 0 AND t.typelem = 0
UNION
SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END
       || CASE WHEN c.relnamespace = 'leadfunnel'::regnamespace THEN '' ELSE ' (model)' END, c.relname
  FROM pg_class c WHERE c.relnamespace IN ('leadfunnel'::regnamespace, 'crm'::regnamespace) AND c.relkind IN ('r', 'p', 'v', 'm')
UNION
SELECT 'setting', name FROM leadfunnel.setting_default
ORDER BY 1, 2;
SELECT 'column', a.attname, c.relname
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace IN ('leadfunnel'::regnamespace, 'crm'::regnamespace) AND c.relkind IN ('v', 'm')
 ORDER BY 3, 2;
SQL
# base types whose I/O functions fall under the one-line rule
lf_psql -d "$db" -At > "$LF_TMP/docs_basetypes" \
    -c "SELECT typname FROM pg_type WHERE typnamespace = 'leadfunnel'::regnamespace AND typtype = 'b' AND typelem = 0"

# (b) objects without a COMMENT.
lf_psql -d "$db" -At > "$LF_TMP/docs_uncommented" <<'SQL'
SELECT 'no COMMENT on ' || CASE p.prokind WHEN 'a' THEN 'aggregate ' ELSE 'function ' END || p.oid::regprocedure::text
  FROM pg_proc p WHERE p.pronamespace IN ('leadfunnel'::regnamespace, 'crm'::regnamespace)
   AND obj_description(p.oid, 'pg_proc') IS NULL
UNION ALL
SELECT 'no COMMENT on type ' || t.oid::regtype::text FROM pg_type t
 WHERE t.typnamespace = 'leadfunnel'::regnamespace AND t.typrelid = 0 AND t.typelem = 0
   AND obj_description(t.oid, 'pg_type') IS NULL
UNION ALL
SELECT 'no COMMENT on ' || CASE c.relkind WHEN 'v' THEN 'view ' ELSE 'table ' END || c.oid::regclass::text
  FROM pg_class c WHERE c.relnamespace IN ('leadfunnel'::regnamespace, 'crm'::regnamespace) AND c.relkind IN ('r', 'p', 'v', 'm')
   AND obj_description(c.oid, 'pg_class') IS NULL
UNION ALL
SELECT 'no COMMENT on column ' || c.oid::regclass::text || '.' || quote_ident(a.attname)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace IN ('leadfunnel'::regnamespace, 'crm'::regnamespace) AND c.relkind IN ('r', 'p', 'v', 'm')
   AND col_description(c.oid, a.attnum) IS NULL
ORDER BY 1;
SQL

# (c) SQLSTATEs raised by the sources.
errcodes_h="$("$(lf_pg_config)" --includedir-server)/utils/errcodes.h"
{
    grep -ohE 'errcode\(\s*ERRCODE_[A-Z0-9_]+' src/*.c | sed 's/.*(\s*//'
    grep -ohiE "ERRCODE\s*=\s*'[^']+'" src/sql/*.sql | sed -E "s/.*'([^']+)'/\1/"
} | sort -u > "$LF_TMP/docs_errcodes"

perl -e '
    use strict; use warnings;
    my ($objects, $basetypes, $uncommented, $errcodes, $errcodes_h, @docs) = @ARGV;
    my @missing;
    # identifiers in code spans, per document and per section
    my (%mentioned, @sections, @lines);
    for my $doc (@docs) {
        open my $fh, "<", $doc or die "$doc: $!";
        my ($fenced, $sec) = (0, { name => "$doc (top)", ids => {} });
        push @sections, $sec;
        while (my $line = <$fh>) {
            push @lines, $line;
            if ($line =~ /^```/) { $fenced = !$fenced; next; }
            if (!$fenced && $line =~ /^#+\s/) {
                $sec = { name => "$doc: $line", ids => {} };
                push @sections, $sec;
            }
            my @spans = $fenced ? ($line) : ($line =~ /`([^`]+)`/g);
            for my $span (@spans) {
                for my $id ($span =~ /([A-Za-z_][A-Za-z0-9_]*)/g) {
                    $mentioned{$id} = 1; $sec->{ids}{$id} = 1;
                }
            }
        }
    }
    my %base = map { chomp; ($_ => 1) } do { open my $b, "<", $basetypes or die; <$b> };
    open my $ofh, "<", $objects or die;
    while (<$ofh>) {
        chomp; my ($kind, $name, $view) = split /\t/;
        if ($kind eq "column") {
            next if grep { $_->{ids}{$view} && $_->{ids}{$name} } @sections;
            push @missing, "column $view.$name is not described in a section that names `$view`";
            next;
        }
        next if $mentioned{$name};
        if ($name =~ /^(.+)_(in|out|send|recv)$/ && $base{$1}) {
            my $t = $1;
            next if grep { /`[^`]*\b\Q$t\E\b[^`]*`/ && /_in\b/ && /_out\b/ && /_send\b/ && /_recv\b/ } @lines;
        }
        push @missing, "$kind $name is not mentioned in doc/*.md";
    }
    open my $ufh, "<", $uncommented or die;
    while (<$ufh>) { chomp; push @missing, $_ if length; }
    # SQLSTATEs
    my %code;
    open my $hfh, "<", $errcodes_h or die "$errcodes_h: $!";
    while (<$hfh>) {
        next unless /#define\s+(ERRCODE_\w+)\s+MAKE_SQLSTATE\((.*)\)/;
        my ($macro, $args) = ($1, $2);
        my $c = join "", $args =~ /\x27(.)\x27/g;
        $code{$macro} = $c;
        (my $cond = lc $macro) =~ s/^errcode_//;
        $code{$cond} //= $c;
    }
    my %documented;
    my $in_errors = 0;
    for (@lines) {
        if (/^#+\s*(.*)/) { $in_errors = ($1 =~ /\berrors\b/i); next; }
        next unless $in_errors && /^\|([^|]*)\|/;
        $documented{$_} = 1 for $1 =~ /\b([0-9A-Z]{5})\b/g;
    }
    open my $efh, "<", $errcodes or die;
    while (my $e = <$efh>) {
        chomp $e;
        my $c = $e =~ /^[0-9A-Z]{5}$/ ? $e : $code{$e} // $code{lc $e};
        unless (defined $c) { push @missing, "cannot map $e to a SQLSTATE"; next; }
        push @missing, "SQLSTATE $c ($e) is raised by the sources but is in no error table of doc/*.md"
            unless $documented{$c};
    }
    if (@missing) { print "docs: $_\n" for @missing; printf "docs: %d problem(s)\n", scalar @missing; exit 1; }
    print "docs: every object, setting, view column, COMMENT and SQLSTATE is covered\n";
' "$LF_TMP/docs_objects" "$LF_TMP/docs_basetypes" "$LF_TMP/docs_uncommented" "$LF_TMP/docs_errcodes" \
  "$errcodes_h" doc/*.md
