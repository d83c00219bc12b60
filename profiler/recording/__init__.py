"""Stage 2, the recording: the typed, versioned model between tracing and rendering, how a
tracer's RawTrace becomes one (aggregate), its files (one recording, a project directory of
them), the `docker run` options it keeps and whether the run converged. Imports only the kernel
stage."""
