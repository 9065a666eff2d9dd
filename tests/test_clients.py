"""The client catalogue against real user agents: every rule has cases; the real strings of tests/fixtures (and,
as an extra, the whole shared list) are checked against the family and version a person wrote down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.classify.loader import load_rules
from planner.classify.useragent import UNKNOWN_RULE, ClientCatalogue
from tests.conftest import FIXTURES, shared

CASES = Path(__file__).parent / "rule_cases"
AGENTS = FIXTURES / "user-agents"
RULES = load_rules("clients")
CATALOGUE = ClientCatalogue(RULES)
SERVICES = {"aws-cloudtrail", "amazon-s3", "aws-trusted-advisor", "amazon-redshift", "amazon-athena", "aws-glue",
            "emr-serverless", "aws-config", "aws-cloudformation", "aws-backup", "aws-lambda"}
NOT_SDK = {"browser", "http-library", "aws-internal", "unknown", *SERVICES}
FAMILIES = {
    "aws-cli-v1", "aws-cli-v2", "boto3", "botocore", "boto2", "aws-sdk-java-v1", "aws-sdk-java-v2", "aws-sdk-js-v2",
    "aws-sdk-js-v3", "aws-sdk-go-v1", "aws-sdk-go-v2", "aws-sdk-dotnet", "aws-sdk-php-v2", "aws-sdk-php-v3",
    "aws-sdk-ruby-v1", "aws-sdk-ruby-v2", "aws-sdk-ruby-v3", "aws-sdk-cpp", "aws-sdk-rust", "aws-powershell",
    "hadoop-s3a", "emrfs", "jets3t", "s3cmd", "rclone", "minio", "cyberduck", "s3-console", "aws-internal", "browser",
    "http-library", "unknown", "aws-sdk-php-v1", "aws-sdk-swift", "aws-sdk-kotlin", "aws-sdk-ios", "aws-sdk-android",
    "aws-amplify", *SERVICES,
}


def _cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load((CASES / name).read_text())["cases"]
    return cases


CLIENT_CASES = _cases("clients.yaml")


@pytest.mark.parametrize("case", CLIENT_CASES, ids=[f"{c['rule']}-{n}" for n, c in enumerate(CLIENT_CASES)])
def test_client_case(case: dict[str, Any]) -> None:
    client = CATALOGUE.identify(case["ua"])
    assert (client.family, client.version, client.rule) == (case["family"], case["version"], case["rule"])


def test_every_rule_has_cases_and_every_family_exists() -> None:
    assert {r.id for r in RULES} <= {c["rule"] for c in CLIENT_CASES}
    assert {r.fields["family"] for r in RULES} | {"unknown"} == FAMILIES


def _fixture(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load((AGENTS / name).read_text())["cases"]
    return cases


FIXTURE_AGENTS = _fixture("real.yaml") + _fixture("own.yaml")


@pytest.mark.parametrize("case", FIXTURE_AGENTS, ids=[f"{n}-{c['ua'][:30]}" for n, c in enumerate(FIXTURE_AGENTS)])
def test_fixture_user_agents_have_their_checked_family_and_version(case: dict[str, Any]) -> None:
    client = CATALOGUE.identify(case["ua"])
    assert (client.family, client.version) == (case["family"], case["version"])


def test_non_sdk_strings_never_land_in_an_sdk_family() -> None:
    agents = [c["ua"] for c in FIXTURE_AGENTS]
    custom = [a for a in agents if a.startswith(("stratus-red-team_", "Mozilla/", "vertica", "Go-http", "Java/"))]
    assert len(custom) > 40
    assert {CATALOGUE.identify(a).family for a in custom} <= NOT_SDK


def test_every_shared_real_user_agent_has_its_checked_family_and_version() -> None:
    agents = shared("data", "user-agents.txt").read_text().splitlines()
    table = {c["line"]: c for c in _cases("user-agents.yaml")}
    assert len(agents) == 115 and sorted(table) == list(range(1, 116))
    wrong = []
    for line, agent in enumerate(agents, start=1):
        client = CATALOGUE.identify(agent)
        expected = table[line]
        if (client.family, client.version) != (expected["family"], expected["version"]):
            wrong.append((line, agent[:60], client.family, client.version, expected["family"], expected["version"]))
    assert not wrong


def test_the_fixture_copies_are_the_shared_strings_with_the_same_verdicts() -> None:
    agents = shared("data", "user-agents.txt").read_text().splitlines()
    table = {agents[c["line"] - 1]: (c["family"], c["version"]) for c in _cases("user-agents.yaml")}
    assert {c["ua"]: (c["family"], c["version"]) for c in _fixture("real.yaml")}.items() <= table.items()


def test_user_agents_cut_at_1kb_keep_their_family() -> None:
    long = "[aws-sdk-java/1.11.100 Linux/4.9 OpenJDK_64-Bit_Server_VM/25.1 java/1.8.0 " + "x" * 2000
    cut = long[:1024]
    client = CATALOGUE.identify(cut)
    assert (client.family, client.version) == ("aws-sdk-java-v1", "1.11.100")
    assert CATALOGUE.identify("Hadoop 3.3.4, aws-sdk-java/1.12.262 " + "y" * 5000).family == "hadoop-s3a"


@pytest.mark.parametrize("agent", ["", "   ", "\x00\x01\x02", "\udcff\ufffe", "[", "]", "[]", "[" * 5000])
def test_empty_and_garbage_agents_are_unknown(agent: str) -> None:
    client = CATALOGUE.identify(agent)
    assert (client.family, client.rule) == ("unknown", UNKNOWN_RULE)


def test_aws_services_by_name_get_no_task_and_sdks_do() -> None:
    from planner.classify.remedies import sigv2_remedy

    for ua in ("athena.amazonaws.com", "AWS Redshift/Spectrum", "[S3Console/0.4]", "AWS Internal/3"):
        client = CATALOGUE.identify(ua)
        assert client.aws_operated and sigv2_remedy(client, presigned=False) == (None, None), ua
    for ua, remedy in (("aws-sdk-php/1.6.2 PHP/5.3.3", "replace-sdk"), ("aws-sdk-js/2.45.0 callback", "upgrade-sdk"),
                       ("aws-sdk-iOS/2.0.4 iPhone-OS/9.3 en_US", "configure-sdk")):
        client = CATALOGUE.identify(ua)
        assert not client.aws_operated and sigv2_remedy(client, presigned=False)[0] == remedy, ua
    assert {r.fields["family"] for r in RULES if r.get("remedy") == "none"} == {"aws-internal", "s3-console", *SERVICES}
