"""profgate in front of profgate-sim (SigV4 on): answers equal the upstream's own, concurrent
identical requests make one upstream call per bucket, pacing keeps the upstream within its limits,
throttling is absorbed by retries, a dead upstream gives clean errors and recovery, and bad
credentials or unknown groups fail fast without retry storms."""
import json
import signal
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone

import boto3
import botocore.config

from harness import Conn, Process, free_port, get, ion_to_plain, start_profgate, start_sim, wait_for
from test_http import assert_aws_error

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
AK, SK = "AKIDUPSTREAMTEST", "upstream/secret+KEY"
CREDS = {"AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK, "AWS_REGION": "us-east-1",
         "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent-but-unused"}


def gateway(sim_port, config="", env=None, clock=NOW):
    e = dict(CREDS)
    e.update(env or {})
    return start_profgate("--upstream", f"http://127.0.0.1:{sim_port}", "--clock", clock.isoformat(),
                          config=config, env=e)


def client(port, retries=1, read_timeout=120):
    return boto3.client("codeguruprofiler", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=AK, aws_secret_access_key=SK,
                        config=botocore.config.Config(retries={"total_max_attempts": retries, "mode": "standard"},
                                                      read_timeout=read_timeout))


def profile(c, **kw):
    return json.loads(c.get_profile(accept="application/json", **kw)["profile"].read())


def sim_stats(sim):
    return get(sim.port, "/_sim/stats").json()


