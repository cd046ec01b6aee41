# The Node.js floor for ett-3relay: nested TLS 1.3 through 3 hops, port forward (bench/node-tls-chain.mjs).
source "$(dirname "${BASH_SOURCE[0]}")/_node-tls-chain.sh"
PEER_DESC="Node.js nested tls through 3 hops, TLS1.3 AES-128-GCM, port forward"
peer_start() { node_chain_start 3; }
