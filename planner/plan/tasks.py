"""Findings and statements -> tasks: SDK work per (principal, client), ACL work per caller and bucket."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TypedDict

from planner.classify.remedies import AclFinding, SigV2Finding
from planner.classify.version import parse_version, version_lt
from planner.model import BucketPolicy, Client, Evidence, SigV2Client, Statement, Task, review_file, stable_id

SAMPLES = 5


# When one (principal, family, major version) group holds several remedies, the task asks for the strongest.
REMEDY_ORDER = ("replace-sdk", "upgrade-sdk", "configure-sdk", "investigate-client")


def sdk_task_key(f: SigV2Finding) -> tuple[str, str, int] | None:
    """The group a SigV2 finding's task is for: (principal, family, major), or (principal, "", 0) for presigned
    URLs, which are fixed in the signer's application whatever downloads them. None: no task (AWS services)."""
    if f.remedy is None:
        return None
    if f.remedy == "fix-presigned-urls":
        return (f.evidence.principal, "", 0)
    return (f.evidence.principal, f.client.family, _major(f.client))


def sdk_task_id(key: tuple[str, str, int]) -> str:
    """The id of the SDK task for a (principal, family, major) key; presigned URLs (family "") get PRE-."""
    return stable_id("PRE" if not key[1] else "SDK", *key)


def sdk_tasks(findings: Sequence[SigV2Finding]) -> list[Task]:
    """One task per (principal, client family, major version); presigned URLs per signer (facts §1a, §10b)."""
    groups: dict[tuple[str, str, int], list[SigV2Finding]] = defaultdict(list)
    for f in findings:
        key = sdk_task_key(f)
        if key is not None:
            groups[key].append(f)
    return [_sdk_task(key, group) for key, group in sorted(groups.items())]


def _major(client: Client) -> int:
    version = parse_version(client.version)
    return version.major if version else 0


def _sdk_task(key: tuple[str, str, int], group: Sequence[SigV2Finding]) -> Task:
    principal, family, _ = key
    kind = "fix-presigned-urls" if not family else min(
        (f.remedy for f in group if f.remedy), key=lambda r: REMEDY_ORDER.index(r) if r in REMEDY_ORDER else 99)
    client = _oldest(f.client for f in group)
    target = next((f.target_version for f in group if f.target_version), None)
    evidence = [f.evidence for f in group]
    return Task(
        # the id names what the task is about, not the remedy, so it survives an upgrade that changes the remedy
        id=sdk_task_id(key), kind=kind,
        title=_sdk_title(kind, principal, client, target, evidence[0].user_agent), principal=principal,
        buckets=_buckets(evidence), evidence=_ids(evidence), action=_sdk_action(kind, client, target, evidence),
        client=None if kind == "fix-presigned-urls" else client, target_version=target,
        user_agents=_sample(e.user_agent for e in evidence), source_ips=_ips(evidence),
        rules=tuple(sorted({f.client.rule for f in group})), **_measures(evidence),
    )


def _oldest(clients: Iterable[Client]) -> Client:
    oldest: Client | None = None
    for c in clients:
        if oldest is None or version_lt(c.version, oldest.version):
            oldest = c
    assert oldest is not None
    return oldest


def _sdk_title(kind: str, principal: str, client: Client, target: str | None, agent: str | None) -> str:
    name = f"{client.family} {client.version or '(version unknown)'}"
    shown = (agent or "(no user agent)")[:60]
    return {
        "upgrade-sdk": f"Upgrade {name} to {target} or later ({principal})",
        "configure-sdk": f"Turn on SigV4 in {name} ({principal})",
        "replace-sdk": f"Replace {name}, which is end of life ({principal})",
        "fix-presigned-urls": f"Sign presigned URLs with SigV4 ({principal})",
        "investigate-client": f"Identify the SigV2 client '{shown}' ({principal})",
    }[kind]


def _sdk_action(kind: str, client: Client, target: str | None, evidence: Sequence[Evidence]) -> str:
    setting = f" Setting: {client.setting}." if client.setting else ""
    docs = f" See {client.docs}." if client.docs else ""
    if kind == "upgrade-sdk":
        return (f"Upgrade to {target} or later; versions before it sign S3 requests with SigV2 by default."
                f"{setting}{docs}")
    if kind == "configure-sdk":
        return f"This version supports SigV4 but was seen signing SigV2: change its configuration.{setting}{docs}"
    if kind == "replace-sdk":
        return (f"{client.family} is end of life and keeps SigV2 in SigV2 regions; move to a supported SDK."
                f"{setting}{docs}")
    if kind == "fix-presigned-urls":
        agents = ", ".join(_sample(e.user_agent for e in evidence)) or "unknown"
        return ("Presigned URLs signed by this principal use SigV2 (AuthenticationMethod=QueryString). Fix the "
                "application that generates them: set SigV4 and the bucket's Region in its SDK client. "
                f"The user agents are the downloaders, not the signer: {agents}.")
    return ("The user agent is not a known AWS SDK or tool: find the owner of this client from the principal, "
            "source IPs and user agents.")


