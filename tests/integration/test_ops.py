"""Operations, end to end against the real programs: /metrics counters move by exactly
what a known workload implies; /readyz follows the listener, the circuit breaker and Redis; SIGHUP
reloads what can change live, reports what cannot, keeps the old configuration when the file is
bad and never cuts a request in flight; JSON access logs carry the request's story and no secret;
X-Amzn-Trace-Id reaches the upstream; the pid file and the systemd notify protocol work."""
import json
import os
import signal
import socket
import tempfile
import threading
import unittest
from datetime import datetime, timezone

from harness import Conn, Process, Redis, free_port, get, metrics, start_profgate, start_sim, wait_for

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
CLOCK = NOW.isoformat()
JSON = {"Accept": "application/json"}


def hours(group, day, h0, h1):
    return (f"/profilingGroups/{group}/profile?startTime=2026-11-{day:02d}T{h0:02d}:00:00Z"
            f"&endTime=2026-11-{day:02d}T{h1:02d}:00:00Z")


def delta(before, after, series):
    return after.get(series, 0) - before.get(series, 0)


def req_series(route, code, cache):
    return f'profgate_requests_total{{route="{route}",code="{code}",cache="{cache}"}}'


def src(source):
    return f'profgate_buckets_total{{source="{source}"}}'


def outcome(o):
    return f'profgate_upstream_requests_total{{outcome="{o}"}}'


class ConfigFile:
    """A config file a test rewrites between reloads."""

    def __init__(self, text):
        f = tempfile.NamedTemporaryFile("w", prefix="profgate-ops-", suffix=".conf", delete=False)
        self.path = f.name
        f.close()
        self.write(text)

    def write(self, text):
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.path)

    def remove(self):
        os.unlink(self.path)


