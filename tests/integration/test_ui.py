"""profgate's page at /ui/ (issue #19), in a real browser: Debian's chromium, headless, driven by
playwright-core from tests/browser (installed with npm ci from its lock file).

The page loads with no request leaving profgate (every other request is aborted and reported),
lists the simulator's groups through ListProfilingGroups, and its "last 24h" button renders a flame
graph of the cached range whose counters and top function are the JSON profile's; the screenshot of
the graph is checked for content (decoded here, pixels counted). A frame's tooltip shows self and
total for every counter; a click zooms the frame to the graph's width and "reset zoom" restores it;
search highlights frames. Two ranges compared render a differential flame graph (frames coloured
as grown and shrunk) with the frames that changed most. speedscope's own release, served from
profgate's copy, imports profgate's speedscope file (its title becomes the file's name)."""
import http.client
import json
import os
import shutil
import struct
import subprocess
import tempfile
import unittest
import zlib

from harness import get, start_profgate, start_sim

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
UI = os.path.join(REPO, "ui")
BROWSER = os.path.join(REPO, "tests", "browser")
NOW = "2026-11-25T12:00:00Z"
HEAD = ("2026-11-25T08:00:00Z", "2026-11-25T11:00:00Z")
BASE = ("2026-11-24T08:00:00Z", "2026-11-24T11:00:00Z")


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG, as chromium writes them."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return w, h, rows


def counters_and_self(profile):
    """{counter: total} and {counter: {frame: self}} of a CodeGuru JSON profile."""
    totals, self_ = {}, {}

    def walk(node):
        for c, v in node.get("counts", {}).items():
            totals[c] = totals.get(c, 0) + v
        for name, child in node.get("children", {}).items():
            for c, v in child.get("counts", {}).items():
                self_.setdefault(c, {})[name] = self_.setdefault(c, {}).get(name, 0) + v
            walk(child)
    walk(profile["callgraph"])
    return totals, self_


