#!/usr/bin/env bash
# `make test-matrix`: the whole test suite on the QGIS of other Debian suites, each in a debootstrap
# chroot built from Debian's archive with QGIS and its Python packages from Debian's packages.
#
#   trixie   QGIS 3.40 LTR   blocking (a failure fails the run)
#   sid      QGIS 3.44       reported, not blocking (sid changes under us)
#   bookworm QGIS 3.22       blocking, added when the host is not Debian 12 (there `make test` covers it)
#
# The prepared chroots (debootstrap + apt) are cached as tarballs in $MATRIX_CACHE (a system cache
# folder outside the clone); a second run unpacks them instead of building. Inside each chroot the
# checkout's files are copied to /src and `make test` runs there as on a fresh machine (scripts/setup.sh
# makes the venv and installs the test tools with pip).
#
# Settings (environment): MATRIX_SUITES ("trixie sid" [+ bookworm]), MATRIX_BLOCKING (trixie bookworm),
# MATRIX_CACHE (/var/cache/mining-eco-matrix, or ~/.cache/mining-eco-matrix when not root),
# MATRIX_WORK (/var/tmp/mining-eco-matrix), MATRIX_MIRROR (the host's Debian mirror), MATRIX_REBUILD=1,
# MATRIX_SUITE_TIMEOUT (seconds a suite's `make test` may take, 2400), MATRIX_SERIAL=1 (suites one after the other;
# by default they run side by side).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
if [ "$(id -u)" != 0 ]; then      # debootstrap, chroot and bind mounts need root
  command -v sudo >/dev/null || { echo "test-matrix: needs root (debootstrap, chroot, bind mounts)" >&2; exit 2; }
  exec sudo -E bash "$0" "$@"
fi

host_codename=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-unknown}")
default_suites="trixie sid"
[ "$host_codename" = bookworm ] || default_suites="bookworm $default_suites"
SUITES=${MATRIX_SUITES:-$default_suites}
BLOCKING=${MATRIX_BLOCKING:-trixie bookworm}
CACHE=${MATRIX_CACHE:-/var/cache/mining-eco-matrix}
WORK=${MATRIX_WORK:-/var/tmp/mining-eco-matrix}
LOGS=$ROOT_DIR/build/matrix
# the host's own Debian mirror (the first URIs/deb line of its apt sources), else Debian's default
MIRROR=${MATRIX_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p; s/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\/debian\) .*/\2/p' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
APT_PACKAGES="$(bash scripts/setup.sh --print-apt-packages) make git ca-certificates"
APT_OPTS="-o Acquire::Check-Valid-Until=false -o Acquire::Retries=3 -o APT::Install-Recommends=false"
# the cache key: what goes into a prepared chroot (this script's prepare step and the package list)
KEY=$(printf '%s\n' "$APT_PACKAGES" "$(sed -n '/^prepare()/,/^}/p' "$0")" | sha256sum | cut -c1-12)

command -v debootstrap >/dev/null || { echo "test-matrix: installing debootstrap"; \
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap zstd >/dev/null; }
command -v zstd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd >/dev/null
mkdir -p "$CACHE" "$WORK" "$LOGS"

mount_all() {   # $1 = chroot
  mount -t proc proc "$1/proc"
  mount --rbind /sys "$1/sys" && mount --make-rslave "$1/sys"
  mount --rbind /dev "$1/dev" && mount --make-rslave "$1/dev"
  cp -L /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null || true
  install -D -m 644 "$CA_BUNDLE" "$1/etc/mining-eco-ca.crt"
}
umount_all() {  # $1 = chroot
  local m
  for m in proc sys dev; do mountpoint -q "$1/$m" && umount -R -l "$1/$m"; done
  return 0
}
in_chroot() {   # $1 = chroot, rest = command
  local r=$1; shift
  chroot "$r" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive SSL_CERT_FILE=/etc/mining-eco-ca.crt PIP_CERT=/etc/mining-eco-ca.crt \
    REQUESTS_CA_BUNDLE=/etc/mining-eco-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 "$@"
}

prepare() {     # $1 = suite: a chroot with QGIS from Debian's packages, from the cache or built
  local suite=$1 root=$WORK/$1 tarball=$CACHE/$1-$KEY.tar.zst
  umount_all "$root"; rm -rf "$root"; mkdir -p "$root"
  if [ -f "$tarball" ] && [ -z "${MATRIX_REBUILD:-}" ]; then
    echo "[$suite] unpacking the cached chroot $tarball"
    tar -I zstd -xpf "$tarball" -C "$root" || return 1
    return 0
  fi
  echo "[$suite] building the chroot (debootstrap from $MIRROR)"
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$root" "$MIRROR" || return 1
  mount_all "$root"
  in_chroot "$root" apt-get $APT_OPTS update -qq &&
    in_chroot "$root" apt-get $APT_OPTS install -y -qq $APT_PACKAGES >/dev/null
  local rc=$?
  in_chroot "$root" apt-get clean
  umount_all "$root"
  [ $rc = 0 ] || return $rc
  echo "[$suite] caching the chroot as $tarball"
  rm -f "$CACHE/$suite"-*.tar.zst
  tar -I 'zstd -T0 -3' -cpf "$tarball.part" -C "$root" . && mv "$tarball.part" "$tarball"
}

