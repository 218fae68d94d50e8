#!/usr/bin/python3
"""Two teams on one endpoint, for bench/tenants/run.sh. Team B runs DASHBOARDS dashboards, each
asking "last 1h" (endTime = now) for its own group once a second; team A, when flooding, runs
FLOODERS clients that ask back to back for cold 6-hour ranges of random groups and days (each a
plan of about 8 buckets, none cached). Requests are signed with SigV4 by botocore with the
team's keys (a server without auth ignores the signature). Prints one JSON object: B's latency
percentiles and status counts, A's completed requests and status counts. OFFSET (seconds, default
0) is added to this machine's clock, to match servers started with --clock.
Usage: load.py URL SECONDS DASHBOARDS FLOODERS [OFFSET]"""
import http.client
import json
import random
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

A = Credentials("AKIABENCHTEAMAAAAAA1", "bench-team-a-secret-00000000000001")
B = Credentials("AKIABENCHTEAMBBBBBB2", "bench-team-b-secret-00000000000002")
# Times as botocore's own clients send them: ':' percent-encoded. SigV4's canonical query encodes
# it, and botocore signs a URL given to it as it stands, so a raw ':' would not verify (at AWS
# either).
F = "%Y-%m-%dT%H%%3A%M%%3A%SZ"


def signed(host, target, creds):
    req = AWSRequest(method="GET", url=f"http://{host}{target}", headers={"Accept": "application/json"})
    SigV4Auth(creds, "codeguru-profiler", "us-east-1").add_auth(req)
    return dict(req.headers.items())


class Client:
    def __init__(self, url):
        u = urlparse(url)
        self.host = u.netloc
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)

    def get(self, target, creds):
        h = signed(self.host, target, creds)
        t0 = time.monotonic()
        try:
            self.conn.request("GET", target, headers=h)
            r = self.conn.getresponse()
            r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            status = 0
        return status, time.monotonic() - t0


def main():
    url, seconds, dashboards, flooders = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    offset = timedelta(seconds=float(sys.argv[5]) if len(sys.argv) > 5 else 0.0)

    def utcnow():
        return datetime.now(timezone.utc) + offset
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    b_lat, b_codes, a_codes = [], {}, {}

    def dashboard(i):
        c = Client(url)
        next_t = time.monotonic()
        while next_t < stop:
            now = utcnow()
            target = (f"/profilingGroups/team-b-dash{i}/profile?startTime={(now - timedelta(hours=1)).strftime(F)}"
                      f"&endTime={now.strftime(F)}")
            status, dt = c.get(target, B)
            with lock:
                b_lat.append(dt)
                b_codes[status] = b_codes.get(status, 0) + 1
            next_t += 1.0
            time.sleep(max(0.0, next_t - time.monotonic()))

    def flooder(i):
        c = Client(url)
        rng = random.Random(i * 7919 + int(time.time()))
        while time.monotonic() < stop:
            day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - \
                timedelta(days=rng.randint(3, 60))
            start = day + timedelta(hours=rng.randint(0, 17), minutes=rng.choice([0, 7, 23, 41]))
            target = (f"/profilingGroups/team-a-batch{rng.randint(0, 9999)}/profile?startTime={start.strftime(F)}"
                      f"&endTime={(start + timedelta(hours=6)).strftime(F)}")
            status, _ = c.get(target, A)
            with lock:
                a_codes[status] = a_codes.get(status, 0) + 1

    threads = [threading.Thread(target=dashboard, args=(i,)) for i in range(dashboards)]
    threads += [threading.Thread(target=flooder, args=(i,)) for i in range(flooders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    b_lat.sort()

    def pct(p):
        return round(1000 * b_lat[min(len(b_lat) - 1, int(p * len(b_lat)))], 1) if b_lat else None
    print(json.dumps({"b": {"n": len(b_lat), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0),
                            "codes": b_codes},
                      "a": {"n": sum(a_codes.values()), "codes": a_codes}}))


if __name__ == "__main__":
    main()
