"""What a bucket's readiness rests on: S3 data events in the window. CloudTrail logs management events by default
and data events only where a trail's selectors ask for them (facts §5b), so a bucket seen without them proves
nothing about its SigV2 or ACL-dependent callers, and a window of writes alone cannot show a single read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from planner.model import Blocker, DataEvents

NO_DATA_EVENTS = "no-data-events"
WRITE_ONLY = "write-only-data-events"
# Blockers that stop both migrations: without the evidence, neither readiness can be claimed.
EVIDENCE_BLOCKERS = frozenset({NO_DATA_EVENTS, WRITE_ONLY})
ENABLE = ("turn on S3 data events (read and write) for this bucket in a trail, or server access logging, and "
          "re-run over a full window")


def data_event_blockers(buckets: Sequence[str],
                        data: Mapping[str, DataEvents] | None) -> tuple[dict[str, list[Blocker]], list[str]]:
    """Per bucket, the blocker when the window holds no data events for it (or the source cannot say), and when
    the whole window holds writes but no reads (a WriteOnly trail); plus a note for the plan."""
    if data is None:
        detail = ("the evidence does not say whether S3 data events were logged (results of an older s3plan query): "
                  "re-run the current query so readiness can be proven")
        return {b: [Blocker(NO_DATA_EVENTS, detail)] for b in buckets}, []
    reads = sum(d.reads for d in data.values())
    writes = sum(d.writes for d in data.values())
    write_only = writes > 0 and reads == 0
    out: dict[str, list[Blocker]] = {}
    for bucket in buckets:
        seen = data.get(bucket, DataEvents(0, 0))
        if not seen.any:
            out[bucket] = [Blocker(NO_DATA_EVENTS, f"the window holds no S3 data event for this bucket, only "
                                                   f"management events, so its callers are unknown: {ENABLE}")]
        elif write_only:
            out[bucket] = [Blocker(WRITE_ONLY, f"the window holds {seen.writes} data-event write(s) and no read "
                                               "anywhere: the trail logs WriteOnly data events, so SigV2 and "
                                               "ACL-dependent reads cannot be seen; log read data events too")]
        elif not seen.reads:
            # a trail's selectors set ReadWriteType per selector, so other buckets' reads prove nothing here
            out[bucket] = [Blocker(WRITE_ONLY, f"the window holds {seen.writes} data-event write(s) for this bucket "
                                               "and no read: nobody read it, or the trail logs only its writes "
                                               "(ReadWriteType WriteOnly, or readOnly = false); SigV2 and "
                                               "ACL-dependent reads cannot be ruled out until its reads are logged")]
    notes = []
    if write_only:
        notes.append(f"The window holds {writes} S3 data-event write(s) and no read: the trail's data event selectors "
                     "look WriteOnly (ReadWriteType or readOnly = false). SigV2 and ACL-dependent reads cannot be "
                     "seen, so no bucket is declared ready; log read data events too and re-run.")
    return out, notes
