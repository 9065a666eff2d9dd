"""Evidence + client -> what to do: the SigV2 remedy, and how an ACL-dependent request is classed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planner.classify.loader import Rule
from planner.classify.useragent import ClientCatalogue
from planner.classify.version import version_lt
from planner.model import Client, Evidence

INVESTIGATE_FAMILIES = frozenset({"unknown", "browser", "http-library"})
ACL_WRITE_EVENTS = frozenset({"PutObjectAcl", "PutBucketAcl", "PutObjectVersionAcl"})
HARMLESS_CANNED_ACL = "bucket-owner-full-control"


@dataclass(frozen=True)
class SigV2Finding:
    """A SigV2 evidence row, the client behind it, and the task kind it calls for (None: informational)."""

    evidence: Evidence
    client: Client
    remedy: str | None
    target_version: str | None


@dataclass(frozen=True)
class AclFinding:
    """An ACL evidence row classed as acl-write, cross-account, same-account, anonymous or service access, with
    the actions its requests needed (rules/acl/actions.yaml; `rule` None: no rule knows the operation)."""

    evidence: Evidence
    access_kind: str
    actions: tuple[str, ...]
    access: str | None
    scope: str | None
    rule: str | None
    decision_rule: str | None = None
    note: str | None = None
    header_actions: tuple[str, ...] = ()  # what the operation's request headers could add (rules `headers`)


def needed_actions(operation: Mapping[str, Any], ev: Evidence) -> tuple[str, ...]:
    """What the row's requests needed: `actions` for those without a versionId, `versioned` for those that named
    one, and the actions of the headers they carried. A row the query split by versionId needs one set only."""
    plain = tuple(operation.get("actions") or ())
    if not plain:
        return ()
    needed: set[str] = set()
    if ev.versioned_requests < ev.requests or not ev.versioned_requests:
        needed.update(plain)
    if ev.versioned_requests:
        needed.update(operation.get("versioned") or plain)
    for header in ev.request_headers:
        needed.update((operation.get("headers") or {}).get(header, ()))
    return tuple(sorted(needed))


def sigv2_remedy(client: Client, presigned: bool) -> tuple[str | None, str | None]:
    """(task kind, target version) for a client seen signing SigV2 (facts §1a, §1b, §10b).

    The decision rests on the evidence as well as the user agent: a presigned URL is fixed where it is signed,
    and a version at or above the minimum that still signs SigV2 needs a setting, not an upgrade.
    """
    if client.aws_operated:  # an AWS service's or the console's signature is AWS's to change
        return None, None
    if presigned:
        return "fix-presigned-urls", None
    if client.end_of_life:
        return "replace-sdk", None
    if client.family in INVESTIGATE_FAMILIES:
        return "investigate-client", None
    if client.minimum_version and (client.version is None or version_lt(client.version, client.minimum_version)):
        return "upgrade-sdk", client.minimum_version
    return "configure-sdk", None


def classify_sigv2(evidence: Sequence[Evidence], catalogue: ClientCatalogue) -> tuple[SigV2Finding, ...]:
    """One finding per SigV2 evidence row."""
    out = []
    for ev in evidence:
        if ev.is_sigv2:
            client = catalogue.identify(ev.user_agent)
            remedy, target = sigv2_remedy(client, ev.is_presigned)
            out.append(SigV2Finding(ev, client, remedy, target))
    return tuple(out)


@dataclass(frozen=True)
class Explanation:
    """What s3plan makes of one user agent seen signing SigV2 with an Authorization header."""

    user_agent: str
    client: Client
    remedy: str | None
    target_version: str | None

    def as_json(self) -> dict[str, str | None]:
        return {"family": self.client.family, "version": self.client.version,
                "minimum_version": self.client.minimum_version, "remedy": self.remedy, "rule": self.client.rule,
                "target_version": self.target_version, "setting": self.client.setting, "docs": self.client.docs}


def explain(user_agent: str, catalogue: ClientCatalogue) -> Explanation:
    """The client behind a user agent and the task it would get if seen signing SigV2."""
    client = catalogue.identify(user_agent)
    remedy, target = sigv2_remedy(client, presigned=False)
    return Explanation(user_agent, client, remedy, target)


def sets_acl(ev: Evidence) -> bool:
    """True when the request set an ACL that BucketOwnerEnforced will refuse (facts §4b)."""
    return ev.event_name in ACL_WRITE_EVENTS or (ev.acl_header is not None and ev.acl_header != HARMLESS_CANNED_ACL)


def decide(ev: Evidence, decisions: Sequence[Rule]) -> Rule | None:
    """The first ACL decision rule (rules/acl/decisions.yaml) whose conditions all hold for the evidence."""
    found = decide_all(ev, decisions)
    return found[0] if found else None


def decide_all(ev: Evidence, decisions: Sequence[Rule]) -> list[Rule]:
    """Every decision for the evidence: the first matching rule, and the next ones while a rule says continue."""
    facts: dict[str, object] = {
        "sets_acl": sets_acl(ev), "acl_required": ev.acl_required, "principal_type": ev.principal_type,
        "principal": ev.principal,
        "same_account": bool(ev.account_id and ev.bucket_account_id and ev.account_id == ev.bucket_account_id),
    }
    found = []
    for rule in decisions:
        if all(_holds(facts[key], want) for key, want in rule.fields["when"].items()):
            found.append(rule)
            if not rule.fields.get("continue"):
                break
    return found


def _holds(value: object, want: object) -> bool:
    return value in want if isinstance(want, list) else value == want


def classify_acl(evidence: Sequence[Evidence], acl_rules: Sequence[Rule]) -> tuple[AclFinding, ...]:
    """One finding per evidence row that needed or set an ACL, decided by the ACL decision rules."""
    by_event = {r.fields["event"]: r for r in acl_rules if "event" in r.fields}
    decisions = [r for r in acl_rules if "decision" in r.fields]
    out = []
    for ev in evidence:
        if not (ev.acl_required or sets_acl(ev)):
            continue
        rule = by_event.get(ev.event_name)
        fields = rule.fields if rule else {}
        actions = needed_actions(fields, ev)
        for decision in decide_all(ev, decisions):
            if decision.fields["decision"] != "none":
                out.append(AclFinding(ev, decision.fields["decision"], actions, fields.get("access"),
                                      fields.get("scope"), rule.id if rule else None, decision.id,
                                      fields.get("note"), tuple(sorted({a for acts in (fields.get("headers") or {})
                                                                        .values() for a in acts}))))
    return tuple(out)
