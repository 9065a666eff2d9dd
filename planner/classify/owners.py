"""Owners: who owns a principal, from an owners file (account id, ARN glob, CIDR, user-agent regex -> team)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from planner.classify.loader import Rule
from planner.model import Owner

ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):")


@dataclass(frozen=True)
class OwnerBook:
    """Owner entries tried in file order; the first whose conditions all hold wins."""

    entries: Sequence[Rule] = ()

    def owner_for(self, principal: str | None, account: str | None, source_ips: Iterable[str] = (),
                  user_agents: Iterable[str] = ()) -> Owner | None:
        """The owner of a task's principal, or None when no entry matches."""
        account = account or account_of(principal)
        ips, agents = list(source_ips), list(user_agents)
        for entry in self.entries:
            if _matches(entry.fields["match"], principal, account, ips, agents):
                return Owner(team=entry.fields["team"], contact=entry.fields.get("contact"), rule=entry.id)
        return None


def account_of(principal: str | None) -> str | None:
    """The account id inside an IAM/STS ARN."""
    match = ACCOUNT_IN_ARN.match(principal or "")
    return match.group(1) if match else None


def _matches(match: dict[str, str], principal: str | None, account: str | None, ips: Sequence[str],
             agents: Sequence[str]) -> bool:
    if "account" in match and match["account"] != account:
        return False
    if "arn" in match and not (principal and fnmatchcase(principal, match["arn"])):
        return False
    if "cidr" in match and not any(_in_network(ip, match["cidr"]) for ip in ips):
        return False
    return "user_agent" not in match or any(re.search(match["user_agent"], a) for a in agents)


def _in_network(ip: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False  # source "IPs" such as AWS service names
