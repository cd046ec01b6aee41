# ett as a peer of ../shared/bench: ett: client (SOCKS5) + 2-relay chain (nested TLS 1.3).
source "$(dirname "${BASH_SOURCE[0]}")/_ett.sh"
PEER_DESC="ett: client (SOCKS5) + 2-relay chain (nested TLS 1.3)"
PEER_MODE=socks5
peer_start() { ett_chain_start 2; }
