"""profgate-sim as a client sees it: boto3 and the AWS CLI for GetProfile and ListProfileTimes,
JSON and Ion (decoded by ion-js) agreeing, the union property checked on the data with an
independent merge, retention and data-since, live data, throttling in the exact wire format,
SigV4 checks, injected faults, and the counters tests rely on."""
import gzip
import json
import os
import socket
import subprocess
import tempfile
import time
import unittest
from datetime import datetime, timedelta, timezone

import boto3
import botocore.config
from botocore.exceptions import ClientError, ReadTimeoutError

from harness import Conn, get, ion_to_plain, start_sim
from profiles import depth, merge, total
from test_http import assert_aws_error

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)
AK, SK = "AKIDSIMTEST", "sim/secret/key+EXAMPLE"


def client(port, ak=AK, sk=SK, retries=1, read_timeout=60):
    return boto3.client("codeguruprofiler", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=ak, aws_secret_access_key=sk,
                        config=botocore.config.Config(retries={"total_max_attempts": retries, "mode": "standard"},
                                                      read_timeout=read_timeout, connect_timeout=5))


def fetch(c, **kw):
    r = c.get_profile(accept="application/json", **kw)
    return json.loads(r["profile"].read())


class Data(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = start_sim("--clock", NOW.isoformat(), "--nodes", "400", "--seed", "11",
                            "--data-since", (NOW - timedelta(days=40)).isoformat())
        cls.c = client(cls.sim.port)

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def test_deterministic_and_shaped(self):
        t = NOW - timedelta(hours=5)
        a = fetch(self.c, profilingGroupName="g1", startTime=t, period="PT1H")
        b = fetch(self.c, profilingGroupName="g1", startTime=t, period="PT1H")
        self.assertEqual(a, b)
        self.assertEqual(a["start"], int(t.timestamp() * 1000))
        self.assertEqual(a["end"], int((t + timedelta(hours=1)).timestamp() * 1000))
        meta = a["agentMetadata"]
        self.assertEqual(meta["durationInMs"], 3600000)
        self.assertEqual(meta["numTimesSampled"], 400 * 12)
        self.assertEqual(total(a["callgraph"]), meta["numTimesSampled"])
        self.assertEqual(set(meta["sampleWeights"]), {"WALL_TIME", "RUNNABLE", "WAITING", "TIMED_WAITING", "BLOCKED"})
        self.assertIn("fleetInfo", meta)
        self.assertGreater(depth(a["callgraph"]), 10)
        other = fetch(self.c, profilingGroupName="g2", startTime=t, period="PT1H")
        self.assertNotEqual(a["callgraph"], other["callgraph"])

    def test_hour_is_union_of_twelve_buckets_and_day_of_hours(self):
        h = NOW - timedelta(days=2, hours=3)
        hour = fetch(self.c, profilingGroupName="u", startTime=h, period="PT1H")
        parts = None
        for i in range(12):
            parts = merge(parts, fetch(self.c, profilingGroupName="u", startTime=h + timedelta(minutes=5 * i),
                                       period="PT5M"))
        self.assertEqual(hour, parts)
        d = datetime(2026, 11, 20, tzinfo=timezone.utc)
        day = fetch(self.c, profilingGroupName="u", startTime=d, period="P1D")
        hours = None
        for i in range(24):
            hours = merge(hours, fetch(self.c, profilingGroupName="u", startTime=d + timedelta(hours=i),
                                       period="PT1H"))
        self.assertEqual(day, hours)

    def test_unaligned_range_is_union_of_its_plan(self):
        s = datetime(2026, 11, 24, 10, 3, tzinfo=timezone.utc)
        got = fetch(self.c, profilingGroupName="u", startTime=s, endTime=s + timedelta(hours=2, minutes=4))
        want = None
        for start, period in [("10:00", "PT1H"), ("11:00", "PT1H"), ("12:00", "PT5M"), ("12:05", "PT5M")]:
            hh, mm = map(int, start.split(":"))
            want = merge(want, fetch(self.c, profilingGroupName="u",
                                     startTime=datetime(2026, 11, 24, hh, mm, tzinfo=timezone.utc), period=period))
        self.assertEqual(got, want)
        self.assertEqual(got["start"], int(datetime(2026, 11, 24, 10, tzinfo=timezone.utc).timestamp() * 1000))
        self.assertEqual(got["end"], int(datetime(2026, 11, 24, 12, 10, tzinfo=timezone.utc).timestamp() * 1000))

    def test_retention_and_data_since(self):
        # 5-minute data is kept 15 days: an older 5-minute request is answered by its hour.
        t = datetime(2026, 11, 1, 10, 5, tzinfo=timezone.utc)
        p = fetch(self.c, profilingGroupName="r", startTime=t, period="PT5M")
        self.assertEqual(p["start"], int(datetime(2026, 11, 1, 10, tzinfo=timezone.utc).timestamp() * 1000))
        self.assertEqual(p["end"], int(datetime(2026, 11, 1, 11, tzinfo=timezone.utc).timestamp() * 1000))
        self.assertEqual(p["agentMetadata"]["numTimesSampled"], 400 * 12)
        # Before --data-since (40 days ago): 200 with an empty callgraph over the covered range.
        t = NOW - timedelta(days=50)
        p = fetch(self.c, profilingGroupName="r", startTime=t, period="P1D")
        self.assertEqual(p["callgraph"], {})
        self.assertEqual(p["agentMetadata"]["numTimesSampled"], 0)

    def test_max_depth(self):
        t = NOW - timedelta(hours=3)
        full = fetch(self.c, profilingGroupName="d", startTime=t, period="PT1H")
        cut = fetch(self.c, profilingGroupName="d", startTime=t, period="PT1H", maxDepth=3)
        self.assertEqual(depth(cut["callgraph"]), 3)
        for counter in ("WALL_TIME", "RUNNABLE", "BLOCKED"):
            self.assertEqual(total(cut["callgraph"], counter), total(full["callgraph"], counter))

    def test_ion_equals_json(self):
        for group, kw in [("i", dict(startTime=NOW - timedelta(hours=2), period="PT5M")),
                          ("i", dict(startTime=NOW - timedelta(days=1), period="PT1H", maxDepth=4)),
                          ("i", dict(startTime=NOW - timedelta(days=45), period="P1D")),  # empty
                          ("other-group_2", dict(startTime=NOW - timedelta(days=3), endTime=NOW - timedelta(days=2, hours=20)))]:
            with self.subTest(kw=kw):
                j = fetch(self.c, profilingGroupName=group, **kw)
                r = self.c.get_profile(profilingGroupName=group, **kw)  # no accept: Ion
                self.assertEqual(r["contentType"], "application/x-amzn-ion")
                self.assertEqual(ion_to_plain(r["profile"].read()), j)

    def test_gzip(self):
        q = "/profilingGroups/z/profile?startTime=2026-11-24T01:00:00Z&period=PT1H"
        plain = get(self.sim.port, q, {"Accept": "application/json"})
        gz = get(self.sim.port, q, {"Accept": "application/json", "Accept-Encoding": "gzip"})
        self.assertEqual(gz.header("Content-Encoding"), "gzip")
        self.assertIsNone(plain.header("Content-Encoding"))
        self.assertEqual(gzip.decompress(gz.body), plain.body)
        self.assertLess(len(gz.body), len(plain.body) / 3)

    def test_list_profile_times(self):
        c = self.c
        r = c.list_profile_times(profilingGroupName="g", period="PT1H", startTime=NOW - timedelta(hours=10),
                                 endTime=NOW + timedelta(hours=2), maxResults=4)
        starts = [p["start"] for p in r["profileTimes"]]
        self.assertEqual(starts, [NOW - timedelta(hours=i) for i in range(0, 4)])  # newest first
        self.assertIn("nextToken", r)
        every = []
        kw = dict(profilingGroupName="g", period="PT1H", startTime=NOW - timedelta(hours=10),
                  endTime=NOW + timedelta(hours=2), orderBy="TimestampAscending", maxResults=3)
        while True:
            r = c.list_profile_times(**kw)
            every += [p["start"] for p in r["profileTimes"]]
            if "nextToken" not in r:
                break
            kw["nextToken"] = r["nextToken"]
        self.assertEqual(every, [NOW - timedelta(hours=i) for i in range(10, -1, -1)])
        # 5-minute profiles exist for 15 days only; days back to --data-since.
        r = c.list_profile_times(profilingGroupName="g", period="PT5M", startTime=NOW - timedelta(days=16),
                                 endTime=NOW - timedelta(days=14), maxResults=1000)
        # The sim's now is a little past NOW, so the bucket starting exactly 15 days before NOW has
        # just expired and the oldest retained one starts 5 minutes later.
        self.assertEqual(min(p["start"] for p in r["profileTimes"]), NOW - timedelta(days=15) + timedelta(minutes=5))
        r = c.list_profile_times(profilingGroupName="g", period="P1D", startTime=NOW - timedelta(days=60),
                                 endTime=NOW, maxResults=1000)
        # Data starts 40 days before NOW, at 2026-10-16T12:00Z: the days 10-16 (partly) to 11-25 (live).
        self.assertEqual(len(r["profileTimes"]), 41)
        self.assertEqual(r["profileTimes"][-1]["start"], datetime(2026, 10, 16, tzinfo=timezone.utc))
        with self.assertRaises(c.exceptions.ValidationException):
            c.list_profile_times(profilingGroupName="g", period="PT2H", startTime=NOW - timedelta(days=1), endTime=NOW)


class LiveData(unittest.TestCase):
    def test_current_bucket_holds_samples_up_to_now(self):
        # The sim's clock reads T0 at start-up and then runs in real time. T0 is 150 s into the
        # 12:00 bucket, which samples 400 times per 300 s (one sample every 0.75 s from 12:00).
        t0 = NOW + timedelta(seconds=150)
        launched = time.monotonic()
        sim = start_sim("--clock", t0.isoformat(), "--nodes", "400")
        ready = time.monotonic()
        try:
            c = client(sim.port)
            counts = []
            for _ in range(2):
                before = time.monotonic()
                p = fetch(c, profilingGroupName="live", startTime=NOW, period="PT5M")
                after = time.monotonic()
                n = p["agentMetadata"]["numTimesSampled"]
                # Elapsed sim time since T0 lies between these bounds; samples are those at
                # i * 0.75 s < 150 s + elapsed.
                lo = (150 + (before - ready)) / 0.75 - 1
                hi = (150 + (after - launched)) / 0.75 + 1
                self.assertTrue(lo <= n <= hi, (lo, n, hi))
                self.assertEqual(p["start"], int(NOW.timestamp() * 1000))
                self.assertEqual(total(p["callgraph"]), n)
                counts.append(n)
            self.assertGreaterEqual(counts[1], counts[0])
        finally:
            self.assertEqual(sim.stop(), 0)


class Throttling(unittest.TestCase):
    def test_token_bucket_and_wire_format(self):
        # One token per 100 s: nothing refills while the test runs, so the outcome is exact.
        sim = start_sim("--rate", "0.01", "--burst", "3")
        try:
            c = Conn(sim.port)
            statuses = []
            for _ in range(8):
                r = c.get("/profilingGroups/t/profile?period=PT5M", {"Accept": "application/json"})
                statuses.append(r.status)
                if r.status == 429:
                    assert_aws_error(self, r, 429, "ThrottlingException", "Rate exceeded")
            c.close()
            self.assertEqual(statuses, [200, 200, 200] + [429] * 5)
            with self.assertRaises(ClientError) as cm:
                client(sim.port).get_profile(profilingGroupName="t", period="PT5M")
            self.assertEqual(cm.exception.response["Error"]["Code"], "ThrottlingException")
            stats = get(sim.port, "/_sim/stats").json()
            self.assertEqual(stats["throttled"], 6)
            self.assertEqual(stats["ok"], 3)
            self.assertEqual(sum(stats["requestsPerSecond"].values()), 9)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_per_group_scope(self):
        sim = start_sim("--rate", "0.01", "--burst", "1", "--rate-scope", "group")
        try:
            self.assertEqual(get(sim.port, "/profilingGroups/a/profile?period=PT5M").status, 200)
            self.assertEqual(get(sim.port, "/profilingGroups/b/profile?period=PT5M").status, 200)
            self.assertEqual(get(sim.port, "/profilingGroups/a/profile?period=PT5M").status, 429)
        finally:
            self.assertEqual(sim.stop(), 0)


class Signatures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = start_sim("--access-key", AK, "--secret-key", SK, "--groups", "alpha,beta")

    @classmethod
    def tearDownClass(cls):
        assert cls.sim.stop() == 0

    def test_right_secret_is_accepted(self):
        p = fetch(client(self.sim.port), profilingGroupName="alpha", period="PT5M")
        self.assertIn("callgraph", p)
        r = client(self.sim.port).list_profile_times(profilingGroupName="beta", period="PT1H",
                                                      startTime=datetime.now(timezone.utc) - timedelta(hours=3),
                                                      endTime=datetime.now(timezone.utc))
        self.assertEqual(len(r["profileTimes"]), 3)

    def test_wrong_secret_unknown_key_and_unsigned(self):
        with self.assertRaises(ClientError) as cm:
            client(self.sim.port, sk="not-the-secret").get_profile(profilingGroupName="alpha", period="PT5M")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidSignatureException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        with self.assertRaises(ClientError) as cm:
            client(self.sim.port, ak="AKIDUNKNOWN").get_profile(profilingGroupName="alpha", period="PT5M")
        self.assertEqual(cm.exception.response["Error"]["Code"], "UnrecognizedClientException")
        assert_aws_error(self, get(self.sim.port, "/profilingGroups/alpha/profile?period=PT5M"), 403,
                         "MissingAuthenticationTokenException")

    def test_unknown_group(self):
        c = client(self.sim.port)
        with self.assertRaises(c.exceptions.ResourceNotFoundException) as cm:
            c.get_profile(profilingGroupName="gamma", period="PT5M")
        self.assertIn("gamma", cm.exception.response["Error"]["Message"])

    def test_aws_cli(self):
        out = os.path.join(tempfile.mkdtemp(), "profile.json")
        env = dict(os.environ, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK, AWS_DEFAULT_REGION="us-east-1")
        start = (datetime.now(timezone.utc) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        p = subprocess.run(["aws", "codeguruprofiler", "get-profile", "--profiling-group-name", "alpha",
                            "--start-time", start.strftime("%Y-%m-%dT%H:%M:%SZ"), "--period", "PT1H",
                            "--accept", "application/json", out, "--endpoint-url", f"http://127.0.0.1:{self.sim.port}"],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["contentType"], "application/json")
        with open(out) as f:
            via_cli = json.load(f)
        self.assertEqual(via_cli, fetch(client(self.sim.port), profilingGroupName="alpha", startTime=start, period="PT1H"))


class Faults(unittest.TestCase):
    def test_fail_rate(self):
        sim = start_sim("--fail-rate", "1")
        try:
            assert_aws_error(self, get(sim.port, "/profilingGroups/f/profile?period=PT5M"), 500, "InternalServerException")
            self.assertEqual(get(sim.port, "/_sim/stats").json()["failed"], 1)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_hang_and_latency(self):
        sim = start_sim("--hang-rate", "1")
        try:
            with self.assertRaises(ReadTimeoutError):
                client(sim.port, read_timeout=0.5).get_profile(profilingGroupName="h", period="PT5M")
            self.assertEqual(get(sim.port, "/_sim/stats").json()["hung"], 1)
        finally:
            self.assertEqual(sim.stop(), 0)  # hung requests do not keep the sim from exiting
        sim = start_sim("--latency-ms", "300:0")
        try:
            t0 = time.monotonic()
            self.assertEqual(get(sim.port, "/profilingGroups/l/profile?period=PT5M").status, 200)
            self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_fail_after_resets_connections(self):
        sim = start_sim("--fail-after", "1")
        try:
            self.assertEqual(get(sim.port, "/profilingGroups/x/profile?period=PT5M").status, 200)
            c = Conn(sim.port)
            with self.assertRaises((ConnectionResetError, ConnectionError)):
                c.get("/profilingGroups/x/profile?period=PT5M")
            c.close()
            self.assertEqual(get(sim.port, "/_sim/stats").json()["reset"], 1)
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_reset_rate_resets_connections(self):
        sim = start_sim("--reset-rate", "1")
        try:
            for _ in range(2):
                c = Conn(sim.port)
                with self.assertRaises((ConnectionResetError, ConnectionError)):
                    c.get("/profilingGroups/x/profile?period=PT5M")
                c.close()
            self.assertEqual(get(sim.port, "/healthz").status, 200)  # only data requests are reset
            self.assertEqual(get(sim.port, "/_sim/stats").json()["reset"], 2)
        finally:
            self.assertEqual(sim.stop(), 0)


class Stats(unittest.TestCase):
    def test_counters_and_reset(self):
        sim = start_sim("--clock", NOW.isoformat())
        try:
            for _ in range(3):
                get(sim.port, "/profilingGroups/s/profile?startTime=2026-11-24T10:00:00Z&period=PT1H")
            get(sim.port, "/profilingGroups/s/profile?startTime=2026-11-24T10:00:00Z&period=PT5M")
            get(sim.port, "/profilingGroups/s/profile?period=P1Y")
            st = get(sim.port, "/_sim/stats").json()
            self.assertEqual(st["operations"]["GetProfile"], 5)
            self.assertEqual(st["getProfileByPeriod"]["PT1H"], 3)
            self.assertEqual(st["getProfileByPeriod"]["PT5M"], 1)
            self.assertEqual(st["invalid"], 1)
            self.assertEqual(st["requestsPerBucket"]["s|PT1H|2026-11-24T10:00:00Z"], 3)
            self.assertEqual(st["distinctBuckets"], 2)
            r = Conn(sim.port)
            r.send("POST /_sim/reset HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            self.assertEqual(r.read_response().status, 200)
            r.close()
            st = get(sim.port, "/_sim/stats").json()
            self.assertEqual(st["requests"], 0)
            self.assertEqual(st["requestsPerBucket"], {})
        finally:
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main()
