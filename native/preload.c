/* ett run: the interposed socket calls. A TCP connect to a non-local address is made to the ett
 * client's SOCKS5 port instead, and the SOCKS5 CONNECT names the destination — as the host name when
 * the address is one ett run handed out for a name (so the exit resolves it, never this machine). UDP
 * that would leave the machine, and any DNS query (UDP or TCP port 53, libc's res_* calls) is refused
 * with a one-line warning. Loopback and ETT_RUN_LOCALNET go direct.
 *
 * Environment (set by ett run): ETT_RUN_SOCKS=IP:PORT, ETT_RUN_SOCKS_USER/ETT_RUN_SOCKS_PASS (RFC 1929,
 * optional), ETT_RUN_SOCKS_TOKEN=1 (that login is only a stream-isolation token: no-auth is offered
 * beside it, for a SOCKS server without logins), ETT_RUN_NAMES=unix socket path,
 * ETT_RUN_LOCALNET=CIDR[,CIDR…], ETT_RUN_TIMEOUT_MS. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ett-preload.h"

#define WARN_MAX 50
#define DEFAULT_TIMEOUT_MS 60000

static struct {
  int socks_ok;
  struct ett_dest socks;
  char user[256], pass[256];
  int token; /* the login is an isolation token, not required */
  struct ett_localnet localnet;
  long timeout_ms;
} cfg;
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;
static int warnings;

void ett_warn(const char *fmt, ...) {
  int n = __atomic_add_fetch(&warnings, 1, __ATOMIC_RELAXED);
  if (n > WARN_MAX + 1) return;
  char line[512];
  int len;
  if (n == WARN_MAX + 1) {
    len = snprintf(line, sizeof line, "ett run: more warnings not shown\n");
  } else {
    va_list ap;
    va_start(ap, fmt);
    len = snprintf(line, sizeof line - 1, "ett run: ");
    len += vsnprintf(line + len, sizeof line - 1 - (size_t)len, fmt, ap);
    va_end(ap);
    if (len > (int)sizeof line - 2) len = (int)sizeof line - 2;
    line[len++] = '\n';
  }
  ssize_t ignored = write(2, line, (size_t)len);
  (void)ignored;
}

static void load_config(void) {
  char err[160];
  const char *socks = getenv("ETT_RUN_SOCKS");
  if (socks != NULL && ett_parse_hostport(socks, &cfg.socks) == 0) cfg.socks_ok = 1;
  else ett_warn("ETT_RUN_SOCKS is missing or not IP:PORT; connections that need ett will be refused");
  const char *user = getenv("ETT_RUN_SOCKS_USER"), *pass = getenv("ETT_RUN_SOCKS_PASS");
  if (user != NULL && pass != NULL) {
    snprintf(cfg.user, sizeof cfg.user, "%s", user);
    snprintf(cfg.pass, sizeof cfg.pass, "%s", pass);
    const char *token = getenv("ETT_RUN_SOCKS_TOKEN");
    cfg.token = token != NULL && strcmp(token, "1") == 0;
  }
  if (ett_parse_localnet(getenv("ETT_RUN_LOCALNET"), &cfg.localnet, err, sizeof err) != 0) {
    ett_warn("ETT_RUN_LOCALNET: %s; no local networks go direct", err);
    memset(&cfg.localnet, 0, sizeof cfg.localnet);
  }
  const char *t = getenv("ETT_RUN_TIMEOUT_MS");
  cfg.timeout_ms = t != NULL ? strtol(t, NULL, 10) : 0;
  if (cfg.timeout_ms <= 0 || cfg.timeout_ms > 600000) cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
}

static void config(void) { pthread_once(&cfg_once, load_config); }

const struct ett_localnet *ett_localnet(void) {
  config();
  return &cfg.localnet;
}

int ett_real_connect(int fd, const struct sockaddr *sa, socklen_t len) {
  REAL(connect);
  return real_connect(fd, sa, len);
}

