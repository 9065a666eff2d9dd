"""User agent -> Client, by the first matching rule of the client catalogue (rules/clients/)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from planner.classify.loader import Rule
from planner.model import Client

UNKNOWN_RULE = "SDK-000"
MAX_USER_AGENT = 4096


@dataclass(frozen=True)
class ClientCatalogue:
    """Compiled client rules, tried in order."""

    rules: Sequence[Rule]

    @cached_property
    def _compiled(self) -> list[tuple[Rule, re.Pattern[str]]]:
        return [(r, re.compile(r.fields["match"]["regex"])) for r in self.rules]

    @cached_property
    def _seen(self) -> dict[str | None, Client]:
        return {}

    def identify(self, user_agent: str | None) -> Client:
        """The client behind a user agent (brackets stripped); `unknown` when nothing matches. Cached per user
        agent: evidence repeats a few thousand agents over many rows."""
        found = self._seen.get(user_agent)
        if found is None:
            found = self._seen[user_agent] = self._identify(user_agent)
        return found

    def _identify(self, user_agent: str | None) -> Client:
        text = strip_brackets(user_agent or "")[:MAX_USER_AGENT]
        for rule, pattern in self._compiled:
            match = pattern.search(text)
            if match:
                groups = {k: v for k, v in match.groupdict().items() if v}
                version = groups.get("version") or next(iter(groups.values()), None)
                return Client(
                    family=rule.fields["family"], version=version,
                    minimum_version=rule.get("minimum_version"), rule=rule.id,
                    setting=rule.get("setting"), docs=rule.get("docs"),
                    end_of_life=bool(rule.get("end_of_life", False)), aws_operated=rule.get("remedy") == "none",
                )
        return Client(family="unknown", version=None, minimum_version=None, rule=UNKNOWN_RULE)


def strip_brackets(user_agent: str) -> str:
    """CloudTrail wraps S3 user agents in `[...]` (facts §2b): strip one pair, or a lone `[` when CloudTrail
    cut the value at 1 KB and the `]` was lost."""
    text = user_agent.strip()
    if text.startswith("["):
        text = text[1:-1] if text.endswith("]") else text[1:]
    return text.strip()
