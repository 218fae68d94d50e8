"""server.workers: one profgate supervising several worker processes on one port (SO_REUSEPORT),
with real processes throughout: the supervisor and its workers, redis-server and the simulator.
Checked: connections reach every worker; each is a fleet member; one /metrics shows every
worker; a worker that dies is restarted; SIGHUP reaches every worker and SIGTERM stops them all;
workers end with their supervisor; and without Redis more than one worker is refused."""
import math
import os
import re
import signal
import subprocess
import tempfile
import unittest

from harness import Redis, binary, get, metrics, start_profgate, start_sim, wait_for

STARTED = re.compile(r"worker (\d+) (?:started|restarted) \(pid (\d+)\)")


def alive(pid):
    """Whether pid runs (a zombie waiting for its parent to reap it does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def read(path):
    with open(path) as f:
        return f.read()


def cgroup_cpus():
    """The CPU limit of this test's cgroup, read independently of profgate (0: none)."""
    try:
        quota, period = read("/sys/fs/cgroup/cpu.max").split()
        return 0 if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"))
        period = int(read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
        return 0 if quota < 0 else quota / period
    except (OSError, ValueError):
        return 0


class Workers(unittest.TestCase):
    def setUp(self):
        self.redis = Redis()
        self.procs = []
        self.files = []

    def tearDown(self):
        for p in self.procs:
            if p.proc.poll() is None:
                p.signal(signal.SIGTERM)
                rc = p.wait_exit(30)
                self.assertEqual(rc, 0, f"{p.name} exited with {rc}: ...{p.text()[-3000:]}")
            if os.path.exists(p.log.name):
                os.unlink(p.log.name)
        for f in self.files:
            if os.path.exists(f):
                os.unlink(f)
        self.redis.stop()

    def conf(self, text):
        f = tempfile.NamedTemporaryFile("w", prefix="profgate-", suffix=".conf", delete=False)
        f.write(text)
        f.close()
        self.files.append(f.name)
        return f.name

    def start(self, n=3, extra="", *args):
        path = self.conf(f"[server]\nworkers = {n}\n[redis]\nurl = redis://127.0.0.1:{self.redis.port}\n{extra}")
        gw = start_profgate("-c", path, *args)
        self.procs.append(gw)
        gw.conf = path
        return gw

    @staticmethod
    def pids(gw):
        """{worker index: pid} as the supervisor last started them."""
        out = {}
        for index, pid in STARTED.findall(gw.text()):
            out[int(index)] = int(pid)
        return out

    @staticmethod
    def reach_every_worker(gw, n, tries=300):
        """Asks /healthz on fresh connections until every worker answered; {index: pid}."""
        seen = {}
        for _ in range(tries):
            w = get(gw.port, "/healthz").json()["worker"]
            seen[w["index"]] = w["pid"]
            if len(seen) == n:
                return seen
        raise AssertionError(f"only workers {sorted(seen)} of {n} answered in {tries} connections")

    def test_more_than_one_worker_needs_redis(self):
        path = self.conf("[server]\nworkers = 3\n")
        for extra in ([], ["-t"]):
            p = subprocess.run([binary("profgate"), "-c", path, "--listen", "127.0.0.1:0"] + extra,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 78, p.stderr)
            self.assertIn("server.workers = 3 needs redis.url with fleet.enabled = on", p.stderr)
        # The fleet switched off is refused the same way: workers would each spend the budget.
        path = self.conf(f"[server]\nworkers = 2\n[redis]\nurl = redis://127.0.0.1:{self.redis.port}\n"
                         "[fleet]\nenabled = off\n")
        p = subprocess.run([binary("profgate"), "-t", "-c", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 78, p.stderr)

    def test_auto_counts_the_cpus_this_process_may_use(self):
        path = self.conf(f"[server]\nworkers = auto\n[redis]\nurl = redis://127.0.0.1:{self.redis.port}\n")
        one = subprocess.run(["taskset", "-c", "0", binary("profgate"), "-t", "-c", path],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(one.returncode, 0, one.stderr)
        self.assertNotIn("workers under a supervisor", one.stdout)  # one CPU: one process
        cpus = sorted(os.sched_getaffinity(0))
        quota = cgroup_cpus()
        if len(cpus) < 2 or (quota and math.ceil(quota) < 2):
            self.skipTest("fewer than two usable CPUs here")
        two = subprocess.run(["taskset", "-c", f"{cpus[0]},{cpus[1]}", binary("profgate"), "-t", "-c", path],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(two.returncode, 0, two.stderr)
        self.assertIn("2 workers under a supervisor", two.stdout)

    def test_workers_share_the_port_the_fleet_and_one_metrics_page(self):
        sim = start_sim("--nodes", "50")
        self.procs.append(sim)
        gw = self.start(3, "", "--upstream", f"http://127.0.0.1:{sim.port}")
        started = self.pids(gw)
        self.assertEqual(sorted(started), [1, 2, 3])
        self.assertNotIn(gw.proc.pid, started.values())
        # The kernel spreads new connections over the three listeners.
        self.assertEqual(self.reach_every_worker(gw, 3), started)
        # Each worker is a fleet member, like a replica.
        wait_for(lambda: get(gw.port, "/healthz").json()["fleet"]["members"] == 3, 10, "3 fleet members")
        # A GetProfile through any worker is an ordinary answer.
        r = get(gw.port, "/profilingGroups/w/profile?period=PT1H", {"Accept": "application/json"}, timeout=30)
        self.assertEqual(r.status, 200, r)
        # Any one scrape shows every worker, each series labelled.
        m = wait_for(lambda: (lambda m: all(f'profgate_fleet_members{{worker="{i}"}}' in m for i in (1, 2, 3))
                              and m)(metrics(gw.port)), 10, "every worker in /metrics")
        self.assertEqual(sum(v for k, v in m.items() if k.startswith("profgate_ready{")), 3)
        # Their log lines say whose they are.
        self.assertRegex(gw.text(), r"\[worker 2\] worker 2 of 3 \(pid \d+\) serving")

    def test_a_worker_that_dies_is_restarted(self):
        gw = self.start(3)
        old = self.pids(gw)
        os.kill(old[2], signal.SIGKILL)
        wait_for(lambda: f"worker 2 (pid {old[2]}) died: killed by signal 9" in gw.text(), 10, "the death noticed")
        new = wait_for(lambda: self.pids(gw)[2] != old[2] and self.pids(gw)[2], 10, "worker 2 restarted")
        self.assertTrue(alive(new))
        self.assertEqual(self.reach_every_worker(gw, 3), {1: old[1], 2: new, 3: old[3]})
        # Until it published again, scrapes left the dead worker out; now it is back.
        wait_for(lambda: 'profgate_ready{worker="2"}' in metrics(gw.port), 10, "worker 2 in /metrics")
        self.assertIsNone(gw.proc.poll())

    def test_sighup_reaches_every_worker_and_sigterm_stops_them(self):
        pid_file = os.path.join(tempfile.mkdtemp(), "profgate.pid")
        gw = self.start(3, "", "--pid-file", pid_file)
        self.assertEqual(int(read(pid_file)), gw.proc.pid)  # the supervisor's, not a worker's
        with open(gw.conf, "a") as f:
            f.write("[log]\naccess = off\n")
        gw.signal(signal.SIGHUP)
        key = 'profgate_config_reloads_total{worker="%d",result="ok"}'
        m = wait_for(lambda: (lambda m: all(m.get(key % i) == 1 for i in (1, 2, 3)) and m)(metrics(gw.port)),
                     10, "every worker to reload once")
        self.assertTrue(all(m.get('profgate_config_reloads_total{worker="%d",result="failed"}' % i) == 0
                            for i in (1, 2, 3)))
        pids = self.pids(gw)
        gw.signal(signal.SIGTERM)
        self.assertEqual(gw.wait_exit(30), 0, gw.text()[-3000:])
        self.assertFalse(any(alive(p) for p in pids.values()))
        self.assertFalse(os.path.exists(pid_file))
        self.assertEqual(len(re.findall(r"worker \d \(pid \d+\) exited: exit status 0", gw.text())), 3)

    def test_workers_end_with_their_supervisor(self):
        gw = self.start(2)
        pids = self.pids(gw)
        gw.proc.kill()
        gw.proc.wait()
        wait_for(lambda: not any(alive(p) for p in pids.values()), 20, "the orphaned workers to stop")

    def test_a_failed_start_stops_every_worker(self):
        # The pid file cannot be written: the supervisor finds out once the workers listen, and
        # stops them rather than run without it.
        path = self.conf(f"[server]\nworkers = 2\n[redis]\nurl = redis://127.0.0.1:{self.redis.port}\n")
        p = subprocess.run([binary("profgate"), "-c", path, "--listen", "127.0.0.1:0", "--upstream",
                            "http://127.0.0.1:9", "--pid-file", "/nonexistent/dir/profgate.pid"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 73, p.stderr[-3000:])
        for index, pid in STARTED.findall(p.stderr):
            self.assertFalse(alive(int(pid)), f"worker {index} outlived its supervisor")


if __name__ == "__main__":
    unittest.main()
