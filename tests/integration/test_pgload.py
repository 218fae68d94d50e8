"""bench/hitpath/pgload, the hit path's second load generator, against a server whose every byte
the test chooses: the answers it must count (a Content-Length body, a chunked body with an
extension and a trailer, both also written a few bytes at a time, a body over one read's room)
and the ones it must call errors (a status other than 200, a body of another length than -b says,
a server that closes). The benchmark's ratios are only as good as this instrument, so a broken
server must never pass for a fast one.
"""
import os
import re
import socket
import socketserver
import subprocess
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

BIG = 3 * 1024 * 1024 + 17  # over pgload's 1 MiB read, so one answer takes several reads

ANSWERS = {
    "/cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello",
    "/chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n"),
    "/big": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG + b"x" * BIG,
    "/500": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno",
    "/close": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    "/extra": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello!",
}


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                try:
                    data = sock.recv(65536)
                except OSError:  # pgload closes its connections with answers unread at the end
                    return
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1].decode()
            slow = path.startswith("/slow")
            answer = ANSWERS[path[5:] if slow else path]
            try:
                if slow:  # a few bytes at a time: every parser state meets a read's end
                    for i in range(0, len(answer), 3):
                        sock.sendall(answer[i:i + 3])
                else:
                    sock.sendall(answer)
            except OSError:
                return
            if path.endswith("/close"):
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def pgload_bin():
    path = os.environ.get("PGLOAD_BIN") or os.path.join(ROOT, "build", "pgload")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"pgload not built: set PGLOAD_BIN or build into {ROOT}/build")
    return path


class PgLoad(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(("127.0.0.1", 0), Handler)
        cls.port = cls.server.server_address[1]
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def run_load(self, path, *extra):
        p = subprocess.run([pgload_bin(), "-c", "2", "-d", "0.3", *extra,
                            f"http://127.0.0.1:{self.port}{path}"],
                           capture_output=True, text=True, timeout=30)
        out = dict(re.findall(r"^(\S+) (\S+)$", p.stdout, re.M))
        self.assertIn("requests", out, p.stdout + p.stderr)
        return p.returncode, int(out["requests"]), int(out["errors"]), int(out["bytes"])

    def assert_counted(self, path, body):
        rc, n, errors, nbytes = self.run_load(path, "-b", str(body))
        self.assertEqual((rc, errors), (0, 0), path)
        self.assertGreater(n, 0, path)
        self.assertGreaterEqual(nbytes, n * body, path)
        # The same answers with another expected length are all errors, and the run fails.
        rc, n, errors, _ = self.run_load(path, "-b", str(body + 1))
        self.assertEqual((rc, n), (1, 0), path)
        self.assertGreater(errors, 0, path)

    def test_content_length_bodies_are_counted(self):
        self.assert_counted("/cl", 5)
        self.assert_counted("/slow/cl", 5)

    def test_chunked_bodies_are_counted_with_extensions_and_trailers(self):
        self.assert_counted("/chunked", 13)
        self.assert_counted("/slow/chunked", 13)

    def test_a_body_over_one_read_is_counted(self):
        self.assert_counted("/big", BIG)

    def test_errors_are_never_counted_as_answers(self):
        for path in ("/500", "/close", "/extra", "/slow/close"):
            rc, n, errors, _ = self.run_load(path)
            self.assertEqual((rc, n), (1, 0), path)
            self.assertGreater(errors, 0, path)

    def test_a_header_is_sent(self):
        # The request pgload sends carries -H: the handler's path table does not care, so check
        # on the wire with a one-shot listener.
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen(1)
            port = ls.getsockname()[1]
            p = subprocess.Popen([pgload_bin(), "-c", "1", "-d", "0.3", "-H", "Accept: application/json",
                                  f"http://127.0.0.1:{port}/x?a=1"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            conn, _ = ls.accept()
            with conn:
                got = b""
                while b"\r\n\r\n" not in got:
                    data = conn.recv(4096)
                    self.assertTrue(data)
                    got += data
            p.communicate(timeout=30)
        self.assertEqual(got, b"GET /x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json\r\n\r\n" % port)


if __name__ == "__main__":
    unittest.main()
