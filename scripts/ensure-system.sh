#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the platform needs, only those missing.
# PostgreSQL server + the PostGIS package of the same major version, GDAL tools, Python venv.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "need root or sudo to install system packages" >&2; exit 1; fi
fi

pg_major() {
  # the installed server's major version, else the distribution's default
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1 || true)
  if [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then echo "$v"; return; fi
  v=$(apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9]\+\)$/\1/p' | head -n 1)
  echo "${v:-15}"
}

missing=()
UPDATED=""   # set once `apt-get update` ran (see optional below)
# apt's output, read when an install fails: a folder of this run's own (made when something is
# installed), as fixed /tmp names were another user's file, not writable, on a shared machine
LOGS=${CIM_APT_LOG_DIR:-}
logs() { [ -n "$LOGS" ] || LOGS=$(mktemp -d "${TMPDIR:-/tmp}/cim-apt.XXXXXX"); }
need() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" || missing+=("$1"); }

PG=$(pg_major)
need "postgresql-$PG"
need "postgresql-$PG-postgis-3"
need gdal-bin
need python3-venv
need util-linux   # runuser, to run the cluster as the postgres user when root
need fonts-noto-cjk   # Chinese labels in PNG drawings (cim query section --png)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  logs
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || true
  UPDATED=1
  if ! $SUDO apt-get install -y -qq "${missing[@]}" >"$LOGS/cim-apt.log" 2>&1; then
    # the package index may be stale on a fresh machine: refresh and try once more
    $SUDO apt-get update
    $SUDO apt-get install -y "${missing[@]}"
  fi
  PG=$(pg_major)
  # Debian starts a system cluster on install; the platform runs its own, so stop it
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
      $SUDO pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
    done
  fi
fi
# --test's optional packages: installed when missing, else their tests skip with a message.
# A fresh machine or CI image (Docker's ship without /var/lib/apt/lists) has no package index:
# when the base packages above were all there, nothing refreshed it and every optional install
# failed, so the QGIS, browser and strace tests skipped on each clean CI run. A failed install
# refreshes the index once and tries again.
optional() {  # LOGFILE WHAT PACKAGE...: install PACKAGE... or say why not
  logs
  local log=$LOGS/$1 what=$2; shift 2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1 && return 0
  if [ -z "$UPDATED" ]; then
    UPDATED=1
    $SUDO apt-get update -qq >>"$log" 2>&1 || true
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1 && return 0
  fi
  echo "$* not installed (see $log): $what will skip" >&2
}
# QGIS's python bindings, so tests/test_qgis_project.py opens the one-map project with real
# QGIS (large)
if [ "${1:-}" = "--test" ] && ! dpkg-query -W -f='${Status}' python3-qgis 2>/dev/null | grep -q "ok installed"; then
  echo "installing python3-qgis (optional, for the QGIS project test)"
  optional cim-apt-qgis.log "the QGIS test" python3-qgis qgis-providers
fi
# headless Chromium and its driver, so tests/test_webmap.py opens /map and pygeoapi's pages in
# a real browser
if [ "${1:-}" = "--test" ] && ! dpkg-query -W -f='${Status}' chromium-driver 2>/dev/null | grep -q "ok installed"; then
  echo "installing chromium and chromium-driver (for the web map browser test)"
  optional cim-apt-chromium.log "the web map browser test" chromium chromium-driver
fi
# strace, so tests/test_delivery_untouched.py also checks that no file of a delivery folder is
# ever opened for writing (the listing comparison runs without it)
if [ "${1:-}" = "--test" ] && ! command -v strace >/dev/null 2>&1; then
  echo "installing strace (for the read-only delivery test)"
  optional cim-apt-strace.log "that check of the read-only delivery test" strace
fi
echo "system ready: PostgreSQL $PG with PostGIS 3"
