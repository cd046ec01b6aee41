/* ett run: the interposed name lookups. A name that is not local (localhost, *.localhost, /etc/hosts)
 * is answered with an address from the reserved range, asked of ett run, that stands for the name; a
 * connect to it is sent to the exit as the name. So no lookup of a proxied name leaves the machine.
 * Reverse lookups are answered from the same table and /etc/hosts, else numerically (never by DNS), and
 * libc's raw DNS calls (res_query & co.) are refused. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ett-preload.h"

#define ADDRS_MAX 8

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

static gai_fn real_gai(void) {
  REAL(getaddrinfo);
  return real_getaddrinfo;
}

static int is_numeric(const char *node) {
  uint8_t buf[16];
  char plain[64];
  struct in_addr a;
  const char *pct = strchr(node, '%');
  size_t len = pct ? (size_t)(pct - node) : strlen(node);
  if (len >= sizeof plain) return 0;
  memcpy(plain, node, len);
  plain[len] = '\0';
  return inet_pton(AF_INET6, plain, buf) == 1 || inet_aton(node, &a) != 0;
}

/* node without one trailing dot, into out (ETT_NAME_MAX + 2 bytes). */
static void plain_name(const char *node, char *out) {
  snprintf(out, ETT_NAME_MAX + 2, "%s", node);
  size_t len = strlen(out);
  if (len > 1 && out[len - 1] == '.') out[len - 1] = '\0';
}

/* Addresses (text) of a local name for family: /etc/hosts, else localhost's own. Count found. */
static int local_addresses(const char *name, int family, char out[ADDRS_MAX][64]) {
  int n = 0;
  while (n < ADDRS_MAX && ett_hosts_address(name, family, out[n], 64, n) == 0) n++;
  if (n == 0) {
    if (family != AF_INET6) snprintf(out[n++], 64, "127.0.0.1");
    if (family != AF_INET) snprintf(out[n++], 64, "::1");
  }
  return n;
}

/* getaddrinfo for numeric addresses only, results chained; canonname set to name if asked. */
static int numeric_results(const char *name, char addrs[][64], int count, const char *service,
                           const struct addrinfo *hints, int family, struct addrinfo **res) {
  struct addrinfo h;
  memset(&h, 0, sizeof h);
  if (hints != NULL) h = *hints;
  h.ai_flags = (h.ai_flags | AI_NUMERICHOST) & ~(AI_ADDRCONFIG | AI_V4MAPPED | AI_ALL);
  h.ai_family = family;
  struct addrinfo *head = NULL, **tail = &head;
  int last = EAI_NONAME;
  for (int i = 0; i < count; i++) {
    struct addrinfo *one = NULL;
    last = real_gai()(addrs[i], service, &h, &one);
    if (last != 0) continue;
    *tail = one;
    while (*tail != NULL) tail = &(*tail)->ai_next;
  }
  if (head == NULL) return last;
  /* As libc does: the canonical name on the first result only. */
  for (struct addrinfo *ai = head; ai != NULL; ai = ai->ai_next) {
    free(ai->ai_canonname);
    ai->ai_canonname = NULL;
  }
  if (hints != NULL && (hints->ai_flags & AI_CANONNAME)) head->ai_canonname = strdup(name);
  *res = head;
  return 0;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  if (node == NULL || (hints != NULL && (hints->ai_flags & AI_NUMERICHOST)) || is_numeric(node))
    return real_gai()(node, service, hints, res);
  int family = hints != NULL ? hints->ai_family : AF_UNSPEC;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) return EAI_FAMILY;
  char name[ETT_NAME_MAX + 2];
  plain_name(node, name);
  char addrs[ADDRS_MAX][64];
  if (ett_is_local_name(name)) {
    int n = local_addresses(name, family, addrs);
    return numeric_results(name, addrs, n, service, hints, AF_UNSPEC, res);
  }
  if (!ett_valid_name(name)) return EAI_NONAME;
  char v4[32], why[200];
  if (ett_name_to_address(name, v4, sizeof v4, why, sizeof why) != 0) {
    ett_warn("cannot look up %s: %s", name, why);
    return EAI_AGAIN;
  }
  /* IPv4 first; IPv6 callers (and AF_UNSPEC ones that keep only IPv6, as curl -6 does) get the same
   * address inside 100::/64. connect() folds it back. */
  int n = 0;
  if (family != AF_INET6) snprintf(addrs[n++], 64, "%s", v4);
  if (family != AF_INET) snprintf(addrs[n++], 64, "100::%s", v4);
  return numeric_results(name, addrs, n, service, hints, AF_UNSPEC, res);
}

