// ett-isolate: the namespace side of `ett run --isolate` (DESIGN.md §16).
//
//   ett-isolate RESOLV_CONF NSSWITCH_CONF FILE ARGV0 [ARGS…]      with fd 3 a Unix stream socket to ett
//
// 1. unshare(user + net + mount + pid); as root without user namespaces, net + mount + pid.
// 2. In the new network namespace (which has only lo): lo up, every IPv4/IPv6 address routed locally,
//    and an nftables ruleset: TCP to any non-loopback address and UDP/TCP to port 53 anywhere are
//    redirected to listeners made here, and so is UDP to any other non-loopback address; every other
//    packet that is not loopback is dropped.
// 3. /etc/resolv.conf is RESOLV_CONF and /etc/nsswitch.conf is NSSWITCH_CONF (bind mounts in the new
//    mount namespace: the resolver asks DNS, which is ett, and no host daemon such as systemd-resolved).
// 4. The listeners (tcp4, tcp6, DNS udp4, udp6, DNS tcp4, tcp6, UDP udp4, udp6) and a ctnetlink
//    socket (NETLINK_NETFILTER, opened here so that it asks this namespace's connection tracking for a
//    redirected datagram's original destination) go to ett over fd 3 (SCM_RIGHTS) with "OK\n"; on a
//    failure "E reason\n" goes instead and we exit 2.
// 5. A child becomes pid 1 of the new pid namespace; it mounts /proc, starts CMD as its child (in a
//    nested user namespace that does not own the network namespace, as the caller's uid/gid, or as
//    root without capabilities), passes signals on and reaps. When CMD ends, pid 1 ends, and the kernel
//    kills every other process of the namespace; the last process gone takes the network namespace.
//    We exit as CMD did (raising its signal on ourselves if it was killed).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ETT_FD 3
#define LISTENERS 9

static void fail(const char *fmt, ...) {
  char msg[512] = "E ";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + 2, sizeof msg - 3, fmt, ap);
  va_end(ap);
  strcat(msg, "\n");
  if (write(ETT_FD, msg, strlen(msg)) < 0) fputs(msg + 2, stderr);
  _exit(2);
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/** Runs argv (a setup tool: ip, nft) with input on its stdin; 0 if it exited 0. */
static int run_tool(char *const argv[], const char *input) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(in[0], 0);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(in[0]);
  if (input) {
    size_t left = strlen(input);
    while (left > 0) {
      ssize_t n = write(in[1], input, left);
      if (n <= 0) break;
      input += n;
      left -= (size_t)n;
    }
  }
  close(in[1]);
  int status;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int listener(int family, int type, int *port) {
  int fd = socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  socklen_t len;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) return -1;
  if (type == SOCK_STREAM && listen(fd, 4096) < 0) return -1;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -1;
  *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
  return fd;
}

static int send_fds(const int *fds, int n) {
  char data[] = "OK\n";
  struct iovec iov = {data, 3};
  char control[CMSG_SPACE(sizeof(int) * LISTENERS)];
  memset(control, 0, sizeof control);
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
  memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
  return sendmsg(ETT_FD, &msg, MSG_NOSIGNAL) == 3 ? 0 : -1;
}

/** No capability survives exec: empty inheritable/ambient, empty bounding set, no_new_privs. */
static void drop_capabilities(void) {
  prctl(PR_SET_SECUREBITS, 0x2f /* NOROOT, NOROOT_LOCKED, NO_SETUID_FIXUP(+LOCKED), KEEP_CAPS_LOCKED */);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap <= 63; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) == 0) {
    d[0].inheritable = d[1].inheritable = 0;
    syscall(SYS_capset, &h, d);
  }
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

// As ett run: SIGINT and SIGWINCH are not passed (from a terminal, CMD's process group gets its own).
static const int PASSED[] = {SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
static volatile pid_t target = 0;

static void pass_signal(int sig) {
  if (target > 0) kill(target, sig);
}

static void pass_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = pass_signal;
  sa.sa_flags = SA_RESTART;
  for (size_t i = 0; i < sizeof PASSED / sizeof PASSED[0]; i++) sigaction(PASSED[i], &sa, NULL);
  signal(SIGINT, SIG_IGN);
}

