"""The HTTP/1.1 front end over real loopback sockets: routing, AWS-format errors, keep-alive,
pipelining, every limit and timeout, IPv6, and connection caps."""
import re
import socket
import unittest

from harness import Conn, get, start_profgate, start_sim, wait_for

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def assert_aws_error(tc, r, status, kind, message_part=None):
    tc.assertEqual(r.status, status, r)
    tc.assertEqual(r.header("x-amzn-ErrorType"), kind, r)
    tc.assertEqual(r.header("Content-Type"), "application/json")
    tc.assertRegex(r.header("x-amzn-RequestId"), UUID)
    body = r.json()
    tc.assertEqual(body["__type"], kind)
    tc.assertIsInstance(body["message"], str)
    if message_part:
        tc.assertIn(message_part, body["message"])


class Routing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = start_profgate()

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0

    def test_healthz(self):
        r = get(self.gw.port, "/healthz")
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["upstream"]["breaker"], "closed")
        self.assertEqual(body["requestsInProgress"], 0)
        self.assertRegex(r.header("x-amzn-RequestId"), UUID)
        self.assertRegex(r.header("Date"), r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$")
        self.assertEqual(r.header("Connection"), "close")

    def test_request_ids_differ(self):
        ids = {get(self.gw.port, "/healthz").header("x-amzn-RequestId") for _ in range(20)}
        self.assertEqual(len(ids), 20)

    def test_unknown_path_is_aws_404(self):
        assert_aws_error(self, get(self.gw.port, "/nope"), 404, "UnknownOperationException", "GET /nope")
        assert_aws_error(self, get(self.gw.port, "/profilingGroups/g/profile/extra"), 404,
                         "UnknownOperationException")

    def test_wrong_method_is_405(self):
        c = Conn(self.gw.port)
        c.send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        r = c.read_response()
        assert_aws_error(self, r, 405, "MethodNotAllowedException", "Method POST is not allowed")
        self.assertEqual(r.header("Allow"), "GET")
        c.send("DELETE /profilingGroups/g/profile HTTP/1.1\r\nHost: x\r\n\r\n")
        assert_aws_error(self, c.read_response(), 405, "MethodNotAllowedException")
        c.close()

    def test_unknown_method_is_501_and_closes(self):
        c = Conn(self.gw.port)
        c.send("BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert_aws_error(self, r, 501, "NotImplementedException")
        self.assertEqual(r.header("Connection"), "close")
        self.assertTrue(c.closed_by_peer())
        c.close()

    def test_malformed_request_is_400_and_closes(self):
        for raw in [b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", b"GET /\x01 HTTP/1.1\r\n\r\n",
                    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                    b"GET / HTTP/7.0\r\n\r\n"]:
            c = Conn(self.gw.port)
            c.send(raw)
            assert_aws_error(self, c.read_response(), 400, "BadRequestException")
            self.assertTrue(c.closed_by_peer(), raw)
            c.close()

    def test_what_a_proxy_could_read_otherwise_is_refused(self):
        # Request smuggling material: folded headers (even Transfer-Encoding), codings other than
        # a lone chunked, zero or two Hosts on HTTP/1.1. The simulator parses alike.
        sim = start_sim()
        try:
            cases = [
                (b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400, "BadRequestException", "obs-fold"),
                (b"GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400,
                 "BadRequestException", "obs-fold"),
                (b"GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n", 501,
                 "NotImplementedException", "Transfer-Encoding"),
                (b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "BadRequestException", "Host"),
                (b"GET /healthz HTTP/1.1\r\n\r\n", 400, "BadRequestException", "Host"),
                (b"GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n", 400, "BadRequestException", "version"),
            ]
            for port in (self.gw.port, sim.port):
                for raw, status, kind, part in cases:
                    c = Conn(port)
                    c.send(raw)
                    assert_aws_error(self, c.read_response(), status, kind, part)
                    self.assertTrue(c.closed_by_peer(), raw)
                    c.close()
                # HTTP/1.0 needs no Host.
                c = Conn(port)
                c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
                self.assertEqual(c.read_response().status, 200)
                c.close()
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_open_access_beyond_loopback_is_warned_about(self):
        self.assertNotIn("auth.mode = off and profgate listens beyond loopback", self.gw.text())
        gw = start_profgate("--listen", "0.0.0.0:0")
        try:
            self.assertIn("auth.mode = off and profgate listens beyond loopback (0.0.0.0:0)", gw.text())
        finally:
            self.assertEqual(gw.stop(), 0)

    def test_one_address_cannot_hold_every_connection(self):
        gw = start_profgate(config="[server]\nmax_connections_per_client = 3\n")
        try:
            held = [Conn(gw.port) for _ in range(3)]
            for c in held:  # each is really open and served
                self.assertEqual(c.get("/healthz").status, 200)
            extra = Conn(gw.port)
            assert_aws_error(self, extra.read_response(), 503, "ServiceUnavailableException",
                             "too many connections from this client address")
            self.assertTrue(extra.closed_by_peer())
            extra.close()
            # A connection that ends gives its place back.
            held.pop().close()
            ok = wait_for(lambda: (lambda c: (c.get("/healthz").status == 200 and c))(Conn(gw.port)), 10,
                          "a slot freed by a closed connection")
            ok.close()
            for c in held:
                c.close()
        finally:
            self.assertEqual(gw.stop(), 0)

    def test_keep_alive(self):
        c = Conn(self.gw.port)
        for _ in range(50):
            r = c.get("/healthz")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Connection"), "keep-alive")
        c.close()

    def test_pipelining_keeps_order(self):
        c = Conn(self.gw.port)
        reqs = ["/healthz", "/nope", "/_profgate/plan?period=PT1H", "/profilingGroups/a.b/profile?period=PT1H",
                "/healthz"] * 20
        c.send("".join(f"GET {t} HTTP/1.1\r\nHost: x\r\n\r\n" for t in reqs))
        expect = {"/healthz": 200, "/nope": 404, "/_profgate/plan?period=PT1H": 200,
                  "/profilingGroups/a.b/profile?period=PT1H": 400}
        for t in reqs:
            r = c.read_response()
            self.assertEqual(r.status, expect[t], (t, r))
            if t.startswith("/_profgate"):
                self.assertIn("buckets", r.json())
        c.close()

    def test_body_on_get_is_discarded(self):
        c = Conn(self.gw.port)
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")
        self.assertEqual(c.read_response().status, 200)
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(c.read_response().status, 200)
        self.assertEqual(c.get("/healthz").status, 200)  # the connection is still in sync
        c.close()

    def test_half_closed_client_gets_its_response(self):
        c = Conn(self.gw.port)
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(c.read_response().status, 200)
        c.close()


class Limits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = start_profgate(config="""
[server]
max_head_bytes = 2k
max_url_bytes = 512
max_headers = 10
max_body_bytes = 100
head_timeout = 400ms
idle_timeout = 300ms
""")

    @classmethod
    def tearDownClass(cls):
        assert cls.gw.stop() == 0

    def test_uri_too_long(self):
        c = Conn(self.gw.port)
        c.send("GET /" + "a" * 600 + " HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert_aws_error(self, r, 414, "UriTooLongException", "request target too long")
        self.assertEqual(r.header("Connection"), "close")
        self.assertTrue(c.closed_by_peer())
        c.close()
        self.assertEqual(get(self.gw.port, "/" + "a" * 400).status, 404)  # under the limit

    def test_too_many_headers(self):
        headers = {f"X-H{i}": "v" for i in range(11)}
        assert_aws_error(self, get(self.gw.port, "/healthz", headers), 431,
                         "RequestHeaderFieldsTooLargeException", "too many request headers")
        headers = {f"X-H{i}": "v" for i in range(8)}
        self.assertEqual(get(self.gw.port, "/healthz", headers).status, 200)

    def test_head_too_large(self):
        assert_aws_error(self, get(self.gw.port, "/healthz", {"X-Big": "v" * 2100}), 431,
                         "RequestHeaderFieldsTooLargeException", "request head too large")
        self.assertEqual(get(self.gw.port, "/healthz", {"X-Big": "v" * 1500}).status, 200)

    def test_body_too_large(self):
        c = Conn(self.gw.port)
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n" + "x" * 101)
        assert_aws_error(self, c.read_response(), 413, "PayloadTooLargeException")
        self.assertTrue(c.closed_by_peer())
        c.close()
        c = Conn(self.gw.port)
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + "20\r\n" + "y" * 32 + "\r\n" + "50\r\n" + "z" * 80 + "\r\n0\r\n\r\n")
        assert_aws_error(self, c.read_response(), 413, "PayloadTooLargeException")
        c.close()

    def test_head_deadline_gives_408(self):
        c = Conn(self.gw.port)
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        r = c.read_response()  # the server answers on its own when the deadline passes
        assert_aws_error(self, r, 408, "RequestTimeoutException", "not received in time")
        self.assertTrue(c.closed_by_peer())
        c.close()

    def test_slow_client_cannot_extend_the_deadline(self):
        # A client trickling one byte at a time is cut off by the head deadline (400 ms), long
        # before it could finish sending this head at this pace.
        c = Conn(self.gw.port, timeout=0.05)
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"s" * 500 + b"\r\n\r\n"
        got = b""
        for i in range(len(head)):
            try:
                c.sock.send(head[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                got += chunk
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if b"\r\n\r\n" in got:
                break
        c.close()
        self.assertIn(b" 408 ", got.split(b"\r\n")[0])
        self.assertLess(i, len(head) - 1, "the whole head got through")

    def test_silent_connection_is_closed(self):
        c = Conn(self.gw.port, timeout=5)
        self.assertTrue(c.closed_by_peer())  # after head_timeout, without a response
        self.assertEqual(c.buf, b"")
        c.close()

    def test_idle_keep_alive_is_closed(self):
        c = Conn(self.gw.port, timeout=5)
        self.assertEqual(c.get("/healthz").status, 200)
        self.assertTrue(c.closed_by_peer())
        c.close()


class Connections(unittest.TestCase):
    def test_max_connections(self):
        gw = start_profgate(config="[server]\nmax_connections = 3\n")
        try:
            held = [Conn(gw.port) for _ in range(3)]
            for c in held:
                self.assertEqual(c.get("/healthz").status, 200)
            extra = Conn(gw.port)
            r = extra.read_response()
            assert_aws_error(self, r, 503, "ServiceUnavailableException", "too many open connections")
            self.assertTrue(extra.closed_by_peer())
            extra.close()
            held[0].close()
            # Once a slot frees up, new connections are served again.
            def served():
                c = Conn(gw.port)
                try:
                    return c.get("/healthz").status == 200
                except ConnectionError:
                    return False
                finally:
                    c.close()
            from harness import wait_for
            wait_for(served, 5, "a freed connection slot")
            self.assertIn("max_connections (3) reached", gw.text())
            for c in held[1:]:
                c.close()
        finally:
            self.assertEqual(gw.stop(), 0)

    def test_ipv4_and_ipv6(self):
        gw = start_profgate("--listen", "127.0.0.1:0,[::1]:0")
        try:
            self.assertEqual(len(gw.addrs), 2)
            self.assertTrue(gw.addrs[1].startswith("[::1]:"))
            p6 = int(gw.addrs[1].rsplit(":", 1)[1])
            c = Conn(p6, host="::1", family=socket.AF_INET6)
            self.assertEqual(c.get("/healthz").status, 200)
            c.close()
            self.assertEqual(get(gw.port, "/healthz").status, 200)
        finally:
            self.assertEqual(gw.stop(), 0)


if __name__ == "__main__":
    unittest.main()
