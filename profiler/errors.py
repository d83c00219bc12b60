"""The one error hierarchy. The CLI turns any ProfilerError into a one-line message, a hint and
an exit code (see cli.main); nothing else prints errors or exits."""

from __future__ import annotations


class ProfilerError(Exception):
    """A failure a user can act on. `hint` says what to do; `exit_code` is the process status."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(ProfilerError):
    """Bad arguments or bad input files (exit 2)."""


class RecordingError(ProfilerError):
    """A recording file is missing, corrupt, of an unknown schema, or inconsistent."""


class EnvironmentProblem(ProfilerError):
    """The host cannot trace: not root, BPF refused, headers, tracefs, cgroup v2 missing."""


class EngineError(ProfilerError):
    """The Docker engine is unreachable, or an image or container is missing or failed."""


class ContainerGone(EngineError):
    """The engine does not know the container (never existed, or removed meanwhile)."""


class WorkloadError(ProfilerError):
    """The workload command was not found or failed."""

    exit_code = 1


class LossError(ProfilerError):
    """Events were lost while recording (the recording is written, but incomplete)."""

    exit_code = 1


class PolicyError(ProfilerError):
    """A policy cannot be built or rendered from the given recordings."""


class AppArmorError(ProfilerError):
    """An AppArmor profile could not be loaded into the kernel, or removed from it."""
