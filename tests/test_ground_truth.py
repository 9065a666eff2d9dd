"""The generator's ground truth, checked exactly against the evidence the engine returns."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from planner.classify.remedies import sets_acl
from planner.samples import write_sample_logs
from planner.sources.cloudtrail import CloudTrailFiles

GT_KEY = ("bucket", "event_name", "principal", "principal_type", "account_id", "user_agent", "signature_version",
          "auth_method", "acl_required", "acl_header")


@pytest.fixture(scope="module", params=["default", "busy"])
def generated(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[dict[str, Any], Any]:
    root = tmp_path_factory.mktemp("gen")
    summary = write_sample_logs(root, records=12_000, seed=11, days=3, records_per_file=500, shape=request.param)
    truth = json.loads(summary.ground_truth.read_text())
    return truth, CloudTrailFiles((root,)).scan()


def test_evidence_equals_ground_truth(generated: tuple[dict[str, Any], Any]) -> None:
    truth, result = generated
    got: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(lambda: {"requests": 0, "first": [], "last": []})
    for ev in result.evidence:
        # The generator's definition: SigV2, aclRequired, or sets an ACL. The engine also keeps requests from
        # outside the bucket owner's account as context; those are left out of this comparison.
        if not (ev.is_sigv2 or ev.acl_required or sets_acl(ev)):
            continue
        row = got[tuple(getattr(ev, k) for k in GT_KEY)]
        row["requests"] += ev.requests
        row["first"].append(ev.first_seen)
        row["last"].append(ev.last_seen)
    expected = {tuple(e[k] for k in GT_KEY): e for e in truth["evidence"]}
    assert set(got) == set(expected)
    for key, row in got.items():
        assert row["requests"] == expected[key]["requests"], key
        assert min(row["first"]) == expected[key]["first_seen"], key
        assert max(row["last"]) == expected[key]["last_seen"], key


def test_counts_and_window_equal_ground_truth(generated: tuple[dict[str, Any], Any]) -> None:
    truth, result = generated
    assert result.records == truth["records"]
    assert result.files_read == truth["files"] and not result.skipped
    assert result.window_seen.since == truth["first_event_time"][:10]
    assert result.window_seen.until == truth["last_event_time"][:10]
    assert set(result.bucket_requests) == set(truth["bucket_records"])
    # Bucket totals count evidence requests once each; the ground truth counts every record, duplicates included.
    for bucket, records in truth["bucket_records"].items():
        assert 0.98 * records <= result.bucket_requests[bucket] <= records, bucket


def test_the_busy_shape_has_a_large_organisations_variety(tmp_path: Path) -> None:
    """sample-logs --shape busy: about 3% candidate records, over many more principals, accounts, user agents
    and key prefixes than the default shape, for the same number of records."""
    found = {}
    for shape in ("default", "busy"):
        summary = write_sample_logs(tmp_path / shape, records=60_000, seed=3, days=2, shape=shape)
        truth = json.loads(summary.ground_truth.read_text())
        evidence = truth["evidence"]
        found[shape] = (sum(e["requests"] for e in evidence) / truth["records"], len({e["principal"] for e in evidence}),
                        len({e["account_id"] for e in evidence}), len({e["user_agent"] for e in evidence}),
                        len(evidence))
    share, principals, accounts, agents, rows = found["busy"]
    assert 0.02 <= share <= 0.04
    assert principals >= 3 * found["default"][1] and accounts >= 3 * found["default"][2]
    assert agents >= 10 * found["default"][3] and rows >= 10 * found["default"][4]


def test_an_unknown_shape_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shape 'huge'"):
        write_sample_logs(tmp_path, records=10, shape="huge")
