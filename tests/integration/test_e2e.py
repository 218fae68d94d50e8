"""The main acceptance test of GetProfile end to end: redis-server, profgate-sim and
profgate, driven by boto3 and the AWS CLI.

For many random ranges (aligned and unaligned, 5 minutes to 7 days, recent and 20 to 80 days old,
with and without maxDepth, JSON and Ion, with period alone or with one end) profgate's answer must
equal the simulator's direct answer for the same request, first on a cold cache, then again from a
restarted gateway that has only Redis: and that second pass must make no upstream call for any
complete bucket. Both clocks are frozen, so live buckets hold the same data for both answers.

PG_E2E_SEED picks the ranges (printed, to replay a failure); PG_E2E_CASES their number (>= 200).
"""
import gzip
import json
import os
import random
import socket
import subprocess
import tempfile
import unittest
import urllib.parse
from datetime import datetime, timedelta, timezone

import boto3
import botocore.config

from harness import Conn, Redis, get, ion_to_plain_many, start_profgate, start_sim, wait_for

NOW = datetime(2026, 11, 25, 12, 3, 17, tzinfo=timezone.utc)  # not on a bucket edge
CLOCK = NOW.strftime("%Y-%m-%dT%H:%M:%SZ") + "!"                # frozen
F = "%Y-%m-%dT%H:%M:%SZ"
CREDS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
         "AWS_DEFAULT_REGION": "us-east-1"}
ION = "application/x-amzn-ion"
JSON = "application/json"


def iso_duration(secs):
    d, r = divmod(secs, 86400)
    h, r = divmod(r, 3600)
    m, s = divmod(r, 60)
    t = "".join(f"{v}{u}" for v, u in ((h, "H"), (m, "M"), (s, "S")) if v)
    return "P" + (f"{d}D" if d else "") + ("T" + t if t else "")


