"""Stage 5, the files profiler writes and reads back: the format registry (which formats exist,
their files), the policy directory (write all or nothing, read and parse), and the project tree
(a policy per service plus the compose override)."""
