/* ett run: the preload library's pure part — addresses, local networks, SOCKS5 messages. No I/O, so
 * test-addr.c can check it with byte vectors. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ett-run.h"

static const uint8_t V4MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
/* 100::/64 (RFC 6666, discard-only): ett's IPv6 form of a name address is 100::240.x.y.z. */
static const uint8_t V6NAME[12] = {0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

int ett_dest_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct ett_dest *d) {
  memset(d, 0, sizeof *d);
  if (sa == NULL) return -1;
  if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    d->family = AF_INET;
    memcpy(d->addr, &in->sin_addr, 4);
    d->port = ntohs(in->sin_port);
    return 0;
  }
  if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    d->port = ntohs(in6->sin6_port);
    const uint8_t *b = in6->sin6_addr.s6_addr;
    if (memcmp(b, V4MAPPED, 12) == 0 || (memcmp(b, V6NAME, 12) == 0 && (b[12] & 0xf0) == 0xf0)) {
      d->family = AF_INET;
      memcpy(d->addr, in6->sin6_addr.s6_addr + 12, 4);
    } else {
      d->family = AF_INET6;
      memcpy(d->addr, in6->sin6_addr.s6_addr, 16);
    }
    return 0;
  }
  return -1;
}

int ett_is_loopback(const struct ett_dest *d) {
  static const uint8_t ONE[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (d->family == AF_INET) return d->addr[0] == 127;
  return memcmp(d->addr, ONE, 16) == 0;
}

int ett_is_name_address(const struct ett_dest *d) {
  if (d->family != AF_INET) return 0;
  uint32_t a = ((uint32_t)d->addr[0] << 24) | ((uint32_t)d->addr[1] << 16) | ((uint32_t)d->addr[2] << 8) | d->addr[3];
  return (a & ETT_NAME_MASK) == ETT_NAME_NET;
}

static int prefix_match(const uint8_t *a, const uint8_t *b, int prefix) {
  int whole = prefix / 8, rest = prefix % 8;
  if (memcmp(a, b, (size_t)whole) != 0) return 0;
  if (rest == 0) return 1;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

int ett_in_localnet(const struct ett_localnet *ln, const struct ett_dest *d) {
  for (int i = 0; i < ln->count; i++) {
    const struct ett_net *n = &ln->nets[i];
    if (n->family == d->family && prefix_match(n->addr, d->addr, n->prefix)) return 1;
  }
  return 0;
}

/* One "ADDR[/PREFIX]" into n. 0 or -1. */
static int parse_net(const char *text, struct ett_net *n) {
  char buf[64];
  size_t len = strlen(text);
  if (len == 0 || len >= sizeof buf) return -1;
  memcpy(buf, text, len + 1);
  char *slash = strchr(buf, '/');
  int prefix = -1;
  if (slash != NULL) {
    *slash = '\0';
    const char *p = slash + 1;
    if (*p == '\0' || strlen(p) > 3) return -1;
    prefix = 0;
    for (; *p; p++) {
      if (*p < '0' || *p > '9') return -1;
      prefix = prefix * 10 + (*p - '0');
    }
  }
  memset(n, 0, sizeof *n);
  if (inet_pton(AF_INET, buf, n->addr) == 1) {
    n->family = AF_INET;
    if (prefix < 0) prefix = 32;
    if (prefix > 32) return -1;
  } else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
    n->family = AF_INET6;
    if (prefix < 0) prefix = 128;
    if (prefix > 128) return -1;
  } else {
    return -1;
  }
  n->prefix = prefix;
  return 0;
}

int ett_parse_localnet(const char *text, struct ett_localnet *ln, char *err, size_t errlen) {
  memset(ln, 0, sizeof *ln);
  if (text == NULL || *text == '\0') return 0;
  const char *p = text;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char item[64];
    if (len == 0 || len >= sizeof item) {
      snprintf(err, errlen, "an empty or overlong entry");
      return -1;
    }
    memcpy(item, p, len);
    item[len] = '\0';
    if (ln->count == ETT_LOCALNET_MAX) {
      snprintf(err, errlen, "more than %d networks", ETT_LOCALNET_MAX);
      return -1;
    }
    if (parse_net(item, &ln->nets[ln->count]) != 0) {
      snprintf(err, errlen, "\"%s\" is not an address or CIDR", item);
      return -1;
    }
    ln->count++;
    p = end ? end + 1 : p + len;
  }
  return 0;
}

