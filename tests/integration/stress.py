"""Helpers of the stress and fault tests (tests/integration/test_reliability_stress.py) and the soak bench
(bench/soak_bench.py): unrelated container churn, an engine socket that can vanish, CPU hogs.

Everything here touches only what it made: churn containers carry a label of their own
(removed by that label at the end), the engine proxy is a socket in a temp directory, hogs are
child processes ended by pid.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

BASE_IMAGE = "profiler-base:bookworm"
CHURN_LABEL = "io.profiler.test-churn"
DOCKER_SOCK = "/var/run/docker.sock"


class Churn:
    """`workers` loops each running `docker run --rm IMAGE true` (unrelated containers: made,
    started, ended and removed) until stop(); `count` containers ran."""

    def __init__(self, workers: int = 3, image: str = BASE_IMAGE):
        self.workers, self.image = workers, image
        self.token = secrets.token_hex(4)
        self.count = 0
        self.failed = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.started_at = 0.0
        self.elapsed = 0.0

    def _loop(self) -> None:
        while not self._stop.is_set():
            p = subprocess.run(["docker", "run", "--rm", "--label", f"{CHURN_LABEL}={self.token}",
                                self.image, "true"], capture_output=True, stdin=subprocess.DEVNULL)
            with self._lock:
                if p.returncode == 0:
                    self.count += 1
                else:
                    self.failed += 1

    def __enter__(self) -> "Churn":
        self.started_at = time.monotonic()
        for _ in range(self.workers):
            t = threading.Thread(target=self._loop, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def wait_for(self, n: int, timeout: float = 120) -> None:
        """Until n containers have run (so that a recording starts amid the churn)."""
        end = time.monotonic() + timeout
        while self.count < n and time.monotonic() < end:
            time.sleep(0.1)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)
        self.elapsed = time.monotonic() - self.started_at
        ids = subprocess.run(["docker", "ps", "-aq", "--filter",
                              f"label={CHURN_LABEL}={self.token}"],
                             capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)

    @property
    def per_minute(self) -> float:
        el = self.elapsed or (time.monotonic() - self.started_at)
        return self.count * 60.0 / el if el else 0.0


class EngineProxy:
    """A unix socket that forwards to the engine's: point DOCKER_HOST at `url`. stop() makes
    the engine vanish for its clients (the socket file goes, open connections are cut), start()
    brings it back: an engine restart or a lost socket, without touching the shared dockerd."""

    def __init__(self, directory: Path, upstream: str = DOCKER_SOCK):
        self.path = str(directory / "engine.sock")
        self.upstream = upstream
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def start(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.path)
        s.listen(64)
        self._listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                up.connect(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, up]
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        try:
            os.unlink(self.path)
        except OSError:
            pass
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass


class Hogs:
    """`n` busy loops (CPU saturation) until the block ends."""

    def __init__(self, n: int = 2):
        self.n = n
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "Hogs":
        self.procs = [subprocess.Popen(["sh", "-c", "while :; do :; done"])
                      for _ in range(self.n)]
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
