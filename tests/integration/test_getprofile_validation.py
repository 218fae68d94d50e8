"""GetProfile request validation over real HTTP: every rule of CONTRACT §1 answered as a
ValidationException in the AWS wire format, and the plan debug route under a pinned clock."""
import unittest

from harness import get, start_profgate, start_sim
from test_http import assert_aws_error

GP = "/profilingGroups/{}/profile?{}"

# (group, query, Accept or None, message fragment)
INVALID = [
    ("g", "", None, "none of startTime, endTime and period was given"),
    ("g", "maxDepth=5", None, "none of startTime, endTime and period was given"),
    ("g", "startTime=2026-11-25T10%3A00%3A00Z", None, "startTime was given without endTime or period"),
    ("g", "endTime=2026-11-25T10%3A00%3A00Z", None, "endTime was given without startTime or period"),
    ("g", "startTime=2026-11-25T10:00:00Z&endTime=2026-11-25T11:00:00Z&period=PT1H", None,
     "startTime, endTime and period were all given"),
    ("g", "startTime=2026-11-25T11:00:00Z&endTime=2026-11-25T10:00:00Z", None, "endTime must be after startTime"),
    ("g", "startTime=2026-11-25T11:00:00Z&endTime=2026-11-25T11:00:00Z", None, "endTime must be after startTime"),
    ("g", "startTime=2026-11-10T00:00:00Z&endTime=2026-11-17T00:00:00.001Z", None, "must not be longer than 7 days"),
    ("g", "period=P8D", None, "must not be longer than 7 days"),
    ("g", "period=P1Y", None, "years are not supported"),
    ("g", "period=P1M", None, "months are not supported"),
    ("g", "period=1H", None, "Value '1H' at 'period' failed to satisfy constraint"),
    ("g", "period=PT0S", None, "Member must be a positive duration"),
    ("g", "period=" + "PT" + "1" * 70 + "S", None, "Member must have length less than or equal to 64"),
    ("g", "startTime=2026-11-25&period=PT1H", None, "Member must be an ISO 8601 timestamp"),
    ("g", "startTime=2026-11-25T10:00:00&period=PT1H", None, "a time zone is required"),
    ("g", "startTime=2026-02-30T10:00:00Z&period=PT1H", None, "day is out of range for the month"),
    ("g", "startTime=2026-11-25T10:00:00.1234567891Z&period=PT1H", None, "at most 9 fraction digits"),
    ("g", "startTime=2026-11-25T10:00:00Zjunk&period=PT1H", None, "unexpected trailing characters"),
    ("g", "period=PT1H&maxDepth=0", None, "Member must have value greater than or equal to 1"),
    ("g", "period=PT1H&maxDepth=10001", None, "Member must have value less than or equal to 10000"),
    ("g", "period=PT1H&maxDepth=ten", None, "Member must be an integer"),
    ("g", "period=PT1H&period=PT2H", None, "given more than once"),
    ("g", "period=PT1H&startTime=%G0", None, "Malformed percent-encoding"),
    ("a.b", "period=PT1H", None, "Member must satisfy regular expression pattern: ^[\\w-]+$"),
    ("a%20b", "period=PT1H", None, "regular expression pattern"),
    ("a%2Fb", "period=PT1H", None, "regular expression pattern"),
    ("caf%C3%A9", "period=PT1H", None, "regular expression pattern"),
    ("x" * 256, "period=PT1H", None, "Member must have length less than or equal to 255"),
    ("", "period=PT1H", None, "Member must have length greater than or equal to 1"),
    ("g", "period=PT1H", "text/html", "accepted values are application/json and application/x-amzn-ion"),
    ("g", "period=PT1H", "application/xml, text/plain", "Accept header"),
]


