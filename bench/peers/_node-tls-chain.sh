# The Node.js floor for an N-hop chain (bench/node-tls-chain.mjs), a peer of ../shared/bench beside ett's.
NODE_CHAIN="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/node-tls-chain.mjs"
PEER_MODE=forward
PEER_NEEDS="node openssl"
NODE_TLS_SUITE=${NODE_TLS_SUITE:-TLS_AES_128_GCM_SHA256}

# node_chain_start N: N hops on loopback (hop k forwards to hop k+1, the last to the target), then the
# client, whose TLS to each hop runs inside its TLS to the one before.
node_chain_start() {
  local n=$1 i next
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=bench-relay -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
  local ports=()
  for ((i = 1; i <= n; i++)); do ports+=("$(alloc_port)"); done
  for ((i = n; i >= 1; i--)); do
    if [ "$i" = "$n" ]; then next="$TARGET_HOST $TARGET_PORT"; else next="127.0.0.1 ${ports[$i]}"; fi
    # shellcheck disable=SC2086 # next is a host and a port
    spawn "hop$i" node "$NODE_CHAIN" hop "${ports[$((i - 1))]}" $next "$WORK/cert.pem" "$WORK/key.pem" "$NODE_TLS_SUITE"
    wait_port "${ports[$((i - 1))]}"
  done
  PEER_PORT=$(alloc_port)
  spawn client node "$NODE_CHAIN" client "$PEER_PORT" "$WORK/cert.pem" "$NODE_TLS_SUITE" "${ports[@]}"
  wait_port "$PEER_PORT"
}
