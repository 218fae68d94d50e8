#!/usr/bin/python3
"""The slow-reader flood (issue #20), measured: 16 clients with a 2 KB receive window each ask for
a different day of 10,000-node buckets and do not read. Prints the gateway's peak resident memory
growth over the warmed process, the spills, and a well-behaved client's latency during the flood.
Usage: bench/hostile/flood.py 'SERVER DIRECTIVES' (one config per run; run.sh runs the set)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))
import test_hostile as t  # noqa: E402  (its SlowReader, paths and /proc reader)
from harness import get, metrics, start_profgate, start_sim  # noqa: E402

server = sys.argv[1].replace("\\n", "\n")
sim = start_sim("--nodes", "10000")
gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}",
                    config=f"[server]\n{server}\nmax_getprofile_per_client = 0\n[upstream]\nrate = 2000\nburst = 2000\n"
                           "[cache]\nresponse_bytes = 0\nmerged_bytes = 0\nmemory_bytes = 1g\n")
try:
    paths = [t.day_path("flood", 5 * (i + 1)) for i in range(16)]
    for p in paths:  # every bucket in the bucket cache first: the flood measures answers only
        get(gw.port, p, {"Accept": "application/json"}, timeout=120)
    rss0, hwm0 = t.status(gw.proc.pid, "VmRSS"), t.status(gw.proc.pid, "VmHWM")
    readers = [t.SlowReader(gw.port, p) for p in paths]
    time.sleep(8)  # the measurement window: the flood's answers are all built well within it
    t0 = time.monotonic()
    ok = get(gw.port, t.day_path("flood", 0, 1), {"Accept": "application/json"}, timeout=60)
    dt = time.monotonic() - t0
    hwm = t.status(gw.proc.pid, "VmHWM")
    print(f"| {server.replace(chr(10), ', ')} | +{(hwm - max(hwm0, rss0)) / 2**20:.0f} MiB | "
          f"{metrics(gw.port)['profgate_spills_total']:.0f} | {ok.status} in {dt * 1000:.0f} ms |")
    for r in readers:
        r.close()
finally:
    gw.stop()
    sim.stop()
