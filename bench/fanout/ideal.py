#!/usr/bin/python3
"""The shortest wall time any gateway could achieve for N bucket fetches under a token bucket
(RATE per second, BURST at once, starting full), at most INFLIGHT at a time, each taking LATENCY
seconds: fetch i starts when both a token and a slot are free. Prints seconds.
Usage: ideal.py N RATE BURST INFLIGHT LATENCY"""
import sys

n, rate, burst, inflight, latency = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
starts = []
for i in range(n):
    token = 0.0 if i < burst else (i - burst + 1) / rate
    slot = 0.0 if i < inflight else starts[i - inflight] + latency
    starts.append(max(token, slot))
print(f"{(starts[-1] + latency) if n else 0.0:.3f}")