/** pid 1 of the namespace: starts CMD, passes signals, reaps; writes CMD's wait status to out. */
static void init_process(int out, int userns, uid_t uid, gid_t gid, char *file, char **argv) {
  mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL); // best effort
  pid_t cmd = fork();
  if (cmd < 0) _exit(126);
  if (cmd == 0) {
    for (size_t i = 0; i < sizeof PASSED / sizeof PASSED[0]; i++) signal(PASSED[i], SIG_DFL);
    signal(SIGINT, SIG_DFL);
    if (userns) {
      // A user namespace of CMD's own, child of the one that owns the network namespace: whatever CMD
      // does in it, it holds no capability over the network namespace or its rules.
      char map[64];
      if (unshare(CLONE_NEWUSER) < 0) _exit(126);
      write_file("/proc/self/setgroups", "deny");
      snprintf(map, sizeof map, "%u 0 1\n", (unsigned)uid);
      if (write_file("/proc/self/uid_map", map) < 0) _exit(126);
      snprintf(map, sizeof map, "%u 0 1\n", (unsigned)gid);
      if (write_file("/proc/self/gid_map", map) < 0) _exit(126);
      if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) _exit(126);
    }
    drop_capabilities();
    execv(file, argv);
    fprintf(stderr, "ett run: cannot run %s: %s\n", file, strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  target = cmd;
  pass_signals();
  int status = 0;
  for (int i = 0; i < 1 << 30; i++) { // reaps orphans too; ends when CMD has ended
    int st;
    pid_t p = wait(&st);
    if (p == cmd) {
      status = st;
      break;
    }
    if (p < 0 && errno != EINTR) break;
  }
  if (write(out, &status, sizeof status) < 0) _exit(126);
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fputs("usage: ett-isolate RESOLV_CONF NSSWITCH_CONF FILE ARGV0 [ARGS…] (fd 3: ett)\n", stderr);
    return 2;
  }
  uid_t uid = getuid();
  gid_t gid = getgid();
  // The pid namespace comes last (just before pid 1 is forked): the first child forked after it is
  // its pid 1, and the setup tools (ip, nft) are children too.
  int ns = CLONE_NEWNET | CLONE_NEWNS;
  int userns = 1;
  const char *no_userns = getenv("ETT_ISOLATE_NO_USERNS"); // tests: as if the kernel refused
  int refused = no_userns && *no_userns ? EPERM : 0;
  if (refused || unshare(CLONE_NEWUSER | ns) < 0) {
    int why = refused ? refused : errno;
    if (geteuid() != 0) {
      fail("isolate: this kernel does not let an unprivileged user create a user namespace (%s). "
           "Enable it (Debian/Ubuntu: sysctl -w kernel.unprivileged_userns_clone=1; elsewhere: "
           "sysctl -w user.max_user_namespaces=15000; Ubuntu 24.04+: "
           "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0) or run ett run --isolate as root",
           strerror(why));
    }
    userns = 0;
    if (unshare(ns) < 0) fail("isolate: unshare(net, mount) failed: %s", strerror(errno));
  } else {
    char map[64];
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) < 0) fail("isolate: cannot write uid_map: %s", strerror(errno));
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) < 0) fail("isolate: cannot write gid_map: %s", strerror(errno));
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) fail("isolate: setresuid: %s", strerror(errno));
  }

  char *lo_up[] = {"ip", "link", "set", "lo", "up", NULL};
  char *route4[] = {"ip", "-4", "route", "add", "local", "0.0.0.0/0", "dev", "lo", NULL};
  char *route6[] = {"ip", "-6", "route", "add", "local", "::/0", "dev", "lo", NULL};
  if (run_tool(lo_up, NULL) < 0 || run_tool(route4, NULL) < 0)
    fail("isolate: cannot set up the namespace's loopback with ip (iproute2 installed?)");
  int have6 = run_tool(route6, NULL) == 0;

  int fds[LISTENERS], t4, t6 = 0, u4, u6 = 0, d4, d6 = 0, x4, x6 = 0;
  fds[0] = listener(AF_INET, SOCK_STREAM, &t4);
  // Without IPv6, IPv4 sockets stand in for the IPv6 ones: nothing is redirected to them.
  int f6 = have6 ? AF_INET6 : AF_INET;
  fds[1] = listener(f6, SOCK_STREAM, &t6);
  fds[2] = listener(AF_INET, SOCK_DGRAM, &u4);
  fds[3] = listener(f6, SOCK_DGRAM, &u6);
  fds[4] = listener(AF_INET, SOCK_STREAM, &d4);
  fds[5] = listener(f6, SOCK_STREAM, &d6);
  fds[6] = listener(AF_INET, SOCK_DGRAM, &x4);
  fds[7] = listener(f6, SOCK_DGRAM, &x6);
  for (int i = 0; i < LISTENERS - 1; i++)
    if (fds[i] < 0) fail("isolate: cannot listen inside the namespace: %s", strerror(errno));
  fds[8] = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fds[8] < 0) fail("isolate: cannot open a ctnetlink socket (nf_conntrack_netlink): %s", strerror(errno));

  char rules[2048];
  int n = snprintf(rules, sizeof rules,
                   "table ip ett {\n"
                   " chain to_ett { type nat hook output priority -100; policy accept;\n"
                   "  udp dport 53 redirect to :%d\n"
                   "  tcp dport 53 redirect to :%d\n"
                   "  ip daddr 127.0.0.0/8 return\n"
                   "  meta l4proto tcp redirect to :%d\n"
                   "  meta l4proto udp redirect to :%d\n"
                   " }\n"
                   " chain only_lo { type filter hook output priority 0; policy drop;\n"
                   "  oif lo ip daddr 127.0.0.0/8 accept\n"
                   "  oif lo ct state established,related accept\n"
                   " }\n"
                   "}\n",
                   u4, d4, t4, x4);
  if (have6)
    snprintf(rules + n, sizeof rules - (size_t)n,
             "table ip6 ett {\n"
             " chain to_ett { type nat hook output priority -100; policy accept;\n"
             "  udp dport 53 redirect to :%d\n"
             "  tcp dport 53 redirect to :%d\n"
             "  ip6 daddr ::1 return\n"
             "  meta l4proto tcp redirect to :%d\n"
             "  meta l4proto udp redirect to :%d\n"
             " }\n"
             " chain only_lo { type filter hook output priority 0; policy drop;\n"
             "  oif lo ip6 daddr ::1 accept\n"
             "  oif lo ct state established,related accept\n"
             " }\n"
             "}\n",
             u6, d6, t6, x6);
  else
    snprintf(rules + n, sizeof rules - (size_t)n,
             "table ip6 ett { chain only_lo { type filter hook output priority 0; policy drop; } }\n");
  char *nft[] = {"nft", "-f", "-", NULL};
  if (run_tool(nft, rules) < 0)
    fail("isolate: cannot install the namespace's nftables rules with nft (nftables installed, "
         "kernel module nf_tables available?)");

  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    fail("isolate: cannot make the mount namespace private: %s", strerror(errno));
  if (access("/etc/resolv.conf", F_OK) == 0 && mount(argv[1], "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
    fail("isolate: cannot bind-mount %s on /etc/resolv.conf: %s", argv[1], strerror(errno));
  if (access("/etc/nsswitch.conf", F_OK) == 0 && mount(argv[2], "/etc/nsswitch.conf", NULL, MS_BIND, NULL) < 0)
    fail("isolate: cannot bind-mount %s on /etc/nsswitch.conf: %s", argv[2], strerror(errno));

  if (send_fds(fds, LISTENERS) < 0) fail("isolate: cannot hand the listeners to ett: %s", strerror(errno));
  for (int i = 0; i < LISTENERS; i++) close(fds[i]);
  close(ETT_FD);

  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) < 0) return 126;
  if (unshare(CLONE_NEWPID) < 0) {
    fprintf(stderr, "ett run: isolate: unshare(pid) failed: %s\n", strerror(errno));
    return 126;
  }
  pid_t init = fork();
  if (init < 0) return 126;
  if (init == 0) {
    close(status_pipe[0]);
    init_process(status_pipe[1], userns, uid, gid, argv[3], argv + 4);
  }
  close(status_pipe[1]);
  target = init;
  pass_signals();
  int st;
  for (int i = 0; i < 1 << 30; i++) {
    if (waitpid(init, &st, 0) == init) break;
    if (errno != EINTR) break;
  }
  int status;
  if (read(status_pipe[0], &status, sizeof status) != sizeof status) return 126;
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    prctl(PR_SET_DUMPABLE, 0);
    kill(getpid(), sig);
    return 128 + sig;
  }
  return WEXITSTATUS(status);
}
