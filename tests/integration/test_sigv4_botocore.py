"""profgate's SigV4 against botocore's SigV4Auth, an independent implementation: random requests
(paths and query strings full of characters that need encoding, repeated and empty parameters,
header values with odd whitespace) must get identical signatures; and requests botocore signs must
pass profgate-sim's verification (which canonicalizes received requests with the same code)."""
import os
import random
import string
import subprocess
import unittest
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness import Conn, ROOT, start_sim

TOOL = os.environ.get("SIGV4_SIGN_BIN") or os.path.join(ROOT, "build", "tests", "sigv4_sign")
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ALPHABET = string.ascii_letters + string.digits + "-._~ !$&'()*+,;=:@/?%\u00e9\u4e2d"


def rand_text(rng, lo, hi):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(lo, hi)))


def enc(s):
    # botocore's serializer: percent-encode all but the unreserved set.
    return quote(s, safe="-_.~")


def botocore_sig(method, url, headers, amz_date, region, service):
    req = AWSRequest(method=method, url=url, headers=headers)
    req.context["timestamp"] = amz_date
    auth = SigV4Auth(Credentials("AKIDEXAMPLE", SECRET), service, region)
    cr = auth.canonical_request(req)
    sts = auth.string_to_sign(req, cr)
    return auth.signature(sts, req)


class Randomized(unittest.TestCase):
    def test_signatures_match_botocore(self):
        rng = random.Random(20261125)
        cases, expect = [], []
        for i in range(400):
            segs = [enc(rand_text(rng, 0, 8)) for _ in range(rng.randint(1, 4))]
            path = "/" + "/".join(segs)
            params = [(enc(rand_text(rng, 1, 6)), enc(rand_text(rng, 0, 10))) for _ in range(rng.randint(0, 5))]
            if params and rng.random() < 0.3:
                params.append((params[0][0], enc(rand_text(rng, 0, 4))))  # a repeated key
            query = "&".join(f"{k}={v}" for k, v in params)
            target = path + ("?" + query if query else "")
            host = rng.choice(["example.amazonaws.com", "127.0.0.1:44881", "codeguru-profiler.eu-west-1.amazonaws.com"])
            amz_date = f"2026{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}" \
                       f"{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}Z"
            headers = {"Host": host, "X-Amz-Date": amz_date}
            if rng.random() < 0.7:
                headers["Accept"] = rng.choice(["application/json", "application/x-amzn-ion", "  a   b  "])
            if rng.random() < 0.3:
                headers["X-Amz-Security-Token"] = rand_text(rng, 10, 40).replace("|", "")
            region = rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2"])
            service = rng.choice(["codeguru-profiler", "service"])
            method = rng.choice(["GET", "GET", "POST"])
            expect.append(botocore_sig(method, "https://" + host + target, dict(headers), amz_date, region, service))
            hdrs = "|".join(f"{k}:{v}" for k, v in headers.items())
            cases.append("\t".join([method, target, hdrs, amz_date, region, service, SECRET]))
        p = subprocess.run([TOOL], input="\n".join(cases) + "\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = p.stdout.split()
        self.assertEqual(len(got), len(expect))
        for i, (g, e) in enumerate(zip(got, expect)):
            self.assertEqual(g, e, f"case {i}: {cases[i][:200]!r}")

    def test_sim_accepts_what_botocore_signs(self):
        # Requests signed by botocore with encoded characters in the query must verify.
        sim = start_sim("--access-key", "AKIDEXAMPLE", "--secret-key", SECRET)
        try:
            from datetime import datetime, timezone
            rng = random.Random(7)
            for _ in range(30):
                extra = enc(rand_text(rng, 1, 8))
                target = f"/profilingGroups/g-{rng.randint(1, 9)}/profile?period=PT5M&x{rng.randint(0, 9)}={extra}"
                amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
                host = f"127.0.0.1:{sim.port}"
                headers = {"Host": host, "X-Amz-Date": amz_date, "Accept": "application/json"}
                req = AWSRequest(method="GET", url=f"http://{host}{target}", headers=headers)
                req.context["timestamp"] = amz_date
                auth = SigV4Auth(Credentials("AKIDEXAMPLE", SECRET), "codeguru-profiler", "us-east-1")
                auth.add_auth(req)
                c = Conn(sim.port)
                r = c.get(target, dict(req.headers.items()))  # Host included, exactly as signed
                c.close()
                self.assertEqual(r.status, 200, (target, r.body[:300]))
        finally:
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main()
