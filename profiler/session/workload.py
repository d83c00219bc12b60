"""Workload plumbing of a traced run: the workload and COMMAND as child processes, the wait
loops that keep draining the tracer while they run (Ticker: poll, then Live: first sightings
and progress four times a second), and Ctrl-C (first: stop gracefully and still write; second:
abort). Used by every recording mode (session.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Callable

from .. import collector
from ..errors import UsageError, WorkloadError

Progress = Callable[[dict], None]  # what a progress display is given: live numbers by name


class Interrupt:
    """First Ctrl-C (or SIGTERM): stop gracefully and still write. Second: abort, write nothing."""

    def __init__(self):
        self.hit = False
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


class Live:
    """Four times a second: times what the tracer saw first since the last call (the
    recording's timeline), and reports progress where there is a display. Not on every poll:
    both read maps from the kernel, which the 20 polls a second need not pay."""

    def __init__(self, progress: Progress | None, tracer, t0: float):
        self.progress, self.tracer, self.t0, self.last = progress, tracer, t0, 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last < 0.25:
            return
        self.last = now
        self.tracer.note_first_seen(now - self.t0)
        if self.progress is not None:
            self.progress({"elapsed": now - self.t0, **self.tracer.live_stats()})


class Ticker:
    """One step of a session's wait loops: poll the tracer's events, then `Live`, and collect
    the cyclic garbage now and then (a recording can run for days: collector.Periodic)."""

    def __init__(self, tracer, progress: Progress | None, t0: float, poll_ms: int = 50,
                 collect: Callable[[], None] | None = None):
        self.tracer, self.poll_ms = tracer, poll_ms
        self.live = Live(progress, tracer, t0)
        self.collect = collect or collector.Periodic()

    def __call__(self) -> None:
        self.tracer.poll(self.poll_ms)
        self.live()
        self.collect()


def run_workload(cmd: str, env_extra: dict) -> subprocess.Popen:
    env = {**os.environ, **env_extra}
    try:
        # Its output goes to stderr: stdout is kept for data (verify --json).
        return subprocess.Popen(["/bin/sh", "-c", cmd], env=env, stdin=subprocess.DEVNULL,
                                stdout=sys.stderr.fileno())
    except OSError as e:
        raise WorkloadError(f"cannot start the workload: {e.strerror}") from None


def until_exit(proc: subprocess.Popen, intr, deadline: float, tick,
                alive: Callable[[], bool] | None = None) -> int | None:
    """Tick while a child process runs; end it (SIGTERM, SIGKILL 5 s later) on Ctrl-C, at the
    deadline, or when `alive()` turns False. Its exit status, None after a Ctrl-C."""
    while proc.poll() is None:
        if intr.hit or time.monotonic() > deadline or (alive is not None and not alive()):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            break
        tick()
    return proc.poll() if not intr.hit else None


def workload_until(cmd: str, env_extra: dict, intr, deadline: float, tick,
                    alive: Callable[[], bool] | None = None) -> int | None:
    """Run the workload to its end (or Ctrl-C, the deadline, `alive()` False): its status."""
    return until_exit(run_workload(cmd, env_extra), intr, deadline, tick, alive)


def until(intr, deadline: float, tick, alive: Callable[[], bool]) -> None:
    """Tick until Ctrl-C, the deadline, or `alive()` turns False (no workload: the app's end)."""
    while alive() and not intr.hit and time.monotonic() < deadline:
        tick()


def while_ticking(work: Callable[[], object], tick) -> None:
    """Do slow engine work (a graceful stop) in a thread while the tracer keeps draining."""
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    while worker.is_alive():
        tick()


def run_command(argv: list[str], intr, deadline: float, tick) -> int | None:
    """COMMAND (`docker compose up -d`), once the tracer is armed: its exit status."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno())
    except OSError as e:
        raise UsageError(f"cannot run {argv[0]!r}: {e.strerror}") from None
    return until_exit(proc, intr, deadline, tick)
