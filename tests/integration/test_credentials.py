"""The AWS default credential chain end to end, against the simulator's STS, container endpoint
and IMDSv2 stand-ins issuing sessions that expire every few seconds. For each provider alone, a
steady stream of GetProfile misses (each one an upstream call) crosses at least three rotations
with no failed request, and the simulator saw every call signed with a valid, unexpired key and
its token. Also: the chain's order, token files re-read at each refresh, a refresh that fails is
survived, and when no credentials are valid calls wait (bounded by their deadline) instead of
going out expired or unsigned."""
import os
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from harness import binary, get, metrics, start_profgate, start_sim, wait_for

AK, SK = "AKIDCREDSTEST000", "creds/test+SECRET"
TTL = 4  # seconds: a rotation every ~2 s (refreshed at half the lifetime)
ROLE = "arn:aws:iam::123456789012:role/profgate-reader"
# Every variable the chain reads, empty (= unset for profgate), so nothing leaks in from the
# machine running the tests; each test sets what its provider needs.
CHAIN_VARS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE",
              "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
              "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
              "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
              "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
              "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "AWS_ENDPOINT_URL_STS", "AWS_METADATA_SERVICE_TIMEOUT"]
CONFIG = "[upstream]\nrate = 500\nburst = 500\n"
# Every request asks for a bucket nobody asked for before: groups of a day of 5-minute buckets,
# the day before yesterday (complete, inside the simulator's 90 days of data).
BASE = (int(time.time()) // 86400 - 1) * 86400


def stats(sim):
    r = get(sim.port, "/_sim/stats")
    assert r.status == 200, r
    return r.json()


def creds_stats(sim):
    return stats(sim)["credentials"]


def healthz(gw):
    return get(gw.port, "/healthz").json()["credentials"]


_counter = [0]
_counter_lock = threading.Lock()


def fresh_path():
    """A GetProfile of a 5-minute bucket no request asked for before (so it is an upstream call)."""
    with _counter_lock:
        _counter[0] += 1
        i = _counter[0]
    start = BASE - (i % 288 + 1) * 300
    ts = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
    return f"/profilingGroups/creds-{i // 288}/profile?startTime={ts(start)}&endTime={ts(start + 300)}"


class Stream:
    """Client threads asking the gateway for fresh buckets until stopped; every answer is kept
    for the test to check."""

    def __init__(self, gw, threads=2):
        self.gw = gw
        self.stop_flag = threading.Event()
        self.statuses = []
        self.failures = []
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.stop_flag.is_set():
            r = get(self.gw.port, fresh_path(), headers={"Accept": "application/json"}, timeout=30)
            self.statuses.append(r.status)
            if r.status != 200:
                self.failures.append(r)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join()
        return self


class Credentials(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pg-creds-")
        self.sim = start_sim("--access-key", AK, "--secret-key", SK, "--credentials-ttl", str(TTL))
        self.procs = [self.sim]
        self.sim_url = f"http://127.0.0.1:{self.sim.port}"

    def tearDown(self):
        for p in reversed(self.procs):
            self.assertEqual(p.stop(), 0)

    def file(self, name, text, mode=0o600):
        """A file in the test's HOME; the shared credentials and config files go to ~/.aws."""
        sub = ".aws" if name in ("credentials", "config") else ""
        os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        path = os.path.join(self.dir, sub, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.chmod(path + ".tmp", mode)
        os.replace(path + ".tmp", path)  # as the kubelet swaps a projected token: atomically
        return path

    def env(self, **kw):
        e = {v: "" for v in CHAIN_VARS}
        e.update({"HOME": self.dir, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                  "AWS_ENDPOINT_URL_STS": self.sim_url})
        e.update(kw)
        return e

    def gateway(self, **env):
        gw = start_profgate("--upstream", self.sim_url, config=CONFIG, env=self.env(**env))
        self.procs.append(gw)
        return gw

    def rotate(self, gw, issued_kind, rotations=3, during=None):
        """Streams requests until the simulator issued rotations + 1 sessions of the kind (the
        first and three refreshes); during(n) runs once per new session seen."""
        stream = Stream(gw)
        try:
            seen = 0
            deadline = time.monotonic() + 60
            while seen < rotations + 1:
                n = creds_stats(self.sim)["issued"][issued_kind]
                if n > seen:
                    seen = n
                    if during:
                        during(n)
                self.assertLess(time.monotonic(), deadline, f"only {seen} sessions issued")
                time.sleep(0.05)  # polling the simulator's counters, not waiting for a result
        finally:
            stream.stop()
        self.assertEqual(stream.failures, [], "requests failed across a rotation")
        self.assertGreater(len(stream.statuses), 20)
        c = creds_stats(self.sim)
        # Every upstream call was signed by an issued session, with its token, before it expired.
        self.assertEqual(c["signedCalls"]["expired"], 0, c)
        self.assertEqual(c["signedCalls"]["badToken"], 0, c)
        self.assertEqual(c["signedCalls"]["static"], 0, c)
        self.assertGreaterEqual(c["signedCalls"]["session"], len(stream.statuses))
        self.assertEqual(stats(self.sim)["authFailed"], 0)
        return c

    def assert_gateway_reports(self, gw, provider):
        h = healthz(gw)
        self.assertEqual(h["provider"], provider)
        self.assertTrue(h["valid"])
        self.assertIsNotNone(h["expires"])
        m = metrics(gw.port)
        self.assertEqual(m[f'profgate_credentials_provider{{provider="{provider}"}}'], 1)
        self.assertEqual(m["profgate_credentials_valid"], 1)
        self.assertGreater(m["profgate_credentials_expiry_timestamp_seconds"], time.time())
        self.assertGreaterEqual(m["profgate_credentials_fetches_total"], 4)
        log = gw.text()
        self.assertTrue(f"credentials ({provider}): refreshed ASIA****" in log)
        self.assertFalse(SK in log)

    # ------------------------------------------------------------------ each provider alone

    def test_web_identity_rereads_the_token_file(self):
        token = self.file("token", "jwt-first\n")
        gw = self.gateway(AWS_WEB_IDENTITY_TOKEN_FILE=token, AWS_ROLE_ARN=ROLE, AWS_ROLE_SESSION_NAME="pg-test")

        def swap(n):
            if n == 2:
                self.assertEqual(creds_stats(self.sim)["lastWebIdentityToken"], "jwt-first")
                self.file("token", "jwt-second\n")  # the kubelet rotated it
        self.rotate(gw, "webIdentity", during=swap)
        self.assertEqual(creds_stats(self.sim)["lastWebIdentityToken"], "jwt-second")
        self.assert_gateway_reports(gw, "web-identity")

    def test_profile_with_a_role_assumed_from_static_keys(self):
        self.file("credentials", f"[base]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n")
        self.file("config", f"[profile reader]\nrole_arn = {ROLE}\nsource_profile = base\n")
        gw = self.gateway(AWS_PROFILE="reader")
        c = self.rotate(gw, "assumeRole")
        self.assertEqual(c["lastAssumeRoleBy"], AK)  # the hop was signed by the source profile's key
        self.assert_gateway_reports(gw, "profile")

    def test_role_chain_assumed_from_a_web_identity(self):
        # IRSA, then a second role in another account: each hop signed by the previous session.
        token = self.file("token", "jwt-chain")
        self.file("config", f"[profile irsa]\nrole_arn = {ROLE}\nweb_identity_token_file = {token}\n"
                            f"[profile other-account]\nrole_arn = arn:aws:iam::210987654321:role/reader\n"
                            f"source_profile = irsa\n")
        gw = self.gateway(AWS_PROFILE="other-account")
        c = self.rotate(gw, "assumeRole")
        self.assertTrue(c["lastAssumeRoleBy"].startswith("ASIA"))
        self.assertGreaterEqual(c["issued"]["webIdentity"], 4)

    def test_credential_process(self):
        script = self.file("get-creds", "#!/usr/bin/python3\n"
                           "import json, sys, urllib.request\n"
                           f"r = urllib.request.Request('{self.sim_url}/_sim/creds/container', "
                           "headers={'Authorization': 'process'})\n"
                           "d = json.load(urllib.request.urlopen(r, timeout=5))\n"
                           "print(json.dumps({'Version': 1, 'AccessKeyId': d['AccessKeyId'], "
                           "'SecretAccessKey': d['SecretAccessKey'], 'SessionToken': d['Token'], "
                           "'Expiration': d['Expiration']}))\n", mode=0o700)
        self.file("config", f"[default]\ncredential_process = {script} --profile default\n")
        gw = self.gateway()
        self.rotate(gw, "container")
        self.assert_gateway_reports(gw, "profile")

    def test_container_endpoint_rereads_the_authorization_token_file(self):
        auth = self.file("eks-pod-identity-token", "pod-token-1")
        gw = self.gateway(AWS_CONTAINER_CREDENTIALS_FULL_URI=f"{self.sim_url}/_sim/creds/container",
                          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=auth)

        def swap(n):
            if n == 2:
                self.assertEqual(creds_stats(self.sim)["lastContainerAuthorization"], "pod-token-1")
                self.file("eks-pod-identity-token", "pod-token-2")
        self.rotate(gw, "container", during=swap)
        self.assertEqual(creds_stats(self.sim)["lastContainerAuthorization"], "pod-token-2")
        self.assert_gateway_reports(gw, "container")

    def test_instance_metadata_v2(self):
        gw = self.gateway(AWS_EC2_METADATA_DISABLED="", AWS_EC2_METADATA_SERVICE_ENDPOINT=self.sim_url)
        c = self.rotate(gw, "imds")
        self.assertGreaterEqual(c["imdsTokens"], 4)  # a session token before every read
        self.assertEqual(c["imdsUnauthorized"], 0)  # never a v1 (tokenless) request
        self.assert_gateway_reports(gw, "imds")

    def test_static_keys_from_the_environment(self):
        gw = self.gateway(AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK,
                          AWS_CONTAINER_CREDENTIALS_FULL_URI=f"{self.sim_url}/_sim/creds/container")
        r = get(gw.port, fresh_path())
        self.assertEqual(r.status, 200, r)
        c = creds_stats(self.sim)
        self.assertGreater(c["signedCalls"]["static"], 0)
        self.assertEqual(c["issued"]["container"], 0)  # the environment came first
        h = healthz(gw)
        self.assertEqual((h["provider"], h["expires"], h["valid"]), ("environment", None, True))

    # ------------------------------------------------------------------ the chain's order

    def test_order_of_the_chain(self):
        token = self.file("token", "jwt")
        self.file("credentials", f"[default]\naws_access_key_id = AKIDFROMPROFILE0\naws_secret_access_key = x\n")
        everything = {"AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK, "AWS_WEB_IDENTITY_TOKEN_FILE": token,
                      "AWS_ROLE_ARN": ROLE, "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{self.sim_url}/c",
                      "AWS_EC2_METADATA_DISABLED": "", "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.sim_url}
        expect = [("environment", "AWS_ACCESS_KEY_ID"), ("web-identity", "AWS_WEB_IDENTITY_TOKEN_FILE"),
                  ("profile", "AWS_SHARED_CREDENTIALS_FILE"), ("container", "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
                  ("imds", "AWS_EC2_METADATA_SERVICE_ENDPOINT"), ("none", None)]
        env = dict(everything)
        for provider, remove_next in expect:
            out = subprocess.run([binary("profgate"), "-t"], env=dict(os.environ, **self.env(**env)),
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            line = [l for l in out.stdout.splitlines() if l.startswith("profgate: credentials: ")][0]
            self.assertTrue(line.startswith(f"profgate: credentials: {provider}"), line)
            self.assertNotIn(SK, out.stdout + out.stderr)
            if remove_next == "AWS_ACCESS_KEY_ID":
                env.update(AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="")
            elif remove_next == "AWS_WEB_IDENTITY_TOKEN_FILE":
                env.update(AWS_WEB_IDENTITY_TOKEN_FILE="", AWS_ROLE_ARN="")
            elif remove_next == "AWS_SHARED_CREDENTIALS_FILE":
                os.unlink(os.path.join(self.dir, ".aws", "credentials"))
            elif remove_next == "AWS_CONTAINER_CREDENTIALS_FULL_URI":
                env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ""
            elif remove_next:
                env["AWS_EC2_METADATA_DISABLED"] = "true"
        # A provider that is configured but broken stops the start: no silent fall-through.
        bad = subprocess.run([binary("profgate"), "-t"], capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, **self.env(AWS_ACCESS_KEY_ID=AK,
                                                             AWS_CONTAINER_CREDENTIALS_FULL_URI="http://example.com/c")))
        self.assertEqual(bad.returncode, 78)
        self.assertIn("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together", bad.stderr)

    # ------------------------------------------------------------------ failures

    def test_failed_refreshes_are_survived(self):
        token = self.file("token", "jwt")
        gw = self.gateway(AWS_WEB_IDENTITY_TOKEN_FILE=token, AWS_ROLE_ARN=ROLE)

        def fail_two(n):
            if n == 2:  # the next refresh and its first retry fail with 503
                urllib.request.urlopen(urllib.request.Request(f"{self.sim_url}/_sim/creds/fail?n=2", method="POST"))
        self.rotate(gw, "webIdentity", during=fail_two)
        self.assertEqual(creds_stats(self.sim)["refused"], 2)
        self.assertEqual(metrics(gw.port)["profgate_credentials_refresh_failures_total"], 2)
        self.assertTrue("fetch failed: STS answered HTTP 503" in gw.text())
        self.assertIsNone(healthz(gw)["lastError"])  # cleared by the success that followed

    def test_no_valid_credentials_means_calls_wait_never_sign(self):
        token = self.file("token", "jwt")
        config = CONFIG + "deadline = 7s\n"
        gw = start_profgate("--upstream", self.sim_url, config=config,
                            env=self.env(AWS_WEB_IDENTITY_TOKEN_FILE=token, AWS_ROLE_ARN=ROLE))
        self.procs.append(gw)
        wait_for(lambda: healthz(gw)["valid"], 10, "first credentials")
        # STS now refuses the token: the credentials run out and nothing replaces them.
        self.file("token", "expired-jwt")
        wait_for(lambda: metrics(gw.port)["profgate_credentials_valid"] == 0, 15, "credentials to run out")
        before = stats(self.sim)["operations"]["GetProfile"]
        r = get(gw.port, fresh_path(), timeout=30)
        self.assertEqual(r.status, 503, r)
        self.assertIn("no valid AWS credentials", r.json()["message"])
        self.assertIn("ExpiredTokenException", r.json()["message"])
        self.assertEqual(stats(self.sim)["operations"]["GetProfile"], before)  # nothing went out
        self.assertEqual(creds_stats(self.sim)["signedCalls"]["expired"], 0)
        # A call waiting when credentials come back goes out signed with the new ones (retries
        # come at most 5 s apart while nothing can sign; the deadline is 7 s).
        self.file("token", "jwt-renewed")
        r = get(gw.port, fresh_path(), timeout=30)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(creds_stats(self.sim)["signedCalls"]["expired"], 0)
        self.assertEqual(creds_stats(self.sim)["lastWebIdentityToken"], "jwt-renewed")


if __name__ == "__main__":
    unittest.main()