def sim_reset(sim):
    c = Conn(sim.port)
    c.send("POST /_sim/reset HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert c.read_response().status == 200
    c.close()


def gp_path(group, start, end, extra=""):
    f = "%Y-%m-%dT%H:%M:%SZ"
    return f"/profilingGroups/{group}/profile?startTime={start.strftime(f)}&endTime={end.strftime(f)}{extra}"


class Answers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = start_sim("--clock", NOW.isoformat(), "--nodes", "500", "--access-key", AK, "--secret-key", SK)
        cls.gw = gateway(cls.sim.port)

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0
        assert cls.sim.stop() == 0

    def test_same_answers_as_the_upstream(self):
        direct, via = client(self.sim.port), client(self.gw.port)
        for kw in [dict(startTime=NOW - timedelta(days=1), period="PT1H"),
                   dict(startTime=NOW - timedelta(days=2, minutes=57), endTime=NOW - timedelta(days=1, hours=20, minutes=3)),
                   dict(startTime=NOW - timedelta(days=3, hours=5), endTime=NOW - timedelta(days=2), maxDepth=5),
                   dict(startTime=NOW - timedelta(days=20, minutes=7), endTime=NOW - timedelta(days=19, hours=23))]:
            with self.subTest(kw=kw):
                self.assertEqual(profile(via, profilingGroupName="eq", **kw), profile(direct, profilingGroupName="eq", **kw))
        # Live data grows between two calls, so a live range is checked for its shape, not equality.
        live = profile(via, profilingGroupName="eq", period="PT30M")
        self.assertEqual(live["end"] - live["start"], 35 * 60 * 1000)  # rounded out to 5 minutes
        self.assertGreater(live["agentMetadata"]["numTimesSampled"], 0)
        kw = dict(profilingGroupName="eq", startTime=NOW - timedelta(hours=30), endTime=NOW - timedelta(hours=27, minutes=55))
        r = via.get_profile(**kw)  # Ion, the default
        self.assertEqual(r["contentType"], "application/x-amzn-ion")
        self.assertEqual(ion_to_plain(r["profile"].read()), profile(direct, **kw))

    def test_headers_and_gzip(self):
        path = gp_path("hdr", NOW - timedelta(hours=5, minutes=3), NOW - timedelta(hours=3))
        r = get(self.gw.port, path, {"Accept": "application/json", "Accept-Encoding": "gzip"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertRegex(r.header("X-Profgate-Buckets"), r"^total=\d+ hit=0 fetched=\d+ coalesced=\d+$")
        self.assertEqual(r.header("X-Profgate-Range"), "2026-11-25T06:55:00Z/2026-11-25T09:00:00Z")
        import gzip
        self.assertEqual(json.loads(gzip.decompress(r.body))["start"],
                         int(datetime(2026, 11, 25, 6, 55, tzinfo=timezone.utc).timestamp() * 1000))

    def test_fifty_concurrent_identical_requests_one_call_per_bucket(self):
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "300", "--latency-ms", "400")
        gw = gateway(sim.port)
        try:
            path = gp_path("coal", NOW - timedelta(days=1, hours=2, minutes=10), NOW - timedelta(days=1))
            plan = get(gw.port, "/_profgate/plan?" + path.split("?", 1)[1]).json()
            results = [None] * 50
            barrier = threading.Barrier(50)

            def worker(i):
                barrier.wait()
                results[i] = get(gw.port, path, {"Accept": "application/json"})
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertTrue(all(r.status == 200 for r in results), [r.status for r in results])
            self.assertEqual(len({r.body for r in results}), 1)
            st = sim_stats(sim)
            self.assertEqual(st["operations"]["GetProfile"], plan["counts"]["total"])
            self.assertEqual(st["distinctBuckets"], plan["counts"]["total"])
            self.assertTrue(all(v == 1 for v in st["requestsPerBucket"].values()), st["requestsPerBucket"])
            coalesced = sum(int(r.header("X-Profgate-Buckets").split("coalesced=")[1]) for r in results)
            self.assertEqual(coalesced, 49 * plan["counts"]["total"])
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)

    def test_a_leaving_client_does_not_cancel_the_shared_fetch(self):
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "300", "--latency-ms", "600")
        gw = gateway(sim.port)
        try:
            path = gp_path("leave", NOW - timedelta(days=2), NOW - timedelta(days=2) + timedelta(hours=1))
            a = Conn(gw.port)
            a.send(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n")
            wait_for(lambda: sim_stats(sim)["operations"]["GetProfile"] >= 1, 10, "the upstream call")
            b = Conn(gw.port)
            b.send(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n")
            a.close()  # A leaves while the shared call is in flight
            r = b.read_response()
            b.close()
            self.assertEqual(r.status, 200)
            self.assertEqual(sim_stats(sim)["operations"]["GetProfile"], 1)
            self.assertEqual(get(gw.port, "/healthz").json()["requestsInProgress"], 0)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)


class Pacing(unittest.TestCase):
    def run_clients(self, port, paths):
        out = [None] * len(paths)

        def worker(i):
            out[i] = get(port, paths[i], {"Accept": "application/json"}, timeout=90)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(paths))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    def test_upstream_never_sees_more_than_rate_plus_burst(self):
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "100", "--rate", "5", "--burst", "5",
                        "--access-key", AK, "--secret-key", SK)
        # A little under the upstream's limit, as a fleet converges to: two independent token
        # buckets at exactly the same rate disagree by the requests' arrival jitter.
        gw = gateway(sim.port, "[upstream]\nrate = 4\nburst = 4\n")
        try:
            # Three dashboards ask different hours-long, unaligned ranges: ~30 distinct buckets.
            paths = [gp_path(f"dash{i}", NOW - timedelta(days=2, minutes=5 * i + 3), NOW - timedelta(days=1, hours=18 - i))
                     for i in range(3)]
            res = self.run_clients(gw.port, paths)
            self.assertEqual([r.status for r in res], [200, 200, 200], [r.body[:200] for r in res])
            st = sim_stats(sim)
            self.assertEqual(st["throttled"], 0)
            self.assertGreaterEqual(st["operations"]["GetProfile"], 20)
            self.assertLessEqual(st["maxRequestsInASecond"], 10, st["requestsPerSecond"])
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)

    def test_throttling_is_absorbed_by_retries(self):
        # profgate is configured four times faster than the upstream allows: the upstream throttles,
        # profgate slows down and retries, and clients still get their profiles.
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "100", "--rate", "4", "--burst", "4")
        gw = gateway(sim.port, "[upstream]\nrate = 16\nburst = 16\nretries = 10\nbackoff_base = 200ms\n"
                               "backoff_cap = 2s\ndeadline = 60s\n")
        try:
            paths = [gp_path(f"thr{i}", NOW - timedelta(days=3, minutes=5 * i + 7), NOW - timedelta(days=2, hours=23, minutes=2))
                     for i in range(2)]
            res = self.run_clients(gw.port, paths)
            self.assertEqual([r.status for r in res], [200, 200], [r.body[:200] for r in res])
            st = sim_stats(sim)
            self.assertGreater(st["throttled"], 0)
            self.assertLess(get(gw.port, "/healthz").json()["upstream"]["rate"], 16)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)