class Metrics(unittest.TestCase):
    """Counters after a known workload, each asserted as an exact delta."""

    def setUp(self):
        self.sim = start_sim("--clock", CLOCK, "--nodes", "100", "--latency-ms", "150")
        self.gw = start_profgate("--upstream", f"http://127.0.0.1:{self.sim.port}", "--clock", CLOCK,
                                 config="[upstream]\nrate = 1000\nburst = 1000\n")

    def tearDown(self):
        self.assertEqual(self.gw.stop(), 0)
        self.assertEqual(self.sim.stop(), 0)

    def test_exposition_is_well_formed(self):
        r = get(self.gw.port, "/metrics")
        text = r.body.decode()
        helps = {l.split()[2] for l in text.splitlines() if l.startswith("# HELP ")}
        types = {l.split()[2]: l.split()[3] for l in text.splitlines() if l.startswith("# TYPE ")}
        self.assertEqual(helps, set(types))
        for line in text.splitlines():
            if line.startswith("#") or not line:
                continue
            name = line.split("{")[0].split(" ")[0]
            base = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and name[: -len(suffix)] in types:
                    base = name[: -len(suffix)]
            self.assertIn(base, types, line)
            float(line.rsplit(" ", 1)[1])
        for name in ("profgate_requests_total", "profgate_buckets_total", "profgate_upstream_requests_total",
                     "profgate_upstream_retries_total", "profgate_upstream_rate", "profgate_upstream_queue_depth",
                     "profgate_upstream_inflight", "profgate_redis_command_duration_seconds",
                     "profgate_redis_errors_total", "profgate_cache_bytes", "profgate_cache_evictions_total",
                     "profgate_request_duration_seconds", "profgate_upstream_request_duration_seconds",
                     "profgate_open_connections", "profgate_upstream_circuit_open"):
            self.assertIn(name, types)
        self.assertEqual(types["profgate_request_duration_seconds"], "histogram")
        self.assertEqual(types["profgate_requests_total"], "counter")

    def test_known_workload_moves_counters_by_exact_amounts(self):
        port = self.gw.port
        m0 = metrics(port)
        # 1. Two complete hours, nothing cached: a miss, two upstream fetches.
        self.assertEqual(get(port, hours("ops", 20, 10, 12), JSON, timeout=30).status, 200)
        m1 = metrics(port)
        self.assertEqual(delta(m0, m1, req_series("GetProfile", 200, "miss")), 1)
        self.assertEqual(delta(m0, m1, src("upstream")), 2)
        self.assertEqual(delta(m0, m1, outcome("ok")), 2)
        self.assertEqual(delta(m0, m1, "profgate_upstream_request_duration_seconds_count"), 2)
        self.assertEqual(delta(m0, m1, 'profgate_request_duration_seconds_count{route="GetProfile"}'), 1)
        # The /metrics scrape itself is counted after it is answered: one, by the time of m1.
        self.assertEqual(delta(m0, m1, req_series("metrics", 200, "none")), 1)
        self.assertEqual(m1['profgate_cache_entries{tier="l1"}'], 2)
        # 2. The same again: a hit from the stored answer; no bucket is looked up.
        self.assertEqual(get(port, hours("ops", 20, 10, 12), JSON).status, 200)
        m2 = metrics(port)
        self.assertEqual(delta(m1, m2, req_series("GetProfile", 200, "hit")), 1)
        for s in ("l1", "upstream", "redis", "coalesced", "merged_run"):
            self.assertEqual(delta(m1, m2, src(s)), 0, s)
        self.assertEqual(delta(m1, m2, outcome("ok")), 0)
        # 3. Three hours overlapping the first two: partial, two from L1, one fetched.
        self.assertEqual(get(port, hours("ops", 20, 10, 13), JSON, timeout=30).status, 200)
        m3 = metrics(port)
        self.assertEqual(delta(m2, m3, req_series("GetProfile", 200, "partial")), 1)
        self.assertEqual(delta(m2, m3, src("l1")), 2)
        self.assertEqual(delta(m2, m3, src("upstream")), 1)
        self.assertEqual(delta(m2, m3, outcome("ok")), 1)
        # 4. The stored merged run of 10:00-12:00 serves a request for exactly those hours in another format.
        self.assertEqual(get(port, hours("ops", 20, 10, 12), {"Accept": "application/x-amzn-ion"}).status, 200)
        m4 = metrics(port)
        self.assertEqual(delta(m3, m4, src("merged_run")), 2)
        self.assertEqual(delta(m3, m4, req_series("GetProfile", 200, "hit")), 1)
        # 5. A bad request and an unknown route.
        self.assertEqual(get(port, "/profilingGroups/ops/profile?startTime=notatime").status, 400)
        self.assertEqual(get(port, "/nothing-here").status, 404)
        m5 = metrics(port)
        self.assertEqual(delta(m4, m5, req_series("GetProfile", 400, "none")), 1)
        self.assertEqual(delta(m4, m5, req_series("other", 404, "none")), 1)
        self.assertEqual(delta(m4, m5, outcome("ok")), 0)

    def test_concurrent_requests_coalesce(self):
        port = self.gw.port
        m0 = metrics(port)
        p = hours("co", 21, 3, 4)
        raw = f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"
        with Conn(port) as a, Conn(port) as b:
            a.send(raw)
            # The second asks while the first one's upstream call is in flight (150 ms latency).
            wait_for(lambda: metrics(port)["profgate_upstream_inflight"] == 1, 10, "the upstream call")
            b.send(raw)
            self.assertEqual(a.read_response().status, 200)
            self.assertEqual(b.read_response().status, 200)
        m1 = metrics(port)
        self.assertEqual(delta(m0, m1, src("upstream")), 1)
        self.assertEqual(delta(m0, m1, src("coalesced")), 1)
        self.assertEqual(delta(m0, m1, outcome("ok")), 1)
        self.assertEqual(delta(m0, m1, req_series("GetProfile", 200, "miss")), 2)
        self.assertEqual(m1["profgate_requests_in_progress"], 0)


