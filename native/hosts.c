/* ett run: /etc/hosts, read by the library itself so that a local name is answered without asking any
 * resolver (the system's would fall through to DNS for what the file lacks). Small and bounded: the
 * first 1 MiB of the file, lines up to 1 KiB. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ett-preload.h"

#define HOSTS_PATH "/etc/hosts"
#define HOSTS_BYTES_MAX (1 << 20)

typedef int (*line_fn)(const char *addr, char *const names[], int count, void *ctx);

/* Calls fn for each line's address and names until it returns non-zero (which is returned). */
static int each_line(line_fn fn, void *ctx) {
  FILE *f = fopen(HOSTS_PATH, "re");
  if (f == NULL) return 0;
  char line[1024];
  long seen = 0;
  int result = 0;
  while (result == 0 && seen < HOSTS_BYTES_MAX && fgets(line, sizeof line, f) != NULL) {
    seen += (long)strlen(line);
    char *hash = strchr(line, '#');
    if (hash != NULL) *hash = '\0';
    char *save = NULL;
    char *addr = strtok_r(line, " \t\r\n", &save);
    if (addr == NULL) continue;
    char *names[32];
    int count = 0;
    char *tok;
    while (count < 32 && (tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) names[count++] = tok;
    if (count > 0) result = fn(addr, names, count, ctx);
  }
  fclose(f);
  return result;
}

struct by_name {
  const char *name;
  int family;
  int skip;
  char *out;
  size_t outlen;
};

static int match_name(const char *addr, char *const names[], int count, void *ctx) {
  struct by_name *q = ctx;
  uint8_t buf[16];
  int fam = inet_pton(AF_INET, addr, buf) == 1 ? AF_INET : inet_pton(AF_INET6, addr, buf) == 1 ? AF_INET6 : 0;
  if (fam == 0 || (q->family != AF_UNSPEC && q->family != fam)) return 0;
  for (int i = 0; i < count; i++) {
    if (strcasecmp(names[i], q->name) == 0) {
      if (q->skip-- > 0) return 0;
      snprintf(q->out, q->outlen, "%s", addr);
      return 1;
    }
  }
  return 0;
}

int ett_hosts_address(const char *name, int family, char *out, size_t outlen, int skip) {
  struct by_name q = {name, family, skip, out, outlen};
  return each_line(match_name, &q) ? 0 : -1;
}

struct by_addr {
  const struct ett_dest *d;
  char *out;
  size_t outlen;
};

static int match_addr(const char *addr, char *const names[], int count, void *ctx) {
  struct by_addr *q = ctx;
  uint8_t buf[16];
  (void)count;
  if (inet_pton(q->d->family, addr, buf) != 1) return 0;
  if (memcmp(buf, q->d->addr, q->d->family == AF_INET ? 4 : 16) != 0) return 0;
  snprintf(q->out, q->outlen, "%s", names[0]);
  return 1;
}

int ett_hosts_name(const struct ett_dest *d, char *out, size_t outlen) {
  struct by_addr q = {d, out, outlen};
  return each_line(match_addr, &q) ? 0 : -1;
}

int ett_is_local_name(const char *name) {
  size_t len = strlen(name);
  /* A trailing dot is the same name, fully qualified. */
  char plain[ETT_NAME_MAX + 2];
  if (len == 0 || len > ETT_NAME_MAX + 1) return 0;
  memcpy(plain, name, len + 1);
  if (plain[len - 1] == '.') plain[--len] = '\0';
  if (strcasecmp(plain, "localhost") == 0) return 1;
  if (len > 10 && strcasecmp(plain + len - 10, ".localhost") == 0) return 1;
  char addr[64];
  return ett_hosts_address(plain, AF_UNSPEC, addr, sizeof addr, 0) == 0;
}
