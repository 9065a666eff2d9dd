"""s3plan's shipped templates, installed as the package `planner.templates` (see planner/resources.py)."""
