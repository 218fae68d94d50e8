"""ListProfileTimes through profgate, with boto3's paginator, the AWS CLI, redis-server and the
simulator (which leaves out a fifth of the aggregates, as agents that were down would): for random
groups, periods, orders, page sizes and ranges (some crossing the retention limits, some reaching
into the future), the list through profgate equals the list from the simulator directly, cold and
warm; a warm repeat costs no upstream call, from the in-process cache or from Redis; concurrent
identical lookups share one fetch; a nextToken works only for the request it was made for.
Both processes run on the same frozen clock, so "now" cannot move between the two lists."""
import json
import os
import random
import subprocess
import unittest
from datetime import datetime, timedelta, timezone

from harness import CREDS, Redis, boto3_client as client, get, get_many, start_profgate, start_sim

NOW = datetime(2026, 11, 20, 10, 7, 30, tzinfo=timezone.utc)
CLOCK = NOW.strftime("%Y-%m-%dT%H:%M:%SZ") + "!"
RETENTION = {"PT5M": timedelta(days=15), "PT1H": timedelta(days=60), "P1D": timedelta(days=3 * 365)}
CONF = "[freshness]\nlive_ttl = 10m\n"  # the warm passes below must not outlast a live window


def listing(port, case):
    kw = dict(case)
    page_size = kw.pop("PageSize")
    p = client(port).get_paginator("list_profile_times")
    cfg = {"PageSize": page_size} if page_size else {}
    pages = list(p.paginate(**kw, PaginationConfig=cfg))
    return [t["start"] for page in pages for t in page["profileTimes"]], len(pages)


def calls(sim):
    return get(sim.port, "/_sim/stats").json()["operations"]["ListProfileTimes"]


def cases(seed, n):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        period = rnd.choice(["PT5M", "PT1H", "P1D"])
        ret = RETENTION[period]
        # Starts from a little past the retention limit to now; lengths up to a third of retention.
        start = NOW - ret * rnd.uniform(0, 1.1) + timedelta(seconds=rnd.randrange(0, 3600))
        end = start + ret * rnd.uniform(0.001, 0.34)
        out.append({"profilingGroupName": rnd.choice(["alpha", "beta", "gamma"]), "period": period,
                    "startTime": start, "endTime": end,
                    "orderBy": rnd.choice(["TimestampAscending", "TimestampDescending"]),
                    "PageSize": rnd.choice([None, 1000, rnd.randint(1, 50), rnd.randint(50, 400)])})
    return out


