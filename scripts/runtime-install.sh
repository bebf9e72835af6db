#!/usr/bin/env bash
# Install the emulator's Workers runtime (Miniflare, which ships workerd) into DIR (default .runtime).
# Idempotent: returns at once when DIR already holds the pinned version.
#
#   scripts/runtime-install.sh [DIR]
#
# The emulator finds it through BUTTERBASE_EMULATOR_RUNTIME=DIR, or at <repo>/.runtime, or at
# ~/.cache/butterbase-emulator/runtime (see docs/RUNTIME.md).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
spec="$repo/src/butterbase_emulator/runtime"
dest="${1:-$repo/.runtime}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"  # absolute: node's require() below takes a bare relative path as a package name

command -v node >/dev/null || { echo "runtime-install: node is not on PATH (Node 20 or newer is needed)" >&2; exit 1; }
command -v npm >/dev/null || { echo "runtime-install: npm is not on PATH" >&2; exit 1; }

want="$(node -p "require('$spec/package.json').dependencies.miniflare")"
have="$(node -p "try { require('$dest/node_modules/miniflare/package.json').version } catch { '' }" 2>/dev/null || true)"
workerd_ok() { [ -x "$dest/node_modules/workerd/bin/workerd" ] || ls "$dest"/node_modules/@cloudflare/workerd-*/bin/workerd >/dev/null 2>&1; }

if [ "$have" = "$want" ] && workerd_ok && cmp -s "$spec/package-lock.json" "$dest/package-lock.json"; then
  echo "runtime-install: miniflare $want already in $dest"
  exit 0
fi

cp "$spec/package.json" "$spec/package-lock.json" "$dest/"

export npm_config_legacy_peer_deps=true npm_config_audit=false npm_config_fund=false \
  npm_config_update_notifier=false npm_config_loglevel=warn
export WRANGLER_SEND_METRICS=false NEXT_TELEMETRY_DISABLED=1 VERCEL_TELEMETRY_DISABLED=1 \
  CLOUDFLARE_CF_FETCH_ENABLED=false

start=$(date +%s)
cd "$dest"
# npm ci keeps the lockfile exact; fall back to install when ci cannot use it (e.g. another npm).
if ! npm ci --no-audit --no-fund; then
  echo "runtime-install: npm ci failed, trying npm install" >&2
  npm install --no-audit --no-fund --no-save
fi
node -e "require('miniflare')" || { echo "runtime-install: miniflare does not load from $dest" >&2; exit 1; }
echo "runtime-install: miniflare $want installed in $dest ($(( $(date +%s) - start )) s)"
