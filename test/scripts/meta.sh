#!/usr/bin/env bash
# META.json against the PGXN Meta Spec 1.0 (https://pgxn.org/meta/spec.txt; the
# rules of its JSON schema, pgxn/meta schema/v1, written out here: no validator
# is packaged in Debian): the required keys, no unknown keys (except x_*), the
# types and patterns of every value (Term, SemVer, License, Tags, Prereqs,
# Resources), and for leadfunnel: the versions agree with leadfunnel.control,
# the files that provides names are in the release archive (tracked by git),
# and a bug tracker, if any, is not PGXN's own distribution page.
set -euo pipefail
cd "$(dirname "$0")/../.."
control_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" leadfunnel.control)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then in_git=1; else in_git=0; fi
perl -MJSON::PP -e '
    use strict; use warnings;
    my ($control_version, $in_git) = @ARGV;
    local $/; open my $fh, "<", "META.json" or die "META.json: $!";
    my $m = JSON::PP->new->decode(<$fh>);
    my @err;
    my $semver = qr/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
    my $term = qr/^[^\/\\\s\p{Cntrl}]{2,}$/;
    my $uri = qr/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/;
    my %licenses = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd freebsd gfdl_1_2 gfdl_1_3
        gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0 mozilla_1_1 openssl perl_5 postgresql qpl_1_0 ssleay sun zlib
        open_source restricted unrestricted unknown);
    my $custom = sub { $_[0] =~ /^[xX]_./ };
    my $str = sub { defined $_[0] && !ref $_[0] && length $_[0] > 0 };
    my $keys = sub {
        my ($what, $h, @allowed) = @_;
        my %ok = map { $_ => 1 } @allowed;
        push @err, "$what: unknown key $_" for grep { !$ok{$_} && !$custom->($_) } sort keys %$h;
    };
    ref $m eq "HASH" or die "META.json: not an object\n";
    push @err, "missing required key $_" for grep { !exists $m->{$_} } qw(name version abstract maintainer license provides meta-spec);
    $keys->("META.json", $m, qw(name version abstract maintainer license provides meta-spec description generated_by tags no_index prereqs release_status resources));
    push @err, "name is not a Term" unless $str->($m->{name}) && $m->{name} =~ $term;
    push @err, "name must be leadfunnel" unless ($m->{name} // "") eq "leadfunnel";
    push @err, "version is not SemVer" unless $str->($m->{version}) && $m->{version} =~ $semver;
    push @err, "version $m->{version} differs from the control file ($control_version)" unless ($m->{version} // "") eq $control_version;
    for my $k (qw(abstract description generated_by)) { push @err, "$k must be a non-empty string" if exists $m->{$k} && !$str->($m->{$k}) }
    my $mt = $m->{maintainer};
    push @err, "maintainer must be a string or a non-empty array of strings"
        unless $str->($mt) || (ref $mt eq "ARRAY" && @$mt && !grep { !$str->($_) } @$mt);
    my $lic = $m->{license};
    push @err, "license is not a known license, a list of them, or an object of URIs"
        unless (!ref $lic && $licenses{$lic // ""}) || (ref $lic eq "ARRAY" && @$lic && !grep { ref $_ || !$licenses{$_} } @$lic)
            || (ref $lic eq "HASH" && %$lic && !grep { !$str->($_) || $_ !~ $uri } values %$lic);
    my $ms = $m->{"meta-spec"};
    if (ref $ms eq "HASH") {
        $keys->("meta-spec", $ms, qw(version url));
        push @err, "meta-spec.version must be 1.0.x" unless ($ms->{version} // "") =~ /^1\.0\.\d+$/;
        push @err, "meta-spec.url must be https://pgxn.org/meta/spec.txt" if exists $ms->{url} && $ms->{url} !~ m{^https?://pgxn\.org/meta/spec\.txt$};
    } else { push @err, "meta-spec must be an object" }
    my $pv = $m->{provides};
    if (ref $pv eq "HASH" && %$pv) {
        for my $ext (sort keys %$pv) {
            my $p = $pv->{$ext};
            push @err, "provides: $ext is not a Term" unless $ext =~ $term;
            ref $p eq "HASH" or do { push @err, "provides.$ext must be an object"; next };
            $keys->("provides.$ext", $p, qw(file version abstract docfile));
            push @err, "provides.$ext needs file and version" unless $str->($p->{file}) && $str->($p->{version});
            push @err, "provides.$ext.version is not SemVer" unless ($p->{version} // "") =~ $semver;
            push @err, "provides.$ext.abstract must be a non-empty string" if exists $p->{abstract} && !$str->($p->{abstract});
            for my $f (grep { exists $p->{$_} } qw(file docfile)) {
                my $path = $p->{$f};
                if (!$str->($path) || $path =~ m{^/|\\|(^|/)\.\.(/|$)}) { push @err, "provides.$ext.$f must be a relative unix path"; next }
                if (!-f $path) { push @err, "provides.$ext.$f: $path does not exist"; next }
                if ($in_git && system("sh", "-c", "git ls-files --error-unmatch -- \"\$1\" >/dev/null 2>&1", "sh", $path) != 0) {
                    push @err, "provides.$ext.$f: $path is not tracked by git, so not in the release archive";
                }
            }
        }
        my $p = $pv->{leadfunnel};
        push @err, "provides.leadfunnel missing" unless $p;
        push @err, "provides.leadfunnel.version differs from the control file" if $p && ($p->{version} // "") ne $control_version;
    } else { push @err, "provides must be a non-empty object" }
    if (exists $m->{tags}) {
        my $t = $m->{tags};
        push @err, "tags must be a non-empty array of 2..255 characters without / \\ or control characters"
            unless ref $t eq "ARRAY" && @$t && !grep { !$str->($_) || length($_) > 255 || $_ !~ /^[^\/\\\p{Cntrl}]{2,}$/ } @$t;
    }
    push @err, "release_status must be stable, testing or unstable"
        if exists $m->{release_status} && ($m->{release_status} // "") !~ /^(stable|testing|unstable)$/;
    if (exists $m->{no_index}) {
        my $n = $m->{no_index};
        if (ref $n eq "HASH") {
            $keys->("no_index", $n, qw(file directory));
            for (grep { exists $n->{$_} } qw(file directory)) {
                my $v = $n->{$_};
                push @err, "no_index.$_ must be a path or a list of paths" unless $str->($v) || (ref $v eq "ARRAY" && @$v && !grep { !$str->($_) } @$v);
            }
        } else { push @err, "no_index must be an object" }
    }
    if (exists $m->{prereqs}) {
        my $pr = $m->{prereqs};
        if (ref $pr eq "HASH" && %$pr) {
            $keys->("prereqs", $pr, qw(configure build test runtime develop));
            for my $phase (grep { !$custom->($_) } sort keys %$pr) {
                my $ph = $pr->{$phase};
                ref $ph eq "HASH" && %$ph or do { push @err, "prereqs.$phase must be a non-empty object"; next };
                $keys->("prereqs.$phase", $ph, qw(requires recommends suggests conflicts));
                for my $rel (grep { !$custom->($_) } sort keys %$ph) {
                    my $r = $ph->{$rel};
                    ref $r eq "HASH" or do { push @err, "prereqs.$phase.$rel must be an object"; next };
                    for my $dep (sort keys %$r) {
                        my $v = $r->{$dep};
                        push @err, "prereqs.$phase.$rel.$dep: $dep is not a Term" unless $dep =~ $term;
                        push @err, "prereqs.$phase.$rel.$dep: \"$v\" is not 0, a SemVer or a version range"
                            unless defined $v && ("$v" eq "0" || $v =~ $semver
                                || !grep { !/^\s*(?:==|!=|>=|<=|>|<)?\s*(0|(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)\S*)\s*$/ } split /,/, $v);
                    }
                }
            }
        } else { push @err, "prereqs must be a non-empty object" }
        push @err, "prereqs.runtime.requires must name PostgreSQL" unless $pr->{runtime}{requires}{PostgreSQL};
    } else { push @err, "prereqs must require PostgreSQL (runtime)" }
    if (exists $m->{resources}) {
        my $rs = $m->{resources};
        if (ref $rs eq "HASH" && %$rs) {
            $keys->("resources", $rs, qw(homepage bugtracker repository));
            push @err, "resources.homepage must be a URI" if exists $rs->{homepage} && ($rs->{homepage} // "") !~ $uri;
            if (exists $rs->{bugtracker}) {
                my $b = $rs->{bugtracker};
                if (ref $b eq "HASH" && %$b) {
                    $keys->("resources.bugtracker", $b, qw(web mailto));
                    push @err, "resources.bugtracker.web must be a URI" if exists $b->{web} && ($b->{web} // "") !~ $uri;
                    push @err, "resources.bugtracker.mailto must be an e-mail address" if exists $b->{mailto} && ($b->{mailto} // "") !~ /^[^@\s]+@[^@\s]+$/;
                    push @err, "resources.bugtracker.web is PGXN\x27s distribution page, not a bug tracker"
                        if ($b->{web} // "") =~ m{pgxn\.org/dist};
                } else { push @err, "resources.bugtracker must be a non-empty object" }
            }
            if (exists $rs->{repository}) {
                my $r = $rs->{repository};
                if (ref $r eq "HASH" && %$r) {
                    $keys->("resources.repository", $r, qw(url web type));
                    push @err, "resources.repository.$_ must be a URI" for grep { exists $r->{$_} && ($r->{$_} // "") !~ $uri } qw(url web);
                    push @err, "resources.repository.type must be lower case" if exists $r->{type} && ($r->{type} // "") !~ /^[a-z]+$/;
                } else { push @err, "resources.repository must be a non-empty object" }
            }
        } else { push @err, "resources must be a non-empty object" }
    }
    if (@err) { print STDERR "META.json: $_\n" for @err; exit 1 }
    print "META.json: ok ($m->{version}, PGXN Meta Spec $m->{\"meta-spec\"}{version})\n";
' "$control_version" "$in_git"
