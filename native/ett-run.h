/* ett run: the preload library's shared declarations.
 *
 * The library is loaded into a program by `ett run` (LD_PRELOAD). It sends the program's TCP connects
 * to non-local addresses through the ett client's SOCKS5 port, answers the program's name lookups with
 * addresses from a reserved range that stand for the names (asked of `ett run` over a Unix socket),
 * and refuses UDP that would leave the machine and any DNS query. addr.c is the pure part (no I/O);
 * names.c talks to `ett run`; preload.c holds the interposed libc functions.
 */
#ifndef ETT_RUN_H
#define ETT_RUN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The reserved range whose addresses stand for names: 240.0.0.0/4 ("reserved for future use", never
 * routed), so a connect that somehow escapes interception reaches nobody. ett run hands out addresses
 * from its lower half; the whole /4 is treated as ours. Keep equal to src/run/names.ts. An IPv6 caller
 * gets the same address inside 100::/64 (RFC 6666, discard-only): 100::240.x.y.z. */
#define ETT_NAME_NET 0xF0000000u
#define ETT_NAME_MASK 0xF0000000u

/* Longest host name the library passes on (DNS: 253 characters), and the SOCKS5 limit is 255. */
#define ETT_NAME_MAX 253

#define ETT_LOCALNET_MAX 32

/** A destination in host form: an IPv4 or IPv6 address and a port. IPv4-mapped IPv6 (::ffff:a.b.c.d)
 * and the IPv6 form of a name address (100::240.x.y.z) are folded to IPv4. */
struct ett_dest {
  int family; /* AF_INET or AF_INET6 */
  uint8_t addr[16]; /* 4 bytes used for AF_INET, network order */
  uint16_t port; /* host order */
};

struct ett_net {
  int family;
  uint8_t addr[16];
  int prefix;
};

struct ett_localnet {
  int count;
  struct ett_net nets[ETT_LOCALNET_MAX];
};

/* 0 and dest filled, or -1 if sa is not AF_INET/AF_INET6 or len is too short. */
int ett_dest_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct ett_dest *dest);

int ett_is_loopback(const struct ett_dest *d);
/** In the reserved name range (IPv4 240.0.0.0/4; its IPv6 forms are folded to it). */
int ett_is_name_address(const struct ett_dest *d);
int ett_in_localnet(const struct ett_localnet *ln, const struct ett_dest *d);

/* Parses "CIDR[,CIDR…]" (IPv4 or IPv6, prefix optional = host). 0, or -1 naming the bad entry in err. */
int ett_parse_localnet(const char *text, struct ett_localnet *ln, char *err, size_t errlen);
/* Parses "IP:PORT" or "[IPv6]:PORT". 0 or -1. */
int ett_parse_hostport(const char *text, struct ett_dest *d);

/* A host name the library will carry: 1..253 characters of letters, digits, '-', '_', '.', not
 * starting with '-' or '.'. (Anything else is refused: it cannot be a real DNS name.) */
int ett_valid_name(const char *name);

/* SOCKS5 CONNECT request for a name (ATYP 3) or an address (ATYP 1/4). Bytes written, or -1 if out is
 * too small or the name too long. */
int ett_socks_request(uint8_t *out, size_t outlen, const char *name, const struct ett_dest *d);
/* RFC 1929 username/password sub-negotiation. Bytes written or -1. */
int ett_socks_auth_request(uint8_t *out, size_t outlen, const char *user, const char *pass);
/* Given the first 5 bytes of a SOCKS5 reply (VER REP RSV ATYP + first address byte), how many more
 * bytes complete it; -1 if malformed. */
int ett_socks_reply_rest(const uint8_t head[5]);
/* errno for a SOCKS5 reply code (0 → 0). */
int ett_socks_errno(uint8_t rep);

/* Text form of d's address ("1.2.3.4" or "::1"), for messages and the name service. */
void ett_format_addr(const struct ett_dest *d, char *out, size_t outlen);

#endif
