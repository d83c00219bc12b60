"""Stage 7, the command line: one module per command (options and printing only); `profiler.cli`
registers only the command being run. No library module imports from here."""
