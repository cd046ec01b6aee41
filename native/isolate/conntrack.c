// conntrackOrigDst(fd, local, localPort, peer, peerPort) → { address, port } | null
//
// The original destination of a UDP datagram that nftables redirected to one of ett's sockets: asked
// of the kernel's connection tracking (ctnetlink, IPCTNL_MSG_CT_GET) on a NETLINK_NETFILTER socket that
// the isolated run's helper opened inside the namespace. A redirected flow's *reply* tuple is what ett
// sees (from peer:peerPort to local:localPort, so the reply goes local → peer); its *original* tuple
// holds the destination the program sent to. null when no such flow is tracked (or no answer came
// within 200 ms). One request, one answer: no state is kept here.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <node_api.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 8192

struct msg {
  char data[512];
  size_t len;
};

/** Appends an attribute (data may be NULL for a nest, whose length end_nest fixes); its offset. */
static size_t put(struct msg *m, uint16_t type, const void *data, size_t len) {
  size_t at = m->len;
  size_t total = NLA_HDRLEN + len;
  if (at + NLA_ALIGN(total) > sizeof m->data) return (size_t)-1;
  struct nlattr *a = (struct nlattr *)(m->data + at);
  a->nla_type = type;
  a->nla_len = (uint16_t)total;
  if (data) memcpy(m->data + at + NLA_HDRLEN, data, len);
  m->len = at + NLA_ALIGN(total);
  return at;
}

static void end_nest(struct msg *m, size_t at) {
  ((struct nlattr *)(m->data + at))->nla_len = (uint16_t)(m->len - at);
}

/** The attribute of `type` among those in [p, p+len), or NULL. */
static const struct nlattr *find(const char *p, size_t len, uint16_t type) {
  for (size_t at = 0; at + NLA_HDRLEN <= len;) {
    const struct nlattr *a = (const struct nlattr *)(p + at);
    if (a->nla_len < NLA_HDRLEN || at + a->nla_len > len) return NULL;
    if ((a->nla_type & NLA_TYPE_MASK) == type) return a;
    at += NLA_ALIGN(a->nla_len);
  }
  return NULL;
}

#define PAYLOAD(a) ((const char *)(a) + NLA_HDRLEN)
#define PAYLEN(a) ((size_t)(a)->nla_len - NLA_HDRLEN)

static int text_arg(napi_env env, napi_value v, char *out, size_t cap) {
  size_t n;
  return napi_get_value_string_latin1(env, v, out, cap, &n) == napi_ok && n < cap - 1 ? 0 : -1;
}

napi_value conntrack_orig_dst(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd, lport, pport;
  char local[64], peer[64];
  if (argc < 5 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      text_arg(env, argv[1], local, sizeof local) < 0 || napi_get_value_int32(env, argv[2], &lport) != napi_ok ||
      text_arg(env, argv[3], peer, sizeof peer) < 0 || napi_get_value_int32(env, argv[4], &pport) != napi_ok) {
    napi_throw_type_error(env, NULL, "conntrackOrigDst(fd, local, localPort, peer, peerPort)");
    return NULL;
  }
  unsigned char la[16], pa[16];
  int family = AF_INET;
  size_t alen = 4;
  if (inet_pton(AF_INET, local, la) != 1 || inet_pton(AF_INET, peer, pa) != 1) {
    family = AF_INET6;
    alen = 16;
    if (inet_pton(AF_INET6, local, la) != 1 || inet_pton(AF_INET6, peer, pa) != 1) {
      napi_throw_type_error(env, NULL, "conntrackOrigDst: addresses must be both IPv4 or both IPv6");
      return NULL;
    }
  }
  static uint32_t seq = 0;
  struct msg m = {.len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg))};
  memset(m.data, 0, sizeof m.data);
  struct nlmsghdr *h = (struct nlmsghdr *)m.data;
  h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  h->nlmsg_flags = NLM_F_REQUEST;
  h->nlmsg_seq = ++seq;
  struct nfgenmsg *g = (struct nfgenmsg *)(m.data + NLMSG_HDRLEN);
  g->nfgen_family = (uint8_t)family;
  g->version = NFNETLINK_V0;
  // The reply direction: from our socket (local) back to the program (peer).
  size_t tuple = put(&m, CTA_TUPLE_REPLY | NLA_F_NESTED, NULL, 0);
  size_t ip = put(&m, CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
  put(&m, family == AF_INET ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, la, alen);
  put(&m, family == AF_INET ? CTA_IP_V4_DST : CTA_IP_V6_DST, pa, alen);
  end_nest(&m, ip);
  size_t proto = put(&m, CTA_TUPLE_PROTO | NLA_F_NESTED, NULL, 0);
  uint8_t udp = IPPROTO_UDP;
  uint16_t sport = htons((uint16_t)lport), dport = htons((uint16_t)pport);
  put(&m, CTA_PROTO_NUM, &udp, 1);
  put(&m, CTA_PROTO_SRC_PORT, &sport, 2);
  put(&m, CTA_PROTO_DST_PORT, &dport, 2);
  end_nest(&m, proto);
  end_nest(&m, tuple);
  h->nlmsg_len = (uint32_t)m.len;

  napi_value nul;
  napi_get_null(env, &nul);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, m.data, m.len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return nul;
  static char buf[BUF];
  // Answers to earlier requests that timed out may come first: skip them (bounded).
  for (int tries = 0; tries < 8; tries++) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 200) <= 0) return nul;
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) return nul;
    for (struct nlmsghdr *r = (struct nlmsghdr *)buf; NLMSG_OK(r, (size_t)n); r = NLMSG_NEXT(r, n)) {
      if (r->nlmsg_seq != seq) continue;
      if (r->nlmsg_type == NLMSG_ERROR) return nul; // ENOENT: no such flow, or EPERM
      if ((r->nlmsg_type & 0xff) != IPCTNL_MSG_CT_NEW) continue;
      size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
      if (r->nlmsg_len < off) return nul;
      const struct nlattr *orig = find((const char *)r + off, r->nlmsg_len - off, CTA_TUPLE_ORIG);
      if (!orig) return nul;
      const struct nlattr *oip = find(PAYLOAD(orig), PAYLEN(orig), CTA_TUPLE_IP);
      const struct nlattr *oproto = find(PAYLOAD(orig), PAYLEN(orig), CTA_TUPLE_PROTO);
      if (!oip || !oproto) return nul;
      const struct nlattr *dst =
          find(PAYLOAD(oip), PAYLEN(oip), family == AF_INET ? CTA_IP_V4_DST : CTA_IP_V6_DST);
      const struct nlattr *port = find(PAYLOAD(oproto), PAYLEN(oproto), CTA_PROTO_DST_PORT);
      if (!dst || PAYLEN(dst) != alen || !port || PAYLEN(port) != 2) return nul;
      char text[INET6_ADDRSTRLEN];
      inet_ntop(family, PAYLOAD(dst), text, sizeof text);
      uint16_t be;
      memcpy(&be, PAYLOAD(port), 2);
      napi_value result, address, portv;
      napi_create_object(env, &result);
      napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &address);
      napi_create_int32(env, ntohs(be), &portv);
      napi_set_named_property(env, result, "address", address);
      napi_set_named_property(env, result, "port", portv);
      return result;
    }
  }
  return nul;
}

