#!/usr/bin/python3
"""The hostile-client suite, measured (issue #20): each attack runs against a new gateway (the
shipped defaults except server.inflight_bytes = 24m; Redis and the simulator shared, so buckets
come from Redis after the first repetition), while a well-behaved client from another address
(127.0.0.2) asks for a cached hour PROBES times, one request after another on a new connection
each. Per attack: the gateway's peak resident memory growth over its size when the attack starts
(VmHWM, reset with /proc/PID/clear_refs; a new process, so freed memory from earlier work does
not hide growth) and the well-behaved client's p50 and p99. The anchor is the same client with no
attack, in the same run. Attacks are interleaved: each repetition runs all of them, in a rotated
order, so machine drift hits each alike.

  slow readers   16 clients with a 2 KB receive window ask for a different day (not a stored
                 answer: merged, encoded, spilled) and never read
  pipelining     200 connections send 50 pipelined requests each for a stored day, never read
  slowloris      4,000 connections: half an unfinished head, half nothing
  value bomb     a loop plants a 3-million-item bomb under a bucket's Redis key and asks for it

Usage: bench/hostile/suite.py [REPETITIONS] [PROBES]   (run.sh runs it on a Release build)"""
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import test_hostile as t  # noqa: E402  (its SlowReader, paths and /proc readers)
from harness import Redis, get, resp, start_profgate, start_sim, wait_for  # noqa: E402

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
PROBES = int(sys.argv[2]) if len(sys.argv) > 2 else 100
BUDGET = 24 << 20
BOMB_TOOL = os.environ.get("PCODEC_BOMB_BIN") or os.path.join(ROOT, "build-release", "tests", "pcodec_bomb")


def probe(port, path, n):
    """n requests from another client address; their latencies in ms (a failure counts as inf)."""
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=60, source_address=("127.0.0.2", 0))
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
                      .encode())
            data = b""
            while chunk := s.recv(1 << 20):
                data += chunk
            s.close()
            ok = data.startswith(b"HTTP/1.1 200")
        except OSError:
            ok = False
        out.append((time.monotonic() - t0) * 1000 if ok else float("inf"))
    return out


def caches(port):
    """Bytes the in-process caches hold (every tier): what grows because buckets were cached,
    which cache.memory_bytes and its siblings bound, not the in-flight budget."""
    # From an address of its own: the attacks use up 127.0.0.1's connections.
    s = socket.create_connection(("127.0.0.1", port), timeout=60, source_address=("127.0.0.3", 0))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(1 << 20):
        data += chunk
    s.close()
    return sum(float(line.rsplit(" ", 1)[1]) for line in data.decode().split("\r\n\r\n", 1)[1].splitlines()
               if line.startswith("profgate_cache_bytes{"))


class Attack:
    """start() opens the attack and returns; stop() ends it and frees what it held."""

    def __init__(self, gw, redis, rep):
        self.gw, self.redis, self.rep = gw, redis, rep
        self.socks, self.readers = [], []
        self.stopping = threading.Event()
        self.thread = None

    def prepare(self):
        """Before the measurement: what the attack's requests need in the bucket cache."""


class SlowReaders(Attack):
    name = "slow readers"

    def paths(self):
        shift = 100 * self.rep  # ranges no earlier repetition asked for
        return [t.day_path("flood", shift + 5 * (i + 1)) for i in range(16)]

    def prepare(self):
        # The same buckets, through another answer (maxDepth is part of a stored answer's key):
        # the attack then measures answers being made, not the bucket cache filling.
        for p in self.paths():
            get(self.gw.port, p + "&maxDepth=1000", {"Accept": "application/json"}, timeout=120)

    def start(self):
        self.readers = [t.SlowReader(self.gw.port, p) for p in self.paths()]

    def stop(self):
        for r in self.readers:
            r.close()


class Pipelining(Attack):
    name = "pipelining"

    def start(self):
        req = f"GET {t.day_path('pipe', 0, 24)} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n".encode()
        for _ in range(200):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            s.connect(("127.0.0.1", self.gw.port))
            s.setblocking(False)
            try:
                s.send(req * 50)
            except BlockingIOError:
                pass
            self.socks.append(s)

    def stop(self):
        for s in self.socks:
            s.close()


class Slowloris(Attack):
    name = "slowloris"

    def start(self):
        for i in range(4000):
            c = socket.socket()
            try:
                c.connect(("127.0.0.1", self.gw.port))
                if i % 2 == 0:
                    c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            except OSError:
                pass  # refused past max_connections_per_client: the defence at work
            self.socks.append(c)

    def stop(self):
        for c in self.socks:
            c.close()