class UpstreamOutcomes(unittest.TestCase):
    def test_throttles_are_counted_and_retried(self):
        sim = start_sim("--clock", CLOCK, "--nodes", "50", "--rate", "2", "--burst", "1")
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", CLOCK,
                            config="[upstream]\nrate = 1000\nburst = 1000\nretries = 20\nbackoff_base = 50ms\n"
                                   "backoff_cap = 200ms\n")
        try:
            m0 = metrics(gw.port)
            self.assertEqual(get(gw.port, hours("thr", 20, 0, 3), JSON, timeout=60).status, 200)
            m1 = metrics(gw.port)
            stats = get(sim.port, "/_sim/stats").json()
            self.assertEqual(delta(m0, m1, outcome("ok")), 3)
            self.assertGreaterEqual(delta(m0, m1, outcome("throttled")), 1)
            self.assertEqual(delta(m0, m1, outcome("throttled")), stats["throttled"])
            self.assertEqual(delta(m0, m1, "profgate_upstream_retries_total"), stats["throttled"])
            self.assertEqual(delta(m0, m1, req_series("GetProfile", 200, "miss")), 1)
            # Throttling lowered the pacing below the configured rate.
            self.assertLess(m1["profgate_upstream_rate"], m1["profgate_upstream_rate_max"])
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)

    def test_connection_errors_open_the_circuit_and_readyz_says_not_ready(self):
        dead = free_port()
        gw = start_profgate("--upstream", f"http://127.0.0.1:{dead}", "--clock", CLOCK,
                            config="[upstream]\nretries = 0\nbreaker_failures = 1\nbreaker_cooldown = 1h\n")
        try:
            r = get(gw.port, "/readyz")
            self.assertEqual((r.status, r.json()["status"]), (200, "ready"))
            m0 = metrics(gw.port)
            self.assertEqual(m0["profgate_ready"], 1)
            self.assertEqual(get(gw.port, hours("dead", 20, 0, 1), JSON, timeout=30).status, 503)
            m1 = metrics(gw.port)
            self.assertEqual(delta(m0, m1, outcome("connection_error")), 1)
            self.assertEqual(m1["profgate_upstream_circuit_open"], 1)
            self.assertEqual(m1["profgate_ready"], 0)
            self.assertEqual(delta(m0, m1, req_series("GetProfile", 503, "none")), 1)
            r = get(gw.port, "/readyz")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["status"], "not ready")
            self.assertEqual(r.json()["upstream"]["breaker"], "open")
            # Liveness is unaffected: the process is fine, the upstream is not.
            self.assertEqual(get(gw.port, "/healthz").status, 200)
            # Refused without an attempt while open.
            self.assertEqual(get(gw.port, hours("dead", 20, 1, 2), JSON).status, 503)
            m2 = metrics(gw.port)
            self.assertEqual(delta(m1, m2, "profgate_upstream_refused_total"), 1)
            self.assertEqual(delta(m1, m2, outcome("connection_error")), 0)
        finally:
            self.assertEqual(gw.stop(), 0)


class RedisMetricsAndReadiness(unittest.TestCase):
    def test_redis_commands_counted_and_down_is_degraded(self):
        sim = start_sim("--clock", CLOCK, "--nodes", "50")
        redis = Redis()
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", CLOCK,
                            # Without the fleet's heartbeat, budget and leases: exact command counts.
                            config=f"[redis]\nurl = redis://127.0.0.1:{redis.port}\n[fleet]\nenabled = off\n")
        try:
            wait_for(lambda: metrics(gw.port)["profgate_redis_connected"] == 1, 10, "redis connection")
            m0 = metrics(gw.port)
            self.assertEqual(get(gw.port, hours("rd", 20, 5, 6), JSON, timeout=30).status, 200)
            m1 = metrics(gw.port)
            # One GET (a miss) and one SET of the fetched bucket.
            self.assertEqual(delta(m0, m1, "profgate_redis_commands_total"), 2)
            self.assertEqual(delta(m0, m1, "profgate_redis_errors_total"), 0)
            self.assertEqual(delta(m0, m1, src("upstream")), 1)
            self.assertEqual(m1["profgate_redis_enabled"], 1)
            self.assertEqual(get(gw.port, "/readyz").json()["status"], "ready")
            redis.stop()
            wait_for(lambda: metrics(gw.port)["profgate_redis_connected"] == 0, 10, "redis to be seen down")
            r = get(gw.port, "/readyz")
            self.assertEqual((r.status, r.json()["status"], r.json()["redis"]["state"]), (200, "degraded", "down"))
            # Still serving: the L1 has it, and new buckets come from the upstream.
            self.assertEqual(get(gw.port, hours("rd", 20, 5, 7), JSON, timeout=30).status, 200)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)


