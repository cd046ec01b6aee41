/* C test of the preload library's pure part (addr.c): address folding, local networks, the reserved
 * name range and SOCKS5 messages, with byte vectors. Built and run by test/run/native.test.ts:
 *   cc -Wall -Wextra -o test-addr test-addr.c addr.c && ./test-addr
 * Prints one line per failed check and "ok N checks"; exit status 1 if any failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ett-run.h"

static int checks, failures;

#define CHECK(cond)                                                 \
  do {                                                              \
    checks++;                                                       \
    if (!(cond)) {                                                  \
      failures++;                                                   \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
    }                                                               \
  } while (0)

static struct ett_dest v4(const char *text, uint16_t port) {
  struct sockaddr_in in;
  memset(&in, 0, sizeof in);
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  inet_pton(AF_INET, text, &in.sin_addr);
  struct ett_dest d;
  ett_dest_from_sockaddr((struct sockaddr *)&in, sizeof in, &d);
  return d;
}

static struct ett_dest v6(const char *text, uint16_t port) {
  struct sockaddr_in6 in6;
  memset(&in6, 0, sizeof in6);
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  inet_pton(AF_INET6, text, &in6.sin6_addr);
  struct ett_dest d;
  ett_dest_from_sockaddr((struct sockaddr *)&in6, sizeof in6, &d);
  return d;
}

static void test_folding(void) {
  struct ett_dest d = v6("::ffff:240.0.0.7", 443);
  CHECK(d.family == AF_INET);
  CHECK(memcmp(d.addr, "\xf0\x00\x00\x07", 4) == 0);
  CHECK(d.port == 443);
  CHECK(ett_is_name_address(&d));
  d = v6("100::f000:7", 443); /* 100::240.0.0.7 */
  CHECK(d.family == AF_INET && memcmp(d.addr, "\xf0\x00\x00\x07", 4) == 0 && ett_is_name_address(&d));
  d = v6("100::a00:1", 443); /* 100::10.0.0.1 is not a name address: stays IPv6 */
  CHECK(d.family == AF_INET6 && !ett_is_name_address(&d));
  d = v6("2001:db8::1", 80);
  CHECK(d.family == AF_INET6 && d.port == 80 && d.addr[0] == 0x20 && d.addr[15] == 1);
  struct sockaddr_in small;
  memset(&small, 0, sizeof small);
  small.sin_family = AF_INET;
  CHECK(ett_dest_from_sockaddr((struct sockaddr *)&small, sizeof small - 1, &d) == -1);
  struct sockaddr sa = {.sa_family = AF_UNIX};
  CHECK(ett_dest_from_sockaddr(&sa, sizeof sa, &d) == -1);
  CHECK(ett_dest_from_sockaddr(NULL, 0, &d) == -1);
}

static void test_ranges(void) {
  struct ett_dest d;
  d = v4("127.0.0.1", 1); CHECK(ett_is_loopback(&d));
  d = v4("127.255.0.9", 1); CHECK(ett_is_loopback(&d));
  d = v4("128.0.0.1", 1); CHECK(!ett_is_loopback(&d));
  d = v6("::1", 1); CHECK(ett_is_loopback(&d));
  d = v6("::ffff:127.0.0.1", 1); CHECK(ett_is_loopback(&d));
  d = v6("::2", 1); CHECK(!ett_is_loopback(&d));
  d = v4("240.0.0.1", 1); CHECK(ett_is_name_address(&d));
  d = v4("255.255.255.254", 1); CHECK(ett_is_name_address(&d));
  d = v4("239.255.255.255", 1); CHECK(!ett_is_name_address(&d));
  d = v4("10.0.0.1", 1); CHECK(!ett_is_name_address(&d));
}

