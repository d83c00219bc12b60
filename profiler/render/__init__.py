"""Policy -> text, one module per format; registry.py lists the formats and their files."""
