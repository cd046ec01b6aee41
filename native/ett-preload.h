/* ett run: what the preload library's files share (not the pure part: see ett-run.h). */
#ifndef ETT_PRELOAD_H
#define ETT_PRELOAD_H

#include "ett-run.h"

/* Inside an interposed function: `real_NAME`, libc's own NAME (found once with dlsym(RTLD_NEXT)). */
#define REAL(name) \
  static __typeof__(&name) real_##name; \
  if (real_##name == NULL) *(void **)(&real_##name) = dlsym(RTLD_NEXT, #name)

/* The real connect(2), found with dlsym(RTLD_NEXT). */
int ett_real_connect(int fd, const struct sockaddr *sa, socklen_t len);

/* Monotonic milliseconds, for deadlines. */
long ett_now_ms(void);
/* Waits (poll) for events on fd until the deadline (ett_now_ms() time), retrying after signals.
 * 0 when ready, or -1 with errno (ETIMEDOUT at the deadline). */
int ett_wait_fd(int fd, short events, long deadline);

/* One line "ett run: <message>" on stderr; at most WARN_MAX per process, then a last line saying so. */
void ett_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Local networks that go direct (ETT_RUN_LOCALNET), parsed once. */
const struct ett_localnet *ett_localnet(void);

/* names.c: 0, or -1 with a reason in why. */
int ett_name_to_address(const char *name, char *addr, size_t addrlen, char *why, size_t whylen);
int ett_address_to_name(const char *addr, char *name, size_t namelen, char *why, size_t whylen);

/* hosts.c: the first address of name in /etc/hosts of the given family (AF_UNSPEC: any), as text;
 * 0 if found. And the first name for an address. */
int ett_hosts_address(const char *name, int family, char *out, size_t outlen, int skip);
int ett_hosts_name(const struct ett_dest *d, char *out, size_t outlen);

/* True for names answered on this machine: "localhost", "*.localhost", and names in /etc/hosts. */
int ett_is_local_name(const char *name);

#endif
