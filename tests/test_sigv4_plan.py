"""The SigV4 cutover plan: remedies from evidence and client, tasks per client, owners, deny drafts, explain-ua."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.classify.loader import load_rules
from planner.cli import main
from planner.errors import InternalError
from planner.outputs.clients_doc import render
from planner.policy.deny import check_deny_policy, sigv4_deny_policy
from tests.conftest import log_path, role, s3_record, write_log

DOCS = Path(__file__).resolve().parents[1] / "docs" / "clients.md"
USER = {"type": "IAMUser", "principalId": "AIDAX", "arn": "arn:aws:iam::111122223333:user/batch",
        "accountId": "111122223333", "userName": "batch"}
SIGNER = {"type": "IAMUser", "principalId": "AIDAY", "arn": "arn:aws:iam::111122223333:user/web-signer",
          "accountId": "111122223333", "userName": "web-signer"}


def _tree(root: Path) -> None:
    etl = role("111122223333", "etl")
    records = [
        s3_record(sigv="SigV2", request_id="1", identity=etl, ua="[Boto/2.49.0 Python/2.7.18 Linux/4.14.0]"),
        s3_record(sigv="SigV2", request_id="2", identity=USER,
                  ua="[aws-sdk-java/1.11.100 Linux/4.9 OpenJDK_64-Bit_Server_VM/25.1 java/1.8.0]"),
        s3_record(sigv="SigV2", request_id="3", identity=USER,
                  ua="[aws-sdk-java/1.12.300 Linux/5.10 OpenJDK_64-Bit_Server_VM/25.3 java/1.8.0]"),
        s3_record(sigv="SigV2", auth="QueryString", request_id="4", identity=SIGNER,
                  ua="[Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0]", bucket="bucket-web"),
        s3_record(sigv="SigV2", request_id="5", identity=etl, ua="[aws-sdk-ruby2/2.11.19 ruby/2.3.1 x86_64-linux]"),
        s3_record(sigv="SigV2", request_id="6", identity=USER, ua="[my-uploader/0.3]"),
        s3_record(sigv="SigV2", request_id="7", identity={"type": "AWSService", "invokedBy": "AWS Internal"},
                  ua="AWS Internal"),
        s3_record(sigv="SigV4", request_id="8", bucket="bucket-clean"),
    ]
    write_log(log_path(root, "111122223333", "us-east-1", "2026-11-02"), records)


def _plan(tmp_path: Path, *extra: str) -> dict[str, Any]:
    _tree(tmp_path / "tree")
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(tmp_path / "out"),
                                       *extra])
    assert result.exit_code == 0, result.output
    plan: dict[str, Any] = json.loads((tmp_path / "out" / "plan.json").read_text())
    return plan


def test_remedies_follow_evidence_and_client(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    tasks = {(t["principal"], (t["client"] or {}).get("family")): t for t in plan["tasks"] if t["principal"]}
    user, etl, signer = ("arn:aws:iam::111122223333:user/batch", "arn:aws:iam::111122223333:role/etl",
                         "arn:aws:iam::111122223333:user/web-signer")
    java = tasks[(user, "aws-sdk-java-v1")]
    assert java["kind"] == "upgrade-sdk" and java["target_version"] == "1.11.201"  # 1.11.100 and 1.12.300 in one task
    assert java["client"] == {"family": "aws-sdk-java-v1", "version": "1.11.100", "minimum_version": "1.11.201",
                              "rule": "SDK-040"}
    assert tasks[(etl, "boto2")]["kind"] == "replace-sdk"  # even at 2.49.0
    assert tasks[(etl, "aws-sdk-ruby-v2")]["kind"] == "replace-sdk"
    presigned = tasks[(signer, None)]
    assert presigned["kind"] == "fix-presigned-urls" and presigned["buckets"] == ["bucket-web"]
    assert "Mozilla" in presigned["action"]  # the downloader is named, the task goes to the signer
    unknown = tasks[(user, "unknown")]
    assert unknown["kind"] == "investigate-client" and unknown["user_agents"] == ["my-uploader/0.3"]
    assert unknown["source_ips"] and unknown["buckets"] == ["bucket-a"]
    internal = [c for c in plan["clients"] if c["family"] == "aws-internal"]
    assert internal and internal[0]["remedy"] is None and internal[0]["task"] is None
    assert not [t for t in plan["tasks"] if t["principal"] == "AWS Internal"]


def test_configure_when_the_version_is_new_enough(tmp_path: Path) -> None:
    write_log(log_path(tmp_path / "t", "111122223333", "us-east-1", "2026-11-02"), [s3_record(
        sigv="SigV2", request_id="1", ua="[aws-sdk-java/1.12.300 Linux/5.10 OpenJDK_64-Bit_Server_VM/25.3 java/1.8.0]")])
    CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "t"), "--out", str(tmp_path / "o")])
    (task,) = [t for t in json.loads((tmp_path / "o" / "plan.json").read_text())["tasks"] if t["principal"]]
    assert task["kind"] == "configure-sdk" and "com.amazonaws.services.s3.enableV4" in task["action"]


def test_sigv2_deny_drafts_only_where_no_sigv2_was_seen(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    buckets = {b["bucket"]: b for b in plan["buckets"]}
    assert buckets["bucket-clean"]["sigv4_ready"] and buckets["bucket-clean"]["sigv4_deny_draft"]
    assert not buckets["bucket-a"]["sigv4_ready"] and buckets["bucket-a"]["sigv4_deny_draft"] is None
    assert "arn:aws:iam::111122223333:user/batch" in buckets["bucket-a"]["sigv2_callers"]
    drafts = sorted(p.name for p in (tmp_path / "out" / "policies").glob("*.sigv4-deny.json"))
    assert drafts == ["bucket-clean.sigv4-deny.json"]
    deny = json.loads((tmp_path / "out" / "policies" / "bucket-clean.sigv4-deny.json").read_text())
    assert deny["Statement"][0]["Condition"] == {"StringEquals": {"s3:signatureversion": "AWS"}}
    enforce = {t["buckets"][0]: t for t in plan["tasks"] if t["kind"] == "enforce-sigv4"}
    assert set(enforce) == set(buckets)
    assert enforce["bucket-clean"]["depends_on"] == [] and enforce["bucket-clean"]["wave"] == 1
    assert enforce["bucket-a"]["depends_on"] and enforce["bucket-a"]["wave"] == 2


def test_deny_draft_is_checked() -> None:
    check_deny_policy("bucket-a", sigv4_deny_policy("bucket-a"))
    widened = sigv4_deny_policy("bucket-a")
    widened["Statement"][0]["Condition"] = {"StringNotEquals": {"s3:signatureversion": "AWS4-HMAC-SHA256"}}
    for bad_bucket, policy in (("bucket-a", widened), ("bucket-*", sigv4_deny_policy("bucket-*"))):
        with pytest.raises(InternalError):
            check_deny_policy(bad_bucket, policy)


OWNERS = """owners:
  - id: data-team
    team: data
    contact: data@example.com
    match: {arn: "arn:aws:iam::111122223333:role/etl*"}
  - team: web
    match: {account: "111122223333", user_agent: "Mozilla/"}
  - team: office
    match: {cidr: "198.51.100.0/24"}