static void test_localnet(void) {
  struct ett_localnet ln;
  char err[128];
  CHECK(ett_parse_localnet("192.168.0.0/16,10.1.2.3,fd00::/8", &ln, err, sizeof err) == 0);
  CHECK(ln.count == 3);
  struct ett_dest d;
  d = v4("192.168.44.5", 1); CHECK(ett_in_localnet(&ln, &d));
  d = v4("192.169.0.1", 1); CHECK(!ett_in_localnet(&ln, &d));
  d = v4("10.1.2.3", 1); CHECK(ett_in_localnet(&ln, &d));
  d = v4("10.1.2.4", 1); CHECK(!ett_in_localnet(&ln, &d));
  d = v6("fd12::1", 1); CHECK(ett_in_localnet(&ln, &d));
  d = v6("fe80::1", 1); CHECK(!ett_in_localnet(&ln, &d));
  d = v6("::ffff:192.168.1.1", 1); CHECK(ett_in_localnet(&ln, &d));
  CHECK(ett_parse_localnet("10.0.0.0/12", &ln, err, sizeof err) == 0);
  d = v4("10.15.255.255", 1); CHECK(ett_in_localnet(&ln, &d));
  d = v4("10.16.0.0", 1); CHECK(!ett_in_localnet(&ln, &d));
  CHECK(ett_parse_localnet("", &ln, err, sizeof err) == 0 && ln.count == 0);
  CHECK(ett_parse_localnet(NULL, &ln, err, sizeof err) == 0 && ln.count == 0);
  const char *bad[] = {"10.0.0.0/33", "::/129", "10.0.0.0/", "nope", "10.0.0.0/8,,", "1.2.3.4/x", ",1.2.3.4"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(ett_parse_localnet(bad[i], &ln, err, sizeof err) == -1);
}

static void test_hostport(void) {
  struct ett_dest d;
  CHECK(ett_parse_hostport("127.0.0.1:1080", &d) == 0 && d.family == AF_INET && d.port == 1080);
  CHECK(ett_parse_hostport("[::1]:9", &d) == 0 && d.family == AF_INET6 && d.port == 9 && d.addr[15] == 1);
  const char *bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "::1:80", "[::1]80", "host:80", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(ett_parse_hostport(bad[i], &d) == -1);
  CHECK(ett_parse_hostport(NULL, &d) == -1);
}

static void test_names(void) {
  CHECK(ett_valid_name("example.com"));
  CHECK(ett_valid_name("a_b-c.test."));
  CHECK(!ett_valid_name(""));
  CHECK(!ett_valid_name("-a"));
  CHECK(!ett_valid_name(".a"));
  CHECK(!ett_valid_name("a..b"));
  CHECK(!ett_valid_name("a b"));
  CHECK(!ett_valid_name("a\nb"));
  char long_name[300];
  memset(long_name, 'x', sizeof long_name);
  long_name[253] = '\0';
  CHECK(ett_valid_name(long_name));
  long_name[253] = 'x', long_name[254] = '\0';
  CHECK(!ett_valid_name(long_name));
}

static void test_socks(void) {
  uint8_t buf[300];
  struct ett_dest d = v4("240.0.0.1", 8080);
  /* RFC 1928 §4: VER CMD RSV ATYP=3 LEN NAME PORT */
  int n = ett_socks_request(buf, sizeof buf, "target.test", &d);
  CHECK(n == 18);
  CHECK(memcmp(buf, "\x05\x01\x00\x03\x0btarget.test\x1f\x90", 18) == 0);
  d = v4("192.0.2.1", 443);
  n = ett_socks_request(buf, sizeof buf, NULL, &d);
  CHECK(n == 10 && memcmp(buf, "\x05\x01\x00\x01\xc0\x00\x02\x01\x01\xbb", 10) == 0);
  d = v6("2001:db8::1", 22);
  n = ett_socks_request(buf, sizeof buf, NULL, &d);
  CHECK(n == 22 && buf[3] == 4 && buf[4] == 0x20 && buf[19] == 1 && buf[20] == 0 && buf[21] == 22);
  CHECK(ett_socks_request(buf, 10, "target.test", &d) == -1);
  /* RFC 1929: VER=1 ULEN USER PLEN PASS */
  n = ett_socks_auth_request(buf, sizeof buf, "u", "pw");
  CHECK(n == 6 && memcmp(buf, "\x01\x01u\x02pw", 6) == 0);
  CHECK(ett_socks_auth_request(buf, sizeof buf, "", "pw") == -1);
  /* Replies: how many bytes follow the first five */
  CHECK(ett_socks_reply_rest((const uint8_t *)"\x05\x00\x00\x01\x00") == 5);
  CHECK(ett_socks_reply_rest((const uint8_t *)"\x05\x00\x00\x04\x00") == 17);
  CHECK(ett_socks_reply_rest((const uint8_t *)"\x05\x00\x00\x03\x07") == 9);
  CHECK(ett_socks_reply_rest((const uint8_t *)"\x04\x00\x00\x01\x00") == -1);
  CHECK(ett_socks_reply_rest((const uint8_t *)"\x05\x00\x01\x01\x00") == -1);
  CHECK(ett_socks_reply_rest((const uint8_t *)"\x05\x00\x00\x02\x00") == -1);
  CHECK(ett_socks_errno(0) == 0);
  CHECK(ett_socks_errno(2) == EACCES);
  CHECK(ett_socks_errno(4) == EHOSTUNREACH);
  CHECK(ett_socks_errno(5) == ECONNREFUSED);
  CHECK(ett_socks_errno(6) == ETIMEDOUT);
  CHECK(ett_socks_errno(0x7f) == ECONNREFUSED);
}

int main(void) {
  test_folding();
  test_ranges();
  test_localnet();
  test_hostport();
  test_names();
  test_socks();
  printf("%s %d checks, %d failed\n", failures ? "FAIL" : "ok", checks, failures);
  return failures ? 1 : 0;
}
