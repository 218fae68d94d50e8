"""profgate's own route for the same merged profile in other formats (issue #19, first part):
GET /_profgate/profile/{group}?<GetProfile's parameters>&format=json|ion|collapsed|pprof|speedscope&counter=C,
and the diff route GET /_profgate/diff/{group}?base=START/END&head=START/END.

The folded stacks of a merged multi-bucket range, fetched with the real curl, parse back into
exactly the JSON profile's paths and counts for every counter (and the default is the counter
with the largest total); go tool pprof reads the pprof output, its totals per sample type equal
the JSON's and its top function is the JSON's; maxDepth keeps the totals; gzip and the answer cache work as for
GetProfile; bad parameters are AWS-format validation errors; with tenants, curl's own SigV4
signing (--aws-sigv4) is accepted and an unsigned request is refused. speedscope's file, read back,
has one profile per counter whose samples are exactly that counter's paths and counts. A diff of
two ranges has every path of either range once, with each range's folded count and its rate per
second of that range. (speedscope's own importer reads the file in test_ui.py, in a browser.)"""
import gzip
import json
import os
import subprocess
import tempfile
import unittest

from harness import get, start_profgate, start_sim
from test_http import assert_aws_error
from test_tenants import A_KEY, A_SECRET, TENANTS, UPSTREAM_ENV, UPSTREAM_KEY, UPSTREAM_SECRET, write_tenants

NOW = "2026-11-25T12:00:00Z"
RANGE = "startTime=2026-11-24T09:55:00Z&endTime=2026-11-24T13:10:00Z"  # PT5M, PT1H and PT5M buckets


def paths_of(profile, counter, max_depth=0):
    """{folded path: count} from a CodeGuru JSON profile, as the folded format defines it."""
    out = {}

    def total(node):
        return node.get("counts", {}).get(counter, 0) + sum(total(c) for c in node.get("children", {}).values())

    def walk(node, path):
        for name, child in node.get("children", {}).items():
            frame = name.replace(";", "|").replace("\n", " ").replace("\r", " ")
            p = path + [frame]
            at_limit = max_depth and len(p) >= max_depth
            v = total(child) if at_limit else child.get("counts", {}).get(counter, 0)
            if v:
                out[";".join(p)] = out.get(";".join(p), 0) + v
            if not at_limit:
                walk(child, p)
    walk(profile["callgraph"], [])
    return out


def parse_folded(text):
    out = {}
    for line in text.splitlines():
        path, count = line.rsplit(" ", 1)
        assert path not in out, f"path twice: {path}"
        out[path] = float(count) if "." in count else int(count)
    return out


def self_by_function(profile, counter):
    """{frame name: the sum of its self counts} for a counter, as pprof's flat column."""
    out = {}

    def walk(node):
        for name, child in node.get("children", {}).items():
            out[name] = out.get(name, 0) + child.get("counts", {}).get(counter, 0)
            walk(child)
    walk(profile["callgraph"])
    return out


def pprof_raw_totals(path):
    """{sample type: total} from `go tool pprof -raw` (Debian's golang-go)."""
    out = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    i = lines.index("Samples:")
    types = [t.split("/")[0] for t in lines[i + 1].split()]
    totals = dict.fromkeys(types, 0)
    for line in lines[i + 2:]:
        if ":" not in line or not line.strip() or not line.strip()[0].isdigit():
            break
        for t, v in zip(types, line.split(":")[0].split()):
            totals[t] += int(v)
    return totals


def pprof_top(path, counter):
    """The first function of `go tool pprof -top -sample_index=counter`."""
    out = subprocess.run(["go", "tool", "pprof", "-top", f"-sample_index={counter}", path], capture_output=True,
                         text=True, check=True).stdout
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if line.split()[:2] == ["flat", "flat%"])
    return lines[i + 1].split(None, 5)[5]


def curl(*args):
    r = subprocess.run(["curl", "-sS", "-D", "-", *args], capture_output=True, check=True)
    head, body = r.stdout.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
    return int(lines[0].split()[1]), headers, body


