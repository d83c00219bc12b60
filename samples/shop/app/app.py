"""The shop sample's app server (samples/shop): HTTP on :8000 behind nginx, data in redis.

    GET  /health        200 "ok" once redis answers PING
    PUT  /kv/KEY        body -> SET KEY; 201 "stored"
    GET  /kv/KEY        200 and the value, or 404
    POST /hits          INCR shop:hits; 200 and the new count

Standard library only (Debian's python3); redis is spoken over a plain socket (RESP), one
connection per request thread.
"""

import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST, _, PORT = os.environ.get("SHOP_CACHE", "cache:6379").partition(":")
_local = threading.local()


class CacheError(Exception):
    pass


def _conn():
    c = getattr(_local, "conn", None)
    if c is None:
        sock = socket.create_connection((HOST, int(PORT or 6379)), timeout=5)
        c = _local.conn = (sock, sock.makefile("rb"))
    return c


def _reply(f):
    line = f.readline()
    if not line:
        raise CacheError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b":"):
        return rest.decode()
    if kind == b"-":
        raise CacheError(rest.decode())
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    raise CacheError(f"unexpected reply {line!r}")


def cache(*args):
    """One redis command; reconnects once when the connection went away."""
    msg = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
    for attempt in (1, 2):
        try:
            sock, f = _conn()
            sock.sendall(msg)
            return _reply(f)
        except (OSError, CacheError):
            _local.conn = None
            if attempt == 2:
                raise


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _guard(self, fn):
        try:
            fn()
        except (OSError, CacheError) as e:
            self._send(502, f"cache unavailable: {e}\n")

    def do_GET(self):
        if self.path == "/health":
            self._guard(lambda: self._send(200, "ok\n") if cache("PING") == "PONG"
                        else self._send(502, "no PONG\n"))
        elif self.path.startswith("/kv/") and len(self.path) > 4:
            def get():
                value = cache("GET", "shop:kv:" + self.path[4:])
                self._send(404, "not found\n") if value is None else self._send(200, value)
            self._guard(get)
        else:
            self._send(404, "no such endpoint\n")

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.path.startswith("/kv/") and len(self.path) > 4:
            self._guard(lambda: self._send(201, "stored\n")
                        if cache("SET", "shop:kv:" + self.path[4:], body) == "OK"
                        else self._send(502, "SET failed\n"))
        else:
            self._send(404, "no such endpoint\n")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/hits":
            self._guard(lambda: self._send(200, cache("INCR", "shop:hits") + "\n"))
        else:
            self._send(404, "no such endpoint\n")

    def log_message(self, fmt, *args):  # one line per request on stdout, as servers do
        print("app:", self.address_string(), fmt % args)


if __name__ == "__main__":
    print(f"app: listening on :8000, cache at {HOST}:{PORT}")
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
