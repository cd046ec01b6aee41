/* ett run: asking `ett run` (over its Unix socket, path in ETT_RUN_NAMES) which reserved address
 * stands for a name, and which name an address stands for. One short connection per question, so it
 * works the same in threads and after fork. Line protocol (see src/run/name-service.ts):
 *   "N <name>\n" → "A <ipv4>\n"    "R <ipv4>\n" → "N <name>\n"    either → "E <reason>\n" */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ett-preload.h"

#define ASK_TIMEOUT_MS 5000

/* Sends line, reads one reply line into out (without "\n"). 0, or -1 with a reason in out. */
static int ask(const char *line, char *out, size_t outlen) {
  const char *path = getenv("ETT_RUN_NAMES");
  if (path == NULL || *path == '\0') {
    snprintf(out, outlen, "ETT_RUN_NAMES is not set (not started by ett run?)");
    return -1;
  }
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sun.sun_path) {
    snprintf(out, outlen, "ETT_RUN_NAMES is too long");
    return -1;
  }
  strcpy(sun.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(out, outlen, "socket: %s", strerror(errno));
    return -1;
  }
  if (ett_real_connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
    snprintf(out, outlen, "cannot reach ett run's name service: %s", strerror(errno));
    close(fd);
    return -1;
  }
  size_t len = strlen(line), sent = 0;
  while (sent < len) {
    ssize_t n = send(fd, line + sent, len - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      snprintf(out, outlen, "name service: send failed");
      close(fd);
      return -1;
    }
    sent += (size_t)n;
  }
  size_t got = 0;
  long deadline = ett_now_ms() + ASK_TIMEOUT_MS;
  for (;;) {
    if (ett_wait_fd(fd, POLLIN, deadline) != 0) {
      snprintf(out, outlen, "name service: no answer");
      close(fd);
      return -1;
    }
    ssize_t n = recv(fd, out + got, outlen - 1 - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      snprintf(out, outlen, "name service: closed without an answer");
      close(fd);
      return -1;
    }
    got += (size_t)n;
    out[got] = '\0';
    char *nl = strchr(out, '\n');
    if (nl != NULL) {
      *nl = '\0';
      break;
    }
    if (got == outlen - 1) {
      snprintf(out, outlen, "name service: answer too long");
      close(fd);
      return -1;
    }
  }
  close(fd);
  return 0;
}

int ett_name_to_address(const char *name, char *addr, size_t addrlen, char *why, size_t whylen) {
  char line[ETT_NAME_MAX + 8], reply[ETT_NAME_MAX + 8];
  snprintf(line, sizeof line, "N %s\n", name);
  if (ask(line, reply, sizeof reply) != 0) {
    snprintf(why, whylen, "%s", reply);
    return -1;
  }
  if (reply[0] == 'A' && reply[1] == ' ') {
    snprintf(addr, addrlen, "%s", reply + 2);
    return 0;
  }
  snprintf(why, whylen, "%s", reply[0] == 'E' && reply[1] == ' ' ? reply + 2 : "name service: bad answer");
  return -1;
}

int ett_address_to_name(const char *addr, char *name, size_t namelen, char *why, size_t whylen) {
  char line[64], reply[ETT_NAME_MAX + 8];
  snprintf(line, sizeof line, "R %s\n", addr);
  if (ask(line, reply, sizeof reply) != 0) {
    snprintf(why, whylen, "%s", reply);
    return -1;
  }
  if (reply[0] == 'N' && reply[1] == ' ' && ett_valid_name(reply + 2)) {
    snprintf(name, namelen, "%s", reply + 2);
    return 0;
  }
  snprintf(why, whylen, "%s", reply[0] == 'E' && reply[1] == ' ' ? reply + 2 : "name service: bad answer");
  return -1;
}
