# Shared helpers for ett peers of ../shared/bench (sourced by the harness's lib/peer.sh).
# ETT_DIR: the ett checkout, built (npm install); default: the checkout holding this file.
ETT_DIR=${ETT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ETT="$ETT_DIR/bin/ett"
PEER_NEEDS="node"

# ett_chain_start N: N relays on loopback, each allowing only the client's key; relay k accepts only
# relay k+1's address, the exit only $TARGET_HOST:$TARGET_PORT; then the client (SOCKS5) via all N.
ett_chain_start() {
  local n=$1 i port share via=""
  node "$ETT" keygen "$WORK/client.key" > "$WORK/client.pin"
  local cpin; cpin=$(cat "$WORK/client.pin")
  local ports=()
  for ((i = 1; i <= n; i++)); do ports+=("$(alloc_port)"); done
  for ((i = n; i >= 1; i--)); do
    port=${ports[$((i - 1))]}
    node "$ETT" keygen "$WORK/relay$i.key" > /dev/null
    local exit_rule
    if [ "$i" = "$n" ]; then exit_rule="accept $TARGET_HOST:$TARGET_PORT"
    else exit_rule="accept 127.0.0.1:${ports[$i]}"; fi
    spawn "relay$i" node "$ETT" relay --key "$WORK/relay$i.key" --listen "127.0.0.1:$port" \
      --allow "$cpin" --exit "$exit_rule" --exit "reject *:*" --log-level warn
    wait_port "$port"
  done
  for ((i = 1; i <= n; i++)); do
    share=$(grep -o 'ett://[^ ]*' "$WORK/relay$i.log" | head -n 1)
    [ -n "$share" ] || { echo "relay$i printed no share string" >&2; return 1; }
    via="${via:+$via,}$share"
  done
  PEER_PORT=$(alloc_port)
  spawn client node "$ETT" client --key "$WORK/client.key" --listen "127.0.0.1:$PEER_PORT" \
    --via "$via" --log-level warn
  wait_port "$PEER_PORT" 20
}
