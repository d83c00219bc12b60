"""What promote reads: the source's traced recordings per service (a recording file, or a
project directory of `record --match`) and the harvest's evidence per service (`profiler
harvest -o DIR`, read with harvest/store.load_dir), paired by service, and each harvest's facts
for the rule (rule.Harvested).

The harvest's per-service facts (model.HarvestInfo, schema 1.9): metadata.started_at/ended_at
is the period covered, `harvest.last_new` when the last never-seen-before item appeared,
`harvest.new_items` how many items, `harvest.dropped` records the kernel dropped while
harvesting, `harvest.cpu_seconds` the containers' CPU time (the traffic signal),
`harvest.containers` the containers seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import UsageError
from ..recording import project, recording_io
from ..recording.model import Recording
from .rule import Harvested


def _when(text: str) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def facts(service: str, rec: Recording) -> Harvested:
    """The rule's view of one service's harvested evidence."""
    h = rec.harvest
    md = rec.metadata
    return Harvested(
        service=service, start=_when(md.started_at), end=_when(md.ended_at),
        last_new=_when(h.last_new) if h else None,
        new_items=h.new_items if h else 0,
        read=h.records if h else 0,
        dropped=h.dropped if h else 0,
        unattributed=h.unattributed if h else 0,
        cpu_seconds=h.cpu_seconds if h else None,
        containers=tuple(h.containers) if h else ())


@dataclass(frozen=True)
class Source:
    """What promote starts from: the traced recordings of each service (in the project's
    order), and the project index when the source is a project directory."""

    recordings: dict[str, list[tuple[Recording, str]]]  # service -> [(recording, source name)]
    project: project.Project | None = None
    directory: Path | None = None


def read_source(paths: list[Path], harvests: dict[str, Recording],
                service: str | None) -> Source:
    """A project directory alone, or recording files (one service: --service, else the one
    service of the harvest, else the recordings' container name). Among the files, harvest files
    of earlier rounds may follow the recordings: their evidence is merged too (a round that
    dropped records is followed by one in complain mode with what it found, harvested anew)."""
    dirs = [p for p in paths if p.is_dir()]
    if dirs:
        if len(paths) > 1:
            raise UsageError(f"{dirs[0]} is a directory: a project directory is promoted alone",
                             hint="profiler promote PROJECT_DIR HARVEST_DIR -o OUT")
        index = project.read(dirs[0])
        recs = project.load_recordings(dirs[0], index)
        return Source({s.name: [(recs[s.name], str(dirs[0] / s.recording))]
                       for s in index.services}, index, dirs[0])
    recs = [(recording_io.load(p), p.name) for p in paths]
    if all(r.harvested for r, _ in recs):
        raise UsageError(f"{recs[0][1]} is harvested evidence, not a recording",
                         hint="profiler promote RECORDING [EARLIER.harvest.yaml...] HARVEST_DIR "
                              "-o OUT: the recording first, the harvest directory last")
    return Source({_service(recs, harvests, service): recs})


def _service(recs, harvests: dict[str, Recording], service: str | None) -> str:
    if service:
        return service
    if len(harvests) == 1:
        return next(iter(harvests))
    name = recs[0][0].metadata.container.name.lstrip("/")
    if name in harvests:
        return name
    raise UsageError(f"the harvest holds {len(harvests)} services "
                     f"({', '.join(sorted(harvests)) or 'none'}): which is this recording's?",
                     hint="name it: --service NAME")
