# The Node.js floor for ett-2relay: nested TLS 1.3 through 2 hops, port forward (bench/node-tls-chain.mjs).
source "$(dirname "${BASH_SOURCE[0]}")/_node-tls-chain.sh"
PEER_DESC="Node.js nested tls through 2 hops, TLS1.3 AES-128-GCM, port forward"
peer_start() { node_chain_start 2; }