class Failures(unittest.TestCase):
    def test_killed_upstream_gives_clean_errors_and_recovers(self):
        port = free_port()
        sim = Process("profgate-sim", ["--listen", f"127.0.0.1:{port}", "--clock", NOW.isoformat(),
                                       "--latency-ms", "5000"]).wait_ready()
        gw = gateway(port, "[upstream]\nretries = 2\nbackoff_base = 50ms\nbreaker_failures = 3\n"
                           "breaker_cooldown = 300ms\ndeadline = 10s\n")
        try:
            c = Conn(gw.port, timeout=30)
            c.send(f"GET {gp_path('kill', NOW - timedelta(days=1), NOW - timedelta(hours=23))} HTTP/1.1\r\nHost: x\r\n"
                   "Accept: application/json\r\n\r\n")
            wait_for(lambda: "GetProfile" in sim.text() or sim_stats(sim)["operations"]["GetProfile"] >= 1, 10,
                     "the upstream call")
            sim.proc.send_signal(signal.SIGKILL)
            sim.proc.wait()
            r = c.read_response()
            c.close()
            self.assertIn(r.status, (500, 503))
            assert_aws_error(self, r, r.status, r.header("x-amzn-ErrorType"))
            self.assertEqual(get(gw.port, "/healthz").status, 200)  # profgate keeps running
            sim = Process("profgate-sim", ["--listen", f"127.0.0.1:{port}", "--clock", NOW.isoformat()]).wait_ready()
            path = gp_path("kill", NOW - timedelta(days=1), NOW - timedelta(hours=23))
            wait_for(lambda: get(gw.port, path, {"Accept": "application/json"}).status == 200, 15,
                     "recovery after the upstream came back")
        finally:
            self.assertEqual(gw.stop(), 0)
            sim.kill()

    def test_a_call_whose_deadline_passes_in_the_queue_after_an_attempt(self):
        # Every attempt fails (500) and the pace is one call a second: the call fails at once,
        # waits in the queue again for the next token, fails again, and reaches its deadline
        # (1.5 s) queued. It ends with the upstream's error, and everything its attempts held is
        # freed (under ASan the exit status says so).
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "100", "--fail-rate", "1")
        gw = gateway(sim.port, "[upstream]\nrate = 1\nburst = 1\nretries = 10\nbackoff_base = 10ms\n"
                               "backoff_cap = 20ms\ndeadline = 1500ms\nbreaker_failures = 1000\n")
        try:
            r = get(gw.port, gp_path("dl", NOW - timedelta(days=2, minutes=5), NOW - timedelta(days=2)),
                    {"Accept": "application/json"}, timeout=30)
            self.assertEqual(r.status, 500, r)
            self.assertGreaterEqual(sim_stats(sim)["failed"], 1)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)

    def test_wrong_secret_is_a_clear_error_without_retries(self):
        sim = start_sim("--clock", NOW.isoformat(), "--access-key", AK, "--secret-key", SK)
        gw = gateway(sim.port, env={"AWS_SECRET_ACCESS_KEY": "wrong"})
        try:
            path = gp_path("auth", NOW - timedelta(days=1), NOW - timedelta(days=1) + timedelta(hours=2))
            r = get(gw.port, path, {"Accept": "application/json"})
            assert_aws_error(self, r, 403, "AccessDeniedException", "check the gateway's AWS credentials")
            self.assertIn("InvalidSignatureException", r.json()["message"])
            self.assertEqual(sim_stats(sim)["authFailed"], 2)  # one attempt per bucket, no retries
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)

    def test_unknown_group_passes_through_unretried(self):
        sim = start_sim("--clock", NOW.isoformat(), "--groups", "known")
        gw = gateway(sim.port)
        try:
            c = client(gw.port)
            with self.assertRaises(c.exceptions.ResourceNotFoundException) as cm:
                c.get_profile(profilingGroupName="unknown", startTime=NOW - timedelta(days=1), period="PT1H")
            self.assertIn("unknown", cm.exception.response["Error"]["Message"])
            self.assertEqual(sim_stats(sim)["notFound"], 1)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)

    def test_circuit_breaker_fails_fast(self):
        sim = start_sim("--clock", NOW.isoformat(), "--fail-rate", "1")
        # Two failed attempts (the first request's try and retry) open the breaker.
        gw = gateway(sim.port, "[upstream]\nretries = 1\nbackoff_base = 10ms\nbreaker_failures = 2\n"
                               "breaker_cooldown = 60s\n")
        try:
            path = gp_path("cb", NOW - timedelta(days=1), NOW - timedelta(days=1) + timedelta(hours=1))
            first = get(gw.port, path, {"Accept": "application/json"})
            assert_aws_error(self, first, 500, "InternalServerException", "The upstream failed: 500")
            second = get(gw.port, path, {"Accept": "application/json"})
            assert_aws_error(self, second, 503, "ServiceUnavailableException")
            # Come back when the cool-down ends (60 s, just started), in both spellings.
            ms = int(second.header("x-amz-retry-after"))
            self.assertTrue(50000 < ms <= 60000, ms)
            self.assertEqual(int(second.header("retry-after")), (ms + 999) // 1000)
            calls = sim_stats(sim)["operations"]["GetProfile"]
            for _ in range(5):
                r = get(gw.port, path, {"Accept": "application/json"})
                assert_aws_error(self, r, 503, "ServiceUnavailableException", "fails fast")
            self.assertEqual(sim_stats(sim)["operations"]["GetProfile"], calls)  # nothing reached the upstream
            self.assertEqual(get(gw.port, "/healthz").json()["upstream"]["breaker"], "open")
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)

    def test_an_open_circuit_answers_other_operations_queued_calls_at_once(self):
        # Reads wait in their operation's queue (1 a second); the first fails and opens the
        # circuit: the queued ones are answered then, not when their deadline runs out.
        sim = start_sim("--clock", NOW.isoformat(), "--fail-rate", "1")
        gw = gateway(sim.port, "[upstream]\nretries = 0\nbreaker_failures = 1\nbreaker_cooldown = 60s\n"
                               "op_rate = 1\nop_burst = 1\ndeadline = 60s\n[api]\nread_ttl = 0s\n")
        try:
            out = []
            threads = [threading.Thread(target=lambda i=i: out.append(get(gw.port, f"/profilingGroups/g{i}", timeout=20)))
                       for i in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            statuses = sorted(r.status for r in out)
            self.assertEqual(statuses, [500, 503, 503], [r.body for r in out])
            for r in out:
                if r.status == 503:
                    self.assertIn("fails fast", r.json()["message"])
            self.assertEqual(sim_stats(sim)["apiOperations"]["DescribeProfilingGroup"], 1)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)

    def test_a_client_that_leaves_takes_its_queued_calls_with_it(self):
        # A slow upstream (1 call/s, one at a time): a cold 7-day request queues about 30 calls.
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "20")
        gw = gateway(sim.port, "[upstream]\nrate = 1\nburst = 1\nmax_inflight = 1\n")
        try:
            path = gp_path("gone", NOW - timedelta(days=9), NOW - timedelta(days=2))
            c = Conn(gw.port)
            c.send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n")
            wait_for(lambda: get(gw.port, "/healthz").json()["upstream"]["queued"] >= 20, 10, "the calls to queue")
            c.close()  # the client leaves: nobody needs those buckets any more
            wait_for(lambda: get(gw.port, "/healthz").json()["upstream"]["queued"] == 0, 10, "the calls to go")
            calls = sim_stats(sim)["operations"]["GetProfile"]
            self.assertLessEqual(calls, 5)  # what had started before it left, not the ~30 it asked for
            m = get(gw.port, "/metrics").body.decode()
            withdrawn = [l for l in m.splitlines() if l.startswith("profgate_upstream_withdrawn_total ")]
            self.assertGreaterEqual(float(withdrawn[0].split()[1]), 20)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main()