class ListProfileTimes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = Redis()
        cls.sim = start_sim("--gaps", "0.2", "--clock", CLOCK, "--latency-ms", "20")
        cls.gws = []

    @classmethod
    def tearDownClass(cls):
        for g in cls.gws:
            g.stop()
        cls.sim.stop()
        cls.redis.stop()

    def gateway(self):
        gw = start_profgate("--upstream", f"http://127.0.0.1:{self.sim.port}", "--clock", CLOCK,
                            config=f"[redis]\nurl = redis://127.0.0.1:{self.redis.port}\n{CONF}")
        self.gws.append(gw)
        return gw

    def test_paginator_lists_equal_the_services_cold_warm_and_from_redis(self):
        gw = self.gateway()
        todo = cases(17, 30)
        direct = [listing(self.sim.port, c)[0] for c in todo]
        before = calls(self.sim)
        for c, want in zip(todo, direct):
            got, pages = listing(gw.port, c)
            self.assertEqual(got, want, c)
        cold = calls(self.sim) - before
        self.assertGreater(cold, 0)
        # Warm, same process: every window is in memory.
        before = calls(self.sim)
        for c, want in zip(todo, direct):
            self.assertEqual(listing(gw.port, c)[0], want, c)
        self.assertEqual(calls(self.sim) - before, 0, "a warm repeat called the upstream")
        # Warm from Redis: a second replica with an empty in-process cache.
        other = self.gateway()
        before = calls(self.sim)
        for c, want in zip(todo, direct):
            self.assertEqual(listing(other.port, c)[0], want, c)
        self.assertEqual(calls(self.sim) - before, 0, "the second replica did not find the windows in Redis")
        # The cases covered what they should: empty lists (past retention or in the future),
        # several pages, both orders.
        self.assertTrue(any(not x for x in direct))
        self.assertTrue(any(len(x) > 100 for x in direct))

    def test_a_page_boundary_token_is_bound_to_its_request(self):
        gw = self.gateway()
        q = (f"/profilingGroups/alpha/profileTimes?period=PT1H&startTime=2026-11-10T00%3A00%3A00Z"
             f"&endTime=2026-11-12T00%3A00%3A00Z&maxResults=10")
        r = get(gw.port, q)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(len(body["profileTimes"]), 10)
        token = body["nextToken"]
        self.assertRegex(token, r"^[\w-]{1,64}$")
        self.assertEqual(get(gw.port, q + "&nextToken=" + token).status, 200)
        # The same token with another range, or altered, is refused like a bad token.
        other = q.replace("2026-11-12", "2026-11-13") + "&nextToken=" + token
        altered = q + "&nextToken=" + ("A" if token[0] != "A" else "B") + token[1:]
        for bad in (other, altered, q + "&nextToken=n10"):
            r = get(gw.port, bad)
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.header("x-amzn-ErrorType"), "ValidationException")
            self.assertEqual(r.json()["message"], "The nextToken is not valid")

    def test_validation_matches_the_service(self):
        gw = self.gateway()
        base = "/profilingGroups/alpha/profileTimes?period=PT1H&startTime=2026-11-10T00%3A00%3A00Z"
        for q in (base, base + "&endTime=2026-11-09T00%3A00%3A00Z",
                  base.replace("PT1H", "PT2H") + "&endTime=2026-11-11T00%3A00%3A00Z",
                  base + "&endTime=2026-11-11T00%3A00%3A00Z&maxResults=1001",
                  base + "&endTime=2026-11-11T00%3A00%3A00Z&orderBy=Newest",
                  "/profilingGroups/a%2Fb/profileTimes?period=PT1H"):
            mine, theirs = get(gw.port, q), get(self.sim.port, q)
            self.assertEqual(mine.status, theirs.status, q)
            self.assertEqual(mine.header("x-amzn-ErrorType"), theirs.header("x-amzn-ErrorType"), q)
            self.assertEqual(mine.json()["message"], theirs.json()["message"], q)

    def test_concurrent_identical_lookups_share_one_fetch(self):
        gw = self.gateway()
        # A day and a half of PT5M on a group nobody asked for yet: two windows, two calls.
        q = ("/profilingGroups/delta/profileTimes?period=PT5M&startTime=2026-11-18T12%3A00%3A00Z"
             "&endTime=2026-11-20T00%3A00%3A00Z&maxResults=1000")
        before = calls(self.sim)
        out = get_many(gw.port, q, 8)
        self.assertEqual([r.status for r in out], [200] * 8)
        self.assertEqual(len({r.body for r in out}), 1)
        self.assertEqual(calls(self.sim) - before, 2)

    def test_the_aws_cli_lists_through_profgate(self):
        gw = self.gateway()
        env = dict(os.environ, **CREDS)
        args = ["codeguruprofiler", "list-profile-times", "--profiling-group-name", "beta", "--period", "PT1H",
                "--start-time", "2026-11-19T00:00:00Z", "--end-time", "2026-11-20T00:00:00Z", "--output", "json"]
        mine = subprocess.run(["aws"] + args + ["--endpoint-url", f"http://127.0.0.1:{gw.port}"], env=env,
                              capture_output=True, text=True, timeout=60)
        theirs = subprocess.run(["aws"] + args + ["--endpoint-url", f"http://127.0.0.1:{self.sim.port}"], env=env,
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(mine.returncode, 0, mine.stderr)
        self.assertEqual(json.loads(mine.stdout), json.loads(theirs.stdout))
        self.assertGreater(len(json.loads(mine.stdout)["profileTimes"]), 10)


if __name__ == "__main__":
    unittest.main()
