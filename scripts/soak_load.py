#!/usr/bin/env python3
"""The soak's mixed load (scripts/soak.sh runs it): threads that keep sending, until a deadline,
   - repeats of complete ranges (cache hits), JSON, Ion and gzip,
   - sliding windows ending now (live buckets: merged and encoded each time),
   - new cold ranges over the last 30 days (upstream calls; the caches fill and evict),
   - ListProfileTimes,
   - bad requests (validation errors, unknown routes, oversized heads),
   - clients that leave mid-answer, and slow readers that take their time.
Each thread counts its answers by status; the totals go to stdout as JSON at the end.
Usage: soak_load.py PORT SECONDS [THREADS]"""
import json
import random
import socket
import sys
import threading
import time

F = "%Y-%m-%dT%H:%M:%SZ"


def ts(s):
    return time.strftime(F, time.gmtime(s))


def request(port, target, headers=None, read=True, slow=False):
    """One request on its own connection; the status, or None when the client left on purpose."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        h = {"Host": "soak", "Connection": "close"}
        h.update(headers or {})
        s.sendall((f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode())
        first = s.recv(4096)
        if not read:
            return None  # left after the first bytes of the answer
        while True:
            chunk = s.recv(4096 if slow else 1 << 20)
            if not chunk:
                break
            if slow:
                time.sleep(0.01)  # a slow reader: the point of the exercise, not synchronization
        return int(first.split(b" ", 2)[1]) if first.startswith(b"HTTP/1.1 ") else -1
    finally:
        s.close()


def worker(port, deadline, seed, counts, lock):
    rng = random.Random(seed)
    now = int(time.time())
    hour = now // 3600 * 3600
    fixed = [(hour - rng.randrange(2, 24 * 14) * 3600, rng.choice([1, 3, 24])) for _ in range(20)]
    local = {}
    while time.monotonic() < deadline:
        kind = rng.choices(["hit", "sliding", "cold", "times", "bad", "leave", "slow"],
                           [40, 20, 15, 8, 10, 5, 2])[0]
        g = rng.choice(["checkout", "search", "billing"])
        accept = rng.choice(["application/json", "application/x-amzn-ion"])
        headers = {"Accept": accept}
        if rng.random() < 0.3:
            headers["Accept-Encoding"] = "gzip"
        if kind == "hit":
            start, hours = rng.choice(fixed)
            target = f"/profilingGroups/{g}/profile?startTime={ts(start)}&endTime={ts(start + hours * 3600)}"
        elif kind == "sliding":
            target = f"/profilingGroups/{g}/profile?period={rng.choice(['PT1H', 'PT6H', 'P1D'])}"
        elif kind == "cold":
            start = now - rng.randrange(3600, 30 * 86400)
            target = f"/profilingGroups/{g}/profile?startTime={ts(start)}&endTime={ts(start + rng.randrange(300, 4 * 3600))}"
        elif kind == "times":
            start = now - rng.randrange(3600, 7 * 86400)
            target = (f"/profilingGroups/{g}/profileTimes?period=PT1H&startTime={ts(start)}"
                      f"&endTime={ts(start + 86400)}")
        elif kind == "bad":
            target = rng.choice([f"/profilingGroups/{g}/profile?period=PT7M",
                                 f"/profilingGroups/{g}/profile?startTime=yesterday",
                                 f"/profilingGroups/{'x' * 300}/profile?period=PT1H",
                                 "/nope", f"/profilingGroups/{g}/profile?maxDepth=-3&period=PT1H"])
            if rng.random() < 0.2:
                headers["X-Filler"] = "y" * 70000  # over the head limit
        else:
            start, hours = rng.choice(fixed)
            target = f"/profilingGroups/{g}/profile?startTime={ts(start)}&endTime={ts(start + hours * 3600)}"
        try:
            st = request(port, target, headers, read=kind != "leave", slow=kind == "slow")
            key = "left" if st is None else str(st)
        except OSError as e:
            key = "error:" + type(e).__name__
        local[key] = local.get(key, 0) + 1
    with lock:
        for k, v in local.items():
            counts[k] = counts.get(k, 0) + v


def main():
    port, secs = int(sys.argv[1]), float(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    deadline = time.monotonic() + secs
    counts, lock = {}, threading.Lock()
    threads = [threading.Thread(target=worker, args=(port, deadline, i, counts, lock)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(dict(sorted(counts.items()))))


if __name__ == "__main__":
    main()