class Reload(unittest.TestCase):
    def setUp(self):
        self.sim = start_sim("--clock", CLOCK, "--nodes", "50", "--latency-ms", "400")
        self.conf = ConfigFile("[upstream]\nrate = 10\n")
        self.gw = start_profgate("--upstream", f"http://127.0.0.1:{self.sim.port}", "--clock", CLOCK,
                                 "-c", self.conf.path)

    def tearDown(self):
        self.assertEqual(self.gw.stop(), 0)
        self.assertEqual(self.sim.stop(), 0)
        self.conf.remove()

    def reload(self, result):
        before = metrics(self.gw.port).get(f'profgate_config_reloads_total{{result="{result}"}}', 0)
        self.gw.signal(signal.SIGHUP)
        wait_for(lambda: metrics(self.gw.port)[f'profgate_config_reloads_total{{result="{result}"}}'] == before + 1,
                 10, f"a {result} reload")

    def test_live_change_bad_file_and_restart_only_settings(self):
        port = self.gw.port
        self.assertEqual(metrics(port)["profgate_upstream_rate_max"], 10)
        self.conf.write("[upstream]\nrate = 3\nburst = 5\n[log]\nlevel = warn\n")
        self.reload("ok")
        m = metrics(port)
        self.assertEqual((m["profgate_upstream_rate_max"], m["profgate_upstream_rate"]), (3, 3))
        log = self.gw.text()
        self.assertIn("reload: upstream.rate changed", log)
        self.assertIn("reload: upstream.burst changed", log)
        # A file that does not parse changes nothing.
        self.conf.write("[upstream]\nrate = fast\n")
        self.reload("failed")
        self.assertEqual(metrics(port)["profgate_upstream_rate_max"], 3)
        self.assertIn("reload failed, the running configuration stays", self.gw.text())
        self.assertIn("upstream.rate: 'fast' is not a whole number", self.gw.text())
        # Nor does one that parses but names an unknown directive.
        self.conf.write("[upstream]\nrate = 4\nspeed = 9\n")
        self.reload("failed")
        self.assertEqual(metrics(port)["profgate_upstream_rate_max"], 3)
        # Settings that need a restart are reported and keep their running values; the rest apply.
        self.conf.write("[upstream]\nrate = 5\n[log]\nlevel = warn\n[cache]\nnamespace = other\nmemory_bytes = 1m\n")
        self.reload("ok")
        m = metrics(port)
        self.assertEqual(m["profgate_upstream_rate_max"], 5)
        self.assertEqual(m['profgate_cache_capacity_bytes{tier="l1"}'], 1 << 20)
        self.assertIn("reload: cache.namespace changed but needs a restart", self.gw.text())
        # The log level went to warn: no access lines after that reload.
        self.assertEqual(get(port, hours("rl", 20, 1, 2), JSON, timeout=30).status, 200)
        tail = self.gw.text().split("reload: upstream.burst changed")[1]
        self.assertNotIn(" access ", tail)

    def test_a_shortened_idle_timeout_applies_to_connections_idle_from_then(self):
        # Connections wait for their deadlines in lists kept in deadline order. After a reload
        # shortens idle_timeout, a connection that goes idle gets a deadline earlier than one
        # that went idle before: it must still be closed on time, not after the older one.
        self.conf.write("[upstream]\nrate = 10\n[server]\nidle_timeout = 1h\n")
        self.reload("ok")
        old = Conn(self.gw.port, timeout=10)
        self.assertEqual(old.get("/healthz").status, 200)  # idle until an hour from now
        self.conf.write("[upstream]\nrate = 10\n[server]\nidle_timeout = 300ms\n")
        self.reload("ok")
        new = Conn(self.gw.port, timeout=10)
        self.assertEqual(new.get("/healthz").status, 200)
        self.assertTrue(new.closed_by_peer())  # within its 300 ms (the read waits up to 10 s)
        # The older connection keeps the deadline it was given; its next idle spell is 300 ms.
        self.assertEqual(old.get("/healthz").status, 200)
        self.assertTrue(old.closed_by_peer())
        old.close()
        new.close()

    def test_reload_does_not_cut_requests_in_flight(self):
        port = self.gw.port
        results = []
        t = threading.Thread(target=lambda: results.append(get(port, hours("fl", 21, 0, 4), JSON, timeout=30)))
        t.start()
        wait_for(lambda: metrics(port)["profgate_requests_in_progress"] == 1, 10, "the request to be in progress")
        self.conf.write("[upstream]\nrate = 20\nmax_inflight = 2\n")
        self.reload("ok")
        t.join(30)
        self.assertEqual(len(results), 1)
        self.assertEqual(results[0].status, 200)
        self.assertEqual(results[0].header("x-profgate-buckets").split()[0], "total=4")
        self.assertEqual(get(port, "/readyz").status, 200)


