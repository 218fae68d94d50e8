"""Shared helpers for profgate integration tests.

Starts real processes on free loopback ports (port 0, then reads the bound port from the log),
waits for readiness by polling their log, and always stops them. Provides a small raw HTTP/1.1
client so tests can send exactly the bytes they mean, including malformed ones.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def binary(name):
    env = {"profgate": "PROFGATE_BIN", "profgate-sim": "PROFGATE_SIM_BIN"}[name]
    path = os.environ.get(env) or os.path.join(ROOT, "build", name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{name} not built: set {env} or build into {ROOT}/build")
    return path


def wait_for(pred, timeout=10.0, what="condition"):
    """Polls pred() until it returns a truthy value; fails after timeout. Used only for readiness
    of external processes, never as a substitute for a response we can wait on directly."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Process:
    """A program under test, its stderr captured to a file that tests can read."""

    def __init__(self, name, args, env=None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=name + "-", suffix=".log", delete=False)
        full_env = dict(os.environ)
        # Not on EC2: a gateway with no other credentials would wait for instance metadata at
        # 169.254.169.254. Tests that exercise IMDS point it at the simulator explicitly.
        full_env["AWS_EC2_METADATA_DISABLED"] = "true"
        full_env.update(env or {})
        self.proc = subprocess.Popen([binary(name)] + list(args), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, env=full_env)
        self.log.close()  # the child holds its own descriptor
        self.addrs = []

    def text(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def wait_ready(self, timeout=10.0):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.text()}")
            t = self.text()
            return " ready" in t and t
        t = wait_for(ready, timeout, f"{self.name} to be ready")
        self.addrs = re.findall(r"listening on ([0-9a-f.:\[\]]+)", t)
        return self

    @property
    def port(self):
        return int(self.addrs[0].rsplit(":", 1)[1])

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=15.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not exit in {timeout}s:\n{self.text()}")

    def stop(self):
        """Graceful stop; asserts a clean exit (0 means every handle closed and, under ASan, no
        leak was reported)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit()
        if rc != 0:
            # The caller asserts rc; what the program said (a sanitizer's report) must not go with
            # the file.
            lines = [l for l in self.text().splitlines() if " access " not in l]
            sys.stderr.write(f"--- {self.name} exited with {rc}; its log but access lines:\n" +
                             "\n".join(lines[-300:]) + "\n")
        os.unlink(self.log.name)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if os.path.exists(self.log.name):
            os.unlink(self.log.name)


def metrics(port, timeout=5.0):
    """GET /metrics parsed into {series: value}, series as written ('name{labels}')."""
    r = get(port, "/metrics", timeout=timeout)
    assert r.status == 200, r
    assert r.header("content-type").startswith("text/plain; version=0.0.4"), r.header("content-type")
    out = {}
    for line in r.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        assert name not in out, f"duplicate series {name}"
        out[name] = float(value)
    return out


def start_profgate(*args, config=None, env=None):
    argv = ["--listen", "127.0.0.1:0"]
    if "--upstream" not in args:
        # Never the real AWS endpoint from a test: a closed loopback port refuses at once.
        argv += ["--upstream", "http://127.0.0.1:9"]
    if config is not None:
        f = tempfile.NamedTemporaryFile("w", prefix="profgate-", suffix=".conf", delete=False)
        f.write(config)
        f.close()
        argv += ["-c", f.name]
    return Process("profgate", argv + list(args), env).wait_ready()


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case name -> value (last wins)
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        import json
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.reason} {self.headers} {self.body[:200]!r}>"


class Conn:
    """A raw HTTP/1.1 client connection."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, family=socket.AF_INET):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def get(self, target, headers=None):
        h = {"Host": "127.0.0.1"}
        h.update(headers or {})
        lines = [f"GET {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in h.items()]
        self.send("\r\n".join(lines) + "\r\n\r\n")
        return self.read_response()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3}) (.*)", lines[0])
        assert m, f"bad status line {lines[0]!r}"
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        chunks = 0
        if headers.get("transfer-encoding") == "chunked":
            assert "content-length" not in headers, "both Content-Length and chunked"
            body = b""
            while True:  # strict chunked framing: hex size, CRLF, data, CRLF; a 0 chunk ends it
                while b"\r\n" not in self.buf:
                    self._fill()
                size, self.buf = self.buf.split(b"\r\n", 1)
                assert re.fullmatch(rb"[0-9a-f]+", size), f"bad chunk size {size!r}"
                n = int(size, 16)
                while len(self.buf) < n + 2:
                    self._fill()
                assert self.buf[n:n + 2] == b"\r\n", "chunk not followed by CRLF"
                if n == 0:
                    self.buf = self.buf[2:]
                    break
                body += self.buf[:n]
                self.buf = self.buf[n + 2:]
                chunks += 1
        elif "content-length" not in headers and headers.get("connection") == "close":
            while True:  # an HTTP/1.0 stream: the body ends with the connection
                try:
                    self._fill()
                except ConnectionError:
                    break
            body, self.buf = self.buf, b""
        else:
            n = int(headers.get("content-length", "0"))
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
        r = Response(int(m.group(1)), m.group(2), headers, body)
        r.chunks = chunks
        return r

    def closed_by_peer(self):
        """True when the server has closed the connection (EOF or reset), waiting up to the
        socket timeout for it."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def get(port, target, headers=None, timeout=5.0):
    c = Conn(port, timeout=timeout)
    try:
        return c.get(target, dict({"Connection": "close"}, **(headers or {})))
    finally:
        c.close()


def get_many(port, target, n, headers=None, timeout=30.0):
    """n identical GETs at once, each on its own connection; their responses (in finishing order)."""
    import threading
    out = []
    threads = [threading.Thread(target=lambda: out.append(get(port, target, headers, timeout))) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


# Example credentials (the AWS documentation's): tests sign with them, nothing checks them unless
# a test starts the simulator with --access-key.
CREDS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
         "AWS_DEFAULT_REGION": "us-east-1"}


def boto3_client(port, key=CREDS["AWS_ACCESS_KEY_ID"], secret=CREDS["AWS_SECRET_ACCESS_KEY"]):
    """A CodeGuru Profiler client for the endpoint on port, without retries (a test sees every error)."""
    import boto3
    import botocore.config
    return boto3.client("codeguruprofiler", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def start_sim(*args, env=None):
    return Process("profgate-sim", ["--listen", "127.0.0.1:0"] + list(args), env).wait_ready()


ION_DIR = os.path.join(ROOT, "tests", "ion")


def ion_to_plain(data):
    """Decodes binary Ion with ion-js (tests/ion, installed by npm ci) into plain Python values."""
    import json
    p = subprocess.run(["node", os.path.join(ION_DIR, "ion2json.js")], input=data, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"ion-js could not decode: {p.stderr.decode(errors='replace')}")
    return json.loads(p.stdout)


def ion_to_plain_many(blobs):
    """Decodes many binary Ion values with one ion-js process; returns them in order."""
    import json
    import tempfile
    if not blobs:
        return []
    with tempfile.TemporaryDirectory() as d:
        names = []
        for i, b in enumerate(blobs):
            names.append(os.path.join(d, f"{i}.ion"))
            with open(names[-1], "wb") as f:
                f.write(b)
        args = names if len(names) > 1 else names + [names[0]]  # one file would print a bare value
        p = subprocess.run(["node", os.path.join(ION_DIR, "ion2json.js")] + args, capture_output=True, timeout=300)
        if p.returncode != 0:
            raise AssertionError(f"ion-js could not decode: {p.stderr.decode(errors='replace')}")
        out = json.loads(p.stdout)
        return out[:len(blobs)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def resp_many(where, commands):
    """Several Redis commands on one connection (RESP): where is a TCP port or a unix socket path.
    Returns every reply; errors come back as RuntimeError values."""
    if isinstance(where, int):
        s = socket.create_connection(("127.0.0.1", where), timeout=5)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(where)
    try:
        parts = []
        for args in commands:
            parts.append(f"*{len(args)}\r\n".encode())
            for a in args:
                b = a if isinstance(a, bytes) else str(a).encode()
                parts.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
        s.sendall(b"".join(parts))
        f = s.makefile("rb")

        def read():
            line = f.readline().rstrip(b"\r\n")
            t, rest = line[:1], line[1:]
            if t == b"+":
                return rest.decode()
            if t == b"-":
                return RuntimeError(rest.decode())
            if t == b":":
                return int(rest)
            if t == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:-2]
            if t == b"*":
                return [read() for _ in range(int(rest))]
            raise AssertionError(f"bad RESP line {line!r}")
        return [read() for _ in commands]
    finally:
        s.close()


def resp(where, *args):
    """One Redis command, for tests to inspect and damage the cache."""
    return resp_many(where, [args])[0]


class Redis:
    """A real redis-server on a free loopback port, no persistence."""

    def __init__(self, port=None, extra=()):
        self.port = port or free_port()
        self.password = None
        if "--requirepass" in extra:
            self.password = list(extra)[list(extra).index("--requirepass") + 1]
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"] + list(extra),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                cmds = ([("AUTH", self.password)] if self.password else []) + [("PING",)]
                return resp_many(self.port, cmds)[-1] == "PONG"
            except OSError:
                return False
        wait_for(up, 10, "redis-server")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