"""


def test_owners_file_assigns_teams_and_names_the_entry(tmp_path: Path) -> None:
    owners = tmp_path / "owners.yaml"
    owners.write_text(OWNERS)
    plan = _plan(tmp_path, "--owners", str(owners))
    by_principal = {t["principal"]: t["owner"] for t in plan["tasks"] if t["principal"]}
    assert by_principal["arn:aws:iam::111122223333:role/etl"] == {
        "team": "data", "contact": "data@example.com", "rule": "data-team"}
    assert by_principal["arn:aws:iam::111122223333:user/web-signer"]["team"] == "web"
    assert by_principal["arn:aws:iam::111122223333:user/web-signer"]["rule"] == "owners.yaml:6"
    assert by_principal["arn:aws:iam::111122223333:user/batch"]["team"] == "office"  # source IP 198.51.100.7


@pytest.mark.parametrize(("body", "message"), [
    (OWNERS.replace("198.51.100.0/24", "198.51.100.0/99"), "owners.yaml:9: bad CIDR"),
    (OWNERS.replace('user_agent: "Mozilla/"', 'user_agent: "Mozilla/("'), "owners.yaml:7: bad regex"),
    (OWNERS.replace("match: {cidr:", "match: {ip:"), "owners.yaml:9: unknown operator"),
    (OWNERS.replace("  - team: web\n", "  - name: web\n"), "owners.yaml:6: rule: 'team' is a required property"),
])
def test_bad_owners_files_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    owners = tmp_path / "owners.yaml"
    owners.write_text(body)
    _tree(tmp_path / "tree")
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(tmp_path / "o"),
                                       "--owners", str(owners)])
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_explain_ua_json_and_text() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["explain-ua", "--json", "[Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12]"])
    assert result.exit_code == 0
    found = json.loads(result.stdout)
    assert {k: found[k] for k in ("family", "version", "minimum_version", "remedy", "rule", "target_version")} == {
        "family": "boto3", "version": "1.4.4", "minimum_version": "1.4.6", "remedy": "upgrade-sdk",
        "rule": "SDK-030", "target_version": "1.4.6"}
    text_form = runner.invoke(main, ["explain-ua", "[Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12]"]).stdout
    # the JSON carries what the text says: the setting that turns SigV4 on, and the page
    assert found["setting"] and found["setting"] in text_form and found["docs"].startswith("https://docs.aws.amazon.")
    text = runner.invoke(main, ["explain-ua", "Boto/2.49.0 Python/2.7.18 Linux/4.14.0"]).stdout
    assert "replace-sdk" in text and "use-sigv4" in text
    garbage = runner.invoke(main, ["explain-ua", "--json", "\x00\x01 ???"])
    assert json.loads(garbage.stdout)["family"] == "unknown"


def test_clients_doc_is_current() -> None:
    assert DOCS.read_text() == render(load_rules("clients")), "docs/clients.md is stale: run `make docs`"


def test_a_stream_is_named_by_its_busiest_bucket_or_principal() -> None:
    from planner.model import Task
    from planner.plan.graph import stream_name

    def task(kind: str, buckets: tuple[str, ...], requests: int, principal: str | None = None) -> Task:
        return Task(id=f"X-{kind}", kind=kind, title=f"{kind} title", principal=principal, buckets=buckets,
                    evidence=(), action="", requests=requests)

    assert stream_name([task("upgrade-sdk", ("b1", "b2"), 5), task("upgrade-sdk", ("b2",), 1),
                        task("enforce-sigv4", ("b3",), 0)]) == "SigV4: b2 and 2 more buckets"
    assert stream_name([task("stop-setting-acls", (), 3, "arn:aws:iam::1:role/a"),
                        task("stop-setting-acls", (), 9, "arn:aws:iam::1:role/b")]) == (
        "ACLs: arn:aws:iam::1:role/b and 1 more principal")
    assert stream_name([task("upgrade-sdk", ("b1",), 2), task("disable-acls", ("b1",), 0)]) == "b1"
    assert stream_name([task("investigate-client", (), 0)]) == "SigV4: investigate-client title"


def test_every_owners_file_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    owners = tmp_path / "owners.yaml"
    owners.write_text(OWNERS.replace("198.51.100.0/24", "198.51.100.0/99").replace(
        'user_agent: "Mozilla/"', 'user_agent: "Mozilla/("'))
    _tree(tmp_path / "tree")
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(tmp_path / "o"),
                                       "--owners", str(owners)])
    lines = [line for line in result.stderr.splitlines() if line.startswith("s3plan: error:")]
    assert result.exit_code == 2 and len(lines) == 2, result.output
    assert "owners.yaml:7: bad regex" in lines[0] and "owners.yaml:9: bad CIDR" in lines[1]
