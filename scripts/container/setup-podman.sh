#!/usr/bin/env bash
# Make this machine able to build and run the action's image the way a GitHub runner does.
#
# The project's machines have no Docker engine and cannot reach Docker Hub, so this script
#   1. installs podman and what it needs from Debian (apt-get update runs only if something is missing),
#   2. writes a containers.conf / storage.conf into a scratch folder (podman's defaults fail here),
#   3. builds a stand-in for `python:3.12-slim` with debootstrap, once: the image is kept in the scratch
#      storage, so a machine that is reused skips this step.
#
# Safe to run again: every step checks first and does nothing when its work is already done.
# Progress goes to stderr; stdout carries only `export ...` lines, so both of these work:
#   eval "$(bash scripts/container/setup-podman.sh)"
#   bash scripts/container/setup-podman.sh && . scripts/container/env.sh
#
# On a real GitHub runner none of this is needed: Docker is there and pulls the real base image.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"

BASE_IMAGE="localhost/python:3.12-slim"
BASE_ALIAS="docker.io/library/python:3.12-slim"
PACKAGES=(podman runc conmon containernetworking-plugins netavark aardvark-dns slirp4netns
          fuse-overlayfs uidmap debootstrap)
# What the stand-in base needs to behave like python:3.12-slim for our Dockerfile: a python, pip, TLS roots.
BASE_PACKAGES=(python3 python3-pip python3-venv python-is-python3 ca-certificates)

log() { printf '[setup-podman] %s\n' "$*" >&2; }
now() { date +%s.%N; }
# step NAME COMMAND...: runs COMMAND and reports how long it took.
step() {
  local name="$1" t0 t1
  shift
  t0=$(now)
  "$@"
  t1=$(now)
  log "$(printf '%-28s %6.1f s' "$name" "$(awk "BEGIN{print $t1-$t0}")")"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "packages: all present"
    return
  fi
  log "packages: installing ${missing[*]}"
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
}

write_config() {
  mkdir -p "$BBED_CONTAINER_HOME/storage" "$BBED_CONTAINER_HOME/run"
  # The sandbox cannot raise rlimits, crun 1.8 fails on its hybrid cgroups and there is no journald:
  # each line below replaces a default that fails here.
  cat >"$CONTAINERS_CONF.tmp" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  cat >"$CONTAINERS_STORAGE_CONF.tmp" <<EOF
[storage]
driver = "overlay"
graphroot = "$BBED_CONTAINER_HOME/storage"
runroot = "$BBED_CONTAINER_HOME/run"
EOF
  mv "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
  mv "$CONTAINERS_STORAGE_CONF.tmp" "$CONTAINERS_STORAGE_CONF"
  log "config: $CONTAINERS_CONF, $CONTAINERS_STORAGE_CONF"
}

check_podman() {
  podman info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}' >/dev/null
}

codename() {
  . /etc/os-release
  echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}"
}

# The Debian mirror this machine already uses, read from its apt sources (never written down here).
debian_mirror() {
  local suite="$1" f uri=""
  if [ -n "${BBED_DEBIAN_MIRROR:-}" ]; then
    echo "$BBED_DEBIAN_MIRROR"
    return
  fi
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    uri=$(awk -v suite="$suite" '
      function flush() { if (uri != "" && has_suite && is_deb && enabled) { print uri; found = 1; exit } }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); uri = ""; has_suite = 0; is_deb = 0; enabled = 1; next }
      BEGIN { enabled = 1 }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") is_deb = 1 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has_suite = 1 }
      tolower($1) == "enabled:" { enabled = (tolower($2) != "no") }
      END { if (!found) flush() }
    ' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | sed -E 's/\[[^]]*\]//' \
      | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }')
  fi
  [ -n "$uri" ] || { log "no Debian mirror for '$suite' found in /etc/apt/sources*; set BBED_DEBIAN_MIRROR"; return 1; }
  echo "$uri"
}

