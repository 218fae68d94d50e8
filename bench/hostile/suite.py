#!/usr/bin/python3
"""The hostile-client suite, measured (issue #20): each attack runs against one warmed gateway
with the shipped defaults except server.inflight_bytes = 24m, while a well-behaved client from
another address (127.0.0.2) asks for a cached hour PROBES times, one request after another on a
new connection each. Per attack: the gateway's peak resident memory growth during it (VmHWM,
reset with /proc/PID/clear_refs when it starts) and the well-behaved client's p50 and p99. The
anchor is the same client with no attack, in the same run. Attacks are interleaved: each
repetition runs all of them, in a rotated order, so machine drift hits each alike.

  slow readers   16 clients with a 2 KB receive window ask for a different day and never read
  pipelining     200 connections send 50 pipelined requests each for a cached day, never read
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
from harness import Redis, get, metrics, resp, start_profgate, start_sim, wait_for  # noqa: E402

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


class Attack:
    """start() opens the attack and returns; stop() ends it and frees what it held."""

    def __init__(self, gw, redis):
        self.gw, self.redis = gw, redis
        self.socks, self.readers = [], []
        self.stopping = threading.Event()
        self.thread = None


class SlowReaders(Attack):
    name = "slow readers"

    def start(self):
        self.readers = [t.SlowReader(self.gw.port, t.day_path("flood", 5 * (i + 1))) for i in range(16)]

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
        wait_for(lambda: resp(self.redis.port, "KEYS", "pg:v1:*:bomb:*"), 10, "the bucket in Redis")
        [key] = resp(self.redis.port, "KEYS", "pg:v1:*:bomb:*")
        value = resp(self.redis.port, "GET", key)
        bomb = subprocess.run([BOMB_TOOL, "3000000"], input=value, capture_output=True, check=True).stdout

        def loop():
            while not self.stopping.is_set():
                resp(self.redis.port, "SET", key, bomb, "KEEPTTL")
                get(self.gw.port, path, {"Accept": "application/json"}, timeout=60)
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
    gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}",
                        config=f"[server]\ninflight_bytes = {BUDGET}\nspill_dir = {spill}\n"
                               f"[redis]\nurl = redis://127.0.0.1:{redis.port}\n[fleet]\nenabled = off\n"
                               "[upstream]\nrate = 2000\nburst = 2000\n[cache]\nmemory_bytes = 1g\n")
    kinds = [Nothing, SlowReaders, Pipelining, Slowloris, Bomb]
    results = {k.name: {"grew": [], "p50": [], "p99": [], "failed": 0} for k in kinds}
    try:
        probe_path = t.day_path("probe", 0, 1)
        for p in [probe_path, t.day_path("pipe", 0, 24)] + [t.day_path("flood", 5 * (i + 1)) for i in range(16)]:
            get(gw.port, p, {"Accept": "application/json"}, timeout=120)  # warm: attacks measure answers only
        for rep in range(REPS):
            order = kinds[rep % len(kinds):] + kinds[:rep % len(kinds)]
            for k in order:
                a = k(gw, redis)
                t.reset_peak(gw.proc.pid)
                before = t.status(gw.proc.pid, "VmRSS")
                a.start()
                lat = probe(gw.port, probe_path, PROBES)
                grew = t.status(gw.proc.pid, "VmHWM") - before
                a.stop()
                # Let the attack's connections close before the next one starts.
                wait_for(lambda: metrics(gw.port, 60)["profgate_open_connections"] <= 1, 120, "quiet")
                r = results[k.name]
                ok = sorted(x for x in lat if x != float("inf"))
                r["failed"] += len(lat) - len(ok)
                r["grew"].append(grew / 2**20)
                r["p50"].append(statistics.median(ok) if ok else float("inf"))
                r["p99"].append(ok[min(len(ok) - 1, int(len(ok) * 0.99))] if ok else float("inf"))
                print(f"rep {rep + 1} {k.name}: +{grew / 2**20:.1f} MiB, p50 {r['p50'][-1]:.1f} ms, "
                      f"p99 {r['p99'][-1]:.1f} ms", file=sys.stderr, flush=True)
    finally:
        gw.stop()
        sim.stop()
        redis.stop()
        os.rmdir(spill)

    def m(v):
        v = sorted(v)
        return f"{statistics.median(v):.1f} ({v[0]:.1f}-{v[-1]:.1f})"
    print(f"server.inflight_bytes = {BUDGET >> 20} MiB, other settings the shipped defaults; {REPS} repetitions of "
          f"{PROBES} probes each; median (min-max).\n")
    print("| attack | peak RSS growth (MiB) | well-behaved p50 (ms) | well-behaved p99 (ms) | probes failed |")
    print("|---|---|---|---|---|")
    for k in kinds:
        r = results[k.name]
        print(f"| {k.name} | {m(r['grew'])} | {m(r['p50'])} | {m(r['p99'])} | {r['failed']} |")


if __name__ == "__main__":
    main()