run_suite() {   # $1 = suite: the checkout's files copied to /src, `make test` there
  local suite=$1 root=$WORK/$1
  rm -rf "$root/src"; mkdir -p "$root/src"
  git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$root/src"
  mount_all "$root"
  # bounded: a hang in one suite (sid changes under us) must not take CI past its time limit
  in_chroot "$root" timeout --kill-after=60 "${MATRIX_SUITE_TIMEOUT:-2400}" bash -c 'cd /src && make test'
  local rc=$?
  umount_all "$root"
  return $rc
}

trap 'for s in $SUITES; do umount_all "$WORK/$s"; done' EXIT
if [ "${1:-}" = --prepare-only ]; then          # build or unpack the chroots, run nothing
  for s in $SUITES; do prepare "$s" > "$LOGS/$s-prepare.log" 2>&1 & done
  wait; exit 0
fi
start=$(date +%s)
declare -A PREP
for s in $SUITES; do                        # chroots are prepared in parallel (network and disk bound)
  prepare "$s" > "$LOGS/$s-prepare.log" 2>&1 &
  PREP[$s]=$!
done
run_one() {     # $1 = suite, $2 = 1 when its chroot is ready: `make test` there; its summary line goes to
  # $LOGS/$1.summary; fails when the suite fails and blocks
  local s=$1 ready=$2 t0 blocking rc line qgis res
  t0=$(date +%s)
  blocking=no; [[ " $BLOCKING " == *" $s "* ]] && blocking=yes
  if [ "$ready" != 1 ]; then
    line="Debian $s: chroot could not be prepared (see build/matrix/$s-prepare.log)"
    tail -5 "$LOGS/$s-prepare.log"
    rc=1
  else
    echo "[$s] make test in the chroot (log: build/matrix/$s.log)"
    run_suite "$s" > "$LOGS/$s.log" 2>&1
    rc=$?
    qgis=$(chroot "$WORK/$s" /usr/bin/python3 -c 'from qgis.core import Qgis; print(Qgis.QGIS_VERSION.split("-")[0])' 2>/dev/null)
    res=$(grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$LOGS/$s.log" | tail -1 | sed 's/^=* //; s/ =*$//')
    count() { echo "$res" | grep -oE "[0-9]+ $1" | grep -oE '^[0-9]+' || echo 0; }
    line="QGIS ${qgis:-?} (Debian $s): $(count passed) passed, $(count failed) failed, $(count error) errors, $(count skipped) skipped"
    [ -n "$res" ] || line="$line (no pytest summary: see build/matrix/$s.log)"
    [ $rc = 0 ] || grep -E '^(FAILED|ERROR) ' "$LOGS/$s.log" | head -20
  fi
  line="$line; $(( $(date +%s) - t0 )) s"
  if [ $rc = 0 ]; then line="PASS  $line"
  elif [ $blocking = yes ]; then line="FAIL  $line"
  else line="FAIL  $line (not blocking)"; fi
  echo "$line" > "$LOGS/$s.summary"
  echo "$line"
  [ $rc = 0 ] || [ $blocking = no ]
}

declare -A READY RUN
for s in $SUITES; do                        # every chroot prepared (they were built or unpacked side by side)
  if wait "${PREP[$s]}"; then READY[$s]=1; else READY[$s]=0; fi
done
summary=()
status=0
# The suites run side by side (MATRIX_SERIAL=1: one after the other). A suite mostly waits (qgis_process and
# worker start-up, pip, subprocesses): measured on 2 cores, the host's suite and trixie's together took 1704 s and
# 1412 s, alone about 1650 s and 1400 s. Each chroot has its own /src, /tmp and venv.
for s in $SUITES; do
  rm -f "$LOGS/$s.summary"
  if [ -n "${MATRIX_SERIAL:-}" ]; then
    run_one "$s" "${READY[$s]}" || status=1
  else
    run_one "$s" "${READY[$s]}" &
    RUN[$s]=$!
  fi
done
for s in $SUITES; do
  [ -n "${MATRIX_SERIAL:-}" ] || wait "${RUN[$s]}" || status=1
  summary+=("$(cat "$LOGS/$s.summary" 2>/dev/null || echo "FAIL  Debian $s: no summary")")
done
echo
echo "test-matrix summary ($(( $(date +%s) - start )) s, host Debian $host_codename):"
printf '  %s\n' "${summary[@]}"
exit $status