class Bomb(Attack):
    name = "value bomb"

    def start(self):
        path = t.day_path("bomb", 0, 1)
        get(self.gw.port, path, {"Accept": "application/json"}, timeout=60)
        pattern = f"pg:v1:*:bomb:PT1H:{t.BASE}"  # the hour asked for (earlier rounds planted others)
        wait_for(lambda: resp(self.redis.port, "KEYS", pattern), 10, "the bucket in Redis")
        [key] = resp(self.redis.port, "KEYS", pattern)
        prefix = key.rsplit(b":", 1)[0].decode()
        bomb = subprocess.run([BOMB_TOOL, "3000000"], input=resp(self.redis.port, "GET", key), capture_output=True,
                              check=True).stdout

        def loop():
            # Each round plants the bomb under the key of an hour this gateway has not read yet, and
            # asks for that hour: every round reads a bomb from Redis (none is served from memory).
            hour = t.BASE - 3600 * (1 + 200 * self.rep)
            while not self.stopping.is_set():
                resp(self.redis.port, "SET", f"{prefix}:{hour}", bomb, "EX", "3600")
                q = f"startTime={t.ts(hour)}&endTime={t.ts(hour + 3600)}"
                get(self.gw.port, f"/profilingGroups/bomb/profile?{q}", {"Accept": "application/json"}, timeout=60)
                hour -= 3600
        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(60)


class Nothing(Attack):
    name = "none (anchor)"

    def start(self):
        pass

    def stop(self):
        pass


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16384)), hard))
    redis = Redis()
    sim = start_sim("--nodes", "10000")
    spill = f"/tmp/pg-hostile-suite-{os.getpid()}"
    os.makedirs(spill, exist_ok=True)
    config = (f"[server]\ninflight_bytes = {BUDGET}\nspill_dir = {spill}\n"
              f"[redis]\nurl = redis://127.0.0.1:{redis.port}\n[fleet]\nenabled = off\n"
              "[upstream]\nrate = 2000\nburst = 2000\n")
    kinds = [Nothing, SlowReaders, Pipelining, Slowloris, Bomb]
    results = {k.name: {"grew": [], "cached": [], "p50": [], "p99": [], "failed": 0} for k in kinds}
    probe_path = t.day_path("probe", 0, 1)
    try:
        for rep in range(REPS):
            order = kinds[rep % len(kinds):] + kinds[:rep % len(kinds)]
            for k in order:
                gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", config=config)
                try:
                    for p in [probe_path, probe_path] + ([t.day_path("pipe", 0, 24)] * 2 if k is Pipelining else []):
                        get(gw.port, p, {"Accept": "application/json"}, timeout=120)  # stored answers
                    a = k(gw, redis, rep)
                    a.prepare()
                    t.reset_peak(gw.proc.pid)
                    before = t.status(gw.proc.pid, "VmRSS")
                    cached = caches(gw.port)
                    a.start()
                    lat = probe(gw.port, probe_path, PROBES)
                    grew = t.status(gw.proc.pid, "VmHWM") - before
                    cached = caches(gw.port) - cached
                    a.stop()
                finally:
                    gw.stop()
                r = results[k.name]
                ok = sorted(x for x in lat if x != float("inf"))
                r["failed"] += len(lat) - len(ok)
                r["grew"].append(grew / 2**20)
                r["cached"].append(cached / 2**20)
                r["p50"].append(statistics.median(ok) if ok else float("inf"))
                r["p99"].append(ok[min(len(ok) - 1, int(len(ok) * 0.99))] if ok else float("inf"))
                print(f"rep {rep + 1} {k.name}: +{grew / 2**20:.1f} MiB (caches +{cached / 2**20:.1f}), p50 {r['p50'][-1]:.1f} ms, "
                      f"p99 {r['p99'][-1]:.1f} ms", file=sys.stderr, flush=True)
    finally:
        sim.stop()
        redis.stop()
        os.rmdir(spill)

    def m(v):
        v = sorted(v)
        return f"{statistics.median(v):.1f} ({v[0]:.1f}-{v[-1]:.1f})"
    print(f"server.inflight_bytes = {BUDGET >> 20} MiB, other settings the shipped defaults; {REPS} repetitions of "
          f"{PROBES} probes each; median (min-max).\n")
    print("| attack | peak RSS growth (MiB) | of which caches grew (MiB) | well-behaved p50 (ms) | "
          "well-behaved p99 (ms) | probes failed |")
    print("|---|---|---|---|---|---|")
    for k in kinds:
        r = results[k.name]
        print(f"| {k.name} | {m(r['grew'])} | {m(r['cached'])} | {m(r['p50'])} | {m(r['p99'])} | {r['failed']} |")


if __name__ == "__main__":
    main()
