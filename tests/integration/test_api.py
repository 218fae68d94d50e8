"""The service's other operations through profgate, with boto3 and the AWS CLI against the
simulator: every read answers what the simulator answers directly (bodies, errors and the
upstream's request id); a repeated read within api.read_ttl, and concurrent identical reads, cost
one upstream call; writes are refused with AccessDeniedException by default, and with
api.writes = on each of the twelve goes through once, changes what the reads then show (the read
cache is emptied), and is never repeated after a failure the service may have carried out.
Tenants' access is tested in test_tenants.py."""
import json
import os
import subprocess
import threading
import unittest
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from harness import CREDS, boto3_client as client, get, get_many, start_profgate, start_sim, wait_for

NOW = "2026-11-20T10:07:30Z!"
GROUPS = "team-a-web,team-a-db,team-b-api,shared,zeta"
ARN = "arn:aws:codeguru-profiler:us-east-1:123456789012:profilingGroup/{}"
START, END = datetime(2026, 11, 15, tzinfo=timezone.utc), datetime(2026, 11, 20, tzinfo=timezone.utc)


# Every read operation, with arguments boto3 takes.
READS = {
    "list_profiling_groups": {},
    "describe_profiling_group": {"profilingGroupName": "team-a-web"},
    "get_policy": {"profilingGroupName": "team-a-db"},
    "get_notification_configuration": {"profilingGroupName": "shared"},
    "get_recommendations": {"profilingGroupName": "team-b-api", "startTime": START, "endTime": END},
    "list_findings_reports": {"profilingGroupName": "zeta", "startTime": START, "endTime": END, "maxResults": 2},
    "get_findings_report_account_summary": {"maxResults": 3},
    "batch_get_frame_metric_data": {"profilingGroupName": "team-a-web", "startTime": START, "endTime": END,
                                    "targetResolution": "P1D", "frameMetrics": [
                                        {"frameName": "java.lang.Thread.run", "threadStates": ["RUNNABLE"],
                                         "type": "AggregatedRelativeTotalTime"}]},
    "list_tags_for_resource": {"resourceArn": ARN.format("team-b-api")},
}


def strip(r):
    r = dict(r)
    r.pop("ResponseMetadata", None)
    return r