int ett_parse_hostport(const char *text, struct ett_dest *d) {
  char host[64];
  const char *colon;
  memset(d, 0, sizeof *d);
  if (text == NULL) return -1;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':') return -1;
    size_t len = (size_t)(close - text - 1);
    if (len == 0 || len >= sizeof host) return -1;
    memcpy(host, text + 1, len);
    host[len] = '\0';
    colon = close + 1;
  } else {
    colon = strrchr(text, ':');
    if (colon == NULL) return -1;
    size_t len = (size_t)(colon - text);
    if (len == 0 || len >= sizeof host) return -1;
    memcpy(host, text, len);
    host[len] = '\0';
    if (strchr(host, ':') != NULL) return -1; /* IPv6 goes in [] */
  }
  const char *p = colon + 1;
  if (*p == '\0' || strlen(p) > 5) return -1;
  long port = 0;
  for (; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    port = port * 10 + (*p - '0');
  }
  if (port < 1 || port > 65535) return -1;
  if (inet_pton(AF_INET, host, d->addr) == 1) {
    d->family = AF_INET;
  } else if (inet_pton(AF_INET6, host, d->addr) == 1) {
    d->family = AF_INET6;
  } else {
    return -1;
  }
  d->port = (uint16_t)port;
  return 0;
}

int ett_valid_name(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len > ETT_NAME_MAX || name[0] == '-' || name[0] == '.') return 0;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
             c == '_' || c == '.';
    if (!ok) return 0;
    if (c == '.' && i + 1 < len && name[i + 1] == '.') return 0;
  }
  return 1;
}

int ett_socks_request(uint8_t *out, size_t outlen, const char *name, const struct ett_dest *d) {
  size_t n = 0;
  size_t need;
  if (name != NULL) {
    size_t len = strlen(name);
    if (len == 0 || len > 255) return -1;
    need = 4 + 1 + len + 2;
    if (outlen < need) return -1;
    out[n++] = 5, out[n++] = 1, out[n++] = 0, out[n++] = 3;
    out[n++] = (uint8_t)len;
    memcpy(out + n, name, len);
    n += len;
  } else {
    size_t alen = d->family == AF_INET ? 4 : 16;
    need = 4 + alen + 2;
    if (outlen < need) return -1;
    out[n++] = 5, out[n++] = 1, out[n++] = 0, out[n++] = d->family == AF_INET ? 1 : 4;
    memcpy(out + n, d->addr, alen);
    n += alen;
  }
  out[n++] = (uint8_t)(d->port >> 8);
  out[n++] = (uint8_t)(d->port & 0xff);
  return (int)n;
}

int ett_socks_auth_request(uint8_t *out, size_t outlen, const char *user, const char *pass) {
  size_t ul = strlen(user), pl = strlen(pass);
  if (ul == 0 || ul > 255 || pl == 0 || pl > 255 || outlen < 3 + ul + pl) return -1;
  size_t n = 0;
  out[n++] = 1;
  out[n++] = (uint8_t)ul;
  memcpy(out + n, user, ul);
  n += ul;
  out[n++] = (uint8_t)pl;
  memcpy(out + n, pass, pl);
  n += pl;
  return (int)n;
}

int ett_socks_reply_rest(const uint8_t head[5]) {
  if (head[0] != 5 || head[2] != 0) return -1;
  switch (head[3]) {
    case 1: return 4 - 1 + 2;
    case 4: return 16 - 1 + 2;
    case 3: return head[4] + 2;
    default: return -1;
  }
}

int ett_socks_errno(uint8_t rep) {
  switch (rep) {
    case 0: return 0;
    case 2: return EACCES;       /* not allowed by ruleset: a client rule or the exit's policy */
    case 3: return ENETUNREACH;
    case 4: return EHOSTUNREACH; /* includes a name the exit could not resolve */
    case 5: return ECONNREFUSED;
    case 6: return ETIMEDOUT;
    default: return ECONNREFUSED;
  }
}

void ett_format_addr(const struct ett_dest *d, char *out, size_t outlen) {
  if (inet_ntop(d->family, d->addr, out, (socklen_t)outlen) == NULL && outlen > 0) out[0] = '\0';
}
