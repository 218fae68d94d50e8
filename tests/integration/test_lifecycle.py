"""The profgate process: command line, configuration errors and exit codes, readiness, and
graceful shutdown on SIGTERM and SIGINT with in-flight requests finishing and the loop closing."""
import os
import signal
import subprocess
import tempfile
import shutil
import unittest

from harness import Conn, Process, ROOT, binary, get, start_profgate


def run(*args):
    return subprocess.run([binary("profgate")] + list(args), capture_output=True, text=True, timeout=30)


def conf(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    f.write(text)
    f.close()
    return f.name


class CommandLine(unittest.TestCase):
    def test_help_and_version(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: profgate", p.stdout)
        self.assertIn("server.max_head_bytes", p.stdout)  # generated from the config table
        p = run("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^profgate \d+\.\d+\.\d+\n$")

    def test_usage_errors_exit_64(self):
        self.assertEqual(run("--bogus").returncode, 64)
        self.assertEqual(run("extra-arg").returncode, 64)
        p = run("--clock", "yesterday")
        self.assertEqual(p.returncode, 64)
        self.assertIn("--clock 'yesterday'", p.stderr)
        p = run("--log-level", "chatty", "-t")
        self.assertEqual(p.returncode, 64)
        self.assertIn("log.level", p.stderr)

    def test_config_errors_exit_78_with_file_and_line(self):
        path = conf("[server]\nmax_headers = 64\nmax_head_bytes = 1\n")
        p = run("-c", path)
        self.assertEqual(p.returncode, 78)
        self.assertIn(f"{path}:3: server.max_head_bytes: 1 is out of range", p.stderr)
        path = conf("[server]\nlisten_addr = 1.2.3.4:5\n")
        p = run("-t", "-c", path)
        self.assertEqual(p.returncode, 78)
        self.assertIn(f"{path}:2: unknown directive 'listen_addr'", p.stderr)
        p = run("-c", "/nonexistent.conf")
        self.assertEqual(p.returncode, 78)
        self.assertIn("cannot read the file", p.stderr)

    def test_check_config(self):
        p = run("-t", "-c", os.path.join(ROOT, "conf", "profgate.conf"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("is valid", p.stdout)

    def test_dump_config_is_the_shipped_example(self):
        with open(os.path.join(ROOT, "conf", "profgate.conf")) as f:
            self.assertEqual(run("--dump-config").stdout, f.read())

    def test_listen_failure_exits_71(self):
        gw = start_profgate()
        try:
            p = run("--listen", f"127.0.0.1:{gw.port}")
            self.assertEqual(p.returncode, 71)
            self.assertIn(f"cannot listen on 127.0.0.1 port {gw.port}", p.stderr)
        finally:
            self.assertEqual(gw.stop(), 0)


class Secrets(unittest.TestCase):
    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root to run profgate as nobody")
    def test_the_process_is_not_dumpable(self):
        # A dumpable process's /proc files belong to its user; a non-dumpable one's to root: the
        # kernel's own sign that no core dump and no same-user ptrace can reach its secrets.
        p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary("profgate"),
                              "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:9"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            line = ""
            while " ready" not in line:
                line = p.stdout.readline()
                self.assertNotEqual(line, "", "profgate exited")
            st = os.stat(f"/proc/{p.pid}/environ")
            self.assertEqual(st.st_uid, 0, "profgate (running as nobody) is dumpable")
        finally:
            p.terminate()
            self.assertEqual(p.wait(15), 0)
            p.stdout.close()


class Shutdown(unittest.TestCase):
    def test_sigterm_closes_idle_and_finishes_in_flight(self):
        gw = start_profgate(config="[server]\nshutdown_timeout = 5s\n")
        idle = Conn(gw.port)
        self.assertEqual(idle.get("/healthz").status, 200)
        busy = Conn(gw.port)
        # One write holding a whole request and the start of another: once the first is
        # answered, the server has read (and parsed) the start of the second.
        busy.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n")
        self.assertEqual(busy.read_response().status, 200)
        fresh_port = gw.port
        gw.signal(signal.SIGTERM)
        self.assertTrue(idle.closed_by_peer())  # idle keep-alive connections go at once
        busy.send("\r\n")  # the in-flight request completes and is answered, with close
        r = busy.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Connection"), "close")
        self.assertTrue(busy.closed_by_peer())
        self.assertEqual(gw.wait_exit(), 0)  # 0: every handle closed
        with self.assertRaises(ConnectionRefusedError):
            Conn(fresh_port)
        log = gw.text()
        self.assertIn("graceful shutdown", log)
        self.assertIn("server closed; exiting", log)
        self.assertNotIn("handle still open", log)
        idle.close()
        busy.close()

    def test_deadline_closes_stuck_requests(self):
        gw = start_profgate(config="[server]\nshutdown_timeout = 300ms\nhead_timeout = 60s\n")
        stuck = Conn(gw.port, timeout=10)
        stuck.send("GET /healthz HTTP/1.1\r\n")  # never finished
        self.assertEqual(get(gw.port, "/healthz").status, 200)  # the server saw both connections
        gw.signal(signal.SIGINT)
        self.assertEqual(gw.wait_exit(), 0)
        self.assertTrue(stuck.closed_by_peer())
        self.assertIn("shutdown deadline reached: closing 1 connection(s)", gw.text())
        stuck.close()


if __name__ == "__main__":
    unittest.main()
