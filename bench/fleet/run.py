#!/usr/bin/python3
"""Workload "fleet": several profgate processes sharing one account's limit. Contenders, on the
same load, against a simulator throttled like the account (10 calls/s, burst 20, 50 ms):
  one      one replica (upstream.rate 10, burst 20)
  fleet3   three replicas, identical defaults (rate 10, burst 20), sharing Redis: one budget
  split3   three replicas with the old advice: each upstream.rate 3, burst 6 (10/3 rounded down,
           the directive takes whole numbers), fleet.enabled = off
  workers3 one profgate with server.workers = 3 on one port: three fleet members on one host
Each repetition runs every contender once, in an order that rotates from one repetition to the
next, each on fresh processes and an empty Redis:
  1. cold fan-out: three unaligned 7-day requests for three groups at once (one per replica),
     wall time against the ideal for the account's budget (bench/fanout/ideal.py: rate 10,
     burst 20, 16 in flight, 50 ms);
  2. dashboards: 24 clients polling "the last 30 minutes" to "the last 3 hours" of 6 groups once
     a second for SECONDS, spread over the replicas.
Reports per contender the median (min-max) of: upstream calls, simulator 429s, most calls in one
second, client errors, client p50/p99, and the fan-out's wall time and its ratio to the ideal.
Usage: bench/fleet/run.py [SECONDS (30)] [REPS (3)] > table.md"""
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "integration"))
from harness import Redis, get, start_profgate, start_sim  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
REPS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
JSON = {"Accept": "application/json"}
F = "%Y-%m-%dT%H:%M:%SZ"
# name: (processes, fleet members to wait for (0: none), configuration)
CONTENDERS = {
    "one": (1, 0, ""),
    "fleet3": (3, 3, ""),
    "split3": (3, 0, "[upstream]\nrate = 3\nburst = 6\n[fleet]\nenabled = off\n"),
    "workers3": (1, 3, "[server]\nworkers = 3\n"),
}


def fanout(gws):
    """Three cold unaligned 7-day ranges at once, one group per replica (round robin). Seconds."""
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(days=1, minutes=53)
    start = end - timedelta(days=7)
    out, threads = [], []
    for i in range(3):
        target = f"/profilingGroups/fan-{i}/profile?startTime={start.strftime(F)}&endTime={end.strftime(F)}"
        gw = gws[i % len(gws)]
        threads.append(threading.Thread(target=lambda gw=gw, t=target: out.append(get(gw.port, t, JSON, timeout=120))))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    buckets = sum(int(r.header("X-Profgate-Buckets").split()[0].split("=")[1]) for r in out if r.status == 200)
    return wall, buckets, sum(1 for r in out if r.status != 200)


def dashboards(gws, seconds):
    lat, errors = [], 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    windows = ["PT30M", "PT1H", "PT2H", "PT3H"]

    def run(i):
        nonlocal errors
        gw = gws[(i + i // 6) % len(gws)]
        target = f"/profilingGroups/dash-{i % 6}/profile?period={windows[(i // 6) % 4]}"
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                ok = get(gw.port, target, JSON, timeout=60).status == 200
            except OSError:
                ok = False
            dt = time.monotonic() - t0
            with lock:
                lat.append(dt)
                errors += not ok
            time.sleep(max(0.0, 1.0 - dt))  # a dashboard's refresh period paces the load
    threads = [threading.Thread(target=run, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat.sort()
    return errors, lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000, len(lat)


def one_run(name):
    n, members, extra = CONTENDERS[name]
    redis = Redis()
    sim = start_sim("--rate", "10", "--burst", "20", "--nodes", "300", "--latency-ms", "50")
    gws = [start_profgate("--upstream", f"http://127.0.0.1:{sim.port}",
                          config=f"[log]\naccess = off\n[redis]\nurl = redis://127.0.0.1:{redis.port}\n{extra}")
           for _ in range(n)]
    try:
        deadline = time.monotonic() + 10
        while members and time.monotonic() < deadline:  # every member sees the fleet first
            if all(get(g.port, "/healthz").json()["fleet"]["members"] == members for g in gws):
                break
            time.sleep(0.05)  # polling for readiness, not synchronizing a result
        wall, buckets, fan_errors = fanout(gws)
        errors, p50, p99, answered = dashboards(gws, SECONDS)
        st = get(sim.port, "/_sim/stats").json()
        return {"calls": st["operations"]["GetProfile"], "throttled": st["throttled"],
                "max_per_s": st["maxRequestsInASecond"], "errors": errors + fan_errors, "p50": p50, "p99": p99,
                "answered": answered, "fan_wall": wall, "fan_buckets": buckets}
    finally:
        for g in gws:
            g.stop()
        sim.stop()
        redis.stop()


def ideal(buckets):
    out = subprocess.check_output([sys.executable, os.path.join(here, "..", "fanout", "ideal.py"), str(buckets),
                                   "10", "20", "16", "0.05"], text=True)
    return float(out)


def main():
    names = list(CONTENDERS)
    results = {k: [] for k in names}
    for r in range(REPS):
        for i in range(len(names)):
            name = names[(i + r) % len(names)]
            res = one_run(name)
            res["fan_ideal"] = ideal(res["fan_buckets"])
            results[name].append(res)
            print(f"rep {r + 1} {name}: {res}", file=sys.stderr)

    def stat(name, key, fmt="{:.0f}"):
        v = sorted(x[key] for x in results[name])
        return f"{fmt.format(statistics.median(v))} ({fmt.format(v[0])}-{fmt.format(v[-1])})"
    print(f"## Workload fleet ({datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%MZ')}, {SECONDS:.0f} s of "
          f"dashboards per run, {REPS} repetitions)\n")
    print("Simulator at 10 calls/s, burst 20, 50 ms. Contenders interleaved within each repetition (order rotated),")
    print("each on fresh processes and an empty Redis. Medians (min-max).\n")
    print("| contender | upstream calls | simulator 429s | most calls in 1 s | client errors | p50 ms | p99 ms | "
          "cold fan-out s | vs ideal |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        ratio = sorted(x["fan_wall"] / x["fan_ideal"] for x in results[name])
        print(f"| {name} | {stat(name, 'calls')} | {stat(name, 'throttled')} | {stat(name, 'max_per_s')} | "
              f"{stat(name, 'errors')} | {stat(name, 'p50', '{:.1f}')} | {stat(name, 'p99', '{:.0f}')} | "
              f"{stat(name, 'fan_wall', '{:.1f}')} | {statistics.median(ratio):.2f} ({ratio[0]:.2f}-{ratio[-1]:.2f}) |")


if __name__ == "__main__":
    main()
