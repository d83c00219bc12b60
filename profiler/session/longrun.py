"""Attach recordings that run for days (issue 19): periodic snapshots and resume.

- Snapshots (`record --container/--match --snapshot-every SECONDS`): every interval, while the
  recording runs, the recording is built from the tracer's current aggregates (the kernel's
  maps are read, not cleared) and written atomically over the output (recording_io's writers:
  a temp file renamed in the target directory; a project directory replaced whole). A
  snapshot says so in its metadata (`snapshot_at`: when it was taken) so that emit and diff
  can tell their users; the write at the end replaces it as usual. A crash, a SIGKILL or a
  reboot loses at most one interval.
- Resume (`--resume`): when the output already holds a recording of the same image (attach)
  or of the same --match selectors (a project directory), the new run's evidence is merged
  with it (aggregate.merge_recordings) in every snapshot and at the end. No file there: the
  run starts afresh, so a service unit can always pass --resume. A file that is not such a
  recording (another image, another kind of file, damaged) is refused before anything is
  traced, and never overwritten.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..errors import ProfilerError, RecordingError, UsageError
from ..kernel import syscalls
from ..recording import aggregate, project, recording_io
from ..recording.model import Recording

MIN_EVERY = 1.0  # seconds: a snapshot reads every map of the recorder; not more often than this


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_every(every: float | None) -> float:
    """--snapshot-every's value: 0.0 when not given, else at least MIN_EVERY seconds (0 is
    refused: a user who typed it would get no snapshot without a word)."""
    if every is None:
        return 0.0
    if not every >= MIN_EVERY or every != every or every == float("inf"):
        raise UsageError(f"--snapshot-every {every:g}: give a number of seconds, at least "
                         f"{MIN_EVERY:g}", hint="e.g. --snapshot-every 300 (a snapshot every 5 "
                                                "minutes)")
    return float(every)


def as_snapshot(rec: Recording, taken_at: str) -> Recording:
    """rec marked as a snapshot of a recording still running, taken at `taken_at`."""
    return replace(rec, metadata=replace(rec.metadata, snapshot_at=taken_at))


class Snapshots:
    """Calls `take()` every `every` seconds of the tick loop (it builds and writes one
    snapshot). Keeps how long they took (the cost a tick pays). A snapshot that fails to be
    written (a full disk) is said once through `warn` and tried again at the next interval:
    the recording goes on, and its final write reports any error that remains."""

    def __init__(self, every: float, take: Callable[[], None],
                 warn: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.every, self.take, self.clock = every, take, clock
        self.warn = warn or (lambda _text: None)
        self.next = clock() + every
        self.taken = 0
        self.seconds: list[float] = []  # how long each took (bounded: the last 100)
        self.failed = 0

    def __call__(self) -> None:
        if not self.every or self.clock() < self.next:
            return
        start = self.clock()
        try:
            self.take()
            self.taken += 1
        except ProfilerError as e:
            self.failed += 1
            if self.failed == 1:
                self.warn(f"a snapshot could not be written: {e.message} (the recording goes "
                          f"on; the next snapshot tries again)")
        end = self.clock()
        self.seconds = (self.seconds + [end - start])[-100:]
        self.next = end + self.every  # an interval between snapshots, however long one took

    def summary(self) -> str | None:
        """One note for the end: how many snapshots, and what one cost."""
        if not self.seconds:
            return None
        s = sorted(self.seconds)
        return (f"{self.taken} snapshot(s) written every {self.every:g} s; one took "
                f"{s[len(s) // 2]:.2f} s (median), {s[-1]:.2f} s at most"
                + (f"; {self.failed} could not be written" if self.failed else ""))


# ---------------------------------------------------------------------------------------------
# resume: what the output holds already
# ---------------------------------------------------------------------------------------------

_NOT_OVERWRITTEN = "it is left as it is: give another -o, or move it away to start afresh"


def previous_recording(path: Path) -> Recording | None:
    """The recording a resumed attach recording goes on from: None when `path` does not exist.
    Refused (UsageError, exit 2) when it is not a recording profiler can merge into."""
    if not path.exists():
        return None
    if path.is_dir():
        raise UsageError(f"--resume: {path} is a directory, not a recording",
                         hint=_NOT_OVERWRITTEN)
    try:
        rec = recording_io.load(path)
    except RecordingError as e:
        raise UsageError(f"--resume: {path} cannot be resumed: {e.message}",
                         hint=_NOT_OVERWRITTEN) from None
    if rec.harvested:
        raise UsageError(f"--resume: {path} is harvested evidence (profiler harvest), not a "
                         f"recording of a running container", hint=_NOT_OVERWRITTEN)
    if rec.metadata.mode not in ("attach", "container"):
        raise UsageError(f"--resume: {path} is a recording of a host command (record --exec), "
                         f"not of a container", hint=_NOT_OVERWRITTEN)
    _check_arch(rec, path)
    return rec


def _check_arch(rec: Recording, path: Path) -> None:
    arch = syscalls.host_arch()
    if rec.metadata.arch != arch:
        raise UsageError(f"--resume: {path} was recorded on {rec.metadata.arch[:40]!r}, this host "
                         f"is {arch}", hint=_NOT_OVERWRITTEN)


def check_same_image(previous: Recording, image_id: str, image: str, path: Path | str) -> None:
    """The container recorded now must run the image the previous recording saw."""
    md = previous.metadata
    same = md.image_id == image_id if md.image_id and image_id else md.image == image
    if not same:
        was = f"{md.image} ({md.image_id[:19]})" if md.image_id else md.image
        now = f"{image} ({image_id[:19]})" if image_id else image
        raise UsageError(f"--resume: {path} recorded image {was}, this container runs {now}",
                         hint="a recording holds one image's evidence; " + _NOT_OVERWRITTEN)


def resumed(previous: Recording | None, rec: Recording) -> Recording:
    """The recording to write: this run's merged into the previous one, if any."""
    return rec if previous is None else aggregate.merge_recordings(previous, rec)


