// ett-native.node: the system calls the isolated run and the transparent port need and Node does not offer.
//   socketPair() → [fd, fd]                  a Unix stream socket pair (close-on-exec)
//   recvFds(fd, timeoutMs) → { text, fds } | null   one recvmsg on a Unix socket, SCM_RIGHTS descriptors
//                                            (close-on-exec); null if nothing came within timeoutMs
//   originalDst(fd) → { address, port } | null   getsockopt(SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST)
//   closeFd(fd)                              close(2)
//   conntrackOrigDst(fd, local, lport, peer, pport) → { address, port } | null   (conntrack.c)
//   conntrackOpen() → fd of this namespace's ctnetlink, or throws why not          (conntrack.c)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ORIGINAL_DST 80 // SO_ORIGINAL_DST (linux/netfilter_ipv4.h) = IP6T_SO_ORIGINAL_DST
#define FDS_MAX 16

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int int_arg(napi_env env, napi_callback_info info, int *out, size_t want) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return -1;
  for (size_t i = 0; i < want; i++)
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) return -1;
  return 0;
}

static napi_value recv_fds(napi_env env, napi_callback_info info) {
  int a[2];
  if (int_arg(env, info, a, 2) < 0) {
    napi_throw_type_error(env, NULL, "recvFds(fd, timeoutMs)");
    return NULL;
  }
  struct pollfd p = {a[0], POLLIN, 0};
  int r;
  do r = poll(&p, 1, a[1]);
  while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, "poll");
  if (r == 0) {
    napi_value nul;
    napi_get_null(env, &nul);
    return nul;
  }
  char data[512];
  char control[CMSG_SPACE(sizeof(int) * FDS_MAX)];
  struct iovec iov = {data, sizeof data};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(a[0], &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "recvmsg");
  napi_value result, text, fds;
  napi_create_object(env, &result);
  napi_create_string_latin1(env, data, (size_t)n, &text);
  napi_create_array(env, &fds);
  uint32_t k = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      napi_value v;
      napi_create_int32(env, fd, &v);
      napi_set_element(env, fds, k++, v);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    napi_throw_error(env, NULL, "recvFds: too many descriptors");
    return NULL;
  }
  napi_set_named_property(env, result, "text", text);
  napi_set_named_property(env, result, "fds", fds);
  return result;
}

static napi_value original_dst(napi_env env, napi_callback_info info) {
  int fd;
  if (int_arg(env, info, &fd, 1) < 0) {
    napi_throw_type_error(env, NULL, "originalDst(fd)");
    return NULL;
  }
  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &len) < 0) return throw_errno(env, "getsockname");
  struct sockaddr_storage ss;
  len = sizeof ss;
  char text[INET6_ADDRSTRLEN];
  int port;
  if (local.ss_family == AF_INET) {
    if (getsockopt(fd, SOL_IP, ORIGINAL_DST, &ss, &len) < 0) goto none;
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else if (local.ss_family == AF_INET6 &&
             IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&local)->sin6_addr)) {
    /* IPv4 accepted on a dual-stack socket: its conntrack entry is IPv4's. */
    if (getsockopt(fd, SOL_IP, ORIGINAL_DST, &ss, &len) < 0) goto none;
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else if (local.ss_family == AF_INET6) {
    if (getsockopt(fd, SOL_IPV6, ORIGINAL_DST, &ss, &len) < 0) goto none;
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  } else {
    goto none;
  }
  napi_value result, address, portv;
  napi_create_object(env, &result);
  napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_int32(env, port, &portv);
  napi_set_named_property(env, result, "address", address);
  napi_set_named_property(env, result, "port", portv);
  return result;
none: {
  napi_value nul;
  napi_get_null(env, &nul);
  return nul;
}
}

static napi_value socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return throw_errno(env, "socketpair");
  napi_value result, v;
  napi_create_array(env, &result);
  for (uint32_t i = 0; i < 2; i++) {
    napi_create_int32(env, sv[i], &v);
    napi_set_element(env, result, i, v);
  }
  return result;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  int fd;
  if (int_arg(env, info, &fd, 1) < 0) {
    napi_throw_type_error(env, NULL, "closeFd(fd)");
    return NULL;
  }
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, "close");
  return NULL;
}

napi_value conntrack_orig_dst(napi_env env, napi_callback_info info); // conntrack.c
napi_value conntrack_open(napi_env env, napi_callback_info info);     // conntrack.c

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "socketPair", NAPI_AUTO_LENGTH, socket_pair, NULL, &f);
  napi_set_named_property(env, exports, "socketPair", f);
  napi_create_function(env, "closeFd", NAPI_AUTO_LENGTH, close_fd, NULL, &f);
  napi_set_named_property(env, exports, "closeFd", f);
  napi_create_function(env, "recvFds", NAPI_AUTO_LENGTH, recv_fds, NULL, &f);
  napi_set_named_property(env, exports, "recvFds", f);
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &f);
  napi_set_named_property(env, exports, "originalDst", f);
  napi_create_function(env, "conntrackOrigDst", NAPI_AUTO_LENGTH, conntrack_orig_dst, NULL, &f);
  napi_set_named_property(env, exports, "conntrackOrigDst", f);
  napi_create_function(env, "conntrackOpen", NAPI_AUTO_LENGTH, conntrack_open, NULL, &f);
  napi_set_named_property(env, exports, "conntrackOpen", f);
  return exports;
}
