"""Finding, pruning and sniffing log files; bad files are reported and the rest are read."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.model import SkippedFile
from planner.sources.base import Selection
from planner.sources.cloudtrail import CloudTrailFiles
from planner.sources.cloudtrail.files import list_files, sniff
from tests.conftest import log_path, opensearch_samples, s3_record, write_log


def _tree(root: Path, org: str | None = None) -> None:
    n = 0
    for account in ("111122223333", "444455556666"):
        for region in ("us-east-1", "eu-west-1"):
            for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
                n += 1
                rec = s3_record(sigv="SigV2", request_id=f"R{n}", time=f"{day}T12:00:00Z", region=region, owner=account)
                write_log(log_path(root, account, region, day, org=org), [rec])
    digest = root / "AWSLogs" / (org or "") / "111122223333" / "CloudTrail-Digest" / "us-east-1" / "2026" / "11" / "01"
    digest.mkdir(parents=True)
    (digest / "111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261101T010000Z.json.gz").write_bytes(
        gzip.compress(json.dumps({"digestS3Object": "x", "logFiles": []}).encode()))


@pytest.mark.parametrize("org", [None, "o-a1b2c3d4e5"])
def test_prunes_by_path_before_reading(tmp_path: Path, org: str | None) -> None:
    _tree(tmp_path, org)
    listing = list_files(tmp_path, Selection(since=date(2026, 11, 2), until=date(2026, 11, 2),
                                             regions=frozenset({"us-east-1"}), accounts=frozenset({"444455556666"})))
    assert [p.parent.as_posix()[-32:] for p in listing.selected] == ["/CloudTrail/us-east-1/2026/11/02"]
    assert "444455556666_CloudTrail_us-east-1_20261102" in listing.selected[0].name
    assert listing.pruned == 11
    assert listing.ignored == 1  # the digest file


def test_without_window_reads_everything_and_reports_window_seen(tmp_path: Path) -> None:
    _tree(tmp_path)
    result = CloudTrailFiles((tmp_path,)).scan()
    assert result.files_read == 12 and result.files_pruned == 0
    assert (result.window_seen.since, result.window_seen.until) == ("2026-11-01", "2026-11-03")
    assert sum(e.requests for e in result.evidence) == 12


def test_files_outside_a_tree_are_ignored_inside_one(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "ground-truth.json").write_text("{}")
    listing = list_files(tmp_path, Selection())
    assert len(listing.selected) == 12 and listing.ignored == 2


def test_missing_and_empty_inputs_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        CloudTrailFiles((tmp_path / "nope",)).scan()
    with pytest.raises(InputError, match="no CloudTrail log files"):
        CloudTrailFiles((tmp_path,)).scan()
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="no CloudTrail log files"):
        CloudTrailFiles((tmp_path,)).scan()


def test_window_that_matches_nothing_says_so(tmp_path: Path) -> None:
    _tree(tmp_path)
    with pytest.raises(InputError, match="none inside"):
        CloudTrailFiles((tmp_path,), Selection(since=date(2025, 1, 1), until=date(2025, 1, 2))).scan()


def _bad_files(folder: Path) -> dict[str, str]:
    good = write_log(folder / "good.json.gz", [s3_record(sigv="SigV2", request_id="G1")])
    raw = good.read_bytes()
    (folder / "corrupt.json.gz").write_bytes(raw[: len(raw) // 2])
    body = json.dumps({"Records": [s3_record(request_id=f"T{i}") for i in range(50)]}).encode()
    (folder / "truncated.json.gz").write_bytes(gzip.compress(body[: len(body) - 40]))
    (folder / "other.json").write_text(json.dumps({"name": "not cloudtrail", "items": [1, 2]}))
    (folder / "misnamed.json.gz").write_text("{}")
    opensearch_samples(folder)
    return {"corrupt.json.gz": "ended before the end-of-stream", "truncated.json.gz": "Malformed JSON", "other.json": "not a CloudTrail",
            "misnamed.json.gz": "not gzip-compressed", "samples-large.json": "Malformed JSON"}


def test_bad_files_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    expected = _bad_files(tmp_path)
    result = CloudTrailFiles((tmp_path,)).scan()
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert set(reasons) == set(expected)
    for name, fragment in expected.items():
        assert fragment in reasons[name], (name, reasons[name])
    assert result.files_read == 1
    assert [e.requests for e in result.evidence] == [1]


def test_names_the_engine_would_glob_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write_log(tmp_path / "a.json.gz", [s3_record(request_id="A")])
    write_log(tmp_path / "*.json.gz", [s3_record(request_id="B")])
    result = CloudTrailFiles((tmp_path,)).scan()
    assert result.records == 1
    assert [Path(s.path).name for s in result.skipped] == ["*.json.gz"] and "rename" in result.skipped[0].reason


def test_sniff_layouts(tmp_path: Path) -> None:
    wrapped = write_log(tmp_path / "a.json.gz", [s3_record()])
    lines = tmp_path / "b.json"
    lines.write_text(json.dumps(s3_record()) + "\n" + json.dumps(s3_record(request_id="R2")) + "\n")
    array = tmp_path / "c.json"
    array.write_text(json.dumps([s3_record()], indent=2))
    assert sniff(wrapped) == "wrapped"
    assert sniff(lines) == "lines"
    assert sniff(array) == "arrays"
    empty = tmp_path / "d.json"
    empty.write_text("")
    assert isinstance(sniff(empty), SkippedFile)
    result = CloudTrailFiles((tmp_path,)).scan()
    assert result.files_read == 3 and result.records == 4


@pytest.mark.parametrize("prefilter", [True, False])
def test_pruned_files_are_never_opened(tmp_path: Path, prefilter: bool) -> None:
    """Files outside --since/--until/--regions hold garbage here: opening one would report it as skipped."""
    _tree(tmp_path)
    selection = Selection(since=date(2026, 11, 2), until=date(2026, 11, 3), regions=frozenset({"us-east-1"}))
    outside = [p for p in tmp_path.rglob("*_CloudTrail_*.json.gz")
               if "/us-east-1/" not in p.as_posix() or p.parent.name == "01"]
    for path in outside:
        path.write_bytes(b"\x1f\x8b not gzip at all")
    result = CloudTrailFiles((tmp_path,), selection, use_prefilter=prefilter).scan()
    assert (result.files_read, result.files_pruned, result.skipped) == (4, len(outside), ())
    assert len(outside) == 8
    assert sum(e.requests for e in result.evidence) == 4