def random_case(rng):
    """A GetProfile request as query parameters (strings) plus the Accept header."""
    length = int(300 * (7 * 288) ** rng.random())  # log-uniform, 5 minutes to 7 days
    aligned = rng.random() < 0.4
    if aligned:
        unit = rng.choice([300, 3600, 86400])
        length = max(unit, length // unit * unit) if unit < length else 300
    old = rng.random() < 0.35
    if old:
        start = NOW - timedelta(days=rng.uniform(20, 80))
    else:
        end = NOW - timedelta(seconds=rng.uniform(-600, 6 * 86400))  # some end in the live tail
        start = end - timedelta(seconds=length)
    if aligned:
        start = datetime.fromtimestamp(int(start.timestamp()) // unit * unit, timezone.utc)
    else:
        start = start.replace(microsecond=0)
    end = start + timedelta(seconds=length)
    shape = rng.choices(["range", "period", "start+period", "end+period"], [70, 10, 10, 10])[0]
    q = {}
    if shape == "range":
        q = {"startTime": start.strftime(F), "endTime": end.strftime(F)}
    elif shape == "period":
        q = {"period": iso_duration(length)}
    elif shape == "start+period":
        q = {"startTime": start.strftime(F), "period": iso_duration(length)}
    else:
        q = {"endTime": end.strftime(F), "period": iso_duration(length)}
    if rng.random() < 0.3:
        q["maxDepth"] = str(rng.choice([1, 2, 3, 5, 8]))
    return {"group": rng.choice(["orders", "search", "payments"]), "query": q, "accept": rng.choice([JSON, ION])}


def boto_kwargs(case):
    kw = {"profilingGroupName": case["group"], "accept": case["accept"]}
    for k, v in case["query"].items():
        if k in ("startTime", "endTime"):
            kw[k] = datetime.strptime(v, F).replace(tzinfo=timezone.utc)
        elif k == "maxDepth":
            kw[k] = int(v)
        else:
            kw[k] = v
    return kw


def client(port):
    return boto3.client("codeguruprofiler", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=CREDS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDS["AWS_SECRET_ACCESS_KEY"],
                        config=botocore.config.Config(retries={"total_max_attempts": 1}, read_timeout=120))


def fetch_all(c, cases):
    """Every case through boto3: (raw bodies, content types, profgate cache headers)."""
    out = []
    for case in cases:
        r = c.get_profile(**boto_kwargs(case))
        body = r["profile"].read()
        self_type = r["contentType"]
        assert self_type == case["accept"], (self_type, case)
        out.append((body, r["ResponseMetadata"]["HTTPHeaders"].get("x-profgate-cache")))
    return out


def decode_all(cases, bodies):
    ion_idx = [i for i, c in enumerate(cases) if c["accept"] == ION]
    plain = ion_to_plain_many([bodies[i] for i in ion_idx])
    out = [None] * len(cases)
    for i, v in zip(ion_idx, plain):
        out[i] = v
    for i, c in enumerate(cases):
        if c["accept"] == JSON:
            out[i] = json.loads(bodies[i])
    return out


def sim_stats(sim):
    return get(sim.port, "/_sim/stats").json()


class EndToEnd(unittest.TestCase):
    def test_random_ranges_cold_then_warm(self):
        seed = int(os.environ.get("PG_E2E_SEED", random.randrange(1 << 30)))
        n = max(200, int(os.environ.get("PG_E2E_CASES", "200")))
        print(f"\nPG_E2E_SEED={seed} cases={n}", flush=True)
        rng = random.Random(seed)
        cases = [random_case(rng) for _ in range(n)]

        redis = Redis()
        sim = start_sim("--clock", CLOCK, "--nodes", "300")
        # Pacing is tested elsewhere; here the cold pass should not wait on a production rate. The
        # warm pass asserts that nothing complete is fetched again: a Redis read that outlives the
        # 250 ms default (ASan on a loaded 2-core CI machine) falls back to the upstream, which is
        # right but not what this test is about, so the command timeout is generous here.
        conf = (f"[redis]\nurl = redis://127.0.0.1:{redis.port}\ncommand_timeout = 5s\n"
                "[upstream]\nrate = 5000\nburst = 5000\n")
        gw = None
        try:
            gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", CLOCK, config=conf)
            # Cold: profgate against the simulator's own answer to the same request.
            cold = fetch_all(client(gw.port), cases)
            direct = fetch_all(client(sim.port), cases)
            got = decode_all(cases, [b for b, _ in cold])
            want = decode_all(cases, [b for b, _ in direct])
            for i, case in enumerate(cases):
                self.assertEqual(got[i], want[i], f"case {i} (seed {seed}): {case}")
                self.assertIn(cold[i][1], ("miss", "partial", "hit"))
            self.assertEqual(gw.stop(), 0)

            # Warm: a new gateway (empty memory), the same Redis.
            gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", CLOCK, config=conf)
            live = set()
            for case in cases:
                q = urllib.parse.urlencode(case["query"])
                plan = get(gw.port, "/_profgate/plan?" + q).json()
                live |= {f"{case['group']}|{b['period']}|{b['start']}" for b in plan["buckets"] if b["state"] == "live"}
            before = sim_stats(sim)
            warm = fetch_all(client(gw.port), cases)
            after = sim_stats(sim)
            got = decode_all(cases, [b for b, _ in warm])
            for i, case in enumerate(cases):
                self.assertEqual(got[i], want[i], f"warm case {i} (seed {seed}): {case}")
            calls = after["operations"]["GetProfile"] - before["operations"]["GetProfile"]
            refetched = {k for k, v in after["requestsPerBucket"].items() if v > before["requestsPerBucket"].get(k, 0)}
            self.assertLessEqual(refetched, live, "complete buckets were fetched again")
            self.assertLessEqual(calls, len(live))
            hits = sum(1 for _, h in warm if h == "hit")
            print(f"warm pass: {calls} upstream calls for {len(live)} live buckets; {hits}/{n} answers all hits",
                  flush=True)
            self.assertGreater(hits, n // 2)
            health = get(gw.port, "/healthz").json()
            self.assertGreater(health["redis"]["hits"], 0)
        finally:
            if gw is not None:
                gw.stop()
            sim.stop()
            redis.stop()

    def test_aws_cli_outfile(self):
        sim = start_sim("--clock", CLOCK, "--nodes", "300")
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", CLOCK)
        try:
            env = dict(os.environ, **CREDS, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
            for accept in (JSON, ION):
                with tempfile.TemporaryDirectory() as d:
                    bodies = []
                    for port in (gw.port, sim.port):
                        out = os.path.join(d, f"{port}.out")
                        subprocess.run(
                            ["aws", "codeguruprofiler", "get-profile", "--profiling-group-name", "orders",
                             "--start-time", "2026-11-23T09:07:00Z", "--end-time", "2026-11-24T09:07:00Z",
                             "--max-depth", "4", "--accept", accept, out,
                             "--endpoint-url", f"http://127.0.0.1:{port}"],
                            env=env, check=True, capture_output=True, timeout=120)
                        with open(out, "rb") as f:
                            bodies.append(f.read())
                    case = {"accept": accept}
                    a, b = decode_all([case, case], bodies)
                    self.assertEqual(a, b)
                    self.assertGreater(len(json.dumps(a["callgraph"])), 100)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)


class Streaming(unittest.TestCase):
    """Large answers leave in pieces (chunked, gzip streamed), small ones whole; HTTP/1.0 clients get
    a body ended by the close; a client leaving mid-answer ends the request."""

    @classmethod
    def setUpClass(cls):
        cls.sim = start_sim("--clock", CLOCK, "--nodes", "3000")
        cls.gw = start_profgate("--upstream", f"http://127.0.0.1:{cls.sim.port}", "--clock", CLOCK,
                                config="[upstream]\nrate = 5000\nburst = 5000\n[cache]\nresponse_bytes = 0\n")
        cls.big = "/profilingGroups/s/profile?startTime=2026-11-20T09:07:00Z&endTime=2026-11-21T09:07:00Z"
        cls.small = "/profilingGroups/s/profile?startTime=2026-11-20T09:05:00Z&endTime=2026-11-20T09:10:00Z&maxDepth=1"
        cls.want = json.loads(get(cls.sim.port, cls.big, {"Accept": JSON}, timeout=60).body)

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0
        assert cls.sim.stop() == 0

    def test_large_answer_is_chunked(self):
        with Conn(self.gw.port, timeout=60) as c:
            r = c.get(self.big, {"Accept": JSON})
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Transfer-Encoding"), "chunked")
            self.assertGreater(r.chunks, 2)
            self.assertEqual(json.loads(r.body), self.want)
            # The connection stays usable: a small answer follows on it, whole.
            r2 = c.get(self.small, {"Accept": JSON})
            self.assertEqual(r2.status, 200)
            self.assertIsNotNone(r2.header("Content-Length"))
            self.assertEqual(r2.chunks, 0)

    def test_gzip_is_streamed(self):
        r = get(self.gw.port, self.big, {"Accept": JSON, "Accept-Encoding": "gzip"}, timeout=60)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertEqual(json.loads(gzip.decompress(r.body)), self.want)

    def test_q_values_and_repeated_fields_are_honoured(self):
        # gzip weighted 0 is "not gzip"; two Accept fields are one list, and Ion weighted 0 is skipped.
        r = get(self.gw.port, self.small, {"Accept": JSON, "Accept-Encoding": "gzip;q=0, identity"})
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(json.loads(r.body), json.loads(get(self.gw.port, self.small, {"Accept": JSON}).body))
        with Conn(self.gw.port, timeout=60) as c:
            c.send(f"GET {self.small} HTTP/1.1\r\nHost: x\r\nAccept: application/x-amzn-ion;q=0\r\n"
                   f"Accept: application/json\r\nAccept-Encoding: br\r\nAccept-Encoding: *;q=0.1\r\n\r\n")
            r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(r.header("Content-Encoding"), "gzip")  # "*" accepts gzip, from the second field

    def test_ion_streamed(self):
        r = get(self.gw.port, self.big, {"Accept": ION}, timeout=60)
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertEqual(ion_to_plain_many([r.body])[0], self.want)

    def http10_body(self, accept):
        """The big answer asked for over HTTP/1.0: no chunks, the body ends with the connection."""
        s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=60)
        s.sendall(f"GET {self.big} HTTP/1.0\r\nAccept: {accept}\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertNotIn(b"chunked", head.lower())
        return body

    def reset_mid_body(self, accept):
        """Five clients that take the head of the big answer and reset the connection mid-body
        (a small receive window keeps the rest unsent); returns once their requests have ended."""
        for _ in range(5):
            s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=60)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"GET {self.big} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n".encode())
            self.assertTrue(s.recv(1024).startswith(b"HTTP/1.1 200"))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()  # a reset, mid-body
        wait_for(lambda: get(self.gw.port, "/healthz").json()["requestsInProgress"] == 0, 10, "requests to end")

    def test_ion_gzip_http10_and_leaving(self):
        """A streamed Ion answer in the other ways it leaves: through gzip, to an HTTP/1.0 client
        (no chunks), and cut short by clients that reset mid-body (the sanitizer build checks that
        nothing leaks), after which the next answer is still whole."""
        ion = get(self.gw.port, self.big, {"Accept": ION}, timeout=60).body
        r = get(self.gw.port, self.big, {"Accept": ION, "Accept-Encoding": "gzip"}, timeout=60)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(r.body), ion)
        self.assertEqual(self.http10_body(ION), ion)
        self.reset_mid_body(ION)
        self.assertEqual(get(self.gw.port, self.big, {"Accept": ION}, timeout=60).body, ion)

    def test_http10_body_ends_with_close(self):
        self.assertEqual(json.loads(self.http10_body(JSON)), self.want)

    def test_client_leaving_mid_answer(self):
        self.reset_mid_body(JSON)
        self.assertEqual(json.loads(get(self.gw.port, self.big, {"Accept": JSON}, timeout=60).body), self.want)


