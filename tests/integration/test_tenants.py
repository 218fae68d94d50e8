"""Tenants, end to end: clients sign with a tenant's keys exactly as they would for AWS
(boto3, the AWS CLI, botocore's signer) and profgate verifies them, checks the tenant's groups and
quota, and calls the upstream with its own credentials (the simulator accepts only those). Every
refusal is the modeled AWS error boto3 raises. Tenants share a scarce upstream fairly: a tenant's
small request is served while another tenant's (or its own) huge cold request is still waiting.
The tenants file is reloaded on SIGHUP and refused when others can read it."""
import os
import signal
import subprocess
import tempfile
import threading
import unittest
import urllib.parse
from datetime import datetime, timedelta, timezone

import boto3
import botocore.config
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness import Process, get, metrics, start_profgate, start_sim, wait_for

NOW = "2026-11-25T12:00:00Z"
UPSTREAM_KEY, UPSTREAM_SECRET = "AKIAPROFGATEUPSTREAM", "profgate-own-secret-for-the-upstream-0001"
A_KEY, A_SECRET = "AKIATENANTAAAAAAAAA1", "tenant-a-secret-0000000000000001"
B_KEY, B_SECRET = "AKIATENANTBBBBBBBBB2", "tenant-b-secret-0000000000000002"
C_KEY, C_SECRET = "AKIATENANTCCCCCCCCC3", "tenant-c-secret-0000000000000003"
TENANTS = f"""
[team-a]
access_key = {A_KEY}
secret_key = {A_SECRET}
groups = team-a-*, shared
write = on
[team-b]
access_key = {B_KEY}
secret_key = {B_SECRET}
groups = team-b-*
weight = 1
[team-c]
access_key = {C_KEY}
secret_key = {C_SECRET}
groups = team-c-[0-9]
rate = 1
burst = 2
"""
UPSTREAM_ENV = {"AWS_ACCESS_KEY_ID": UPSTREAM_KEY, "AWS_SECRET_ACCESS_KEY": UPSTREAM_SECRET,
                "AWS_SESSION_TOKEN": "", "AWS_REGION": "us-east-1"}
NOPE = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})


def write_tenants(text, mode=0o600, path=None):
    if path is None:
        fd, path = tempfile.mkstemp(prefix="profgate-tenants-", suffix=".conf")
        os.close(fd)
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return path


def client(port, key, secret):
    return boto3.client("codeguruprofiler", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret, config=NOPE)


