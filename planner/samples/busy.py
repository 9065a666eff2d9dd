"""The `busy` shape of the sample: the same organisation, with the variety of a large one. Every profile that
yields evidence is spread over many principals (cross-account ones over a pool of partner accounts) and many user
agents (an `app/` id appended, as SDKs do), keys over thousands of top-level prefixes, and candidate records are
scaled to about 3% of the total: what a busy CloudTrail looks like to the tail of the pipeline."""

from __future__ import annotations

import dataclasses
import random
from datetime import date

from planner.samples.people import BOFC, _role, _sessions, _user, _Who
from planner.samples.profiles import _agents, _Profile

CANDIDATE_SHARE = 0.03  # of all records, those that can be evidence (SigV2, aclRequired, setting an ACL)
PRINCIPALS_PER_PROFILE = 8
AGENTS_PER_PROFILE = 25
PARTNER_ACCOUNTS = 150
KEY_PREFIXES = 200  # distinct top-level prefixes per bucket prefix


def busy_catalog(rng: random.Random, start: date,
                 catalog: dict[tuple[str, str], list[_Profile]]) -> dict[tuple[str, str], list[_Profile]]:
    """`catalog` with every evidence profile spread out and candidate records scaled to CANDIDATE_SHARE."""
    partners = [f"{rng.randrange(10**11, 10**12):012d}" for _ in range(PARTNER_ACCOUNTS)]
    out: dict[tuple[str, str], list[_Profile]] = {}
    for stream, profiles in catalog.items():
        spread = [_spread(rng, start, p, partners) if _candidate(p) else _more_agents(rng, p) if p.bucket else p
                  for p in profiles]
        candidates = sum(p.weight for p in spread if _candidate(p))
        others = sum(p.weight for p in spread if not _candidate(p))
        factor = CANDIDATE_SHARE * others / ((1 - CANDIDATE_SHARE) * candidates) if candidates else 1.0
        out[stream] = [dataclasses.replace(p, weight=p.weight * factor) if _candidate(p) else p for p in spread]
    return out


def _candidate(p: _Profile) -> bool:
    sets_acl = (p.acl not in (None, BOFC)) or p.grant is not None or any(
        e in ("PutObjectAcl", "PutBucketAcl") for e in p.events)
    return p.bucket is not None and (p.sig == "SigV2" or p.acl_required or sets_acl)


def _spread(rng: random.Random, start: date, p: _Profile, partners: list[str]) -> _Profile:
    who = tuple(w for base in p.who for n in range(PRINCIPALS_PER_PROFILE)
                for w in _variant(rng, start, base, n, rng.choice(partners) if p.cross else base.account))
    return dataclasses.replace(_more_agents(rng, p), who=who)


def _more_agents(rng: random.Random, p: _Profile) -> _Profile:
    """`p` with its user agents spread over AGENTS_PER_PROFILE application ids (SDK clients only: an AWS
    service's own user agent, unbracketed in CloudTrail, stays as it is)."""
    bracket = p.agents[0][0].startswith("[")
    if not bracket:
        return p
    agents = _agents([f"{raw} app/svc-{rng.randrange(10_000):04d}" for _, raw in p.agents
                      for _ in range(max(1, AGENTS_PER_PROFILE // len(p.agents)))], bracket)
    return dataclasses.replace(p, agents=agents)


def _variant(rng: random.Random, start: date, base: _Who, n: int, account: str | None) -> tuple[_Who, ...]:
    """Another principal like `base` (the same kind, a numbered name), in `account`."""
    if base.account is None or account is None or base.ptype not in ("AssumedRole", "IAMUser"):
        return (base,)
    name = base.principal.split(":", 5)[5].split("/", 1)[1]
    if base.ptype == "IAMUser":
        return _user(rng, account, f"{name}-{n:02d}")
    return _role(rng, start, account, f"{name}-{n:02d}", _sessions(rng, "botocore", 2), vpce=base.vpce)


def busy_key_prefix(rng: random.Random, prefix: str) -> str:
    """`prefix` under one of KEY_PREFIXES numbered top-level prefixes."""
    return f"{prefix.rstrip('/')}-{int(rng.random() * KEY_PREFIXES):04d}/"