class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = start_sim("--clock", NOW, "--groups", GROUPS, "--latency-ms", "100")
        cls.gw = start_profgate("--clock", NOW, "--upstream", f"http://127.0.0.1:{cls.sim.port}",
                                config="[api]\nread_ttl = 1h\n")

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0
        assert cls.sim.stop() == 0

    def api_calls(self, name=None):
        ops = get(self.sim.port, "/_sim/stats").json()["apiOperations"]
        return sum(ops.values()) if name is None else ops[name]

    def test_every_read_answers_what_the_service_answers_then_from_cache(self):
        mine, theirs = client(self.gw.port), client(self.sim.port)
        for op, kw in READS.items():
            want = strip(getattr(theirs, op)(**kw))
            before = self.api_calls()
            got = getattr(mine, op)(**kw)
            self.assertEqual(strip(got), want, op)
            self.assertEqual(self.api_calls() - before, 1, op)
            # The upstream's request id is the answer's; profgate's own goes alongside.
            hdrs = got["ResponseMetadata"]["HTTPHeaders"]
            self.assertIn("x-profgate-request-id", hdrs, op)
            self.assertNotEqual(got["ResponseMetadata"]["RequestId"], hdrs["x-profgate-request-id"], op)
            # Again within read_ttl: the same answer, no upstream call.
            before = self.api_calls()
            self.assertEqual(strip(getattr(mine, op)(**kw)), want, op)
            self.assertEqual(self.api_calls() - before, 0, op)
        # The lists cover the world, page by page with the service's nextToken.
        names, kw, pages = [], {"maxResults": 2}, 0
        while True:
            page = mine.list_profiling_groups(**kw)
            names += page["profilingGroupNames"]
            pages += 1
            if "nextToken" not in page:
                break
            kw["nextToken"] = page["nextToken"]
        self.assertEqual(names, sorted(GROUPS.split(",")))
        self.assertEqual(pages, 3)

    def test_errors_come_back_as_the_service_gave_them(self):
        mine, theirs = client(self.gw.port), client(self.sim.port)
        for op, kw in (("describe_profiling_group", {"profilingGroupName": "nobody"}),
                       ("get_recommendations", {"profilingGroupName": "zeta", "startTime": END, "endTime": START})):
            errs = []
            for c in (theirs, mine):
                with self.assertRaises(ClientError) as cm:
                    getattr(c, op)(**kw)
                errs.append(cm.exception.response)
            self.assertEqual(errs[1]["Error"], errs[0]["Error"], op)
            self.assertEqual(errs[1]["ResponseMetadata"]["HTTPStatusCode"],
                             errs[0]["ResponseMetadata"]["HTTPStatusCode"], op)

    def test_concurrent_identical_reads_share_one_call(self):
        before = self.api_calls("GetPolicy")
        out = get_many(self.gw.port, "/profilingGroups/zeta/policy", 8)
        self.assertEqual([r.status for r in out], [200] * 8)
        self.assertEqual(len({r.body for r in out}), 1)
        self.assertEqual(self.api_calls("GetPolicy") - before, 1)

    def test_writes_are_refused(self):
        mine = client(self.gw.port)
        before = self.api_calls()
        writes = {
            "create_profiling_group": {"profilingGroupName": "new", "clientToken": "t1"},
            "delete_profiling_group": {"profilingGroupName": "zeta"},
            "update_profiling_group": {"profilingGroupName": "zeta",
                                       "agentOrchestrationConfig": {"profilingEnabled": False}},
            "put_permission": {"profilingGroupName": "zeta", "actionGroup": "agentPermissions",
                               "principals": ["arn:aws:iam::123456789012:root"]},
            "remove_permission": {"profilingGroupName": "zeta", "actionGroup": "agentPermissions",
                                  "revisionId": "r"},
            "add_notification_channels": {"profilingGroupName": "zeta", "channels": [
                {"uri": "arn:aws:sns:us-east-1:123456789012:t", "eventPublishers": ["AnomalyDetection"]}]},
            "remove_notification_channel": {"profilingGroupName": "zeta", "channelId": "c"},
            "configure_agent": {"profilingGroupName": "zeta"},
            "post_agent_profile": {"profilingGroupName": "zeta", "agentProfile": b"{}", "contentType": "application/json"},
            "submit_feedback": {"profilingGroupName": "zeta", "anomalyInstanceId": "a", "type": "Positive"},
            "tag_resource": {"resourceArn": ARN.format("zeta"), "tags": {"k": "v"}},
            "untag_resource": {"resourceArn": ARN.format("zeta"), "tagKeys": ["k"]},
        }
        for op, kw in writes.items():
            with self.assertRaises(ClientError) as cm:
                getattr(mine, op)(**kw)
            self.assertEqual(cm.exception.response["Error"]["Code"], "AccessDeniedException", op)
            self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403, op)
        self.assertEqual(self.api_calls() - before, 0)

    def test_the_aws_cli_lists_groups_through_profgate(self):
        env = dict(os.environ, **CREDS)
        outs = []
        for port in (self.gw.port, self.sim.port):
            p = subprocess.run(["aws", "codeguruprofiler", "list-profiling-groups", "--include-description",
                                "--output", "json", "--endpoint-url", f"http://127.0.0.1:{port}"],
                               env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            outs.append(json.loads(p.stdout))
        self.assertEqual(outs[0], outs[1])
        self.assertEqual(len(outs[0]["profilingGroups"]), 5)



class HostileUpstream(unittest.TestCase):
    def test_an_error_type_passes_on_only_as_a_shape_name(self):
        # An upstream (or something posing as one) answering with bytes of its choosing in
        # x-amzn-ErrorType: profgate passes on the shape name alone, never the other bytes.
        import http.server

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b'{"message":"no such group"}'
                self.send_response(404)
                self.send_header("x-amzn-ErrorType", "aws.api#Resource\x1bNot Found\"Exception:http://evil/")
                self.send_header("x-amzn-RequestId", "upstream-rid-1")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        gw = start_profgate("--upstream", f"http://127.0.0.1:{srv.server_address[1]}")
        try:
            r = get(gw.port, "/profilingGroups/zeta")
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.header("x-amzn-ErrorType"), "ResourceNotFoundException")
            self.assertEqual(r.header("x-amzn-RequestId"), "upstream-rid-1")
            self.assertEqual(r.json()["message"], "no such group")
        finally:
            self.assertEqual(gw.stop(), 0)
            srv.shutdown()
            srv.server_close()