def resume_note(previous: Recording) -> str:
    md = previous.metadata
    return (f"resumed: merged with the recording already there (from {md.started_at or '?'} to "
            f"{md.snapshot_at or md.ended_at or '?'}"
            + (", a snapshot" if md.snapshot_at else "") + ")")


def previous_project(directory: Path, selectors) -> tuple[project.Project, dict[str, Recording]] | None:
    """The project directory a resumed --match recording goes on from: None when there is none
    (no directory, or an empty one). Refused when it is not a project of the same selectors."""
    if not directory.exists() or (directory.is_dir() and not any(directory.iterdir())):
        return None
    if not project.is_project_dir(directory):
        raise UsageError(f"--resume: {directory} is not a project directory (no "
                         f"{project.INDEX_FILE})", hint=_NOT_OVERWRITTEN)
    try:
        proj = project.read(directory)
        recs = project.load_recordings(directory, proj)
    except (RecordingError, UsageError) as e:
        raise UsageError(f"--resume: {directory} cannot be resumed: {e.message}",
                         hint=_NOT_OVERWRITTEN) from None
    for name, rec in recs.items():
        _check_arch(rec, directory / proj.service(name).recording)
    if set(map(str, proj.selectors)) != set(map(str, selectors)):
        raise UsageError(f"--resume: {directory} recorded --match "
                         f"{' '.join(map(str, proj.selectors))}, not "
                         f"{' '.join(map(str, selectors))}", hint=_NOT_OVERWRITTEN)
    return proj, recs


def image_changes(previous: tuple[project.Project, dict[str, Recording]] | None,
                  recordings: dict[str, Recording]) -> list[str]:
    """A note for each service whose image changed since the previous run (a new release
    deployed meanwhile): its recordings are merged all the same, as its replicas' are."""
    if previous is None:
        return []
    out = []
    for name, rec in sorted(recordings.items()):
        before = previous[1].get(name)
        if before is not None and before.metadata.image_id != rec.metadata.image_id:
            out.append(f"service {name}: its image changed since the previous run "
                       f"({before.metadata.image} -> {rec.metadata.image}); both runs' evidence "
                       f"is merged")
    return out


def resumed_project(previous: tuple[project.Project, dict[str, Recording]] | None,
                    proj: project.Project, recordings: dict[str, Recording]
                    ) -> tuple[project.Project, dict[str, Recording]]:
    """This run's services merged into the previous project's: a service seen in both has its
    recordings merged and its containers united; one seen in only one run is kept as it is."""
    if previous is None:
        return proj, recordings
    old, old_recs = previous
    services = {s.name: s for s in old.services}
    recs = dict(old_recs)
    for s in proj.services:
        before = services.get(s.name)
        if before is not None:
            ids = {c.id for c in s.containers}
            s = replace(s, containers=tuple(c for c in before.containers if c.id not in ids)
                        + s.containers)
        services[s.name] = s
        recs[s.name] = resumed(old_recs.get(s.name), recordings[s.name])
    merged = replace(proj, services=tuple(services[n] for n in sorted(services)),
                     started_at=old.started_at or proj.started_at,
                     compose_project=proj.compose_project
                     if proj.compose_project == old.compose_project or not old.services
                     else None)
    return merged, recs
