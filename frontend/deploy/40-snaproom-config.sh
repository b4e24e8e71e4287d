#!/bin/sh
# Run by the nginx image's entrypoint before nginx starts: API_URL, when set, becomes
# /config.json, which the app reads over the gateway URL baked in at build time.
set -eu
if [ -n "${API_URL:-}" ]; then
    case "$API_URL" in
        *'"'* | *'\'*) echo "API_URL must not contain quotes or backslashes" >&2; exit 1 ;;
    esac
    printf '{"apiUrl": "%s"}\n' "$API_URL" > "${SNAPROOM_HTML_DIR:-/usr/share/nginx/html}/config.json"
fi
