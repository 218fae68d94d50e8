"""profgate's upstream over HTTPS: nginx terminates TLS (with HTTP/2) in front of profgate-sim
using a self-signed certificate for 127.0.0.1. Certificate verification is on by default (the
call fails cleanly), upstream.ca_bundle makes it pass, and the transfer uses HTTP/2."""
import json
import os

import subprocess
import tempfile
import unittest
from datetime import datetime, timedelta, timezone

from harness import free_port, get, start_profgate, start_sim, wait_for
from test_http import assert_aws_error

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)



class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        os.chmod(cls.dir, 0o755)  # nginx workers run as www-data
        cls.cert, key = os.path.join(cls.dir, "cert.pem"), os.path.join(cls.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cls.cert],
                       check=True, capture_output=True)
        os.chmod(key, 0o644)
        cls.sim = start_sim("--clock", NOW.isoformat(), "--nodes", "100")
        cls.port = free_port()
        conf = os.path.join(cls.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 1;
pid {cls.dir}/nginx.pid;
error_log {cls.dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  log_format proto '$server_protocol $status $request_uri';
  access_log {cls.dir}/access.log proto;
  server {{
    listen 127.0.0.1:{cls.port} ssl http2;
    ssl_certificate {cls.cert};
    ssl_certificate_key {key};
    location / {{ proxy_pass http://127.0.0.1:{cls.sim.port}; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
""")
        subprocess.run(["nginx", "-c", conf], check=True)
        cls.nginx_pid = os.path.join(cls.dir, "nginx.pid")
        wait_for(lambda: os.path.exists(cls.nginx_pid), 10, "nginx")

    @classmethod
    def tearDownClass(cls):
        with open(cls.nginx_pid) as f:
            pid = int(f.read())
        os.kill(pid, 15)
        assert cls.sim.stop() == 0

    def path(self):
        s = NOW - timedelta(days=1)
        return f"/profilingGroups/tls/profile?startTime={s.strftime('%Y-%m-%dT%H:%M:%SZ')}&period=PT1H"

    def test_verification_is_on_by_default(self):
        gw = start_profgate("--upstream", f"https://127.0.0.1:{self.port}", "--clock", NOW.isoformat(),
                            config="[upstream]\nretries = 0\n")
        try:
            r = get(gw.port, self.path(), {"Accept": "application/json"})
            assert_aws_error(self, r, 503, "ServiceUnavailableException", "could not be reached")
            self.assertIn("certificate", r.json()["message"].lower())
        finally:
            self.assertEqual(gw.stop(), 0)

    def test_ca_bundle_and_http2(self):
        gw = start_profgate("--upstream", f"https://127.0.0.1:{self.port}", "--clock", NOW.isoformat(),
                            config=f"[upstream]\nca_bundle = {self.cert}\n")
        try:
            r = get(gw.port, self.path(), {"Accept": "application/json"})
            self.assertEqual(r.status, 200, r)
            direct = get(self.sim.port, self.path(), {"Accept": "application/json"})
            self.assertEqual(json.loads(r.body), json.loads(direct.body))
            def logged():
                # nginx writes its access log as it finishes the request, which may be just after
                # the client has the answer: wait for the line rather than read once.
                with open(os.path.join(self.dir, "access.log")) as f:
                    return [l for l in f.read().splitlines() if "/profilingGroups/tls/" in l]
            lines = wait_for(logged, 10, "nginx's access log line")
            self.assertTrue(all(l.startswith("HTTP/2.0 200") for l in lines), lines)
        finally:
            self.assertEqual(gw.stop(), 0)


if __name__ == "__main__":
    unittest.main()
