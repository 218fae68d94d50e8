"""Real AWS clients against profgate: boto3 and the AWS CLI must turn profgate's errors into
the modeled ValidationException, exactly as they do against AWS."""
import os
import subprocess
import tempfile
import unittest

import boto3
import botocore.config

from harness import start_profgate, start_sim

CREDS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
         "AWS_DEFAULT_REGION": "us-east-1"}


class Boto3(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = start_sim("--clock", "2026-11-25T12:00:00Z", "--nodes", "200")
        cls.gw = start_profgate("--clock", "2026-11-25T12:00:00Z", "--upstream", f"http://127.0.0.1:{cls.sim.port}")
        cls.client = boto3.client(
            "codeguruprofiler", endpoint_url=f"http://127.0.0.1:{cls.gw.port}", region_name="us-east-1",
            aws_access_key_id=CREDS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDS["AWS_SECRET_ACCESS_KEY"],
            config=botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0
        assert cls.sim.stop() == 0

    def expect_validation(self, part, **kwargs):
        with self.assertRaises(self.client.exceptions.ValidationException) as cm:
            self.client.get_profile(**kwargs)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], "ValidationException")
        self.assertIn(part, err["Message"])
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertRegex(cm.exception.response["ResponseMetadata"]["RequestId"], r"^[0-9a-f-]{36}$")

    def test_modeled_validation_exceptions(self):
        from datetime import datetime, timedelta, timezone
        t0 = datetime(2026, 11, 20, 13, 0, tzinfo=timezone.utc)
        self.expect_validation("years are not supported", profilingGroupName="g", period="P1Y")
        self.expect_validation("endTime must be after startTime", profilingGroupName="g",
                               startTime=t0, endTime=t0 - timedelta(hours=1))
        self.expect_validation("must not be longer than 7 days", profilingGroupName="g",
                               startTime=t0 - timedelta(days=8), endTime=t0)
        self.expect_validation("startTime was given without endTime or period", profilingGroupName="g", startTime=t0)
        self.expect_validation("regular expression pattern", profilingGroupName="bad.name", period="PT1H")
        self.expect_validation("Member must have value less than or equal to 10000", profilingGroupName="g",
                               period="PT1H", maxDepth=20000)
        self.expect_validation("Accept header", profilingGroupName="g", period="PT1H", accept="text/csv")

    def test_valid_request_is_answered(self):
        import json
        from datetime import datetime, timezone
        r = self.client.get_profile(profilingGroupName="my-group",
                                    startTime=datetime(2026, 11, 24, 13, 0, tzinfo=timezone.utc),
                                    endTime=datetime(2026, 11, 24, 14, 15, 2, 1000, tzinfo=timezone.utc),
                                    maxDepth=100, accept="application/json")
        self.assertEqual(r["contentType"], "application/json")
        p = json.loads(r["profile"].read())
        # Covered range: 13:00 to 14:20 (rounded out to 5 minutes): an hour and four 5-minute buckets.
        self.assertEqual(p["end"] - p["start"], 80 * 60 * 1000)
        self.assertEqual(p["agentMetadata"]["durationInMs"], 80 * 60 * 1000)


class AwsCli(unittest.TestCase):
    def test_cli_reports_validation_exception(self):
        gw = start_profgate()
        try:
            env = dict(os.environ, **CREDS)
            out = os.path.join(tempfile.mkdtemp(), "profile.out")
            p = subprocess.run(["aws", "codeguruprofiler", "get-profile", "--profiling-group-name", "g",
                                "--period", "P1Y", out, "--endpoint-url", f"http://127.0.0.1:{gw.port}"],
                               env=env, capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("(ValidationException)", p.stderr)
            self.assertIn("years are not supported", p.stderr)
            self.assertFalse(os.path.exists(out))
        finally:
            self.assertEqual(gw.stop(), 0)


if __name__ == "__main__":
    unittest.main()
