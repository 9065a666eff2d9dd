"""What the reviewer reads: the review note says when the current policy was not read, tasks never point at a
draft that was not written, and widened or narrowed resources say what they cover beyond the evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from planner.cli import main
from tests.conftest import ANONYMOUS, log_path, role, s3_record, write_log

PARTNER = role("999988887777", "partner")


def _plan(tmp_path: Path, records: list[dict[str, Any]], *extra: str) -> tuple[dict[str, Any], Path]:
    tree, out = tmp_path / "tree", tmp_path / "out"
    write_log(log_path(tree, "111122223333", "us-east-1", "2026-11-02"), records)
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tree), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return json.loads((out / "plan.json").read_text()), out


def test_a_draft_made_without_the_current_policy_says_merge_not_put(tmp_path: Path) -> None:
    """Finding 8: without --current-policies or --enrich the review diffed against an empty policy and told the
    reviewer to put-bucket-policy, which would replace the live policy."""
    plan, out = _plan(tmp_path, [s3_record(identity=PARTNER, acl_required=True, request_id="P1", key="x/a")])
    review = (out / "policies" / "bucket-a.review.md").read_text()
    banner = review.split("\n\n")[2]
    assert banner.startswith("**The current policy of bucket-a was not read") and banner.endswith("now.**")
    assert "aws s3api get-bucket-policy --bucket bucket-a" in review
    assert "--policy file://policies/bucket-a.policy.json" not in review
    (policy,) = plan["policies"]
    assert policy["current_from"] is None
    task = next(t for t in plan["tasks"] if t["kind"] == "review-policy-statement")
    assert "merge the new statements of policies/bucket-a.policy.json into the bucket's live policy" in task["action"]

    current = tmp_path / "current"
    current.mkdir()
    (current / "bucket-a.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": []}))
    plan, out = _plan(tmp_path / "with", [s3_record(identity=PARTNER, acl_required=True, request_id="P1",
                                                    key="x/a")], "--current-policies", str(current))
    review = (out / "policies" / "bucket-a.review.md").read_text()
    assert "was not read" not in review and "Merged with the current policy as read from" in review
    assert "aws s3api put-bucket-policy --bucket bucket-a --policy file://policies/bucket-a.policy.json" in review


def test_tasks_never_point_at_a_draft_that_was_not_written(tmp_path: Path) -> None:
    """Finding 8: the disable-acls task named policies/<bucket>.json for a bucket with no statements, and a
    malformed current policy left review tasks naming a file that was not written."""
    writer = {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/app", "accountId": "111122223333",
              "principalId": "AIDA"}
    records = [s3_record("PutObjectAcl", identity=writer, acl_required=True, request_id="W1", bucket="bucket-w"),
               s3_record(identity=PARTNER, acl_required=True, request_id="P1", key="x/a", bucket="bucket-p")]
    current = tmp_path / "current"
    current.mkdir()
    (current / "bucket-p.json").write_text("{not json")
    plan, out = _plan(tmp_path, records, "--current-policies", str(current))
    written = {p.name for p in (out / "policies").iterdir()}
    assert "bucket-p.policy.json" not in written and "bucket-w.policy.json" not in written
    for task in plan["tasks"]:
        for name in ("bucket-p.policy.json", "bucket-w.policy.json"):
            assert f"policies/{name}" not in task["action"], task
    disable = {t["buckets"][0]: t for t in plan["tasks"] if t["kind"] == "disable-acls"}
    assert "no policy statement is needed" in disable["bucket-w"]["action"]
    review = next(t for t in plan["tasks"] if t["kind"] == "review-policy-statement")
    assert "no draft was written for bucket-p" in review["action"] and "bucket-p.review.md" in review["action"]
    # the note the task sends the reviewer to holds the statements, and says why no draft was written
    note = (out / "policies" / "bucket-p.review.md").read_text()
    assert "**No draft was written for bucket-p: the current policy could not be read" in note
    assert "## Statements to merge by hand (1)" in note and '"Principal": {' in note
    assert "was not read (no `--enrich`" not in note


def test_a_public_prefix_says_how_many_keys_were_read_publicly(tmp_path: Path) -> None:
    """Finding 8: one public read of public/a.txt at depth 1 becomes public/*: the note says how many distinct keys
    were actually read publicly and that the public ACL covered only those objects."""
    records = [s3_record(identity=ANONYMOUS, sigv=None, auth=None, acl_required=True, request_id=f"A{n}",
                         key=key) for n, key in enumerate(["public/a.txt", "public/b.txt", "public/a.txt"])]
    plan, _ = _plan(tmp_path, records)
    (statement,) = plan["statements"]
    assert statement["statement"]["Resource"] == "arn:aws:s3:::bucket-a/public/*"
    assert any(r.startswith("about 2 distinct key(s) were read publicly under bucket-a/public/*: the public ACL "
                            "covered only those objects") for r in statement["risk"])


def test_exact_objects_at_a_deep_prefix_depth_say_new_objects_are_not_covered(tmp_path: Path) -> None:
    """Finding 8: at --prefix-depth 3, a key with fewer segments is one exact object, and objects written later
    under the same path get nothing from the statement."""
    records = [s3_record(identity=PARTNER, acl_required=True, request_id="P1", key="exports/2026/a.csv")]
    plan, _ = _plan(tmp_path, records, "--prefix-depth", "3")
    (statement,) = plan["statements"]
    assert statement["statement"]["Resource"] == "arn:aws:s3:::bucket-a/exports/2026/a.csv"
    assert any("name single objects" in r and "not covered" in r for r in statement["risk"])


def test_access_no_statement_replaces_blocks_the_bucket_and_is_named(tmp_path: Path) -> None:
    """Finding 8 (and 7): a partner whose principal cannot be drafted (a session of a role the logs do not name)
    kept the bucket 'ready to disable ACLs'; now it is a blocker and the review note names it."""
    session = {"type": "AssumedRole", "arn": "arn:aws:sts::999988887777:assumed-role/reader/s1",
               "accountId": "999988887777", "principalId": "AROA:s1"}
    records = [s3_record(identity=session, acl_required=True, request_id="S1", key="x/a"),
               s3_record(identity=PARTNER, acl_required=True, request_id="P1", key="y/b")]
    plan, out = _plan(tmp_path, records)
    (bucket,) = plan["buckets"]
    assert not bucket["acls_ready"]
    assert any(b["kind"] == "acl-access-not-drafted" and "assumed-role/reader" in b["detail"]
               for b in bucket["blockers"])
    review = (out / "policies" / "bucket-a.review.md").read_text()
    assert "## Not drafted" in review and "is a session of role reader" in review


def test_a_folder_object_at_a_deep_prefix_depth_is_that_object_alone(tmp_path: Path) -> None:
    """Finding 8 (review): at --prefix-depth 3 a whole key ending in / (a folder object, which s3fs, rclone and the
    console read all the time) was granted as the prefix data/*, wider than the depth the reviewer asked for."""
    records = [s3_record("HeadObject", identity=PARTNER, acl_required=True, request_id="F1", key="data/"),
               s3_record(identity=PARTNER, acl_required=True, request_id="F2", key="data/2026/11/x.csv")]
    plan, _ = _plan(tmp_path, records, "--prefix-depth", "3")
    (statement,) = plan["statements"]
    assert statement["statement"]["Resource"] == ["arn:aws:s3:::bucket-a/data/", "arn:aws:s3:::bucket-a/data/2026/11/*"]


def test_uploads_seen_only_in_access_logs_say_their_headers_are_unknown(tmp_path: Path) -> None:
    """Finding 1 (review): access logs keep no request headers, so an upload seen only there may have set tags or
    Object Lock settings that need actions of their own; the statement says so."""
    from tests.test_access_logs import OWNER, PARTNER, as_line

    user = {"type": "IAMUser", "principalId": "AIDA", "arn": f"arn:aws:iam::{PARTNER}:user/bob", "accountId": PARTNER}
    upload = s3_record("GetObject", identity=user, acl_required=True, request_id="U1", key="in/a.csv")
    folder = tmp_path / "logs" / OWNER / "us-east-1" / "bucket-a" / "2026" / "11" / "02"
    folder.mkdir(parents=True)
    (folder / "2026-11-02-10-00-00-ABCDEF").write_text(as_line(upload).replace("REST.GET.OBJECT", "REST.PUT.OBJECT")
                                                       + "\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["plan", "--access-logs", str(tmp_path / "logs"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (statement,) = json.loads((out / "plan.json").read_text())["statements"]
    assert statement["statement"]["Action"] == ["s3:PutObject"]
    assert any("server access logs alone" in r and "s3:PutObjectTagging" in r for r in statement["risk"])


def test_bucket_names_with_dots_never_share_a_file(tmp_path: Path) -> None:
    """Issue 14, finding 4: buckets `data` and `data.sigv4-deny` both wrote policies/data.sigv4-deny.json. Every
    bucket's draft, deny draft and review note now has a file of its own."""
    names = ["data", "data.sigv4-deny", "data.review", "data.policy", "data.json", "data.sigv4-deny.policy"]
    records = []
    for n, bucket in enumerate(names):
        records += [s3_record(identity=PARTNER, acl_required=True, request_id=f"P{n}", key="x/a", bucket=bucket),
                    s3_record(request_id=f"S{n}", bucket=bucket)]
    plan, out = _plan(tmp_path, records)
    written = sorted(p.name for p in (out / "policies").iterdir())
    expected = sorted(f"{b}{suffix}" for b in names for suffix in (".policy.json", ".review.md", ".sigv4-deny.json"))
    assert written == expected
    for bucket in names:
        draft = json.loads((out / "policies" / f"{bucket}.policy.json").read_text())
        assert draft["Statement"][0]["Resource"] == f"arn:aws:s3:::{bucket}/x/*"
        deny = json.loads((out / "policies" / f"{bucket}.sigv4-deny.json").read_text())
        assert deny["Statement"][0]["Resource"][0] == f"arn:aws:s3:::{bucket}"
    reports = {b["bucket"]: b for b in plan["buckets"]}
    assert {reports[b]["sigv4_deny_draft"] for b in names} == {f"policies/{b}.sigv4-deny.json" for b in names}