rootfs=""
current_log=""
on_exit() {
  local code=$?
  if [ "$code" -ne 0 ] && [ -n "$current_log" ] && [ -f "$current_log" ]; then
    log "failed; last lines of $current_log:"
    tail -n 30 "$current_log" >&2
  fi
  if [ -n "$rootfs" ] && [ -d "$rootfs" ]; then
    if mountpoint -q "$rootfs/proc"; then umount "$rootfs/proc" || true; fi
    rm -rf "$rootfs"
  fi
  return "$code"
}

debootstrap_rootfs() {
  local suite mirror
  suite=$(codename)
  mirror=$(debian_mirror "$suite")
  log "debootstrap: $suite from the machine's own mirror"
  current_log="$BBED_CONTAINER_HOME/debootstrap.log"
  as_root debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$current_log" 2>&1
}

install_python_into_rootfs() {
  current_log="$BBED_CONTAINER_HOME/base-python.log"
  {
    mount -t proc proc "$rootfs/proc"
    cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
    # The machine's mirror may serve a dated snapshot whose Release files are past Valid-Until.
    printf 'Acquire::Check-Valid-Until "false";\n' >"$rootfs/etc/apt/apt.conf.d/99bbed-no-valid-until"
    chroot "$rootfs" apt-get update -qq
    chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${BASE_PACKAGES[@]}"
    # Package downloads go through a TLS-inspecting proxy: pip inside builds needs the machine's extra CAs.
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
      cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    fi
    chroot "$rootfs" update-ca-certificates
    # The real python:3.12-slim lets pip install into the system interpreter; so must the stand-in.
    rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
    chroot "$rootfs" apt-get clean
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
    : >"$rootfs/etc/resolv.conf"
    umount "$rootfs/proc"
  } >"$current_log" 2>&1
}

import_rootfs() {
  tar -C "$rootfs" -c . | podman import --quiet \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change 'LABEL org.opencontainers.image.description="bbed stand-in for python:3.12-slim (debootstrap)"' \
    - "$BASE_IMAGE" >/dev/null
  podman tag "$BASE_IMAGE" "$BASE_ALIAS"
}

build_base_image() {
  if podman image exists "$BASE_IMAGE"; then
    podman image exists "$BASE_ALIAS" || podman tag "$BASE_IMAGE" "$BASE_ALIAS"
    log "base image: $BASE_IMAGE already built (cached in $BBED_CONTAINER_HOME)"
    return
  fi
  if podman image exists "$BASE_ALIAS"; then
    # A real python:3.12-slim (e.g. loaded by hand) beats the stand-in.
    podman tag "$BASE_ALIAS" "$BASE_IMAGE"
    log "base image: using the existing $BASE_ALIAS"
    return
  fi
  rootfs=$(mktemp -d "$BBED_CONTAINER_HOME/rootfs.XXXXXX")
  step "base: debootstrap" debootstrap_rootfs
  step "base: python + CA certs" install_python_into_rootfs
  current_log=""
  step "base: podman import" import_rootfs
  rm -rf "$rootfs"
  rootfs=""
  log "base image: built $BASE_IMAGE (also tagged $BASE_ALIAS)"
}

main() {
  local t0 t1
  trap on_exit EXIT
  t0=$(now)
  mkdir -p "$BBED_CONTAINER_HOME"
  step "packages" install_packages
  step "config" write_config
  step "podman info" check_podman
  step "base image" build_base_image
  t1=$(now)
  log "$(printf '%-28s %6.1f s' "total" "$(awk "BEGIN{print $t1-$t0}")")"
  printf 'export BBED_CONTAINER_HOME=%q CONTAINERS_CONF=%q CONTAINERS_STORAGE_CONF=%q\n' \
    "$BBED_CONTAINER_HOME" "$CONTAINERS_CONF" "$CONTAINERS_STORAGE_CONF"
}

main "$@"
