"""The shared cache (Redis) with a real redis-server: complete buckets are fetched once and served
from Redis ever after, across gateway restarts; TTLs follow the upstream's retention (none in
archive mode) and freshness.live_ttl for live buckets, and no reader keeps a live value longer than
its Redis TTL or takes one for a complete bucket; corrupted values are detected, counted and
replaced, never served; Redis going away never fails a request, and caching resumes when it is
back. The in-process caches are off in these tests so that every lookup goes to Redis, and so is
the fleet (its leases and budget add keys under the same namespace and commands on the same
connection; test_fleet covers them), so that keys and commands here are the cache's alone."""
import json
import signal
import socket
import time
import unittest
from datetime import datetime, timedelta, timezone

from harness import Redis, get, resp, resp_many, start_profgate, start_sim, wait_for

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
F = "%Y-%m-%dT%H:%M:%SZ"


def path(group, start, end):
    return f"/profilingGroups/{group}/profile?startTime={start.strftime(F)}&endTime={end.strftime(F)}"


class RedisCache(unittest.TestCase):
    def setUp(self):
        self.redis = Redis()
        self.sim = start_sim("--clock", NOW.isoformat(), "--nodes", "200")
        self.gws = []

    def tearDown(self):
        for gw in self.gws:
            self.assertEqual(gw.stop(), 0)
        self.assertEqual(self.sim.stop(), 0)
        self.redis.stop()

    def gateway(self, extra="", clock=NOW):
        gw = start_profgate("--upstream", f"http://127.0.0.1:{self.sim.port}", "--clock", clock.isoformat(),
                            config=f"[redis]\nurl = redis://127.0.0.1:{self.redis.port}\n[fleet]\nenabled = off\n[cache]\nmemory_bytes = 0\n"
                                   f"response_bytes = 0\n{extra}")
        self.gws.append(gw)
        wait_for(lambda: get(gw.port, "/healthz").json()["redis"]["state"] == "connected", 10, "redis connection")
        return gw

    def stop_gateway(self, gw):
        self.assertEqual(gw.stop(), 0)
        self.gws.remove(gw)

    def calls(self):
        return get(self.sim.port, "/_sim/stats").json()["operations"]["GetProfile"]

    def fetch(self, gw, p):
        r = get(gw.port, p, {"Accept": "application/json"}, timeout=60)
        self.assertEqual(r.status, 200, r)
        return r

    def test_fetched_once_even_across_restarts(self):
        gw = self.gateway()
        p = path("once", NOW - timedelta(days=2, minutes=3), NOW - timedelta(days=1, hours=21, minutes=2))
        first = self.fetch(gw, p)
        n = self.calls()
        second = self.fetch(gw, p)
        self.assertEqual(second.header("X-Profgate-Cache"), "hit")
        self.assertEqual(second.body, first.body)
        self.assertEqual(self.calls(), n)
        self.stop_gateway(gw)
        gw = self.gateway()
        third = self.fetch(gw, p)
        self.assertEqual(third.header("X-Profgate-Cache"), "hit")
        self.assertEqual(third.body, first.body)
        self.assertEqual(self.calls(), n)
        keys = resp(self.redis.port, "KEYS", "pg:v1:*")
        self.assertEqual(len(keys), n)  # stores were written before the second request could hit
        self.assertTrue(all(k.startswith(b"pg:v1:") and k.count(b":") == 5 for k in keys), keys)

    def test_a_graceful_stop_finishes_what_it_queued(self):
        # The fleet's leave is queued just before Redis closes; a close that freed the connection
        # at once dropped it (and any SET still queued), leaving the member behind until it expired.
        gw = self.gateway("[fleet]\nenabled = on\n")
        wait_for(lambda: resp(self.redis.port, "KEYS", "pg:v1:*:fleet:members"), 10, "the fleet member's beat")
        members = resp(self.redis.port, "KEYS", "pg:v1:*:fleet:members")[0].decode()
        self.assertEqual(resp(self.redis.port, "ZCARD", members), 1)
        self.stop_gateway(gw)
        self.assertEqual(resp(self.redis.port, "ZCARD", members), 0)

    def test_ttls_follow_retention(self):
        gw = self.gateway("[freshness]\nlive_ttl = 20s\n")
        five = NOW - timedelta(days=14)        # a 5-minute bucket, 1 day of its 15 left
        hour = NOW - timedelta(days=59)        # an hour, 1 day of its 60 left
        self.fetch(gw, path("ttl", five, five + timedelta(minutes=5)))
        self.fetch(gw, path("ttl", hour, hour + timedelta(hours=1)))
        self.fetch(gw, path("ttl", NOW - timedelta(minutes=5), NOW))  # live
        wait_for(lambda: len(resp(self.redis.port, "KEYS", "pg:v1:*:ttl:*")) == 3, 10, "the stores")

        def pttl(period, start):
            key = resp(self.redis.port, "KEYS", f"pg:v1:*:ttl:{period}:{int(start.timestamp())}")
            self.assertEqual(len(key), 1, (period, start))
            return resp(self.redis.port, "PTTL", key[0])
        day = 86400 * 1000
        self.assertTrue(day - 120000 < pttl("PT5M", five) <= day)
        self.assertTrue(day - 120000 < pttl("PT1H", hour) <= day)
        live = pttl("PT5M", NOW - timedelta(minutes=5))
        self.assertTrue(0 < live <= 20000, live)

    def test_archive_mode_keeps_for_ever(self):
        gw = self.gateway("[cache]\narchive = on\nnamespace = team-a\n")
        s = NOW - timedelta(days=3)
        self.fetch(gw, path("arch", s, s + timedelta(hours=1)))
        wait_for(lambda: resp(self.redis.port, "KEYS", "pg:v1:team-a:arch:*"), 10, "the store")
        keys = resp(self.redis.port, "KEYS", "pg:v1:team-a:arch:*")
        self.assertEqual(len(keys), 1)
        self.assertEqual(resp(self.redis.port, "PTTL", keys[0]), -1)

    def test_live_buckets_are_refetched_complete_ones_are_not(self):
        gw = self.gateway("[freshness]\nlive_ttl = 300ms\n")
        p = path("live", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
        plan = get(gw.port, "/_profgate/plan?" + p.split("?", 1)[1]).json()
        self.fetch(gw, p)
        n = self.calls()
        wait_for(lambda: self.fetch(gw, p) and self.calls() > n, 10, "live buckets to expire from Redis")
        per = get(self.sim.port, "/_sim/stats").json()["requestsPerBucket"]
        for b in plan["buckets"]:
            if b["state"] == "complete":
                self.assertEqual(per[f"live|{b['period']}|{b['start']}"], 1, b)

    def live_key(self, group):
        wait_for(lambda: len(resp(self.redis.port, "KEYS", f"pg:v1:*:{group}:*")) == 1, 10, "the store")
        return resp(self.redis.port, "KEYS", f"pg:v1:*:{group}:*")[0]

    def test_live_value_is_kept_only_for_what_is_left_of_its_ttl(self):
        # One replica stores a live bucket; another reads it from Redis into its in-process cache.
        # That copy must go stale when the Redis one does, not live_ttl after it was read.
        p = path("left", NOW - timedelta(minutes=5), NOW)  # one live 5-minute bucket
        self.fetch(self.gateway("[freshness]\nlive_ttl = 20s\n"), p)
        key = self.live_key("left")
        reader = self.gateway("[freshness]\nlive_ttl = 20s\nrefresh_ahead = 0s\n[cache]\nmemory_bytes = 64m\n")
        n = self.calls()
        resp(self.redis.port, "PEXPIRE", key, "1500")
        self.assertEqual(self.fetch(reader, p).header("X-Profgate-Cache"), "hit")
        self.assertEqual(self.calls(), n)
        wait_for(lambda: self.fetch(reader, p).header("X-Profgate-Cache") == "miss", 10,
                 "the copy to go stale with the Redis value")
        self.assertEqual(self.calls(), n + 1)

    def test_complete_bucket_does_not_take_a_value_stored_live(self):
        # Stored while live (fetched before the bucket settled), a value must not become the
        # immutable copy once the bucket is complete: a later reader fetches the settled data.
        p = path("settled", NOW - timedelta(minutes=5), NOW)
        self.fetch(self.gateway(), p)  # at NOW the bucket is inside the 10-minute settle: live
        key = self.live_key("settled")
        self.assertTrue(0 < resp(self.redis.port, "PTTL", key) <= 30000)
        late = self.gateway(clock=NOW + timedelta(minutes=20))  # settled by now
        n = self.calls()
        self.assertEqual(self.fetch(late, p).header("X-Profgate-Cache"), "miss")
        self.assertEqual(self.calls(), n + 1)
        wait_for(lambda: resp(self.redis.port, "PTTL", key) > 86400 * 1000, 10, "the complete copy's store")
        self.assertEqual(self.fetch(late, p).header("X-Profgate-Cache"), "hit")
        self.assertEqual(self.calls(), n + 1)

    def test_corrupted_values_are_replaced_not_served(self):
        gw = self.gateway()
        p = path("bad", NOW - timedelta(days=1), NOW - timedelta(days=1) + timedelta(hours=1))
        good = self.fetch(gw, p)
        wait_for(lambda: resp(self.redis.port, "KEYS", "pg:v1:*:bad:*"), 10, "the bucket in Redis")
        key = resp(self.redis.port, "KEYS", "pg:v1:*:bad:*")[0]
        ttl = resp(self.redis.port, "PTTL", key)
        for damage in [b"garbage", b"PGZ\x01" + b"\x00" * 40, b"PGZ\x07whatever"]:
            resp(self.redis.port, "SET", key, damage)
            n = self.calls()
            r = self.fetch(gw, p)
            self.assertEqual(json.loads(r.body), json.loads(good.body))
            self.assertEqual(self.calls(), n + 1)  # refetched, and overwritten:
            # The gateway's rewrite, not the damage: the second damage starts with PGZ\x01 too, and a
            # rewrite landing after the next damage would hide it from the next fetch.
            wait_for(lambda: (v := resp(self.redis.port, "GET", key)) != damage and v.startswith(b"PGZ\x01"), 10,
                     "the value rewritten")
        self.assertGreater(resp(self.redis.port, "PTTL", key), 0)
        self.assertLessEqual(resp(self.redis.port, "PTTL", key), ttl)
        self.assertEqual(get(gw.port, "/healthz").json()["redis"]["corrupt"], 3)

    def test_redis_down_and_back(self):
        # Over a unix socket in a private directory: a TCP port freed by stopping Redis could be
        # handed to another test running in parallel, and the gateway would "reconnect" to it.
        import os
        import tempfile
        sock = os.path.join(tempfile.mkdtemp(), "redis.sock")
        self.redis.stop()
        self.redis = Redis(extra=("--unixsocket", sock, "--unixsocketperm", "700"))
        gw = start_profgate("--upstream", f"http://127.0.0.1:{self.sim.port}", "--clock", NOW.isoformat(),
                            config=f"[redis]\nurl = unix:{sock}\nconnect_timeout = 200ms\n[fleet]\nenabled = off\n[cache]\n"
                                   "memory_bytes = 0\nresponse_bytes = 0\n")
        self.gws.append(gw)
        state = lambda: get(gw.port, "/healthz").json()["redis"]["state"]
        wait_for(lambda: state() == "connected", 10, "redis connection")
        self.fetch(gw, path("down", NOW - timedelta(days=1), NOW - timedelta(days=1) + timedelta(hours=1)))
        self.redis.stop()
        wait_for(lambda: state() == "down", 10, "the gateway to notice")
        for i in range(3):  # requests still succeed, through the upstream
            s = NOW - timedelta(days=2, hours=i)
            self.fetch(gw, path("down", s, s + timedelta(hours=1)))
        self.redis = Redis(extra=("--unixsocket", sock, "--unixsocketperm", "700"))
        wait_for(lambda: state() == "connected", 15, "reconnection")
        s = NOW - timedelta(days=3)
        self.fetch(gw, path("back", s, s + timedelta(hours=1)))
        # Caching resumed (the store is written beside the response, so poll for it).
        wait_for(lambda: len(resp(sock, "KEYS", "pg:v1:*:back:*")) == 1, 10, "the bucket in Redis")


class RedisConnections(unittest.TestCase):
    def test_password_database_and_unix_socket(self):
        import os
        import tempfile
        sock = os.path.join(tempfile.mkdtemp(), "redis.sock")
        tcp = Redis(extra=("--requirepass", "s3cret"))
        unix = Redis(extra=("--unixsocket", sock, "--unixsocketperm", "700"))
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "100")
        gws = []
        try:
            for url in [f"redis://:s3cret@127.0.0.1:{tcp.port}/3", f"unix:{sock}?db=5"]:
                gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", NOW.isoformat(),
                                    config=f"[redis]\nurl = {url}\n[fleet]\nenabled = off\n[cache]\nmemory_bytes = 0\nresponse_bytes = 0\n")
                gws.append(gw)
                wait_for(lambda: get(gw.port, "/healthz").json()["redis"]["state"] == "connected", 10, url)
            s = NOW - timedelta(days=1)
            for gw in gws:
                r = get(gw.port, path("conn", s, s + timedelta(hours=1)), {"Accept": "application/json"}, timeout=30)
                self.assertEqual(r.status, 200)
            keys = lambda where, pre, db: resp_many(where, pre + [("SELECT", db), ("KEYS", "pg:v1:*:conn:*")])[-1]
            wait_for(lambda: len(keys(tcp.port, [("AUTH", "s3cret")], 3)) == 1, 10, "the value in database 3")
            wait_for(lambda: len(keys(sock, [], 5)) == 1, 10, "the value in database 5 over the unix socket")
            self.assertEqual(keys(tcp.port, [("AUTH", "s3cret")], 0), [])  # nothing in the default database
            self.assertEqual(get(gws[0].port, "/healthz").json()["redis"]["errors"], 0)
        finally:
            for gw in gws:
                self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)
            tcp.stop()
            unix.stop()

    def test_acl_user_with_the_documented_commands(self):
        # docs/CACHE.md lists what a restricted Redis user needs; with exactly that, lookups hit.
        # Without EVAL every lookup errors, and requests are still answered.
        redis = Redis()
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "100")
        resp(redis.port, "ACL", "SETUSER", "profgate", "on", ">pw", "~pg:v1:*", "+get", "+set", "+pttl", "+eval",
             "+select", "+ping")
        resp(redis.port, "ACL", "SETUSER", "noscript", "on", ">pw", "~pg:v1:*", "+get", "+set", "+pttl", "+select")
        gws = []
        try:
            for user in ("profgate", "noscript"):
                gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", NOW.isoformat(),
                                    config=f"[redis]\nurl = redis://{user}:pw@127.0.0.1:{redis.port}/0\n[fleet]\nenabled = off\n"
                                           f"[cache]\nmemory_bytes = 0\nresponse_bytes = 0\nnamespace = {user}\n")
                gws.append(gw)
                wait_for(lambda: get(gw.port, "/healthz").json()["redis"]["state"] == "connected", 10, user)
                s = NOW - timedelta(days=1)
                for i, p in enumerate((path("acl", s, s + timedelta(hours=1)),
                                       path("acl", NOW - timedelta(minutes=5), NOW))):
                    r = get(gw.port, p, {"Accept": "application/json"}, timeout=30)
                    self.assertEqual(r.status, 200)
                    wait_for(lambda: len(resp(redis.port, "KEYS", f"pg:v1:{user}:acl:*")) == i + 1, 10, "the store")
                    again = get(gw.port, p, {"Accept": "application/json"}, timeout=30)
                    self.assertEqual(again.status, 200)
                    self.assertEqual(again.header("X-Profgate-Cache"), "hit" if user == "profgate" else "miss")
            self.assertEqual(get(gws[0].port, "/healthz").json()["redis"]["errors"], 0)
            self.assertEqual(get(gws[1].port, "/healthz").json()["redis"]["errors"], 4)
        finally:
            for gw in gws:
                self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)
            redis.stop()

    def test_password_from_a_secret_file(self):
        # redis.password_file keeps the password out of the URL and the config; the file is
        # checked as a secret (not readable by others), and a password in both places is refused.
        import os
        import subprocess
        import tempfile
        from harness import binary
        redis = Redis(extra=("--requirepass", "from-a-file"))
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "100")
        d = tempfile.mkdtemp()
        pw = os.path.join(d, "redis-password")
        with open(pw, "w") as f:
            f.write("from-a-file\n")
        os.chmod(pw, 0o600)
        conf = (f"[redis]\nurl = redis://127.0.0.1:{redis.port}\npassword_file = {pw}\n[fleet]\nenabled = off\n"
                "[cache]\nmemory_bytes = 0\nresponse_bytes = 0\n")
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", NOW.isoformat(), config=conf)
        try:
            wait_for(lambda: get(gw.port, "/healthz").json()["redis"]["state"] == "connected", 10, "AUTH from the file")
            s = NOW - timedelta(days=1)
            self.assertEqual(get(gw.port, path("pwf", s, s + timedelta(hours=1)), {"Accept": "application/json"},
                                 timeout=30).status, 200)
            wait_for(lambda: len(resp_many(redis.port, [("AUTH", "from-a-file"), ("KEYS", "pg:v1:*:pwf:*")])[-1]) == 1,
                     10, "the value stored with the file's password")
            self.assertNotIn("from-a-file", gw.text())
        finally:
            self.assertEqual(gw.stop(), 0)
        cfg = os.path.join(d, "p.conf")
        for mode, url_pw, expect in ((0o644, "", "others may read or write it"),
                                     (0o600, ":inline@", "redis.password_file gives one too")):
            os.chmod(pw, mode)
            with open(cfg, "w") as f:
                f.write(conf.replace("redis://", f"redis://{url_pw}"))
            p = subprocess.run([binary("profgate"), "-c", cfg, "--listen", "127.0.0.1:0", "--upstream",
                                f"http://127.0.0.1:{sim.port}"], capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, AWS_EC2_METADATA_DISABLED="true"))
            self.assertEqual(p.returncode, 78, p.stderr)
            self.assertIn(expect, p.stderr)
            self.assertNotIn("from-a-file", p.stderr)
        self.assertEqual(sim.stop(), 0)
        redis.stop()

    def test_wrong_password_still_serves(self):
        redis = Redis(extra=("--requirepass", "right"))
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "100")
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", NOW.isoformat(),
                            config=f"[redis]\nurl = redis://:wrong@127.0.0.1:{redis.port}\n[fleet]\nenabled = off\n[cache]\nmemory_bytes = 0\n"
                                   "response_bytes = 0\n")
        try:
            s = NOW - timedelta(days=1)
            r = get(gw.port, path("pw", s, s + timedelta(hours=1)), {"Accept": "application/json"}, timeout=30)
            self.assertEqual(r.status, 200)
            self.assertIn("AUTH/SELECT refused", gw.text())
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)
            redis.stop()

    def test_slow_redis_costs_at_most_the_command_timeout(self):
        import threading
        import time
        redis = Redis(extra=("--enable-debug-command", "local"))  # Redis 7 disables DEBUG by default
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "100")
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", NOW.isoformat(),
                            config=f"[redis]\nurl = redis://127.0.0.1:{redis.port}\ncommand_timeout = 200ms\n[fleet]\nenabled = off\n"
                                   "[cache]\nmemory_bytes = 0\nresponse_bytes = 0\n")
        try:
            wait_for(lambda: get(gw.port, "/healthz").json()["redis"]["state"] == "connected", 10, "redis")
            blocker = threading.Thread(target=lambda: resp(redis.port, "DEBUG", "SLEEP", "3"))
            blocker.start()
            wait_for(lambda: blocked(redis.port), 5, "redis to be blocked")
            s = NOW - timedelta(days=2)
            t0 = time.monotonic()
            r = get(gw.port, path("slow", s, s + timedelta(hours=1)), {"Accept": "application/json"}, timeout=30)
            took = time.monotonic() - t0
            blocker.join()
            self.assertEqual(r.status, 200)
            self.assertLess(took, 2.0)  # Redis was blocked for 3 s; the lookup gave up at 200 ms
            self.assertGreaterEqual(get(gw.port, "/healthz").json()["redis"]["timeouts"], 1)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)
            redis.stop()

    def test_a_redis_that_stops_answering_is_dropped_and_used_again(self):
        # A server that stops answering without closing the connection (here SIGSTOP; in the wild,
        # a reset socket that hiredis's libuv adapter never reports): after three lookups in a row
        # time out and a PING does too, the connection is dropped and remade; requests never wait.
        redis = Redis()
        sim = start_sim("--clock", NOW.isoformat(), "--nodes", "100")
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", NOW.isoformat(),
                            config=f"[redis]\nurl = redis://127.0.0.1:{redis.port}\ncommand_timeout = 200ms\n"
                                   "connect_timeout = 200ms\n[fleet]\nenabled = off\n"
                                   "[cache]\nmemory_bytes = 0\nresponse_bytes = 0\n")
        try:
            wait_for(lambda: get(gw.port, "/healthz").json()["redis"]["state"] == "connected", 10, "redis")
            redis.proc.send_signal(signal.SIGSTOP)
            for i in range(4):  # four one-bucket lookups, each timing out at 200 ms
                s = NOW - timedelta(days=2, hours=i)
                t0 = time.monotonic()
                r = get(gw.port, path("stopped", s, s + timedelta(hours=1)), {"Accept": "application/json"}, timeout=30)
                self.assertEqual(r.status, 200)
                self.assertLess(time.monotonic() - t0, 2.0)
            wait_for(lambda: "nor to a PING; dropping the connection" in gw.text(), 10,
                     "the silent connection to be dropped")
            redis.proc.send_signal(signal.SIGCONT)
            wait_for(lambda: get(gw.port, "/healthz").json()["redis"]["state"] == "connected", 15, "reconnection")
            # Used again: a bucket fetched now is stored, and found by the next request.
            s = NOW - timedelta(days=3)
            back = path("back", s, s + timedelta(hours=1))
            self.assertEqual(get(gw.port, back, {"Accept": "application/json"}, timeout=30).status, 200)
            wait_for(lambda: resp(redis.port, "KEYS", "pg:v1:*:back:*"), 10, "the store")
            hits = get(gw.port, "/healthz").json()["redis"]["hits"]
            self.assertEqual(get(gw.port, back, {"Accept": "application/json"}, timeout=30).status, 200)
            self.assertEqual(get(gw.port, "/healthz").json()["redis"]["hits"], hits + 1)
        finally:
            redis.proc.send_signal(signal.SIGCONT)
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)
            redis.stop()


def blocked(port):
    """True while redis-server does not answer a PING within 100 ms (DEBUG SLEEP in progress)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=0.1)
    try:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        s.recv(16)
        return False
    except socket.timeout:
        return True
    finally:
        s.close()


if __name__ == "__main__":
    unittest.main()