def signed_headers(port, target, key, secret, when=None, region="us-east-1", service="codeguru-profiler", host=None):
    """Headers for GET target signed by botocore's SigV4 at `when` (default now), for Host host
    (default the loopback address and port)."""
    when = when or datetime.now(timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    host = host or f"127.0.0.1:{port}"
    # The query as AWS canonicalizes it (each name and value decoded, then encoded): botocore's
    # signer takes the query as given, and the targets here carry ':' raw, as curl sends them.
    path, _, query = target.partition("?")
    if query:
        query = "&".join("=".join(urllib.parse.quote(urllib.parse.unquote(x), safe="-_.~") for x in p.split("=", 1))
                         for p in query.split("&"))
    req = AWSRequest(method="GET", url=f"http://{host}{path}{'?' if query else ''}{query}",
                     headers={"Host": host, "X-Amz-Date": amz_date, "Accept": "application/json"})
    req.context["timestamp"] = amz_date
    auth = SigV4Auth(Credentials(key, secret), service, region)
    cr = auth.canonical_request(req)
    sig = auth.signature(auth.string_to_sign(req, cr), req)
    signed = auth.signed_headers(auth.headers_to_sign(req))
    h = dict(req.headers.items())
    h["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={key}/{auth.credential_scope(req)}, "
                          f"SignedHeaders={signed}, Signature={sig}")
    return h


def hour(group, day, h):
    return (f"/profilingGroups/{group}/profile?startTime=2026-11-{day:02d}T{h:02d}:00:00Z"
            f"&endTime=2026-11-{day:02d}T{h + 1:02d}:00:00Z")


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The simulator accepts only profgate's own key: every success proves profgate re-signed.
        cls.sim = start_sim("--clock", NOW, "--nodes", "50", "--access-key", UPSTREAM_KEY, "--secret-key",
                            UPSTREAM_SECRET, "--groups", "team-a-web,team-a-db,team-b-api,team-c-1,shared,other")
        cls.tenants = write_tenants(TENANTS)
        cls.gw = start_profgate("--clock", NOW, "--upstream", f"http://127.0.0.1:{cls.sim.port}", env=UPSTREAM_ENV,
                                config=f"[auth]\nmode = sigv4\ntenants_file = {cls.tenants}\n"
                                       "[upstream]\nrate = 1000\nburst = 1000\n")
        cls.a = client(cls.gw.port, A_KEY, A_SECRET)

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0
        assert cls.sim.stop() == 0
        os.unlink(cls.tenants)

    def expect(self, code, fn, status=403):
        """The error boto3 raises: the service's model has no auth errors, so botocore raises
        ClientError with the code from x-amzn-ErrorType, as it does against AWS."""
        with self.assertRaises(ClientError) as cm:
            fn()
        self.assertEqual(cm.exception.response["Error"]["Code"], code)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
        return cm.exception.response["Error"]["Message"]

    def test_boto3_with_a_tenants_keys(self):
        r = self.a.get_profile(profilingGroupName="team-a-web", startTime=datetime(2026, 11, 20, 10, tzinfo=timezone.utc),
                               period="PT1H", accept="application/json")
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertGreater(len(r["profile"].read()), 100)
        r = self.a.get_profile(profilingGroupName="shared", period="PT5M", accept="application/json")
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 200)

    def test_aws_cli_with_a_tenants_keys(self):
        out = os.path.join(tempfile.mkdtemp(), "p.json")
        env = dict(os.environ, AWS_ACCESS_KEY_ID=B_KEY, AWS_SECRET_ACCESS_KEY=B_SECRET, AWS_DEFAULT_REGION="us-east-1",
                   AWS_SESSION_TOKEN="", AWS_MAX_ATTEMPTS="1")
        p = subprocess.run(["aws", "codeguruprofiler", "get-profile", "--profiling-group-name", "team-b-api",
                            "--start-time", "2026-11-21T00:00:00Z", "--period", "PT1H", "--accept", "application/json",
                            out, "--endpoint-url", f"http://127.0.0.1:{self.gw.port}"],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreater(os.path.getsize(out), 100)
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-at-all-00000000"
        p = subprocess.run(["aws", "codeguruprofiler", "get-profile", "--profiling-group-name", "team-b-api",
                            "--period", "PT1H", out, "--endpoint-url", f"http://127.0.0.1:{self.gw.port}"],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("(InvalidSignatureException)", p.stderr)

    def test_wrong_secret_unknown_key_and_foreign_group(self):
        m0 = metrics(self.gw.port)
        bad = client(self.gw.port, A_KEY, "a-wrong-secret-000000000000000")
        self.expect("InvalidSignatureException",
                    lambda: bad.get_profile(profilingGroupName="team-a-web", period="PT1H"))
        unknown = client(self.gw.port, "AKIANOBODY000000000X", A_SECRET)
        self.expect("UnrecognizedClientException",
                    lambda: unknown.get_profile(profilingGroupName="team-a-web", period="PT1H"))
        msg = self.expect("AccessDeniedException",
                          lambda: self.a.get_profile(profilingGroupName="team-b-api", period="PT1H"))
        self.assertIn("team-a", msg)
        self.assertIn("profilingGroup/team-b-api", msg)
        m1 = metrics(self.gw.port)
        for reason in ("bad_signature", "unknown_key", "access_denied"):
            self.assertEqual(m1[f'profgate_auth_failures_total{{reason="{reason}"}}'] -
                             m0[f'profgate_auth_failures_total{{reason="{reason}"}}'], 1, reason)
        self.assertEqual(m1['profgate_tenant_denied_total{tenant="team-a"}'] -
                         m0['profgate_tenant_denied_total{tenant="team-a"}'], 1)
        # The secrets are never in the log, even the wrong one.
        log = self.gw.text()
        for s in (A_SECRET, B_SECRET, "a-wrong-secret-000000000000000", UPSTREAM_SECRET):
            self.assertNotIn(s, log)

    def test_list_profile_times_follows_the_tenants_groups(self):
        start, end = datetime(2026, 11, 19, tzinfo=timezone.utc), datetime(2026, 11, 20, tzinfo=timezone.utc)
        r = self.a.list_profile_times(profilingGroupName="team-a-web", period="PT1H", startTime=start, endTime=end)
        self.assertEqual(len(r["profileTimes"]), 24)  # re-signed with profgate's key: the simulator accepted it
        msg = self.expect("AccessDeniedException", lambda: self.a.list_profile_times(
            profilingGroupName="team-b-api", period="PT1H", startTime=start, endTime=end))
        self.assertIn("codeguru-profiler:ListProfileTimes on resource: profilingGroup/team-b-api", msg)
        unsigned = client(self.gw.port, A_KEY, "a-wrong-secret-000000000000000")
        self.expect("InvalidSignatureException", lambda: unsigned.list_profile_times(
            profilingGroupName="team-a-web", period="PT1H", startTime=start, endTime=end))

    def test_lists_show_only_the_tenants_groups(self):
        r = self.a.list_profiling_groups(includeDescription=True)
        mine = ["shared", "team-a-db", "team-a-web"]
        self.assertEqual(r["profilingGroupNames"], mine)
        self.assertEqual([g["name"] for g in r["profilingGroups"]], mine)
        r = self.a.get_findings_report_account_summary()
        self.assertEqual(sorted(s["profilingGroupName"] for s in r["reportSummaries"]), mine)
        self.assertEqual(self.a.describe_profiling_group(profilingGroupName="team-a-db")["profilingGroup"]["name"],
                         "team-a-db")
        arn = "arn:aws:codeguru-profiler:us-east-1:123456789012:profilingGroup/team-b-api"
        for fn in (lambda: self.a.describe_profiling_group(profilingGroupName="team-b-api"),
                   lambda: self.a.list_tags_for_resource(resourceArn=arn),
                   lambda: self.a.get_policy(profilingGroupName="other")):
            self.expect("AccessDeniedException", fn)

    def test_dates_outside_the_window_and_replays(self):
        port = self.gw.port
        target = hour("team-a-web", 20, 3)
        now = datetime.now(timezone.utc)
        # Signed 20 minutes ago (a request captured and replayed later), or 20 minutes ahead.
        for when in (now - timedelta(minutes=20), now + timedelta(minutes=20)):
            r = get(port, target, signed_headers(port, target, A_KEY, A_SECRET, when))
            self.assertEqual((r.status, r.header("x-amzn-errortype")), (403, "InvalidSignatureException"), r)
            self.assertIn("Signature expired", r.json()["message"])
        # Replayed within the window: accepted, as AWS does.
        h = signed_headers(port, target, A_KEY, A_SECRET, now - timedelta(minutes=5))
        self.assertEqual(get(port, target, h).status, 200)
        self.assertEqual(get(port, target, h).status, 200)
        # Tampering with a signed part (the query) breaks the signature.
        r = get(port, target.replace("T03:", "T04:", 1), h)
        self.assertEqual((r.status, r.header("x-amzn-errortype")), (403, "InvalidSignatureException"))
        # Another service's scope, and no signature at all.
        r = get(port, target, signed_headers(port, target, A_KEY, A_SECRET, service="s3"))
        self.assertEqual((r.status, r.header("x-amzn-errortype")), (403, "InvalidSignatureException"))
        # Another region's scope: signed for an endpoint that is not this one.
        r = get(port, target, signed_headers(port, target, A_KEY, A_SECRET, region="us-west-2"))
        self.assertEqual((r.status, r.header("x-amzn-errortype")), (403, "InvalidSignatureException"))
        self.assertIn("valid region, not 'us-west-2'", r.json()["message"])
        r = get(port, target, {"Accept": "application/json"})
        self.assertEqual((r.status, r.header("x-amzn-errortype")), (403, "MissingAuthenticationTokenException"))
        # Operations endpoints stay open for probes and scrapers.
        self.assertEqual(get(port, "/healthz").status, 200)
        self.assertEqual(get(port, "/metrics").status, 200)

    def test_signed_host_must_be_one_of_server_hostnames(self):
        gw = start_profgate("--clock", NOW, "--upstream", f"http://127.0.0.1:{self.sim.port}", env=UPSTREAM_ENV,
                            config=f"[server]\nhostnames = profgate.example:8443, gateway.internal\n"
                                   f"[auth]\nmode = sigv4\ntenants_file = {self.tenants}\n")
        try:
            target = hour("team-a-web", 20, 5)
            r = get(gw.port, target, signed_headers(gw.port, target, A_KEY, A_SECRET))
            self.assertEqual((r.status, r.header("x-amzn-errortype")), (403, "InvalidSignatureException"))
            self.assertIn("host this endpoint does not answer to", r.json()["message"])
            for host in ("profgate.example:8443", "GATEWAY.internal"):
                r = get(gw.port, target, signed_headers(gw.port, target, A_KEY, A_SECRET, host=host))
                self.assertEqual(r.status, 200, (host, r))
        finally:
            self.assertEqual(gw.stop(), 0)

    def test_writes_need_the_tenants_write_permission_and_group(self):
        gw = start_profgate("--clock", NOW, "--upstream", f"http://127.0.0.1:{self.sim.port}", env=UPSTREAM_ENV,
                            config=f"[api]\nwrites = on\n[auth]\nmode = sigv4\ntenants_file = {self.tenants}\n")
        try:
            a, b = client(gw.port, A_KEY, A_SECRET), client(gw.port, B_KEY, B_SECRET)
            r = a.create_profiling_group(profilingGroupName="team-a-new", clientToken="t-1")
            self.assertEqual(r["profilingGroup"]["name"], "team-a-new")
            self.assertIn("team-a-new", a.list_profiling_groups()["profilingGroupNames"])
            # Not its group (by name in the body, by path, or by ARN), and B may not write at all.
            msg = self.expect("AccessDeniedException", lambda: a.create_profiling_group(
                profilingGroupName="team-b-new", clientToken="t-2"))
            self.assertIn("profilingGroup/team-b-new", msg)
            self.expect("AccessDeniedException", lambda: a.delete_profiling_group(profilingGroupName="team-b-api"))
            self.expect("AccessDeniedException", lambda: a.tag_resource(
                resourceArn="arn:aws:codeguru-profiler:us-east-1:123456789012:profilingGroup/other", tags={"k": "v"}))
            msg = self.expect("AccessDeniedException", lambda: b.tag_resource(
                resourceArn="arn:aws:codeguru-profiler:us-east-1:123456789012:profilingGroup/team-b-api",
                tags={"k": "v"}))
            self.assertIn("write = off", msg)
            a.delete_profiling_group(profilingGroupName="team-a-new")
            ops = get(self.sim.port, "/_sim/stats").json()["apiOperations"]
            self.assertEqual((ops["CreateProfilingGroup"], ops["DeleteProfilingGroup"], ops["TagResource"]), (1, 1, 0))
        finally:
            self.assertEqual(gw.stop(), 0)

    def test_a_signed_body_is_checked_against_the_body(self):
        # BatchGetFrameMetricData is a read by POST: its signature covers the body's hash.
        c = client(self.gw.port, A_KEY, A_SECRET)
        r = c.batch_get_frame_metric_data(profilingGroupName="team-a-web", frameMetrics=[
            {"frameName": "main", "threadStates": ["RUNNABLE"], "type": "AggregatedRelativeTotalTime"}])
        self.assertEqual(r["frameMetricData"][0]["frameMetric"]["frameName"], "main")
        # The same signed request with another body is refused.
        body = b'{"frameMetrics":[{"frameName":"main","threadStates":["RUNNABLE"],"type":"AggregatedRelativeTotalTime"}]}'
        target = "/profilingGroups/team-a-web/frames/-/metrics"
        host = f"127.0.0.1:{self.gw.port}"
        amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        req = AWSRequest(method="POST", url=f"http://{host}{target}", data=body,
                         headers={"Host": host, "X-Amz-Date": amz_date, "Content-Type": "application/json"})
        req.context["timestamp"] = amz_date
        SigV4Auth(Credentials(A_KEY, A_SECRET), "codeguru-profiler", "us-east-1").add_auth(req)
        from harness import Conn
        for sent, status in ((body, 200), (body.replace(b"main", b"evil"), 403)):
            with Conn(self.gw.port) as conn:
                hdrs = dict(req.headers.items())
                hdrs["Content-Length"] = str(len(sent))
                head = f"POST {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
                conn.send(head.encode() + sent)
                r = conn.read_response()
                self.assertEqual(r.status, status, r)

    def test_quota_answers_429_that_sdks_understand(self):
        c = client(self.gw.port, C_KEY, C_SECRET)
        m0 = metrics(self.gw.port)
        t = datetime(2026, 11, 19, 1, tzinfo=timezone.utc)
        codes = []
        waits = []
        for _ in range(4):
            try:
                c.get_profile(profilingGroupName="team-c-1", startTime=t, period="PT1H", accept="application/json")
                codes.append(200)
            except c.exceptions.ThrottlingException as e:
                codes.append(e.response["ResponseMetadata"]["HTTPStatusCode"])
                waits.append(e.response["ResponseMetadata"]["HTTPHeaders"])
        # Each 429 says when the tenant's next token comes: within the second its quota refills
        # one, in milliseconds and in whole seconds.
        for h in waits:
            ms = int(h["x-amz-retry-after"])
            self.assertTrue(1 <= ms <= 1000, h)
            self.assertEqual(int(h["retry-after"]), (ms + 999) // 1000, h)
        # Burst 2 at 1 request/s: the first two pass; of the next two at most one (a token may refill).
        self.assertEqual(codes[:2], [200, 200])
        self.assertIn(429, codes[2:])
        m1 = metrics(self.gw.port)
        self.assertEqual(m1['profgate_tenant_throttled_total{tenant="team-c"}'] -
                         m0['profgate_tenant_throttled_total{tenant="team-c"}'], codes.count(429))
        self.assertEqual(m1['profgate_tenant_requests_total{tenant="team-c"}'] -
                         m0['profgate_tenant_requests_total{tenant="team-c"}'], 4)
        self.assertEqual(m1['profgate_tenant_quota_rate{tenant="team-c"}'], 1)


class Fairness(unittest.TestCase):
    """A scarce upstream (4 calls/s, one at a time): cold 7-day requests queue about 40 calls each."""

    def setUp(self):
        self.sim = start_sim("--clock", NOW, "--nodes", "20", "--latency-ms", "20")
        self.tenants = write_tenants(TENANTS)
        self.gw = start_profgate("--clock", NOW, "--upstream", f"http://127.0.0.1:{self.sim.port}",
                                 config=f"[auth]\nmode = sigv4\ntenants_file = {self.tenants}\n"
                                        "[upstream]\nrate = 4\nburst = 1\nmax_inflight = 1\ndeadline = 60s\n")

    def tearDown(self):
        self.assertEqual(self.gw.stop(), 0)
        self.assertEqual(self.sim.stop(), 0)
        os.unlink(self.tenants)

    def start_big(self, key, secret, group, results):
        target = f"/profilingGroups/{group}/profile?startTime=2026-11-10T09:07:00Z&endTime=2026-11-17T09:07:00Z"
        h = signed_headers(self.gw.port, target, key, secret)
        t = threading.Thread(target=lambda: results.append(get(self.gw.port, target, h, timeout=60)))
        t.start()
        return t

    def small_request_during_flood(self, key, secret, group, target=None):
        """Team A starts a cold 7-day request (about 40 calls queue); then `key` asks for one hour of
        `group`. Returns the metrics at the moment that small request was answered."""
        port = self.gw.port
        big = []
        t = self.start_big(A_KEY, A_SECRET, "team-a-batch", big)
        wait_for(lambda: metrics(port)["profgate_upstream_queue_depth"] >= 30, 10, "team-a's calls to queue")
        target = target or hour(group, 21, 5)
        r = get(port, target, signed_headers(port, target, key, secret), timeout=60)
        self.assertEqual(r.status, 200)
        self.last = r
        # Answered while team A's request still waits for most of its buckets.
        m = metrics(port)
        self.assertEqual(big, [])
        self.assertGreaterEqual(m["profgate_upstream_queue_depth"], 20)
        self.assertEqual(m['profgate_tenant_upstream_queued{tenant="team-a"}'], m["profgate_upstream_queue_depth"])
        t.join(60)
        self.assertEqual(big[0].status, 200)
        return m

    def test_one_tenants_flood_does_not_starve_another(self):
        m = self.small_request_during_flood(B_KEY, B_SECRET, "team-b-dash")
        self.assertEqual(m['profgate_tenant_upstream_calls_total{tenant="team-b"}'], 1)

    def test_a_tenants_small_request_passes_its_own_bulk_one(self):
        self.small_request_during_flood(A_KEY, A_SECRET, "team-a-dash")

    def test_a_small_request_joining_a_queued_bulk_call_raises_it(self):
        # The last whole hour of the 7-day range is one of the last calls the big request queued;
        # asking for that hour alone joins that call, which then goes ahead of the bulk ones.
        m0 = metrics(self.gw.port)
        self.small_request_during_flood(A_KEY, A_SECRET, "team-a-batch", hour("team-a-batch", 17, 8))
        self.assertEqual(self.last.header("X-Profgate-Buckets").split("coalesced=")[1].split()[0], "1")
        self.assertEqual(metrics(self.gw.port)["profgate_buckets_total{source=\"coalesced\"}"] -
                         m0["profgate_buckets_total{source=\"coalesced\"}"], 1)


class QueueShares(unittest.TestCase):
    """A small upstream queue (30 places, three tenants of weight 1: ten each) in front of a slow
    upstream: one tenant's flood takes its own places, not everyone's."""

    def test_a_tenant_cannot_fill_the_queue_for_everyone(self):
        sim = start_sim("--clock", NOW, "--nodes", "20", "--latency-ms", "20")
        tenants = write_tenants(TENANTS)
        gw = start_profgate("--clock", NOW, "--upstream", f"http://127.0.0.1:{sim.port}",
                            config=f"[auth]\nmode = sigv4\ntenants_file = {tenants}\n"
                                   "[upstream]\nrate = 2\nburst = 1\nmax_inflight = 1\nqueue_max = 30\n")
        try:
            port = gw.port
            m0 = metrics(port)
            # Team A's cold 7 days need about 40 calls: past its ten places it is throttled at once,
            # told when to come back, and the calls it had queued leave with it.
            big = "/profilingGroups/team-a-batch/profile?startTime=2026-11-10T09:07:00Z&endTime=2026-11-17T09:07:00Z"
            r = get(port, big, signed_headers(port, big, A_KEY, A_SECRET), timeout=30)
            self.assertEqual(r.status, 429, r)
            self.assertEqual(r.header("x-amzn-ErrorType"), "ThrottlingException")
            self.assertIn("share of profgate's upstream queue is full", r.json()["message"])
            self.assertGreaterEqual(int(r.header("x-amz-retry-after")), 1)
            wait_for(lambda: metrics(port)["profgate_upstream_queue_depth"] == 0, 10, "team-a's calls to leave")
            self.assertGreaterEqual(metrics(port)["profgate_upstream_withdrawn_total"] -
                                    m0["profgate_upstream_withdrawn_total"], 8)
            # Team B's small request still finds its places.
            small = hour("team-b-dash", 21, 5)
            self.assertEqual(get(port, small, signed_headers(port, small, B_KEY, B_SECRET), timeout=30).status, 200)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)
            os.unlink(tenants)


class TenantsFile(unittest.TestCase):
    def test_refused_when_others_can_read_it(self):
        path = write_tenants(TENANTS, mode=0o644)
        try:
            gw = Process("profgate", ["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:9", "-c",
                                      write_tenants(f"[auth]\nmode = sigv4\ntenants_file = {path}\n")])
            self.assertEqual(gw.wait_exit(), 78)
            self.assertIn("others may read or write it (mode 644); chmod 600 it", gw.text())
            gw.kill()
        finally:
            os.unlink(path)

    def test_reload_changes_secrets_and_a_bad_file_keeps_the_old_ones(self):
        sim = start_sim("--clock", NOW, "--nodes", "20")
        path = write_tenants(TENANTS)
        gw = start_profgate("--clock", NOW, "--upstream", f"http://127.0.0.1:{sim.port}",
                            config=f"[auth]\nmode = sigv4\ntenants_file = {path}\n")
        try:
            def reload(result):
                key = f'profgate_config_reloads_total{{result="{result}"}}'
                before = metrics(gw.port)[key]
                gw.signal(signal.SIGHUP)
                wait_for(lambda: metrics(gw.port)[key] == before + 1, 10, f"a {result} reload")

            new_secret = "tenant-b-rotated-secret-000000003"
            b_old = client(gw.port, B_KEY, B_SECRET)
            b_new = client(gw.port, B_KEY, new_secret)
            kw = {"profilingGroupName": "team-b-x", "period": "PT1H", "accept": "application/json"}
            self.assertEqual(b_old.get_profile(**kw)["ResponseMetadata"]["HTTPStatusCode"], 200)
            write_tenants(TENANTS.replace(B_SECRET, new_secret), path=path)
            reload("ok")
            with self.assertRaises(ClientError) as cm:
                b_old.get_profile(**kw)
            self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidSignatureException")
            self.assertEqual(b_new.get_profile(**kw)["ResponseMetadata"]["HTTPStatusCode"], 200)
            # World-readable, then malformed: both refused, the rotated secret still works.
            write_tenants(TENANTS, mode=0o644, path=path)
            reload("failed")
            write_tenants("[team-b]\naccess_key = x\n", path=path)
            reload("failed")
            self.assertIn("reload failed, the running configuration and tenants stay", gw.text())
            self.assertEqual(b_new.get_profile(**kw)["ResponseMetadata"]["HTTPStatusCode"], 200)
            # Removing a tenant disables its key.
            write_tenants(TENANTS.split("[team-b]")[0], path=path)
            reload("ok")
            with self.assertRaises(ClientError) as cm:
                b_new.get_profile(**kw)
            self.assertEqual(cm.exception.response["Error"]["Code"], "UnrecognizedClientException")
            self.assertNotIn('tenant="team-b"', get(gw.port, "/metrics").body.decode())
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)
            os.unlink(path)


if __name__ == "__main__":
    unittest.main()
