"""The in-process cache (L1) end to end, profgate in front of profgate-sim: repeated requests make
no upstream calls, overlapping ranges fetch only what is new, live buckets are refetched after
freshness.live_ttl while complete ones never are (or, with freshness.refresh_ahead, refreshed in
the background before they expire), and a small memory budget evicts without ever changing an
answer."""
import json
import unittest
from datetime import datetime, timedelta, timezone

from harness import get, ion_to_plain_many, metrics, start_profgate, start_sim, wait_for

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
F = "%Y-%m-%dT%H:%M:%SZ"


def path(group, start, end):
    return f"/profilingGroups/{group}/profile?startTime={start.strftime(F)}&endTime={end.strftime(F)}"


def calls(sim):
    return get(sim.port, "/_sim/stats").json()["operations"]["GetProfile"]


def fetch(gw, p):
    r = get(gw.port, p, {"Accept": "application/json"}, timeout=60)
    assert r.status == 200, r
    return r


class L1(unittest.TestCase):
    def setUp(self):
        self.sim = start_sim("--clock", NOW.isoformat(), "--nodes", "200")

    def tearDown(self):
        self.assertEqual(self.gw.stop(), 0)
        self.assertEqual(self.sim.stop(), 0)

    def gateway(self, config=""):
        self.gw = start_profgate("--upstream", f"http://127.0.0.1:{self.sim.port}", "--clock", NOW.isoformat(),
                                 config=config)

    def first_fetch_with_live_buckets(self, p):
        """Fetches p, whose plan must have live buckets, on a cold cache: (its plan, upstream calls)."""
        plan = get(self.gw.port, "/_profgate/plan?" + p.split("?", 1)[1]).json()
        self.assertGreater(plan["counts"]["live"], 0)
        fetch(self.gw, p)
        n = calls(self.sim)
        self.assertEqual(n, plan["counts"]["total"])
        return plan, n

    def test_repeat_and_overlap(self):
        self.gateway("[cache]\nresponse_bytes = 0\n")  # the bucket tier alone
        p = path("c", NOW - timedelta(days=2, minutes=3), NOW - timedelta(days=1, hours=20, minutes=2))
        first = fetch(self.gw, p)
        self.assertEqual(first.header("X-Profgate-Cache"), "miss")
        n = calls(self.sim)
        second = fetch(self.gw, p)
        self.assertEqual(second.header("X-Profgate-Cache"), "hit")
        self.assertEqual(second.body, first.body)
        self.assertEqual(calls(self.sim), n)  # zero upstream calls
        # A range overlapping the first by all but its last hour fetches only the new hour.
        p2 = path("c", NOW - timedelta(days=2, minutes=3), NOW - timedelta(days=1, hours=19, minutes=2))
        third = fetch(self.gw, p2)
        self.assertEqual(third.header("X-Profgate-Cache"), "partial")
        self.assertEqual(calls(self.sim) - n, int(third.header("X-Profgate-Buckets").split("fetched=")[1].split()[0]))
        self.assertEqual(json.loads(third.body), json.loads(get(self.sim.port, p2, {"Accept": "application/json"}).body))
        h = get(self.gw.port, "/healthz").json()["cache"]
        self.assertGreater(h["hits"], 0)
        self.assertGreater(h["entries"], 0)

    def test_merged_runs_serve_overlapping_ranges(self):
        self.gateway("[cache]\nresponse_bytes = 0\n")  # no answer cache: every request merges
        base = NOW - timedelta(days=3, minutes=53)
        p1 = path("runs", base, base + timedelta(days=1))
        p2 = path("runs", base, base + timedelta(days=1, minutes=5))  # one more 5-minute bucket
        def runs():
            return get(self.gw.port, "/healthz").json()["mergedRuns"]
        a = fetch(self.gw, p1)
        first = runs()
        # The leading 5-minute run, the whole hours, the 5-minute buckets after them, and the span
        # that holds them all (it mixes periods).
        self.assertGreaterEqual(first["stores"], 3)
        self.assertEqual(first["hits"], 0)
        a2 = fetch(self.gw, p1)  # the same window: one stored span, nothing else
        self.assertEqual((runs()["hits"], runs()["stores"]), (1, first["stores"]))
        b = fetch(self.gw, p2)
        # The window grew by a bucket: a new span, built from the stored leading run and hours
        # plus a new run of trailing 5-minute buckets.
        again = runs()
        self.assertEqual((again["hits"], again["stores"]), (3, first["stores"] + 2))
        self.assertGreater(again["bytes"], 0)
        for p, r in ((p1, a), (p1, a2), (p2, b), (p2, fetch(self.gw, p2))):
            self.assertEqual(json.loads(r.body), json.loads(get(self.sim.port, p, {"Accept": "application/json"}).body))

    def test_a_sliding_window_reuses_its_span_merged_with_the_live_bucket(self):
        # Merged on every request (no stored answers); the live bucket stays one version for the
        # test (live_ttl 1h). A sliding day is a stored span of complete buckets plus live ones.
        self.gateway("[cache]\nresponse_bytes = 0\n[freshness]\nlive_ttl = 1h\nrefresh_ahead = 0s\n")
        p = path("slide", NOW - timedelta(hours=23, minutes=53), NOW + timedelta(minutes=7))
        plan, n = self.first_fetch_with_live_buckets(p)  # cold: the span is built from its buckets
        live = plan["counts"]["live"]
        self.assertGreaterEqual(live, 2)  # the window ends in several live buckets

        def runs():
            return get(self.gw.port, "/healthz").json()["mergedRuns"]
        before = runs()
        # Folds the stored span, then each live bucket onto what is kept so far, keeping each merge.
        merged = fetch(self.gw, p)
        after = runs()
        self.assertEqual((after["hits"], after["stores"]), (before["hits"] + 1, before["stores"] + live))
        copied = fetch(self.gw, p)  # views the kept merges: a hit each, nothing stored, nothing merged
        again = runs()
        self.assertEqual((again["hits"], again["stores"]), (after["hits"] + 1 + live, after["stores"]))
        self.assertEqual(copied.body, merged.body)
        self.assertEqual(calls(self.sim), n)  # every bucket from L1 throughout

    def test_a_kept_answer_in_ion_reuses_its_layout(self):
        # A sliding day answered from kept merges is written in Ion on every request; the first
        # writer's layout (symbols, the call tree as written) is kept and the next writers of the
        # same content copy its tree. The bytes are the same each time and decode to the JSON answer.
        self.gateway("[cache]\nresponse_bytes = 0\n[freshness]\nlive_ttl = 1h\nrefresh_ahead = 0s\n")
        p = path("ionlay", NOW - timedelta(hours=23, minutes=53), NOW + timedelta(minutes=7))
        ion = {"Accept": "application/x-amzn-ion"}

        def layouts():
            return get(self.gw.port, "/healthz").json()["ionLayouts"]
        self.first_fetch_with_live_buckets(p)
        want = json.loads(fetch(self.gw, p).body)  # keeps the merges with the live buckets
        self.assertEqual(layouts()["stores"], 0)  # JSON makes none
        a = get(self.gw.port, p, ion, timeout=60)  # a copy of the kept merge: its layout is made
        self.assertEqual((a.status, layouts()["hits"], layouts()["stores"]), (200, 0, 1))
        b = get(self.gw.port, p, ion, timeout=60)  # and used
        self.assertEqual((b.status, layouts()["hits"], layouts()["stores"]), (200, 1, 1))
        self.assertEqual(b.body, a.body)
        self.assertEqual(ion_to_plain_many([b.body])[0], want)
        self.assertGreater(layouts()["bytes"], 0)
        # A depth limit takes the other writer: no layout used or made, the same tree cut.
        c = get(self.gw.port, p + "&maxDepth=2", ion, timeout=60)
        self.assertEqual((c.status, layouts()["hits"], layouts()["stores"]), (200, 1, 1))
        self.assertEqual(ion_to_plain_many([c.body])[0], json.loads(fetch(self.gw, p + "&maxDepth=2").body))
        m = metrics(self.gw.port)
        self.assertEqual(m['profgate_cache_entries{tier="ion_layouts"}'], 1)

    def test_live_buckets_expire_complete_ones_do_not(self):
        self.gateway("[freshness]\nlive_ttl = 300ms\nrefresh_ahead = 0s\n")
        p = path("live", NOW - timedelta(hours=2), NOW + timedelta(hours=1))  # ends in the live tail
        plan, n = self.first_fetch_with_live_buckets(p)
        # Within the TTL nothing is refetched ... (the first repeat follows at once)
        r = fetch(self.gw, p)
        self.assertIn(r.header("X-Profgate-Cache"), ("hit", "partial"))
        # ... and once it passes, only live buckets are: poll until they are.
        wait_for(lambda: fetch(self.gw, p).header("X-Profgate-Cache") == "partial" and calls(self.sim) > n, 10,
                 "live buckets to expire")
        per_bucket = get(self.sim.port, "/_sim/stats").json()["requestsPerBucket"]
        complete = [b for b in plan["buckets"] if b["state"] == "complete"]
        for b in complete:
            self.assertEqual(per_bucket[f"live|{b['period']}|{b['start']}"], 1, b)
        self.assertTrue(any(v > 1 for k, v in per_bucket.items()))

    def test_live_buckets_are_refreshed_before_they_expire(self):
        # Polled like a dashboard, live buckets are refetched in the background within the last
        # second of their 2 s: no request ever waits for them (every answer is a cache hit), and
        # each is refetched once per refresh, complete ones never.
        self.gateway("[freshness]\nlive_ttl = 2s\nrefresh_ahead = 1s\n")
        p = path("ahead", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
        plan, n = self.first_fetch_with_live_buckets(p)
        live = plan["counts"]["live"]
        seen = []

        def refreshed():
            r = fetch(self.gw, p)
            seen.append(r.header("X-Profgate-Cache"))
            return calls(self.sim) >= n + live
        wait_for(refreshed, 10, "the live buckets' refetch")
        self.assertEqual(set(seen), {"hit"}, seen)
        self.assertEqual(metrics(self.gw.port)["profgate_cache_refreshes_total"], live)
        per_bucket = get(self.sim.port, "/_sim/stats").json()["requestsPerBucket"]
        for b in plan["buckets"]:
            self.assertEqual(per_bucket[f"ahead|{b['period']}|{b['start']}"], 1 if b["state"] == "complete" else 2, b)
        # The refreshed entries are served until they too near their end (a refresh at most once
        # per entry: a second refresh needs a second entry).
        self.assertEqual(fetch(self.gw, p).header("X-Profgate-Cache"), "hit")

    def test_small_budget_evicts_but_answers_stay_right(self):
        # Complete buckets are kept packed (a few KB each at 200 nodes): 32k holds a handful.
        self.gateway("[cache]\nmemory_bytes = 32k\n")
        for i in range(6):
            p = path("ev", NOW - timedelta(days=3, hours=2 * i, minutes=7), NOW - timedelta(days=3, hours=2 * i - 2))
            self.assertEqual(json.loads(fetch(self.gw, p).body),
                             json.loads(get(self.sim.port, p, {"Accept": "application/json"}, timeout=60).body))
        h = get(self.gw.port, "/healthz").json()["cache"]
        self.assertGreater(h["evictions"], 0)
        self.assertLessEqual(h["bytes"], 32 * 1024)

    def test_answers_of_complete_ranges_are_kept(self):
        self.gateway()
        done = path("ans", NOW - timedelta(days=1, minutes=7), NOW - timedelta(hours=20))
        live = path("ans", NOW - timedelta(minutes=40), NOW)
        first = fetch(self.gw, done)
        for _ in range(3):
            again = fetch(self.gw, done)
            self.assertEqual(again.body, first.body)
            self.assertEqual(again.header("X-Profgate-Cache"), "hit")
        gz = get(self.gw.port, done, {"Accept": "application/json", "Accept-Encoding": "gzip"})
        import gzip
        self.assertEqual(gzip.decompress(gz.body), first.body)  # another encoding: another answer
        self.assertEqual(get(self.gw.port, "/healthz").json()["answerHits"], 3)
        fetch(self.gw, live)
        fetch(self.gw, live)  # ranges with live buckets are never answered from stored bytes
        self.assertEqual(get(self.gw.port, "/healthz").json()["answerHits"], 3)

    def test_cache_off(self):
        self.gateway("[cache]\nmemory_bytes = 0\nresponse_bytes = 0\n")
        p = path("off", NOW - timedelta(days=1), NOW - timedelta(hours=23))
        fetch(self.gw, p)
        n = calls(self.sim)
        self.assertEqual(fetch(self.gw, p).header("X-Profgate-Cache"), "miss")
        self.assertEqual(calls(self.sim), 2 * n)


if __name__ == "__main__":
    unittest.main()
