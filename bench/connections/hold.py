"""Opens N keep-alive connections to 127.0.0.1:PORT, makes one small request on each (so every
connection is past its first request, as a dashboard's would be), then holds them all idle and
prints "ready" and holds them until it is killed."""
import selectors
import signal
import socket
import sys

port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
req = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
socks = []
sel = selectors.DefaultSelector()
for _ in range(n):
    # The request goes out at once: a server may close a connection that sends nothing for long.
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(req)
    socks.append(s)
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