class Budgets(unittest.TestCase):
    """Each operation has its own budget (upstream.op_rate, op_burst), and GetProfile's calls never
    wait behind another operation's."""

    def test_an_operations_budget_paces_it_alone(self):
        sim = start_sim("--groups", GROUPS, "--nodes", "50")
        gw = start_profgate("--upstream", f"http://127.0.0.1:{sim.port}",
                            config="[api]\nread_ttl = 0s\n[upstream]\nop_rate = 2\nop_burst = 2\n")
        try:
            done = []
            lock = threading.Lock()

            def read(i):
                r = get(gw.port, f"/profilingGroups?maxResults={i + 1}", timeout=60)  # distinct: never shared
                with lock:
                    done.append(("read", r.status))

            threads = [threading.Thread(target=read, args=(i,)) for i in range(10)]
            for t in threads:
                t.start()
            # Once the reads queue behind their budget, a GetProfile goes straight through.
            wait_for(lambda: get(gw.port, "/healthz").json()["upstream"]["queued"] >= 5, 10, "reads to queue")
            r = get(gw.port, "/profilingGroups/zeta/profile?period=PT5M", {"Accept": "application/json"}, timeout=60)
            with lock:
                done.append(("profile", r.status))
            for t in threads:
                t.join()
            self.assertEqual(sorted(done), [("profile", 200)] + [("read", 200)] * 10)
            self.assertLess(done.index(("profile", 200)), len(done) - 1, "GetProfile waited for the reads' budget")
            st = get(sim.port, "/_sim/stats").json()
            self.assertEqual(st["apiOperations"]["ListProfilingGroups"], 10)
            # Burst 2, then 2 a second: never more than 4 in a second (rate + burst), and it took
            # the budget's time, not less.
            self.assertLessEqual(st["maxRequestsInASecond"], 2 + 2 + 1, st["requestsPerSecond"])  # + the GetProfile
            self.assertGreaterEqual(len([n for n in st["requestsPerSecond"].values() if n > 0]), 3)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)


