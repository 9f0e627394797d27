#!/usr/bin/env bash
# Runs Schemathesis against a shophook server built from this tree: every operation
# of its /openapi.json with generated valid and invalid requests; fails on a server
# error or an answer that does not match the document.
#
#   bash .ci/schemathesis.sh [path/to/shophook] [more `st run` options…]
#
# The server and `st` run in a network namespace of their own that has only a
# loopback interface, so the webhooks that generated requests create (any URL) can
# reach nothing but 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-${CARGO_TARGET_DIR:-target}/debug/shophook}"
shift || true
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
if [ -z "${SHOPHOOK_IN_NETNS:-}" ]; then
    exec unshare --net env SHOPHOOK_IN_NETNS=1 bash "$0" "$bin" "$@"
fi
ip link set lo up

dir="$(mktemp -d)"
port=18080
key="st-operator-key-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
SHOPHOOK_ADMIN_KEY="$key" "$bin" serve --listen "127.0.0.1:$port" \
    --database "sqlite://$dir/st.db" --allow-private-targets \
    --retry-schedule 1s,1s --request-timeout 2s >"$dir/server.log" 2>&1 &
server=$!
stop() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$dir"
}
trap stop EXIT

api="http://127.0.0.1:$port"
curl -sf --retry 60 --retry-connrefused --retry-delay 1 --retry-max-time 60 \
    "$api/healthz" >/dev/null || { cat "$dir/server.log"; exit 1; }
for account in st st-patched st-doomed; do
    curl -sf -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        -d "{\"id\": \"$account\", \"name\": \"Schemathesis\"}" "$api/v1/accounts" >/dev/null
done

checks=not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,negative_data_rejection
status=0
st --config-file .ci/schemathesis.toml run "$api/openapi.json" \
    -H "Authorization: Bearer $key" --checks "$checks" \
    --generation-database none --no-color "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "== server log (last 40 lines)"
    tail -n 40 "$dir/server.log"
fi
exit "$status"