class LogsAndTracing(unittest.TestCase):
    def test_json_access_log_has_the_story_and_no_secrets(self):
        secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
        sim = start_sim("--clock", CLOCK, "--nodes", "50", "--access-key", "AKIDOPSTEST", "--secret-key", secret)
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", CLOCK,
                            config="[log]\nformat = json\n",
                            env={"AWS_ACCESS_KEY_ID": "AKIDOPSTEST", "AWS_SECRET_ACCESS_KEY": secret,
                                 "AWS_SESSION_TOKEN": "", "AWS_REGION": "us-east-1"})
        trace = "Root=1-6745f0c1-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
        try:
            p = hours("logs", 20, 8, 10) + "&X-Amz-Signature=deadbeefcafe"
            r = get(gw.port, p, {"Accept": "application/json", "X-Amzn-Trace-Id": trace}, timeout=30)
            self.assertEqual(r.status, 200, r)
            rid = r.header("x-amzn-requestid")
            # The trace id went upstream with the calls this request made.
            stats = get(sim.port, "/_sim/stats").json()
            self.assertEqual(stats["traced"], 2)
            self.assertEqual(stats["lastTraceId"], trace)
            text = gw.text()
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)
        records = [json.loads(l) for l in text.splitlines()]  # every line is a JSON object
        access = [x for x in records if x["msg"] == "access" and x.get("rid") == rid]
        self.assertEqual(len(access), 1, text)
        a = access[0]
        self.assertEqual((a["status"], a["group"], a["buckets"], a["cache"], a["upstream_calls"], a["hits"]),
                         (200, "logs", 2, "miss", 2, 0))
        self.assertEqual(a["range"], "2026-11-20T08:00:00Z/2026-11-20T10:00:00Z")
        self.assertEqual(a["trace_id"], trace)
        self.assertGreater(a["dur_ms"], 0)
        self.assertIn("X-Amz-Signature=REDACTED", a["target"])
        for r in records:
            self.assertIn(r["level"], ("debug", "info", "warn", "error"))
            self.assertTrue(r["time"].endswith("Z"))
        self.assertNotIn(secret, text)
        self.assertNotIn("deadbeefcafe", text)
        self.assertNotIn("Signature=", text.replace("X-Amz-Signature=REDACTED", ""))

    def test_implausible_trace_ids_are_not_forwarded(self):
        sim = start_sim("--clock", CLOCK, "--nodes", "50")
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", CLOCK)
        try:
            r = get(gw.port, hours("tr", 20, 8, 9), {"Accept": "application/json", "X-Amzn-Trace-Id": "a b"})
            self.assertEqual(r.status, 200)
            r = get(gw.port, hours("tr", 20, 9, 10), {"Accept": "application/json", "X-Amzn-Trace-Id": "x" * 300})
            self.assertEqual(r.status, 200)
            self.assertEqual(get(sim.port, "/_sim/stats").json()["traced"], 0)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)


class ServiceManager(unittest.TestCase):
    def test_pid_file_and_notify_protocol(self):
        d = tempfile.mkdtemp(prefix="profgate-svc-")
        sock_path = os.path.join(d, "notify.sock")
        pid_path = os.path.join(d, "profgate.pid")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(sock_path)
        s.settimeout(10)
        conf = ConfigFile("")
        gw = start_profgate("--pid-file", pid_path, "-c", conf.path, env={"NOTIFY_SOCKET": sock_path})
        try:
            self.assertIn("READY=1", s.recv(4096).decode())
            with open(pid_path) as f:
                self.assertEqual(int(f.read().strip()), gw.proc.pid)
            gw.signal(signal.SIGHUP)
            self.assertEqual(s.recv(4096).decode(), "RELOADING=1")
            self.assertIn("READY=1", s.recv(4096).decode())
            gw.signal(signal.SIGTERM)
            self.assertEqual(s.recv(4096).decode(), "STOPPING=1")
            self.assertEqual(gw.wait_exit(), 0)
            self.assertFalse(os.path.exists(pid_path))
        finally:
            gw.kill()
            s.close()
            conf.remove()
            os.unlink(sock_path)
            os.rmdir(d)

    def test_unwritable_pid_file_exits_73(self):
        gw = Process("profgate", ["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:9",
                                  "--pid-file", "/nonexistent-dir/profgate.pid"])
        self.assertEqual(gw.wait_exit(), 73)
        self.assertIn("--pid-file: cannot create /nonexistent-dir/profgate.pid.tmp", gw.text())
        gw.kill()


if __name__ == "__main__":
    unittest.main()
