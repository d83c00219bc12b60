"""profiler: learn least privilege from behaviour.

Record a container (or a process tree) with eBPF, turn what it did into seccomp, AppArmor and a
hardened run line, verify the policy by re-running under it, and diff it in CI.
"""

__version__ = "0.1.0"
