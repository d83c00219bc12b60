"""Stage 1, the kernel: everything profiler asks of Linux or takes from its ABI. The tracer (the
only module that imports bcc) and what it needs (BTF offsets, where capability checks come from,
container cgroups, the path fallback), the numbers shared with bpf/record.c (wire), and the
static Linux tables (syscall names per architecture, capabilities, families, io_uring opcodes).
Imports nothing from a later stage."""