class Views(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = start_sim("--clock", NOW, "--nodes", "400")
        cls.gw = start_profgate("--upstream", f"http://127.0.0.1:{cls.sim.port}", "--clock", NOW,
                                config="[upstream]\nrate = 1000\nburst = 1000\n")
        r = get(cls.gw.port, f"/profilingGroups/views/profile?{RANGE}", {"Accept": "application/json"}, timeout=30)
        assert r.status == 200, r
        cls.profile = json.loads(r.body)
        cls.totals = {c: sum(paths_of(cls.profile, c).values()) for c in cls.counters(cls.profile)}

    @staticmethod
    def counters(profile):
        seen = set()

        def walk(node):
            seen.update(node.get("counts", {}).keys())
            for child in node.get("children", {}).values():
                walk(child)
        walk(profile["callgraph"])
        return sorted(seen)

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0
        assert cls.sim.stop() == 0

    def url(self, query):
        return f"http://127.0.0.1:{self.gw.port}/_profgate/profile/views?{query}"

    def test_collapsed_equals_the_json_profile_for_every_counter(self):
        counters = self.counters(self.profile)
        self.assertGreater(len(counters), 1)
        default = max(counters, key=lambda c: (self.totals[c], [-ord(x) for x in c]))
        status, headers, body = curl(self.url(f"{RANGE}&format=collapsed"))
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; charset=utf-8")
        self.assertEqual(headers["x-profgate-counter"], default)
        self.assertEqual(parse_folded(body.decode()), paths_of(self.profile, default))
        for c in counters:
            with self.subTest(counter=c):
                status, headers, body = curl(self.url(f"{RANGE}&format=collapsed&counter={c}"))
                self.assertEqual((status, headers["x-profgate-counter"]), (200, c))
                got = parse_folded(body.decode())
                self.assertEqual(got, paths_of(self.profile, c))
                self.assertGreater(len(got), 10)

    def test_max_depth_keeps_the_totals(self):
        c = self.counters(self.profile)[0]
        status, _, body = curl(self.url(f"{RANGE}&format=collapsed&counter={c}&maxDepth=2"))
        self.assertEqual(status, 200)
        got = parse_folded(body.decode())
        self.assertEqual(got, paths_of(self.profile, c, 2))
        self.assertTrue(all(p.count(";") <= 1 for p in got))
        self.assertEqual(sum(got.values()), self.totals[c])

    def test_json_ion_gzip_and_the_answer_cache(self):
        status, headers, body = curl(self.url(RANGE))  # json, the default
        self.assertEqual((status, headers["content-type"]), (200, "application/json"))
        self.assertEqual(json.loads(body), self.profile)
        status, headers, _ = curl(self.url(f"{RANGE}&format=ion"))
        self.assertEqual((status, headers["content-type"]), (200, "application/x-amzn-ion"))
        plain = curl(self.url(f"{RANGE}&format=collapsed"))[2]
        status, headers, body = curl("-H", "Accept-Encoding: gzip", self.url(f"{RANGE}&format=collapsed"))
        self.assertEqual((status, headers["content-encoding"]), (200, "gzip"))
        self.assertEqual(gzip.decompress(body), plain)
        # A repeat of a complete range comes from the answer cache, counter header included.
        hits = get(self.gw.port, "/healthz").json()["answerHits"]
        status, headers, body = curl(self.url(f"{RANGE}&format=collapsed"))
        self.assertEqual((status, body), (200, plain))
        self.assertIn("x-profgate-counter", headers)
        self.assertEqual(get(self.gw.port, "/healthz").json()["answerHits"], hits + 1)

    def test_go_tool_pprof_reads_it_with_the_json_totals(self):
        counters = self.counters(self.profile)
        status, headers, body = curl(self.url(f"{RANGE}&format=pprof"))
        self.assertEqual((status, headers["content-type"]), (200, "application/octet-stream"))
        self.assertNotIn("content-encoding", headers)  # the file itself is gzip, as pprof's are
        self.assertEqual(body[:2], b"\x1f\x8b")
        with tempfile.NamedTemporaryFile(suffix=".pb.gz") as f:
            f.write(body)
            f.flush()
            self.assertEqual(pprof_raw_totals(f.name), self.totals)
            for c in counters:
                with self.subTest(counter=c):
                    flat = self_by_function(self.profile, c)
                    best = max(flat.values())
                    self.assertIn(pprof_top(f.name, c), {n for n, v in flat.items() if v == best})
        # The default sample type is the counter the route names; maxDepth keeps the totals.
        status, headers, body = curl(self.url(f"{RANGE}&format=pprof&maxDepth=2&counter={counters[0]}"))
        self.assertEqual((status, headers["x-profgate-counter"]), (200, counters[0]))
        with tempfile.NamedTemporaryFile(suffix=".pb.gz") as f:
            f.write(body)
            f.flush()
            self.assertEqual(pprof_raw_totals(f.name), self.totals)
            raw = subprocess.run(["go", "tool", "pprof", "-raw", f.name], capture_output=True, text=True).stdout
            self.assertIn(f"{counters[0]}/count[dflt]", raw)

    def test_speedscope_has_every_counters_paths(self):
        counters = self.counters(self.profile)
        status, headers, body = curl(self.url(f"{RANGE}&format=speedscope&counter={counters[-1]}"))
        self.assertEqual((status, headers["content-type"]), (200, "application/json"))
        doc = json.loads(body)
        self.assertEqual(doc["$schema"], "https://www.speedscope.app/file-format-schema.json")
        self.assertTrue(doc["name"].startswith("views 2026-11-24T09:55:00Z/"))
        frames = doc["shared"]["frames"]
        self.assertEqual([p["name"] for p in doc["profiles"]], counters)
        self.assertEqual(doc["activeProfileIndex"], len(counters) - 1)
        for prof in doc["profiles"]:
            with self.subTest(counter=prof["name"]):
                self.assertEqual(prof["type"], "sampled")
                got = {}
                for stack, w in zip(prof["samples"], prof["weights"], strict=True):
                    path = ";".join(frames[i]["name"].replace(";", "|").replace("\n", " ") for i in stack)
                    self.assertNotIn(path, got)
                    got[path] = w
                self.assertEqual(got, paths_of(self.profile, prof["name"]))
                self.assertEqual(prof["endValue"], self.totals[prof["name"]])
        # gzip when accepted, like every answer.
        status, headers, zbody = curl("-H", "Accept-Encoding: gzip", self.url(f"{RANGE}&format=speedscope"))
        self.assertEqual((status, headers["content-encoding"]), (200, "gzip"))
        self.assertEqual(json.loads(gzip.decompress(zbody))["profiles"], doc["profiles"])

    def test_diff_of_two_ranges(self):
        base, head = "2026-11-24T09:00:00Z/2026-11-24T12:00:00Z", "2026-11-24T13:00:00Z/2026-11-24T13:30:00Z"
        c = self.counters(self.profile)[0]
        want = {}
        for side, rng in (("base", base), ("head", head)):
            s, e = rng.split("/")
            status, _, body = curl(self.url(f"startTime={s}&endTime={e}&format=collapsed&counter={c}"))
            self.assertEqual(status, 200)
            want[side] = parse_folded(body.decode())
        status, headers, body = curl(f"http://127.0.0.1:{self.gw.port}/_profgate/diff/views?base={base}&head={head}"
                                     f"&counter={c}")
        self.assertEqual((status, headers["content-type"]), (200, "application/json"), body)
        self.assertEqual(headers["x-profgate-counter"], c)
        self.assertEqual(headers["x-profgate-range"], head)
        self.assertEqual(headers["x-profgate-base-range"], base)
        # 3 PT1H buckets, then 6 PT5M ones: both plans' buckets are counted.
        self.assertTrue(headers["x-profgate-buckets"].startswith("total=9 "), headers["x-profgate-buckets"])
        doc = json.loads(body)
        self.assertEqual((doc["counter"], doc["base"]["seconds"], doc["head"]["seconds"]), (c, 3 * 3600, 1800))
        self.assertEqual(doc["base"]["total"], sum(want["base"].values()))
        self.assertEqual(doc["head"]["total"], sum(want["head"].values()))
        stacks = {s["stack"]: s for s in doc["stacks"]}
        self.assertEqual(len(stacks), len(doc["stacks"]))
        self.assertEqual(set(stacks), set(want["base"]) | set(want["head"]))
        self.assertGreater(len(set(want["base"]) ^ set(want["head"])) + len(stacks), 10)
        for path, s in stacks.items():
            b, h = want["base"].get(path, 0), want["head"].get(path, 0)
            self.assertEqual((s["baseCount"], s["headCount"]), (b, h), path)
            self.assertAlmostEqual(s["base"], b / (3 * 3600), delta=1e-8 * max(1, b))
            self.assertAlmostEqual(s["head"], h / 1800, delta=1e-8 * max(1, h))
        # The default counter is the head's largest; errors are AWS-format validation errors.
        status, headers, _ = curl(f"http://127.0.0.1:{self.gw.port}/_profgate/diff/views?base={base}&head={head}")
        self.assertEqual(status, 200)
        self.assertIn(headers["x-profgate-counter"], self.counters(self.profile))
        for query, part in [(f"base={base}", "head is required"),
                            (f"base={base}&head=2026-11-24T13:00:00Z", "head must be START/END"),
                            (f"base={base}&head={head}&period=PT1H", "not period"),
                            (f"base=2026-11-01T00:00:00Z/2026-11-24T00:00:00Z&head={head}", "7 days"),
                            (f"base={base}&head={head}&counter=NO_SUCH", "counter NO_SUCH is in neither profile")]:
            with self.subTest(query=query):
                r = get(self.gw.port, f"/_profgate/diff/views?{query}", timeout=30)
                assert_aws_error(self, r, 400, "ValidationException", part)

    def test_bad_parameters_are_validation_errors(self):
        for query, part in [(f"{RANGE}&format=svg", "format must be one of json, ion, collapsed, pprof, speedscope"),
                            (f"{RANGE}&format=collapsed&counter=NO_SUCH", "counter NO_SUCH is not in this profile"),
                            (f"{RANGE}&counter=a%20b", "counter must be"),
                            ("period=PT2M3", "period")]:
            with self.subTest(query=query):
                r = get(self.gw.port, f"/_profgate/profile/views?{query}", timeout=30)
                assert_aws_error(self, r, 400, "ValidationException", part)
        r = get(self.gw.port, f"/_profgate/profile/bad%20name?{RANGE}")
        assert_aws_error(self, r, 400, "ValidationException")


class ViewsWithTenants(unittest.TestCase):
    def test_curl_signs_with_sigv4_and_unsigned_is_refused(self):
        sim = start_sim("--clock", NOW, "--nodes", "50", "--access-key", UPSTREAM_KEY, "--secret-key", UPSTREAM_SECRET)
        tenants = write_tenants(TENANTS)
        gw = start_profgate("--clock", NOW, "--upstream", f"http://127.0.0.1:{sim.port}", env=UPSTREAM_ENV,
                            config=f"[auth]\nmode = sigv4\ntenants_file = {tenants}\n[upstream]\nrate = 100\nburst = 100\n")
        try:
            base = f"http://127.0.0.1:{gw.port}/_profgate/profile"
            # Debian 12's curl (7.88) signs the query as written, so it is written in canonical
            # form: names sorted, values encoded (newer curl canonicalizes it itself).
            signed_query = "endTime=2026-11-24T13%3A10%3A00Z&format=collapsed&startTime=2026-11-24T09%3A55%3A00Z"
            status, _, body = curl("--aws-sigv4", "aws:amz:us-east-1:codeguru-profiler", "--user", f"{A_KEY}:{A_SECRET}",
                                   f"{base}/shared?{signed_query}")
            self.assertEqual(status, 200, body)
            self.assertGreater(len(parse_folded(body.decode())), 0)
            r = get(gw.port, f"/_profgate/profile/shared?{RANGE}&format=collapsed")
            assert_aws_error(self, r, 403, "MissingAuthenticationTokenException")
            status, _, body = curl("--aws-sigv4", "aws:amz:us-east-1:codeguru-profiler", "--user", f"{A_KEY}:{A_SECRET}",
                                   f"{base}/other?{signed_query}")  # not one of team-a's groups
            self.assertEqual(status, 403, body)
            self.assertEqual(json.loads(body)["__type"], "AccessDeniedException")
        finally:
            self.assertEqual(gw.stop(), 0)
            sim.stop()
            os.unlink(tenants)


if __name__ == "__main__":
    unittest.main()
