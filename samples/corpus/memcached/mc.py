"""A tiny memcached text-protocol client (host side): mc.py PORT version|setget K V|stats [ARG]."""
import socket
import sys

port, cmd, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")


def until(end: bytes) -> bytes:
    out = b""
    while not out.endswith(end):
        line = f.readline()
        if not line:
            sys.exit("connection closed")
        out += line
        if line.startswith((b"ERROR", b"SERVER_ERROR", b"CLIENT_ERROR")):
            sys.exit(line.decode().strip())
    return out


if cmd == "version":
    s.sendall(b"version\r\n")
    print(until(b"\r\n").decode().strip())
elif cmd == "setget":
    k, v = args[0], args[1].encode()
    s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (k.encode(), len(v), v))
    assert until(b"\r\n") == b"STORED\r\n"
    s.sendall(b"get %s\r\n" % k.encode())
    got = until(b"END\r\n")
    assert v in got, got
elif cmd == "stats":
    s.sendall(("stats " + " ".join(args)).strip().encode() + b"\r\n")
    sys.stdout.write(until(b"END\r\n").decode())