long ett_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int ett_wait_fd(int fd, short events, long deadline) {
  for (;;) {
    long left = deadline - ett_now_ms();
    if (left <= 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    struct pollfd p = {fd, events, 0};
    int r = poll(&p, 1, (int)left);
    if (r > 0) return 0;
    if (r < 0 && errno != EINTR) return -1;
  }
}

static int send_all(int fd, const uint8_t *buf, size_t len, long deadline) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
    if (n > 0) done += (size_t)n;
    else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (ett_wait_fd(fd, POLLOUT, deadline) != 0) return -1;
    } else return -1;
  }
  return 0;
}

/* Reads exactly len bytes: never more, since the destination's first bytes may follow the reply. */
static int recv_exact(int fd, uint8_t *buf, size_t len, long deadline) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = recv(fd, buf + done, len - done, 0);
    if (n > 0) done += (size_t)n;
    else if (n == 0) {
      errno = ECONNRESET;
      return -1;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (ett_wait_fd(fd, POLLIN, deadline) != 0) return -1;
    } else return -1;
  }
  return 0;
}

/* Connects fd (non-blocking now) to the SOCKS port, replacing the socket by one of the port's family
 * when fd's own cannot reach it (an IPv6-only socket, or an IPv4 socket and an IPv6 port). */