/* Lays out a hostent for name with count addresses of family in buf. 0, or ERANGE. */
static int build_hostent(const char *name, int family, uint8_t addrs[][16], int count, struct hostent *he,
                         char *buf, size_t buflen) {
  size_t alen = family == AF_INET ? 4 : 16;
  size_t align = sizeof(char *);
  size_t off = (align - ((uintptr_t)buf % align)) % align;
  size_t need = off + sizeof(char *) * (1 + (size_t)count + 1) + alen * (size_t)count + strlen(name) + 1;
  if (need > buflen) return ERANGE;
  char **aliases = (char **)(buf + off);
  char **list = aliases + 1;
  char *data = (char *)(list + count + 1);
  aliases[0] = NULL;
  for (int i = 0; i < count; i++) {
    memcpy(data, addrs[i], alen);
    list[i] = data;
    data += alen;
  }
  list[count] = NULL;
  strcpy(data, name);
  he->h_name = data;
  he->h_aliases = aliases;
  he->h_addrtype = family;
  he->h_length = (int)alen;
  he->h_addr_list = list;
  return 0;
}

/* gethostbyname2_r for names (numeric forms go to libc, which answers them without asking anyone). */
int gethostbyname2_r(const char *node, int af, struct hostent *ret, char *buf, size_t buflen,
                     struct hostent **result, int *h_errnop) {
  REAL(gethostbyname2_r);
  *result = NULL;
  if (node == NULL || is_numeric(node)) return real_gethostbyname2_r(node, af, ret, buf, buflen, result, h_errnop);
  if (af != AF_INET && af != AF_INET6) {
    *h_errnop = NO_RECOVERY;
    return EAFNOSUPPORT;
  }
  char name[ETT_NAME_MAX + 2], text[ADDRS_MAX][64];
  uint8_t addrs[ADDRS_MAX][16];
  int n = 0;
  plain_name(node, name);
  if (ett_is_local_name(name)) {
    int found = local_addresses(name, af, text);
    for (int i = 0; i < found; i++)
      if (inet_pton(af, text[i], addrs[n]) == 1) n++;
  } else if (!ett_valid_name(name)) {
    *h_errnop = HOST_NOT_FOUND;
    return 0;
  } else if (af == AF_INET) {
    char why[200];
    if (ett_name_to_address(name, text[0], sizeof text[0], why, sizeof why) != 0) {
      ett_warn("cannot look up %s: %s", name, why);
      *h_errnop = TRY_AGAIN;
      return EAGAIN;
    }
    if (inet_pton(AF_INET, text[0], addrs[0]) == 1) n = 1;
  }
  /* The hostent calls answer a proxied name in IPv4 only (getent, which asks AF_INET6 first, falls
   * back to it); getaddrinfo gives the IPv6 form too. */
  if (n == 0) {
    *h_errnop = af == AF_INET6 ? NO_DATA : HOST_NOT_FOUND;
    return 0;
  }
  int rc = build_hostent(name, af, addrs, n, ret, buf, buflen);
  if (rc != 0) {
    *h_errnop = NETDB_INTERNAL;
    return rc;
  }
  *h_errnop = 0;
  *result = ret;
  return 0;
}

int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen, struct hostent **result,
                    int *h_errnop) {
  return gethostbyname2_r(name, AF_INET, ret, buf, buflen, result, h_errnop);
}

static __thread struct hostent tls_he;
static __thread char tls_buf[2048];

struct hostent *gethostbyname2(const char *name, int af) {
  struct hostent *result = NULL;
  int herr = 0;
  gethostbyname2_r(name, af, &tls_he, tls_buf, sizeof tls_buf, &result, &herr);
  h_errno = herr;
  return result;
}

struct hostent *gethostbyname(const char *name) { return gethostbyname2(name, AF_INET); }

/* The name an address stands for (ett's table or /etc/hosts). 0 if there is one. */
static int name_of(const struct ett_dest *d, char *out, size_t outlen) {
  if (ett_is_name_address(d)) {
    char addr[64], why[200];
    ett_format_addr(d, addr, sizeof addr);
    return ett_address_to_name(addr, out, outlen, why, sizeof why);
  }
  return ett_hosts_name(d, out, outlen);
}

int gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf, size_t buflen,
                    struct hostent **result, int *h_errnop) {
  struct ett_dest d;
  memset(&d, 0, sizeof d);
  *result = NULL;
  if (addr == NULL || (type == AF_INET && len != 4) || (type == AF_INET6 && len != 16) ||
      (type != AF_INET && type != AF_INET6)) {
    *h_errnop = NO_RECOVERY;
    return EINVAL;
  }
  d.family = type;
  memcpy(d.addr, addr, len);
  char name[ETT_NAME_MAX + 2];
  if (name_of(&d, name, sizeof name) != 0) {
    *h_errnop = HOST_NOT_FOUND;
    return 0;
  }
  uint8_t one[1][16];
  memcpy(one[0], addr, len);
  int rc = build_hostent(name, type, one, 1, ret, buf, buflen);
  if (rc != 0) {
    *h_errnop = NETDB_INTERNAL;
    return rc;
  }
  *h_errnop = 0;
  *result = ret;
  return 0;
}

struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type) {
  struct hostent *result = NULL;
  int herr = 0;
  gethostbyaddr_r(addr, len, type, &tls_he, tls_buf, sizeof tls_buf, &result, &herr);
  h_errno = herr;
  return result;
}

int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen, char *serv,
                socklen_t servlen, int flags) {
  REAL(getnameinfo);
  struct ett_dest d;
  if (host == NULL || hostlen == 0 || (flags & NI_NUMERICHOST) || ett_dest_from_sockaddr(sa, salen, &d) != 0)
    return real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
  char name[ETT_NAME_MAX + 2];
  if (name_of(&d, name, sizeof name) != 0) {
    if (flags & NI_NAMEREQD) return EAI_NONAME;
    return real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags | NI_NUMERICHOST);
  }
  if (strlen(name) >= hostlen) return EAI_OVERFLOW;
  strcpy(host, name);
  if (serv == NULL || servlen == 0) return 0;
  return real_getnameinfo(sa, salen, NULL, 0, serv, servlen, flags);
}

/* getaddrinfo_a would resolve in libc's own threads, past the interposed getaddrinfo: answer each
 * request here instead (at once; a proxied name needs no network), then notify as asked. */
int getaddrinfo_a(int mode, struct gaicb *list[], int nitems, struct sigevent *sevp) {
  for (int i = 0; i < nitems; i++) {
    struct gaicb *r = list[i];
    if (r == NULL) continue;
    r->ar_result = NULL;
    r->__return = getaddrinfo(r->ar_name, r->ar_service, r->ar_request, &r->ar_result);
  }
  if (mode == GAI_NOWAIT && sevp != NULL) {
    if (sevp->sigev_notify == SIGEV_SIGNAL) sigqueue(getpid(), sevp->sigev_signo, sevp->sigev_value);
    else if (sevp->sigev_notify == SIGEV_THREAD && sevp->sigev_notify_function != NULL) {
      pthread_t t;
      pthread_attr_t *attr = sevp->sigev_notify_attributes;
      if (pthread_create(&t, attr, (void *(*)(void *))(void (*)(void))sevp->sigev_notify_function,
                         sevp->sigev_value.sival_ptr) == 0)
        pthread_detach(t);
    }
  }
  return 0;
}

/* libc's raw DNS interface: refused, it would send the question to the system's resolver. */
static int refuse_dns(const char *what, const char *name) {
  ett_warn("refused a direct DNS query (%s %s): names are resolved by the exit", what, name ? name : "");
  h_errno = NO_RECOVERY;
  return -1;
}

#define REFUSE_QUERY(fn) \
  int fn(const char *dname, int class, int type, unsigned char *answer, int anslen) { \
    (void)class, (void)type, (void)answer, (void)anslen; \
    return refuse_dns(#fn, dname); \
  }
#define REFUSE_NQUERY(fn) \
  int fn(void *statp, const char *dname, int class, int type, unsigned char *answer, int anslen) { \
    (void)statp, (void)class, (void)type, (void)answer, (void)anslen; \
    return refuse_dns(#fn, dname); \
  }
REFUSE_QUERY(res_query)
REFUSE_QUERY(__res_query)
REFUSE_QUERY(res_search)
REFUSE_QUERY(__res_search)
REFUSE_NQUERY(res_nquery)
REFUSE_NQUERY(__res_nquery)
REFUSE_NQUERY(res_nsearch)
REFUSE_NQUERY(__res_nsearch)

#define REFUSE_QUERYDOMAIN(fn) \
  int fn(const char *name, const char *domain, int class, int type, unsigned char *answer, int anslen) { \
    (void)domain, (void)class, (void)type, (void)answer, (void)anslen; \
    return refuse_dns(#fn, name); \
  }
REFUSE_QUERYDOMAIN(res_querydomain)
REFUSE_QUERYDOMAIN(__res_querydomain)

#define REFUSE_NQUERYDOMAIN(fn) \
  int fn(void *statp, const char *name, const char *domain, int class, int type, unsigned char *answer, \
         int anslen) { \
    (void)statp, (void)domain, (void)class, (void)type, (void)answer, (void)anslen; \
    return refuse_dns(#fn, name); \
  }
REFUSE_NQUERYDOMAIN(res_nquerydomain)
REFUSE_NQUERYDOMAIN(__res_nquerydomain)

#define REFUSE_SEND(fn) \
  int fn(const unsigned char *msg, int msglen, unsigned char *answer, int anslen) { \
    (void)msg, (void)msglen, (void)answer, (void)anslen; \
    return refuse_dns(#fn, NULL); \
  }
#define REFUSE_NSEND(fn) \
  int fn(void *statp, const unsigned char *msg, int msglen, unsigned char *answer, int anslen) { \
    (void)statp, (void)msg, (void)msglen, (void)answer, (void)anslen; \
    return refuse_dns(#fn, NULL); \
  }
REFUSE_SEND(res_send)
REFUSE_SEND(__res_send)
REFUSE_NSEND(res_nsend)
REFUSE_NSEND(__res_nsend)