class Validation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = start_sim("--clock", "2026-11-25T12:34:56Z", "--nodes", "50")
        cls.gw = start_profgate("--clock", "2026-11-25T12:34:56Z", "--upstream", f"http://127.0.0.1:{cls.sim.port}")

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0
        assert cls.sim.stop() == 0

    def test_every_invalid_request(self):
        before = get(self.sim.port, "/_sim/stats").json()["requests"]
        for group, query, accept, part in INVALID:
            with self.subTest(group=group[:20], query=query[:60], accept=accept):
                headers = {"Accept": accept} if accept else {}
                r = get(self.gw.port, GP.format(group, query), headers)
                assert_aws_error(self, r, 400, "ValidationException", part)
        # Invalid requests are answered by profgate alone: none reached the upstream.
        self.assertEqual(get(self.sim.port, "/_sim/stats").json()["requests"], before)

    def test_a_non_ascii_name_is_echoed_as_sent(self):
        for route in ("profile?period=PT1H", "profileTimes?period=PT1H&startTime=2026-11-25T00:00:00Z"
                                             "&endTime=2026-11-25T01:00:00Z", ""):
            target = "/profilingGroups/caf%C3%A9-%E2%82%AC" + ("/" + route if route else "")
            mine, theirs = get(self.gw.port, target), get(self.sim.port, target)
            self.assertEqual(mine.status, 400, mine)
            self.assertIn("Value 'caf\u00e9-\u20ac' at 'profilingGroupName'", mine.json()["message"])
            self.assertEqual(mine.json()["message"], theirs.json()["message"])

    def test_a_range_in_the_future_has_no_profile(self):
        before = get(self.sim.port, "/_sim/stats").json()["requests"]
        for query in ("startTime=2026-11-25T12:35:00Z&period=PT1H", "startTime=2026-11-26T00:00:00Z"
                      "&endTime=2026-11-26T01:00:00Z"):
            mine, theirs = get(self.gw.port, GP.format("g", query)), get(self.sim.port, GP.format("g", query))
            assert_aws_error(self, mine, 404, "ResourceNotFoundException", "No aggregated profile exists")
            # The same words as the service (up to "now", which moves between the two requests).
            self.assertEqual(mine.json()["message"].split(", after now")[0], theirs.json()["message"].split(", after now")[0])
        # Answered by profgate alone (the one request above went to the simulator directly).
        self.assertEqual(get(self.sim.port, "/_sim/stats").json()["requests"], before + 2)
        # A range that has begun is the part up to now.
        self.assertEqual(get(self.gw.port, GP.format("g", "startTime=2026-11-25T12:30:00Z&period=PT1H")).status, 200)

    def test_valid_requests_pass_validation(self):
        # Valid requests get past validation and planning and are answered from the upstream;
        # nothing invalid reached it (checked in test_every_invalid_request).
        for query, accept in [("period=PT1H", None), ("period=PT5M", "application/json"),
                              ("startTime=2026-11-25T10%3A00%3A00Z&endTime=2026-11-25T11%3A15%3A02.001000Z&maxDepth=100",
                               "application/json"),
                              ("startTime=2026-11-25T10:00:00%2B01:00&period=P1D", "*/*"),
                              ("endTime=2026-11-25T10:00:00Z&period=P7D", "application/x-amzn-ion"),
                              ("period=PT1H&maxDepth=10000&unknownParam=1", None)]:
            with self.subTest(query=query):
                headers = {"Accept": accept} if accept else {}
                r = get(self.gw.port, GP.format("my-group_1", query), headers)
                self.assertEqual(r.status, 200, r)
                want = "application/json" if accept == "application/json" else "application/x-amzn-ion"
                self.assertEqual(r.header("Content-Type"), want)

    def test_plan_route(self):
        r = get(self.gw.port, "/_profgate/plan?startTime=2026-11-24T10:03:00Z&endTime=2026-11-24T12:07:00Z")
        self.assertEqual(r.status, 200)
        p = r.json()
        self.assertEqual([(b["period"], b["start"], b["state"]) for b in p["buckets"]],
                         [("PT1H", "2026-11-24T10:00:00Z", "complete"), ("PT1H", "2026-11-24T11:00:00Z", "complete"),
                          ("PT5M", "2026-11-24T12:00:00Z", "complete"), ("PT5M", "2026-11-24T12:05:00Z", "complete")])
        self.assertEqual(p["covered"]["start"], "2026-11-24T10:00:00Z")
        self.assertEqual(p["covered"]["end"], "2026-11-24T12:10:00Z")
        self.assertEqual(p["covered"]["endMs"], 1795522200000)
        self.assertFalse(p["extended"])
        self.assertEqual(p["counts"], {"total": 4, "PT5M": 2, "PT1H": 2, "P1D": 0, "live": 0})

    def test_plan_route_live_tail_and_clamp(self):
        # The test clock pins "now" near 12:34:56; the last three 5-minute buckets are live.
        p = get(self.gw.port, "/_profgate/plan?period=PT1H").json()
        self.assertTrue(p["now"].startswith("2026-11-25T12:3"))
        live = [b for b in p["buckets"] if b["state"] == "live"]
        self.assertGreaterEqual(len(live), 2)
        self.assertTrue(all(b["period"] == "PT5M" for b in live))
        p = get(self.gw.port, "/_profgate/plan?startTime=2026-11-25T12:00:00Z&period=PT2H").json()
        self.assertTrue(p["request"]["clamped"])

    def test_plan_route_retention_fallback(self):
        p = get(self.gw.port, "/_profgate/plan?startTime=2026-11-01T10:02:00Z&endTime=2026-11-01T10:20:00Z").json()
        self.assertEqual([(b["period"], b["start"]) for b in p["buckets"]], [("PT1H", "2026-11-01T10:00:00Z")])
        self.assertTrue(p["extended"])

    def test_plan_route_validates(self):
        assert_aws_error(self, get(self.gw.port, "/_profgate/plan?period=P9D"), 400, "ValidationException", "7 days")


if __name__ == "__main__":
    unittest.main()
