"""Opens N keep-alive connections to 127.0.0.1:PORT, makes one small request on each (so every
connection is past its first request, as a dashboard's would be), then holds them all idle and
prints "ready" and holds them until it is killed.

ARRIVAL (argument 4) is how the requests come:
  spread  each connection sends its request as soon as it is made (default): the server answers
          them about as they come, so few are in progress at once;
  burst   every connection is made first, then every request is sent at once, as dashboards do
          when they reconnect together after a restart: thousands are in progress at once."""
import selectors
import signal
import socket
import sys

port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
arrival = sys.argv[4] if len(sys.argv) > 4 else "spread"
assert arrival in ("spread", "burst"), arrival
req = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
socks = []
sel = selectors.DefaultSelector()
for _ in range(n):
    # Spread: the request goes out at once. Burst: all connections are made within a few seconds,
    # well inside the servers' first-request deadlines (profgate 10 s, nginx 60 s).
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    if arrival == "spread":
        s.sendall(req)
    socks.append(s)
for s in socks:
    if arrival == "burst":
        s.sendall(req)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, b"")
pending = len(socks)
while pending:
    for key, _ in sel.select(timeout=30):
        got = key.fileobj.recv(65536)
        if not got:
            sys.exit("a connection was closed before its answer")
        data = key.data + got
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")), 0)
            if len(rest) >= length:
                assert head.startswith(b"HTTP/1.1 200"), head[:40]
                sel.unregister(key.fileobj)
                pending -= 1
                continue
        sel.modify(key.fileobj, selectors.EVENT_READ, data)
print("ready", flush=True)
while True:
    signal.pause()
