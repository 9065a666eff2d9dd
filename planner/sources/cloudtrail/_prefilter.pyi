"""Type stub of the C pre-filter (planner/sources/_prefilter.c)."""

Group = tuple[bool, str | None, int, str | None, str | None, str | None, int, int, str | None]
Result = tuple[bytes, int, list[Group]]

def scan(data: bytes, record_depth: int, since: str | None, until: str | None, /) -> Result | None:
    """Split a decompressed CloudTrail file into candidate records (NDJSON) and counted groups; None: malformed."""