class Page(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for need in (os.path.join(UI, "node_modules", "d3-flame-graph"), os.path.join(BROWSER, "node_modules", "playwright-core")):
            assert os.path.isdir(need), f"{need} is missing: run scripts/install-deps.sh (npm ci)"
        cls.sim = start_sim("--clock", NOW, "--nodes", "400", "--groups", "checkout-service,search-api")
        cls.gw = start_profgate("--upstream", f"http://127.0.0.1:{cls.sim.port}", "--clock", NOW,
                                config=f"[upstream]\nrate = 1000\nburst = 1000\n[ui]\nroot = {UI}\n")
        groups = get(cls.gw.port, "/profilingGroups?maxResults=100").json()["profilingGroupNames"]
        cls.group = groups[0]
        r = get(cls.gw.port, f"/_profgate/profile/{cls.group}?period=PT24H&format=json", timeout=60)
        assert r.status == 200, r
        cls.profile = json.loads(r.body)
        cls.out = tempfile.mkdtemp(prefix="profgate-ui-")
        p = subprocess.run(["node", os.path.join(BROWSER, "ui_check.mjs"), f"http://127.0.0.1:{cls.gw.port}", cls.group,
                            *HEAD, *BASE, cls.out], capture_output=True, text=True, timeout=240, cwd=BROWSER)
        assert p.returncode == 0, p.stderr[-4000:]
        cls.seen = json.loads(p.stdout.strip().splitlines()[-1])

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0
        assert cls.sim.stop() == 0
        if os.environ.get("PG_UI_SHOTS"):  # scripts/ui-screenshots.sh keeps them for docs/
            for f in os.listdir(cls.out):
                shutil.copy(os.path.join(cls.out, f), os.environ["PG_UI_SHOTS"])
        shutil.rmtree(cls.out, ignore_errors=True)

    def test_offline_and_without_errors(self):
        self.assertEqual(self.seen["external"], [])
        self.assertEqual(self.seen["pageErrors"], [])
        self.assertEqual(self.seen["consoleErrors"], [])
        self.assertIn(self.group, self.seen["groups"])

    def test_flame_graph_of_the_cached_range(self):
        totals, self_ = counters_and_self(self.profile)
        by_total = sorted(totals, key=lambda c: (-totals[c], c))
        self.assertEqual(self.seen["counters"], by_total)
        self.assertEqual(self.seen["counter"], by_total[0])
        self.assertGreater(self.seen["frames"], 20)
        best = max(self_[by_total[0]].values())
        self.assertIn(self.seen["top"][0][0], {n for n, v in self_[by_total[0]].items() if v == best})
        self.assertIn("period=PT24H", self.seen["hash"])
        # The repeat the page made was answered from the caches: the range is cached.
        self.assertIn("buckets total=", self.seen["status"])
        # The graph's screenshot has content: most of it is coloured frames, in many colours.
        w, h, rows = png_pixels(os.path.join(self.out, "chart.png"))
        pixels = [p for row in rows for p in row]
        coloured = sum(1 for p in pixels if max(p) - min(p) > 40)
        self.assertGreater(h, 100)
        self.assertGreater(coloured / len(pixels), 0.2)
        self.assertGreater(len(set(pixels)), 50)

    def test_tooltip_zoom_and_search(self):
        for c in self.seen["counters"]:
            self.assertIn(c, self.seen["tooltip"])
        self.assertIn("self", self.seen["tooltip"])
        self.assertIn("total", self.seen["tooltip"])
        self.assertLess(self.seen["pickWidth"], 0.95 * self.seen["svgWidth"])
        self.assertGreater(self.seen["zoomedWidth"], 0.98 * self.seen["svgWidth"])
        self.assertAlmostEqual(self.seen["resetWidth"], self.seen["pickWidth"], delta=1.0)
        self.assertIn("match", self.seen["searchInfo"])
        self.assertGreater(self.seen["highlighted"], 0)

    def test_differential_flame_graph(self):
        self.assertIn(f"base={BASE[0]}/{BASE[1]}".replace(":", "%3A").replace("/", "%2F"), self.seen["diffHash"])
        self.assertGreater(len(self.seen["changed"]), 0)
        changes = [float(r[3].replace(",", "").replace("\u2212", "-")) for r in self.seen["changed"]]  # d3's minus sign
        self.assertEqual(changes, sorted(changes, key=abs, reverse=True))
        fills = [tuple(int(x) for x in f[4:-1].split(",")) for f in self.seen["diffFills"] if f.startswith("rgb(")]
        grew = [f for f in fills if f[0] == 220 and f[1] == f[2] < 220]
        shrank = [f for f in fills if f[2] == 220 and f[0] == f[1] < 220]
        self.assertGreater(len(grew), 0, fills[:20])
        self.assertGreater(len(shrank), 0, fills[:20])

    def test_speedscope_imports_the_file(self):
        # The title is the file's own name (group and covered range), which only the import can
        # have read; the header counts the file's profiles, one per counter.
        r = get(self.gw.port, f"/_profgate/profile/{self.group}?period=PT24H&format=speedscope", timeout=60)
        name = json.loads(r.body)["name"]
        self.assertEqual(name, f"{self.group} {r.header('x-profgate-range')}")
        self.assertEqual(self.seen["speedscopeTitle"], f"{name} - speedscope")
        self.assertIn(f"/{len(self.seen['counters'])})", self.seen["speedscopeText"])
        self.assertIn("format%3Dspeedscope", self.seen["speedscopeHref"])


class PageOff(unittest.TestCase):
    def test_page_off_and_bad_names(self):
        gw = start_profgate()
        try:
            r = get(gw.port, "/ui/")
            self.assertEqual((r.status, r.header("x-amzn-errortype")), (404, "UnknownOperationException"))
            self.assertIn("ui.root", r.json()["message"])
        finally:
            self.assertEqual(gw.stop(), 0)
        d = tempfile.mkdtemp(prefix="profgate-ui-root-")
        outside = tempfile.mkdtemp(prefix="profgate-outside-")
        try:
            with open(os.path.join(d, "index.html"), "w") as f:
                f.write("<p>page</p>")
            with open(os.path.join(outside, "secret.js"), "w") as f:
                f.write("secret")
            os.symlink(os.path.join(outside, "secret.js"), os.path.join(d, "link.js"))
            os.mkdir(os.path.join(d, "dir.js"))
            gw = start_profgate(config=f"[ui]\nroot = {d}\n")
            r = get(gw.port, "/ui/")
            self.assertEqual((r.status, r.body), (200, b"<p>page</p>"))
            self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
            self.assertIn("default-src 'self'", r.header("content-security-policy"))
            r = get(gw.port, "/ui")
            self.assertEqual((r.status, r.header("location")), (301, "/ui/"))
            for bad in ("/ui/../index.html", "/ui/%2e%2e/index.html", "/ui/link.js", "/ui/dir.js", "/ui/none.js",
                        "/ui/.hidden.js", "/ui/index.sh"):
                with self.subTest(path=bad):
                    r = get(gw.port, bad)
                    self.assertEqual(r.status, 404, r.body)
                    self.assertNotIn(b"secret", r.body)
            c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
            c.request("POST", "/ui/", body=b"x")
            r = c.getresponse()
            self.assertEqual((r.status, r.getheader("allow")), (405, "GET"))
            c.close()
            self.assertEqual(gw.stop(), 0)
        finally:
            shutil.rmtree(d)
            shutil.rmtree(outside)
