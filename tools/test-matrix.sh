#!/usr/bin/env bash
# `make test-matrix`: the whole test suite (tools/run-tests.sh, what `make test`
# runs on the host's PostgreSQL 15) on the other PostgreSQL majors we support,
# each in a Debian root made with debootstrap from the package archive the host
# already uses -- nothing but Debian's packages, and the host is not touched:
#
#   PostgreSQL 17   Debian 13 (trixie)
#   PostgreSQL 18   Debian unstable (sid)
#
# The roots are kept under $LF_MATRIX_CACHE (default /var/cache/leadfunnel-matrix)
# and reused: a missing root takes about 2 minutes to make and 1 to fill, a kept
# one is brought up to date by apt-get install of the packages it lacks.  Each
# run copies the source in, builds with -Werror and runs pg_regress, pgTAP, the
# scripted tests (upgrades from every release, dump/restore, concurrency,
# crash, ...) and the sanitizer run there.  Prints one line per version and
# ends with "N passed, N failed"; exits non-zero on any failure.
#
#   tools/test-matrix.sh            # 17 and 18
#   tools/test-matrix.sh 18         # one of them
#   LF_MATRIX_KEEP_LOGS=DIR ...     # keep each version's whole output in DIR
#   LF_MATRIX_PREPARE_ONLY=1 ...    # only make or update the roots (0 = ready)
#   LF_MATRIX_CACHE=DIR ...         # where the roots are kept
#   LF_MATRIX_SERIAL=1 ...          # run the versions' suites one after the other, not side by side
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LF_ROOT"

cache=${LF_MATRIX_CACHE:-/var/cache/leadfunnel-matrix}
versions=("$@")
[ "${#versions[@]}" -gt 0 ] || versions=(17 18)

suite_of() {
    case "$1" in
        17) echo trixie ;;
        18) echo sid ;;
        *) echo "test-matrix: no Debian suite known for PostgreSQL $1" >&2; return 1 ;;
    esac
}

