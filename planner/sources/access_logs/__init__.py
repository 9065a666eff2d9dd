"""S3 server access logs read on this machine.

`parse` reads one log line field by field (facts section 8) and turns it into a CloudTrail-shaped record; `files`
walks the log files, writes the lines that could be evidence as such records and counts the rest per bucket.
The records are read by the local evidence query together with any CloudTrail files (`planner.sources.local`),
so a request both logs recorded counts once. The Athena side of access logs (table DDL, the combined query) is
`planner.sources.athena.access_log_sql`.
"""

from planner.sources.access_logs.files import AccessLogFiles, Converted

__all__ = ["AccessLogFiles", "Converted"]
