#!/usr/bin/env bash
# The documented manual recipe for Flow A, as a shell script: the baseline the Action is compared with.
#
#   API_URL=... API_KEY=... APP_ID=... OUTPUT_DIR=... [POLL_SECONDS=5] bash bench/recipe.sh
#
# zip -r the output's contents, POST create, PUT the zip to the presigned URL with curl -T, POST start,
# then GET the deployment every POLL_SECONDS until it is READY (exit 0) or fails (exit 1).
# `-H 'Expect:'` keeps curl from waiting 1 s for a `100 Continue` the emulator never sends (R2 does send
# it), so the recipe is not slowed down by the emulator.
set -euo pipefail
: "${API_URL:?}" "${API_KEY:?}" "${APP_ID:?}" "${OUTPUT_DIR:?}"
POLL_SECONDS="${POLL_SECONDS:-5}"

json_field() {  # json_field NAME < json
  if command -v jq >/dev/null; then jq -r ".$1"; else python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$OUTPUT_DIR" && zip -r -q -6 "$work/output.zip" .)

created="$(curl -sS -f -X POST "$API_URL/v1/$APP_ID/edge-ssr/deployments" \
  -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' -d '{"framework":"nextjs-edge"}')"
id="$(printf '%s' "$created" | json_field id)"
upload_url="$(printf '%s' "$created" | json_field uploadUrl)"

curl -sS -f -o /dev/null -T "$work/output.zip" -H 'Content-Type: application/zip' -H 'Expect:' "$upload_url"

curl -sS -f -o /dev/null -X POST "$API_URL/v1/$APP_ID/edge-ssr/deployments/$id/start" \
  -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' -d '{}'

while true; do
  status="$(curl -sS -f "$API_URL/v1/$APP_ID/edge-ssr/deployments/$id" -H "Authorization: Bearer $API_KEY" \
    | json_field status)"
  case "$status" in
    READY) echo "$id READY"; exit 0 ;;
    ERROR|CANCELED|SUPERSEDED) echo "$id $status" >&2; exit 1 ;;
  esac
  sleep "$POLL_SECONDS"
done