static int reach_socks(int fd, long deadline) {
  int domain = 0;
  socklen_t dl = sizeof domain;
  getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  int rc = -1;
  if (domain == AF_INET6 || cfg.socks.family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(cfg.socks.port);
    if (cfg.socks.family == AF_INET) {
      in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
      memcpy(in6->sin6_addr.s6_addr + 12, cfg.socks.addr, 4);
    } else memcpy(in6->sin6_addr.s6_addr, cfg.socks.addr, 16);
    sl = sizeof *in6;
  } else {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(cfg.socks.port);
    memcpy(&in->sin_addr, cfg.socks.addr, 4);
    sl = sizeof *in;
  }
  if (domain == ss.ss_family) {
    rc = ett_real_connect(fd, (struct sockaddr *)&ss, sl);
    if (rc != 0 && errno != EINPROGRESS && cfg.socks.family == AF_INET && domain == AF_INET6) {
      rc = -2; /* IPV6_V6ONLY: try a socket of the port's own family below */
    }
  } else rc = -2;
  if (rc == -2) {
    int nfd = socket(cfg.socks.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (nfd < 0) return -1;
    struct sockaddr_storage direct;
    memset(&direct, 0, sizeof direct);
    if (cfg.socks.family == AF_INET) {
      struct sockaddr_in *in = (struct sockaddr_in *)&direct;
      in->sin_family = AF_INET;
      in->sin_port = htons(cfg.socks.port);
      memcpy(&in->sin_addr, cfg.socks.addr, 4);
      sl = sizeof *in;
    } else {
      memcpy(&direct, &ss, sizeof ss);
    }
    int fdflags = fcntl(fd, F_GETFD);
    if (dup3(nfd, fd, (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
      close(nfd);
      return -1;
    }
    close(nfd);
    rc = ett_real_connect(fd, (struct sockaddr *)&direct, sl);
  }
  if (rc == 0) return 0;
  if (errno != EINPROGRESS) return -1;
  if (ett_wait_fd(fd, POLLOUT, deadline) != 0) return -1;
  int soerr = 0;
  socklen_t el = sizeof soerr;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el);
  if (soerr != 0) {
    errno = soerr;
    return -1;
  }
  return 0;
}

/* The SOCKS5 exchange on a connected fd. 0, or -1 with errno (a refusal's errno by its reply code). */
static int socks_handshake(int fd, const char *name, const char *where, const struct ett_dest *d, long deadline,
                           uint8_t *rep) {
  int auth = cfg.user[0] != '\0';
  uint8_t buf[600];
  /* An isolation token offers no-auth beside user/pass (RFC 1928 §3: the server picks one). */
  uint8_t greet[4] = {5, 1, auth ? 2 : 0, 0};
  size_t greet_len = 3;
  if (auth && cfg.token) {
    greet[1] = 2;
    greet_len = 4;
  }
  if (send_all(fd, greet, greet_len, deadline) != 0 || recv_exact(fd, buf, 2, deadline) != 0) return -1;
  if (auth && cfg.token && buf[0] == 5 && buf[1] == 0) auth = 0; /* the server took no-auth */
  if (buf[0] == 5 && buf[1] == 0xff && (!auth || cfg.token)) {
    /* The client has socks_users: it answers "no acceptable method" to a greeting without a login. */
    ett_warn("%s: SOCKS login required by the ett client (run with --socks-user NAME and ETT_SOCKS_PASSWORD)",
             where);
    *rep = 0xfe; /* said already */
    errno = EACCES;
    return -1;
  }
  if (buf[0] != 5 || buf[1] != (auth ? 2 : 0)) {
    errno = ECONNREFUSED;
    return -1;
  }
  if (auth) {
    int n = ett_socks_auth_request(buf, sizeof buf, cfg.user, cfg.pass);
    if (n < 0 || send_all(fd, buf, (size_t)n, deadline) != 0 || recv_exact(fd, buf, 2, deadline) != 0) return -1;
    if (buf[1] != 0 && cfg.token) {
      /* The token is any login; a server that checks logins wants a real one. */
      ett_warn("%s: SOCKS login required by the ett client (run with --socks-user NAME and ETT_SOCKS_PASSWORD)",
               where);
      *rep = 0xfe;
      errno = EACCES;
      return -1;
    }
    if (buf[1] != 0) {
      ett_warn("%s: SOCKS login refused by the ett client (check --socks-user and ETT_SOCKS_PASSWORD)",
               where);
      *rep = 0xfe;
      errno = EACCES;
      return -1;
    }
  }
  int n = ett_socks_request(buf, sizeof buf, name, d);
  if (n < 0) {
    errno = EINVAL;
    return -1;
  }
  if (send_all(fd, buf, (size_t)n, deadline) != 0 || recv_exact(fd, buf, 5, deadline) != 0) return -1;
  *rep = buf[1];
  int rest = ett_socks_reply_rest(buf);
  if (rest < 0 || recv_exact(fd, buf + 5, (size_t)rest, deadline) != 0) {
    errno = ECONNREFUSED;
    return -1;
  }
  errno = ett_socks_errno(buf[1]);
  return errno == 0 ? 0 : -1;
}

static int socks_connect(int fd, const struct ett_dest *d, const char *name) {
  char where[ETT_NAME_MAX + 64], addr[64];
  ett_format_addr(d, addr, sizeof addr);
  snprintf(where, sizeof where, "%s%s%s:%u", name ? name : (d->family == AF_INET6 ? "[" : ""),
           name ? "" : addr, name || d->family != AF_INET6 ? "" : "]", d->port);
  if (!cfg.socks_ok) {
    ett_warn("refused a connection to %s: no ett SOCKS port is set", where);
    errno = ECONNREFUSED;
    return -1;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -1;
  long deadline = ett_now_ms() + cfg.timeout_ms;
  uint8_t rep = 0xff;
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = reach_socks(fd, deadline);
  if (rc != 0) ett_warn("cannot reach the ett SOCKS port for %s: %s", where, strerror(errno));
  else {
    rc = socks_handshake(fd, name, where, d, deadline, &rep);
    if (rc != 0 && rep != 0xfe) ett_warn("%s: %s (through ett)", where, strerror(errno));
  }
  int saved = errno;
  fcntl(fd, F_SETFL, flags);
  errno = saved;
  return rc;
}

/* UDP may go to loopback and the local networks, never to port 53 (DNS would tell on the names). */
static int udp_allowed(const struct ett_dest *d) {
  if (d->port == 53) return 0;
  return ett_is_loopback(d) || ett_in_localnet(ett_localnet(), d);
}

static int refuse_udp(const struct ett_dest *d) {
  char addr[64];
  ett_format_addr(d, addr, sizeof addr);
  ett_warn("refused UDP to %s port %u: ett carries TCP only%s", addr, d->port,
           d->port == 53 ? " (and a DNS query would leak names)" : "");
  errno = EPERM;
  return -1;
}

static int socket_type(int fd) {
  int type = 0;
  socklen_t tl = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 ? type : -1;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len) {
  struct ett_dest d;
  if (ett_dest_from_sockaddr(sa, len, &d) != 0) return ett_real_connect(fd, sa, len);
  config();
  int type = socket_type(fd);
  if (type == SOCK_DGRAM) return udp_allowed(&d) ? ett_real_connect(fd, sa, len) : refuse_udp(&d);
  if (type != SOCK_STREAM) return ett_real_connect(fd, sa, len);
  if (ett_is_name_address(&d)) {
    char addr[64], name[ETT_NAME_MAX + 2], why[200];
    ett_format_addr(&d, addr, sizeof addr);
    if (ett_address_to_name(addr, name, sizeof name, why, sizeof why) != 0) {
      ett_warn("refused a connection to %s: %s", addr, why);
      errno = ECONNREFUSED;
      return -1;
    }
    return socks_connect(fd, &d, name);
  }
  if (d.port == 53 && (ett_is_loopback(&d) || ett_in_localnet(ett_localnet(), &d))) {
    ett_warn("refused DNS over TCP to a local resolver: it would resolve names outside ett");
    errno = EPERM;
    return -1;
  }
  if (ett_is_loopback(&d) || ett_in_localnet(ett_localnet(), &d)) return ett_real_connect(fd, sa, len);
  return socks_connect(fd, &d, NULL);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa, socklen_t salen) {
  REAL(sendto);
  struct ett_dest d;
  if (sa != NULL && ett_dest_from_sockaddr(sa, salen, &d) == 0) {
    config();
    int type = socket_type(fd);
    if (type == SOCK_DGRAM && !udp_allowed(&d)) return refuse_udp(&d);
    if (type == SOCK_STREAM && (flags & MSG_FASTOPEN)) {
      /* TCP Fast Open names its destination here: connect the ett way, then send. */
      if (connect(fd, sa, salen) != 0) return -1;
      return send(fd, buf, len, flags & ~MSG_FASTOPEN);
    }
  }
  return real_sendto(fd, buf, len, flags, sa, salen);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  REAL(sendmsg);
  struct ett_dest d;
  if (msg != NULL && msg->msg_name != NULL && ett_dest_from_sockaddr(msg->msg_name, msg->msg_namelen, &d) == 0) {
    config();
    int type = socket_type(fd);
    if (type == SOCK_DGRAM && !udp_allowed(&d)) return refuse_udp(&d);
    if (type == SOCK_STREAM && (flags & MSG_FASTOPEN)) {
      if (connect(fd, msg->msg_name, msg->msg_namelen) != 0) return -1;
      struct msghdr copy = *msg;
      copy.msg_name = NULL;
      copy.msg_namelen = 0;
      return real_sendmsg(fd, &copy, flags & ~MSG_FASTOPEN);
    }
  }
  return real_sendmsg(fd, msg, flags);
}

int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags) {
  REAL(sendmmsg);
  if (vec != NULL && socket_type(fd) == SOCK_DGRAM) {
    config();
    for (unsigned int i = 0; i < vlen; i++) {
      struct ett_dest d;
      const struct msghdr *m = &vec[i].msg_hdr;
      if (m->msg_name != NULL && ett_dest_from_sockaddr(m->msg_name, m->msg_namelen, &d) == 0 &&
          !udp_allowed(&d))
        return refuse_udp(&d);
    }
  }
  return real_sendmmsg(fd, vec, vlen, flags);
}
