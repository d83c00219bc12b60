"""Stage 6, diff: two privilege sets (recordings, policy directories, seccomp profiles or
projects) compared after normalisation, with the risk of what was added and the reports."""