def client_rows(findings: Sequence[SigV2Finding], tasks: Sequence[Task]) -> tuple[SigV2Client, ...]:
    """Every client seen signing SigV2, with its task; AWS services are listed with no task (informational)."""
    task_ids = {t.id for t in tasks}
    groups: dict[tuple[str, str, str, bool], list[SigV2Finding]] = defaultdict(list)
    for f in findings:
        groups[(f.evidence.principal, f.client.family, f.client.version or "", f.evidence.is_presigned)].append(f)
    rows = []
    for (principal, family, version, presigned), group in sorted(groups.items()):
        key = sdk_task_key(group[0])
        task = None if key is None else sdk_task_id(key)
        evidence = [f.evidence for f in group]
        rows.append(SigV2Client(
            principal=principal, family=family, version=version or None,
            minimum_version=group[0].client.minimum_version, rule=group[0].client.rule, remedy=group[0].remedy,
            task=task if task in task_ids else None, presigned=presigned, buckets=_buckets(evidence),
            user_agents=_sample(e.user_agent for e in evidence), **_measures(evidence)))
    return tuple(rows)


def stop_acl_tasks(findings: Sequence[AclFinding]) -> list[Task]:
    """One task per caller that sets ACLs: those requests fail once ACLs are disabled (facts §4b)."""
    groups: dict[str, list[Evidence]] = defaultdict(list)
    for f in findings:
        if f.access_kind == "acl-write":
            groups[f.evidence.principal].append(f.evidence)
    tasks = []
    for principal, evidence in sorted(groups.items()):
        how = sorted({e.event_name if e.acl_header is None else f"{e.event_name} with {e.acl_header}"
                      for e in evidence})
        tasks.append(Task(
            id=stable_id("ACL", principal), kind="stop-setting-acls",
            title=f"Stop setting ACLs ({principal})", principal=principal, buckets=_buckets(evidence),
            evidence=_ids(evidence), user_agents=_sample(e.user_agent for e in evidence),
            source_ips=_ips(evidence),
            action=(f"Observed: {'; '.join(how)}. After BucketOwnerEnforced these requests fail with "
                    "AccessControlListNotSupported; remove the ACL headers and calls (x-amz-acl: "
                    "bucket-owner-full-control is still accepted) and grant access in the bucket policy instead."),
            **_measures(evidence),
        ))
    return tasks


def review_tasks(statements: Sequence[Statement], policies: Mapping[str, BucketPolicy]) -> list[Task]:
    """One review task per drafted statement, pointing at its bucket's draft only where one was written."""
    return [
        Task(id=stable_id("REV", s.bucket, s.sid), kind="review-policy-statement",
             title=f"Review statement {s.sid} on {s.bucket}", principal=s.principal, buckets=(s.bucket,),
             evidence=s.evidence, requests=s.requests, first_seen=s.first_seen, last_seen=s.last_seen,
             action=f"Check that {s.principal} should keep {s.access} access, then {apply_step(s.bucket, policies)}")
        for s in statements
    ]


def apply_step(bucket: str, policies: Mapping[str, BucketPolicy]) -> str:
    """How the bucket's reviewed statements reach its policy: the written draft, merged into the live policy when
    the current one was not read; or, with no draft written, the review note's statements by hand."""
    policy = policies.get(bucket)
    if policy is None or policy.draft is None:
        why = policy.steps[-1] if policy and policy.steps else "see the blockers"
        return (f"merge the statement into the bucket policy by hand: no draft was written for {bucket} ({why}); "
                f"the statement is in policies/{review_file(bucket)} and plan.json.")
    if policy.current_from is None:
        return (f"merge the new statements of {policy.draft} into the bucket's live policy (its current policy was "
                "not read: putting the file as it is would replace the whole policy).")
    return f"put {policy.draft} (the current policy with the new statements merged in)."


def _buckets(evidence: Iterable[Evidence]) -> tuple[str, ...]:
    return tuple(sorted({e.bucket for e in evidence if e.bucket}))


def _ids(evidence: Iterable[Evidence]) -> tuple[str, ...]:
    return tuple(sorted({e.id for e in evidence}))


def _sample(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(sorted({v for v in values if v}))[:SAMPLES]


def _ips(evidence: Iterable[Evidence]) -> tuple[str, ...]:
    return _sample(ip for e in evidence for ip in e.source_ips)


class _Measures(TypedDict):
    requests: int
    first_seen: str | None
    last_seen: str | None
    failing: str | None


def _measures(evidence: Sequence[Evidence]) -> _Measures:
    """Request count, first/last seen and failures over evidence rows."""
    firsts = [e.first_seen for e in evidence if e.first_seen]
    lasts = [e.last_seen for e in evidence if e.last_seen]
    return {"requests": sum(e.requests for e in evidence), "first_seen": min(firsts) if firsts else None,
            "last_seen": max(lasts) if lasts else None, "failing": failing(evidence)}


def failing(evidence: Sequence[Evidence]) -> str | None:
    """How the task's requests fail, from the errors the logs recorded (the server access logs also record the
    requests S3 refused, e.g. SigV2 after it was denied, or ACLs after they were disabled): "still failing since"
    when the last request seen failed, else the span of the failures."""
    failed = [e for e in evidence if e.first_error and e.last_error]
    if not failed:
        return None
    since = min(e.first_error for e in failed if e.first_error)
    last = max(e.last_error for e in failed if e.last_error)
    codes = ", ".join(sorted({c for e in failed for c in e.error_codes})) or "errors"
    latest = max((e.last_seen for e in evidence if e.last_seen), default=last)
    if last >= latest:
        return f"still failing since {since} ({codes})"
    return f"failed from {since} to {last} ({codes}); requests after that succeeded"