# The archive the host installs from (deb822 or one-line sources).
mirror() {
    local m
    m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
    [ -n "$m" ] || m=$(sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' \
                          /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1)
    echo "${m:-http://deb.debian.org/debian}"
}

packages_for() {
    local v=$1
    echo "postgresql-$v postgresql-server-dev-$v postgresql-$v-pgtap pgtap postgresql-$v-cron" \
         "gcc make libc6-dev libasan8 libubsan1 python3 python3-psycopg2 ca-certificates"
}

# proc for the server and for package scripts (systemd-tmpfiles in sid's
# postgresql-common needs it), a tmpfs for POSIX shared memory; unmounted again
# when the step ends, also on failure.
mounted=()
mount_root() {
    local root=$1
    mountpoint -q "$root/proc" || { mount -t proc proc "$root/proc" && mounted+=("$root/proc"); }
    mkdir -p "$root/dev/shm"
    mountpoint -q "$root/dev/shm" || { mount -t tmpfs -o mode=1777 shm "$root/dev/shm" && mounted+=("$root/dev/shm"); }
}
unmount_all() {
    local m
    for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
    mounted=()
}
trap unmount_all EXIT

in_root() { local root=$1; shift; chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

# Make the root of a suite, or bring a kept one up to date.
prepare_root() {
    local v=$1 suite root pkgs
    suite=$(suite_of "$v") || return 1
    root=$cache/$suite
    pkgs=$(packages_for "$v")
    lf_as_root mkdir -p "$cache"
    if [ ! -x "$root/usr/bin/apt-get" ]; then
        lf_log "making a Debian $suite root in $root ($(mirror))"
        rm -rf "$root.tmp"
        debootstrap --variant=minbase "$suite" "$root.tmp" "$(mirror)" > "$cache/$suite-debootstrap.log" 2>&1 \
            || { tail -n 20 "$cache/$suite-debootstrap.log" >&2; return 1; }
        # sid's Release file can be past its Valid-Until on a snapshot mirror
        echo 'Acquire::Check-Valid-Until "false";' > "$root.tmp/etc/apt/apt.conf.d/99leadfunnel-matrix"
        printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
            > "$root.tmp/etc/dpkg/dpkg.cfg.d/01leadfunnel-nodoc"
        # a throwaway root: no fsync per unpacked file
        echo force-unsafe-io > "$root.tmp/etc/dpkg/dpkg.cfg.d/02leadfunnel-unsafe-io"
        cp /etc/resolv.conf "$root.tmp/etc/resolv.conf" 2>/dev/null || true
        mv "$root.tmp" "$root"
    fi
    # shellcheck disable=SC2086
    if ! in_root "$root" dpkg-query -W $pkgs >/dev/null 2>&1; then
        lf_log "installing PostgreSQL $v and the test tools in the $suite root"
        cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
        mount_root "$root"
        in_root "$root" apt-get update -qq >/dev/null || { unmount_all; return 1; }
        # a run cut short leaves packages unconfigured: finish them first
        in_root "$root" env DEBIAN_FRONTEND=noninteractive dpkg --configure -a >/dev/null 2>&1
        # shellcheck disable=SC2086
        in_root "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs \
            > "$cache/$suite-install.log" 2>&1 || { tail -n 20 "$cache/$suite-install.log" >&2; unmount_all; return 1; }
        # the packaged cluster is not used; ours are throwaway ones
        in_root "$root" sh -c 'pg_lsclusters -h 2>/dev/null | while read -r ver name rest; do pg_dropcluster --stop "$ver" "$name"; done' >/dev/null 2>&1 || true
        unmount_all
    fi
}


# Run the suite for one version; prints its summary line, returns its status.
run_version() {
    local v=$1 suite root log rc pass fail server
    suite=$(suite_of "$v") || return 1
    root=$cache/$suite
    log=${LF_MATRIX_KEEP_LOGS:-$cache}/pg$v-test.log
    mkdir -p "$(dirname "$log")"

    rm -rf "$root/tmp/leadfunnel"
    mkdir -p "$root/tmp/leadfunnel"
    tar -C "$LF_ROOT" --exclude=.git --exclude=./build --exclude=./results --exclude='*.o' --exclude='*.so' \
        --exclude='*.bc' -cf - . | tar -C "$root/tmp/leadfunnel" -xf -
    mount_root "$root"
    in_root "$root" env PG_MAJOR="$v" PG_CONFIG="/usr/lib/postgresql/$v/bin/pg_config" LF_PORT=$((54300 + v)) \
        CI="${CI:-}" bash -c 'cd /tmp/leadfunnel && tools/run-tests.sh' > "$log" 2>&1
    rc=$?
    unmount_all
    server=$(in_root "$root" "/usr/lib/postgresql/$v/bin/postgres" --version 2>/dev/null | awk '{print $3}')
    pass=$(sed -n 's/^leadfunnel: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -n 1)
    fail=$(sed -n 's/^leadfunnel: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -n 1)
    if [ -z "$pass" ]; then pass=0; fail=1; fi
    [ "$rc" = 0 ] || [ "$fail" != 0 ] || fail=1
    printf 'PostgreSQL %s (%s, Debian %s): %s passed, %s failed\n' "$v" "${server:-?}" "$suite" "$pass" "$fail"
    if [ "$rc" != 0 ]; then
        echo "--- PostgreSQL $v: the end of $log" >&2
        grep -E 'FAILED|not ok|^FAILED:|error' "$log" | head -n 40 >&2
        tail -n 60 "$log" >&2
    fi
    echo "$pass $fail" > "$cache/.pg$v-result"
    return "$rc"
}

[ "$(id -u)" = 0 ] || { echo "test-matrix: debootstrap and chroot need root" >&2; exit 1; }

if ! command -v debootstrap >/dev/null; then
    lf_log "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
        || { echo "test-matrix: cannot install debootstrap" >&2; echo "test-matrix: 0 passed, 1 failed"; exit 1; }
fi

mkdir -p "$cache"

# Prepare the roots side by side (mostly downloads), then run the suites.
for v in "${versions[@]}"; do
    ( prepare_root "$v"; echo $? > "$cache/.pg$v-prepared" ) &
done
wait

if [ -n "${LF_MATRIX_PREPARE_ONLY:-}" ]; then   # make or update the roots, run nothing
    for v in "${versions[@]}"; do echo "PostgreSQL $v root: $(cat "$cache/.pg$v-prepared")"; done
    exit 0
fi

# The suites of the versions run side by side (each in its own root, with its
# own port and its own mounts; a suite is mostly one backend and one client, so
# two of them share two cores well and CI stays well within its time);
# LF_MATRIX_SERIAL=1 runs them one after the other.
total_pass=0; total_fail=0; lines=()
for v in "${versions[@]}"; do
    rm -f "$cache/.pg$v-line" "$cache/.pg$v-result"
    [ "$(cat "$cache/.pg$v-prepared" 2>/dev/null)" = 0 ] || continue
    lf_log "PostgreSQL $v: build and the whole suite in the $(suite_of "$v") root"
    if [ -n "${LF_MATRIX_SERIAL:-}" ]; then
        run_version "$v" > "$cache/.pg$v-line"
    else
        run_version "$v" > "$cache/.pg$v-line" &
    fi
done
wait
for v in "${versions[@]}"; do
    if [ "$(cat "$cache/.pg$v-prepared" 2>/dev/null)" != 0 ]; then
        lines+=("PostgreSQL $v: the Debian root could not be prepared: 0 passed, 1 failed")
        total_fail=$((total_fail + 1))
        continue
    fi
    if [ ! -s "$cache/.pg$v-result" ]; then
        lines+=("PostgreSQL $v: the suite did not report: 0 passed, 1 failed")
        total_fail=$((total_fail + 1))
        continue
    fi
    lines+=("$(cat "$cache/.pg$v-line")")
    read -r p f < "$cache/.pg$v-result"
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
done

echo
printf '%s\n' "${lines[@]}"
echo "test-matrix: $total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
