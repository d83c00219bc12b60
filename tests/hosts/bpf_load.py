"""The host matrix's quick check, inside a release's chroot (tests/hosts/build-bpf-root.sh): compile
and load the recorder with that release's bcc and LLVM, in every configuration record and verify
use, on this machine's kernel. Run by harness.py --bpf-only with the chroot's python3 and the
checkout under test on PYTHONPATH (the tracer needs only the standard library, bcc and seccomp).

    python3 bpf_load.py

One line per configuration ("ok NAME" or "FAIL NAME: the error's first line", the verifier's
log before it); exit 1 when any failed. The kprobe capability source is loaded but not attached
(load_func), so its programs meet the verifier on a kernel without kprobes too.
"""

from __future__ import annotations

import sys

from profiler.kernel import capsource
from profiler.kernel.tracer import Tracer, _tracefs

# What record IMAGE, record --container, verify, record --match (with running containers:
# attach too), verify --compose and record --exec build (tracer.Tracer's flags).
MODES = {
    "new-container": dict(containers=True),
    "attach": dict(containers=True, attach=True),
    "verify": dict(containers=True, verify=True),
    "match": dict(containers=True, match=True),
    "match-attach": dict(containers=True, match=True, attach=True),
    "match-verify": dict(containers=True, match=True, verify=True),
    "exec": dict(),
}
# record --tracer per-syscall (opt-in; record IMAGE and --exec only): one capability source is
# enough, the entry programs are the same for all, and releasing ~360 events takes a while.
PER_SYSCALL = {
    "new-container, per-syscall": dict(containers=True, per_syscall=True),
    "exec, per-syscall": dict(per_syscall=True),
}


def load_kprobe_only(self) -> None:
    """Tracer._attach_cap_kprobe without the attach: the verifier sees the programs all the same."""
    from bcc import BPF
    for fn in (b"cap_enter", b"cap_return"):
        self.bpf.load_func(fn, BPF.KPROBE)


def main() -> int:
    Tracer._attach_cap_kprobe = load_kprobe_only
    # The tracepoint's program needs the tracepoint's format (kernel 6.14+); the others load
    # anywhere.
    sources = [capsource.KPROBE, capsource.NONE]
    if capsource.detect((_tracefs(),)).tracepoint is None:
        sources.insert(0, capsource.TRACEPOINT)
    bad = 0
    for cap in sources:
        for name, kw in MODES.items():
            label = f"{name}, capabilities {cap}"
            try:
                Tracer(capabilities=cap, **kw).bpf.cleanup()
                print(f"ok   {label}", flush=True)
            except Exception as e:  # the tracer's EnvironmentProblem, or bcc's bare Exception
                bad += 1
                print(f"FAIL {label}: {(str(e).splitlines() or [repr(e)])[0]}", flush=True)
    for name, kw in PER_SYSCALL.items():
        label = f"{name}, capabilities {capsource.NONE}"
        try:
            t = Tracer(capabilities=capsource.NONE, **kw)
            t.close()
            print(f"ok   {label}", flush=True)
        except Exception as e:
            bad += 1
            print(f"FAIL {label}: {(str(e).splitlines() or [repr(e)])[0]}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
