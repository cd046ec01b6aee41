# ett as a peer of ../shared/bench: ett: client (SOCKS5) + 1 relay, pinned TLS 1.3 + mux.
source "$(dirname "${BASH_SOURCE[0]}")/_ett.sh"
PEER_DESC="ett: client (SOCKS5) + 1 relay, pinned TLS 1.3 + mux"
PEER_MODE=socks5
peer_start() { ett_chain_start 1; }