class Writes(unittest.TestCase):
    """api.writes = on: the twelve writes through profgate change the simulator's world."""

    @classmethod
    def setUpClass(cls):
        cls.sim = start_sim("--clock", NOW, "--groups", GROUPS)
        cls.gw = start_profgate("--clock", NOW, "--upstream", f"http://127.0.0.1:{cls.sim.port}",
                                config="[api]\nwrites = on\nread_ttl = 1h\n")
        cls.c = client(cls.gw.port)

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0
        assert cls.sim.stop() == 0

    def calls(self, op):
        return get(self.sim.port, "/_sim/stats").json()["apiOperations"][op]

    def test_writes_change_what_reads_show(self):
        c = self.c
        # Reads cached for an hour first: each write must still show in the next read.
        self.assertNotIn("fresh", c.list_profiling_groups()["profilingGroupNames"])
        r = c.create_profiling_group(profilingGroupName="fresh", computePlatform="AWSLambda",
                                     tags={"team": "new"})
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 201)
        self.assertEqual(r["profilingGroup"]["computePlatform"], "AWSLambda")
        self.assertIn("fresh", c.list_profiling_groups()["profilingGroupNames"])
        with self.assertRaises(ClientError) as cm:
            c.create_profiling_group(profilingGroupName="fresh")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ConflictException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 409)
        c.update_profiling_group(profilingGroupName="fresh", agentOrchestrationConfig={"profilingEnabled": False})
        d = c.describe_profiling_group(profilingGroupName="fresh")["profilingGroup"]
        self.assertFalse(d["agentOrchestrationConfig"]["profilingEnabled"])
        self.assertFalse(c.configure_agent(profilingGroupName="fresh")["configuration"]["shouldProfile"])
        # Permissions, with the policy's revision.
        p = c.put_permission(profilingGroupName="fresh", actionGroup="agentPermissions",
                             principals=["arn:aws:iam::123456789012:role/writer"])
        self.assertIn("role/writer", c.get_policy(profilingGroupName="fresh")["policy"])
        c.remove_permission(profilingGroupName="fresh", actionGroup="agentPermissions", revisionId=p["revisionId"])
        with self.assertRaises(ClientError) as cm:
            c.get_policy(profilingGroupName="fresh")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceNotFoundException")
        # Notification channels.
        n = c.add_notification_channels(profilingGroupName="fresh", channels=[
            {"uri": "arn:aws:sns:us-east-1:123456789012:t", "eventPublishers": ["AnomalyDetection"]}])
        cid = n["notificationConfiguration"]["channels"][0]["id"]
        self.assertEqual(len(c.get_notification_configuration(profilingGroupName="fresh")
                             ["notificationConfiguration"]["channels"]), 1)
        c.remove_notification_channel(profilingGroupName="fresh", channelId=cid)
        self.assertEqual(c.get_notification_configuration(profilingGroupName="fresh")
                         ["notificationConfiguration"]["channels"], [])
        # Tags, by ARN.
        arn = ARN.format("fresh")
        c.tag_resource(resourceArn=arn, tags={"env": "prod"})
        self.assertEqual(c.list_tags_for_resource(resourceArn=arn)["tags"], {"team": "new", "env": "prod"})
        c.untag_resource(resourceArn=arn, tagKeys=["team"])
        self.assertEqual(c.list_tags_for_resource(resourceArn=arn)["tags"], {"env": "prod"})
        # The agent's own calls.
        c.post_agent_profile(profilingGroupName="fresh", agentProfile=b"\xe0\x01\x00\xea",
                             contentType="application/x-amzn-ion")
        self.assertEqual(get(self.sim.port, "/_sim/stats").json()["lastBodyType"], "application/x-amzn-ion")
        c.submit_feedback(profilingGroupName="fresh", anomalyInstanceId="a-1", type="Positive")
        # Gone: its reads say so, and its profiles too.
        c.delete_profiling_group(profilingGroupName="fresh")
        with self.assertRaises(ClientError) as cm:
            c.describe_profiling_group(profilingGroupName="fresh")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceNotFoundException")
        self.assertNotIn("fresh", c.list_profiling_groups()["profilingGroupNames"])
        # Every write went to the service exactly once.
        for op in ("UpdateProfilingGroup", "PutPermission", "RemovePermission", "AddNotificationChannels",
                   "RemoveNotificationChannel", "TagResource", "UntagResource", "PostAgentProfile", "SubmitFeedback",
                   "DeleteProfilingGroup", "ConfigureAgent"):
            self.assertEqual(self.calls(op), 1, op)
        self.assertEqual(self.calls("CreateProfilingGroup"), 2)  # the second one: the conflict

    def test_a_failed_write_is_not_repeated(self):
        sim = start_sim("--clock", NOW, "--groups", GROUPS, "--fail-rate", "1")
        gw = start_profgate("--clock", NOW, "--upstream", f"http://127.0.0.1:{sim.port}",
                            config="[api]\nwrites = on\n[upstream]\nretries = 2\nbackoff_base = 10ms\n")
        try:
            c = client(gw.port)
            for op, kw in (("create_profiling_group", {"profilingGroupName": "x", "clientToken": "t"}),
                           ("describe_profiling_group", {"profilingGroupName": "zeta"})):
                with self.assertRaises(ClientError) as cm:
                    getattr(c, op)(**kw)
                self.assertEqual(cm.exception.response["Error"]["Code"], "InternalServerException")
            ops = get(sim.port, "/_sim/stats").json()["apiOperations"]
            self.assertEqual(ops["CreateProfilingGroup"], 1)  # the service may have created it: once
            self.assertEqual(ops["DescribeProfilingGroup"], 3)  # a read is retried (upstream.retries = 2)
        finally:
            self.assertEqual(gw.stop(), 0)
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main()
