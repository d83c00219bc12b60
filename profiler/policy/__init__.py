"""Stage 3, pure reduction: recordings -> Policy (merge, hardening decisions, path
normalisation, the sourced syscall tables) and the Pod Security Standards verdict. No I/O
beyond reading the package's own data tables; independent of the session stage."""
