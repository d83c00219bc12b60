"""Stage 6, verify: run under a policy, trace it, name every denial and its fix (seccomp and
capabilities from the tracer, AppArmor from the kernel's audit log), for one container or a
compose project."""
