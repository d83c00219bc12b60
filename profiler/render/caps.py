"""Policy -> the capability part of a `docker run` line: one line, pasteable; and the
capability names every renderer that states capabilities writes (Docker's spelling).
What to do when a recording has no capability data is decided before rendering
(output/pipeline.py resolve_unknown)."""

from __future__ import annotations

from ..kernel.linux import cap_full, cap_short
from ..policy import complain as complain_mode
from ..policy.reduce import Policy


def cap_names(policy: Policy) -> list[str]:
    """Docker's spelling (no CAP_ prefix), sorted."""
    return sorted(cap_short(c) for c in policy.capabilities)


def reason(policy: Policy, name: str) -> str:
    """Why a capability is in the set (Docker's spelling in, one line out)."""
    cap = cap_full(name)
    kept = complain_mode.cap_reason(policy, cap)
    if kept:
        return kept
    files = policy.file_capability_of(cap)
    if cap in policy.generalised_capabilities:
        return (f"{cap} was not used in the recording: root in the container (`docker exec` of "
                f"an admin tool, a later boot's entrypoint) meets the app user's private files "
                f"(emit --explain; none with --strict)")
    if not files:
        return f"{cap} was granted during the recording"
    return (f"{cap} is a file capability of {', '.join(files)}: the kernel refuses to exec it "
            f"(EPERM) unless {cap} is in the bounding set")


def added_notes(policy: Policy) -> dict[str, str]:
    """Docker's name -> why, for the capabilities added beyond the recording: by kind, and in
    complain mode Docker's default set (the run line, compose and k8s comment each; the rest
    were granted during the recording)."""
    added = set(policy.generalised_capabilities)
    if policy.learned is not None:
        added |= set(policy.capabilities) - set(policy.learned.capabilities)
    return {cap_short(c): reason(policy, cap_short(c)) for c in sorted(added)}


def cap_args(policy: Policy) -> list[str]:
    return [] if policy.keep_default_caps else names_args(cap_names(policy))


def names_args(names) -> list[str]:
    """`--cap-drop ALL`, then `--cap-add NAME` for each of names (Docker's spelling)."""
    args = ["--cap-drop", "ALL"]
    for name in names:
        args += ["--cap-add", name]
    return args


def line(names) -> str:
    """caps.txt for these capabilities (verify --minimize writes its reduced set with it)."""
    return " ".join(names_args(names)) + "\n"


KEEP_DEFAULT_NOTE = "capabilities were not recorded: Docker's default set is kept"


COMPLAIN_NOTE = ("# complain mode: Docker's default set plus the capabilities granted in training "
                 "(a refused capability is not logged; profiler/policy/complain.py)\n")


def render(policy: Policy, *, complain: bool = False) -> str:
    if complain:
        policy = complain_mode.relax(policy)
    if policy.keep_default_caps:
        return f"# {KEEP_DEFAULT_NOTE} (emit --caps-unknown keep-default)\n"
    return (COMPLAIN_NOTE if complain else "") + line(cap_names(policy))