// conntrackOpen() → fd, or throws naming why connection tracking cannot be asked here
//
// A NETLINK_NETFILTER socket of this process's network namespace (the client's transparent port, which
// runs in the host's), probed with one CT_GET for a flow that cannot exist (UDP from 0.0.0.0:0 to
// 0.0.0.0:0): the kernel answers ENOENT when ett may ask it, EPERM without CAP_NET_ADMIN.
napi_value conntrack_open(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    char why[160];
    snprintf(why, sizeof why, "cannot open a ctnetlink socket (is nf_conntrack_netlink available?): %s",
             strerror(errno));
    napi_throw_error(env, NULL, why);
    return NULL;
  }
  struct msg m = {.len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg))};
  memset(m.data, 0, sizeof m.data);
  struct nlmsghdr *h = (struct nlmsghdr *)m.data;
  h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  h->nlmsg_seq = 0x7fffffff;
  struct nfgenmsg *g = (struct nfgenmsg *)(m.data + NLMSG_HDRLEN);
  g->nfgen_family = AF_INET;
  g->version = NFNETLINK_V0;
  uint32_t any = 0;
  uint16_t zero = 0;
  uint8_t udp = IPPROTO_UDP;
  size_t tuple = put(&m, CTA_TUPLE_ORIG | NLA_F_NESTED, NULL, 0);
  size_t ip = put(&m, CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
  put(&m, CTA_IP_V4_SRC, &any, 4);
  put(&m, CTA_IP_V4_DST, &any, 4);
  end_nest(&m, ip);
  size_t proto = put(&m, CTA_TUPLE_PROTO | NLA_F_NESTED, NULL, 0);
  put(&m, CTA_PROTO_NUM, &udp, 1);
  put(&m, CTA_PROTO_SRC_PORT, &zero, 2);
  put(&m, CTA_PROTO_DST_PORT, &zero, 2);
  end_nest(&m, proto);
  end_nest(&m, tuple);
  h->nlmsg_len = (uint32_t)m.len;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  int err = -1;
  if (sendto(fd, m.data, m.len, 0, (struct sockaddr *)&kernel, sizeof kernel) >= 0) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[1024];
    ssize_t n;
    if (poll(&p, 1, 1000) > 0 && (n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
      struct nlmsghdr *r = (struct nlmsghdr *)buf;
      if (NLMSG_OK(r, (size_t)n) && r->nlmsg_type == NLMSG_ERROR &&
          r->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr)))
        err = -((struct nlmsgerr *)NLMSG_DATA(r))->error;
      else
        err = 0; // an answer that is not an error: the kernel let us ask
    } else {
      err = ETIMEDOUT;
    }
  } else {
    err = errno;
  }
  if (err == 0 || err == ENOENT) {
    napi_value v;
    napi_create_int32(env, fd, &v);
    return v;
  }
  close(fd);
  char why[200];
  if (err == EPERM)
    snprintf(why, sizeof why, "connection tracking cannot be asked: CAP_NET_ADMIN is needed");
  else
    snprintf(why, sizeof why, "connection tracking cannot be asked: %s", strerror(err));
  napi_throw_error(env, NULL, why);
  return NULL;
}
