# A UDP client through a SOCKS5 proxy (PySocks, Debian python3-socks): sends COUNT datagrams of SIZE
# bytes to HOST:PORT, each seeded by its index, and prints one line per answer: "INDEX SHA256". Exits 0
# when every answer came, 1 otherwise. Usage: socks_udp_echo.py PROXY_HOST PROXY_PORT HOST PORT COUNT SIZE [USER PASS]
import hashlib
import socket
import sys

import socks

proxy_host, proxy_port, host, port, count, size = sys.argv[1:7]
user, password = (sys.argv[7], sys.argv[8]) if len(sys.argv) > 8 else (None, None)
s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
s.set_proxy(socks.SOCKS5, proxy_host, int(proxy_port), rdns=True, username=user, password=password)
s.settimeout(5)
s.bind(("127.0.0.1", 0))
got = 0
for i in range(int(count)):
    payload = hashlib.sha256(str(i).encode()).digest() * (int(size) // 32 + 1)
    payload = payload[: int(size)]
    s.sendto(payload, (host, int(port)))
    try:
        data, peer = s.recvfrom(70000)
    except socket.timeout:
        print("timeout", i, flush=True)
        continue
    host = peer[0].decode() if isinstance(peer[0], bytes) else peer[0]  # PySocks gives a name as bytes
    print(i, hashlib.sha256(data).hexdigest(), host, peer[1], flush=True)
    if data == payload:
        got += 1
print("answers", got, flush=True)
sys.exit(0 if got == int(count) else 1)
