"""CloudTrail log files read on this machine.

`files` lists a tree or folder and prunes by path (account, region, day) as Athena partition projection would;
`prefilter` (with the C extension `_prefilter.c`) keeps in worker processes only the records that could be
evidence and counts the rest; `engine` runs the evidence query on DuckDB over the candidates and any file the
pre-filter gave back; `conform` re-writes a file the engine refuses so its other records still count; `scan`
puts these together as `CloudTrailFiles`. The query text and the fold of its rows are `planner.sources.base`'s.
"""

from planner.sources.cloudtrail.scan import CloudTrailFiles

__all__ = ["CloudTrailFiles"]
