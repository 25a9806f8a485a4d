#!/usr/bin/env bash
# META.json is valid JSON with the keys the PGXN meta spec 1.0.0 requires, and
# its versions agree with leadfunnel.control (no validator is packaged in Debian).
set -euo pipefail
cd "$(dirname "$0")/../.."
control_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" leadfunnel.control)
perl -MJSON::PP -e '
    local $/; open my $fh, "<", "META.json" or die "META.json: $!";
    my $m = JSON::PP->new->decode(<$fh>);
    my @missing = grep { !exists $m->{$_} } qw(name abstract version maintainer license provides meta-spec);
    die "META.json lacks: @missing\n" if @missing;
    die "meta-spec version must be 1.0.0\n" unless $m->{"meta-spec"}{version} eq "1.0.0";
    die "name must be leadfunnel\n" unless $m->{name} eq "leadfunnel";
    die "version $m->{version} is not SemVer\n" unless $m->{version} =~ /^\d+\.\d+\.\d+$/;
    die "version $m->{version} differs from the control file ($ARGV[0])\n" unless $m->{version} eq $ARGV[0];
    my $p = $m->{provides}{leadfunnel} or die "provides.leadfunnel missing\n";
    die "provides.leadfunnel needs file and version\n" unless $p->{file} && $p->{version};
    die "provides.leadfunnel.version differs\n" unless $p->{version} eq $ARGV[0];
    -e $p->{file} or die "provides file $p->{file} does not exist\n";
    -e $p->{docfile} or die "docfile $p->{docfile} does not exist\n" if $p->{docfile};
    die "prereqs must require PostgreSQL\n" unless $m->{prereqs}{runtime}{requires}{PostgreSQL};
    print "META.json: ok ($m->{version})\n";
' "$control_version"
