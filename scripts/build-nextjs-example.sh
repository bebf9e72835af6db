#!/usr/bin/env bash
# Rebuild examples/nextjs-edge from source in a scratch folder, the way a user's CI would.
#
#   scripts/build-nextjs-example.sh [DEST]
#
# Copies the example (without node_modules/.next/.vercel) to DEST (default: a new temp dir), runs
# `npm ci` (or `npm install` when ci fails) and `npx @cloudflare/next-on-pages`. The last line on
# stdout is the output folder (DEST/.vercel/output/static); each step's time goes to stderr.
# About 1.5 minutes on 2 cores; node_modules takes 600-770 MB.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$repo/examples/nextjs-edge"
dest="${1:-$(mktemp -d "${TMPDIR:-/tmp}/nextjs-edge-build.XXXXXX")}"

export NEXT_TELEMETRY_DISABLED=1 VERCEL_TELEMETRY_DISABLED=1 WRANGLER_SEND_METRICS=false CI=1 \
  CLOUDFLARE_CF_FETCH_ENABLED=false
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

step() { # step NAME CMD...: run CMD (output to stderr), report its time on stderr
  local name="$1" start end
  shift
  start=$(date +%s%N)
  "$@" >&2
  end=$(date +%s%N)
  echo "build-nextjs-example: $name took $(( (end - start) / 1000000 )) ms" >&2
}

copy_source() {
  mkdir -p "$dest"
  # tar keeps dotfiles (.npmrc) and lets us leave the heavy or generated folders behind.
  tar -C "$src" --exclude=./node_modules --exclude=./.next --exclude=./.vercel -cf - . | tar -C "$dest" -xf -
}

install() {
  cd "$dest"
  if ! npm ci --no-audit --no-fund; then
    echo "build-nextjs-example: npm ci failed, falling back to npm install" >&2
    npm install --no-audit --no-fund
  fi
}

build() {
  cd "$dest"
  npx --no-install @cloudflare/next-on-pages
}

total_start=$(date +%s%N)
step copy copy_source
step "npm install" install
step "next-on-pages build" build
out="$dest/.vercel/output/static"
[ -d "$out/_worker.js" ] || [ -f "$out/_worker.js" ] || { echo "build-nextjs-example: no _worker.js in $out" >&2; exit 1; }
echo "build-nextjs-example: total $(( ($(date +%s%N) - total_start) / 1000000 )) ms" >&2
echo "$out"
