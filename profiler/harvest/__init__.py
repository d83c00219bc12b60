"""`profiler harvest`: what production logged for a complain-mode policy, attributed to
containers and services, as evidence emit merges and diff reports (issue 19).

records (log line -> typed record) -> sources (kmsg / audit.log from a cursor) -> attribute
(pid -> cgroup -> container -> service) -> state (aggregates + cursor, bounded) -> harvester
(one pass) -> loop (one-shot or --follow with snapshots) -> store (the directory; `load_dir`).
"""
