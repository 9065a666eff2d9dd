"""s3plan's shipped rules, installed as the package `planner.rules` (see planner/resources.py)."""
