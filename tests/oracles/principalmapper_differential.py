"""A dev-only differential check of planner/policy/evaluate.py against principalmapper's local policy simulation
(a separate evaluator; AGPL-3.0, so it is never a dependency of s3plan and not run by `make test`).

principalmapper 1.1.5 does not import on Python 3.10+ (it imports Mapping from `collections`), so this script
patches that in first. Run it in a venv of its own:

    python3 -m venv /tmp/pmapper && /tmp/pmapper/bin/pip install principalmapper duckdb pyyaml sqlglot jsonschema
    /tmp/pmapper/bin/python tests/oracles/principalmapper_differential.py

It draws random bucket policies and requests whose condition keys are all known (present or absent), and prints
how often the two evaluators agree, and each kind of disagreement.
"""

from __future__ import annotations

import collections
import collections.abc
import random
import sys
from pathlib import Path
from typing import Any

for _name in ("Mapping", "MutableMapping"):
    setattr(collections, _name, getattr(collections.abc, _name))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from principalmapper.common.nodes import Node  # noqa: E402
from principalmapper.querying.local_policy_simulation import ResourcePolicyEvalResult as Result  # noqa: E402
from principalmapper.querying.local_policy_simulation import resource_policy_authorization  # noqa: E402

from planner.policy.evaluate import Caller, Request, evaluate  # noqa: E402

BUCKET = "amzn-s3-demo-bucket"
OBJECT = f"arn:aws:s3:::{BUCKET}/reports/a.csv"
KEYS = ("aws:SourceIp", "aws:SecureTransport", "s3:prefix", "s3:x-amz-acl")
VALUES = ("192.0.2.1", "192.0.2.0/24", "true", "false", "a/", "a/*", "bucket-owner-full-control", "*")
OPERATORS = ("StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "Bool", "IpAddress", "NotIpAddress",
             "StringEqualsIfExists", "Null", "StringEqualsIgnoreCase")
PRINCIPALS: tuple[Any, ...] = (
    "*", {"AWS": "111122223333"}, {"AWS": "arn:aws:iam::444455556666:root"},
    {"AWS": "arn:aws:iam::444455556666:role/etl"}, {"AWS": "999988887777"},
    {"AWS": "arn:aws:iam::111122223333:user/alice"})
ACTIONS = ("s3:GetObject", "s3:*", "s3:Get*", "s3:PutObject", "s3:ListBucket", "S3:getobject")
RESOURCES = (f"arn:aws:s3:::{BUCKET}/*", f"arn:aws:s3:::{BUCKET}/reports/*", f"arn:aws:s3:::{BUCKET}",
             f"arn:aws:s3:::{BUCKET}/other/*", "*")
CALLERS = (("arn:aws:iam::111122223333:user/alice", "111122223333"),
           ("arn:aws:iam::444455556666:role/etl", "444455556666"))


def main(rounds: int = 20_000, seed: int = 1) -> None:
    rng = random.Random(seed)
    agree, unknown, refused, kinds = 0, 0, 0, collections.Counter[tuple[str, ...]]()
    for _ in range(rounds):
        policy = {"Version": "2012-10-17", "Statement": [_statement(rng) for _ in range(rng.randint(1, 3))]}
        arn, account = rng.choice(CALLERS)
        action = rng.choice(("s3:GetObject", "s3:PutObject"))
        present = {k: rng.choice(VALUES) for k in KEYS if rng.random() < 0.5}
        ours = evaluate(policy, Request(Caller(arn, account), action, OBJECT,
                                        {k.lower(): (v,) for k, v in present.items()},
                                        frozenset(k.lower() for k in KEYS if k not in present)))
        if ours.verdict == "unknown":
            unknown += 1
            continue
        trust = {"Version": "2012-10-17", "Statement": []} if ":role/" in arn else None
        node = Node(arn, "AIDAEXAMPLE", [], [], trust, None, 0, False, False, None, False, {})
        try:
            result = resource_policy_authorization(node, "111122223333", policy, action, OBJECT, dict(present))
        except ValueError:  # principalmapper refuses some inputs (a non-address value for IpAddress)
            refused += 1
            continue
        theirs = "denied" if result in (Result.DENY_MATCH, Result.NO_MATCH) else "allowed"
        if theirs == ours.verdict:
            agree += 1
        else:
            kinds[(ours.verdict, str(result), *_operators(policy, present))] += 1
    print(f"agree {agree}, disagree {sum(kinds.values())}, ours unknown (not compared) {unknown}, "
          f"refused by principalmapper {refused}")
    for kind, count in kinds.most_common():
        print(count, kind)


def _statement(rng: random.Random) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": rng.choice(("Allow", "Deny")), "Principal": rng.choice(PRINCIPALS),
                                 "Action": rng.choice(ACTIONS), "Resource": rng.choice(RESOURCES)}
    if rng.random() < 0.6:
        statement["Condition"] = {rng.choice(OPERATORS): {rng.choice(KEYS): rng.choice(VALUES)}}
    return statement


def _operators(policy: dict[str, Any], present: dict[str, str]) -> list[str]:
    """The policy's operators, each marked with whether the request carried its key."""
    return sorted(f"{op}({'present' if key in present else 'absent'})" for s in policy["Statement"]
                  for op, keys in s.get("Condition", {}).items() for key in keys)


if __name__ == "__main__":
    main()