def fd_targets(pid):
    """What a process's descriptors point at (one closed meanwhile is skipped)."""
    out = []
    for f in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{f}"))
        except FileNotFoundError:
            pass
    return out


class StoredAnswers(unittest.TestCase):
    """Repeats of an all-complete request are sent from the answer cache, written from memory (the
    default) or with sendfile from a memfd (cache.response_sendfile): whole, with a Content-Length,
    also to a reader too slow to take them at once, and pipelined."""

    def test_repeat_to_a_slow_reader(self):
        self.repeat_to_a_slow_reader("off")

    def test_repeat_to_a_slow_reader_with_sendfile(self):
        self.repeat_to_a_slow_reader("on")

    def repeat_to_a_slow_reader(self, sendfile):
        sim = start_sim("--clock", CLOCK, "--nodes", "3000")
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}", "--clock", CLOCK,
                            config=f"[upstream]\nrate = 5000\nburst = 5000\n"
                                   f"[cache]\nresponse_sendfile = {sendfile}\n")
        try:
            p = "/profilingGroups/s/profile?startTime=2026-11-20T09:07:00Z&endTime=2026-11-21T09:07:00Z"
            want = json.loads(get(sim.port, p, {"Accept": JSON}, timeout=60).body)
            first = get(gw.port, p, {"Accept": JSON}, timeout=60)
            self.assertEqual(json.loads(first.body), want)
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the writer must wait
            s.settimeout(60)
            s.connect(("127.0.0.1", gw.port))
            c = Conn.__new__(Conn)
            c.sock, c.buf = s, b""
            req = f"GET {p} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n".encode()
            s.sendall(req * 3)  # pipelined repeats
            for _ in range(3):
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(int(r.header("Content-Length")), len(first.body))
                self.assertEqual(r.body, first.body)
            s.close()
            self.assertGreaterEqual(get(gw.port, "/healthz").json()["answerHits"], 3)
            # Where the answer is kept: a memfd only when sendfile was asked for.
            memfds = [t for t in fd_targets(gw.proc.pid) if t.startswith("/memfd:profgate-answer")]
            self.assertEqual(len(memfds), 1 if sendfile == "on" else 0, memfds)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main()
