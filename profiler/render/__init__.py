"""Stage 4, rendering: Policy -> text, one module per format (seccomp JSON built as data, the
text formats from templates/*.j2). Pure: nothing here reads or writes a file but the templates;
profiler.output.registry lists the formats and their files."""
