"""Rule files: schema-checked, errors as `file:line: message`, exit 2 from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from planner.classify.loader import load_rules
from planner.classify.useragent import ClientCatalogue
from planner.classify.version import parse_version, version_lt
from planner.cli import main
from planner.errors import RuleError
from tests.conftest import mixed_tree

CATALOGUE = ClientCatalogue(load_rules("clients"))

GOOD = """rules:
  - id: SDK-900
    title: In-house uploader
    family: my-uploader
    match: {regex: '^my-uploader/(?P<version>[0-9.]+)'}
    minimum_version: "2.0"
    source: team wiki
"""


def _rules_dir(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "rules" / "clients"
    folder.mkdir(parents=True)
    (folder / "custom.yaml").write_text(body)
    return tmp_path / "rules"


@pytest.mark.parametrize(("body", "message"), [
    (GOOD.replace("'^my-uploader/(?P<version>[0-9.]+)'", "'^my-uploader/(?P<version>[0-9.]+'"), "custom.yaml:5: bad regex"),
    (GOOD.replace("match: {regex:", "match: {startswith:"), "custom.yaml:5: unknown operator"),
    (GOOD + GOOD.replace("rules:\n", ""), "custom.yaml:8: duplicate rule id SDK-900 (first at line 2)"),
    (GOOD.replace("    source: team wiki\n", ""), "custom.yaml:2: rule: 'source' is a required property"),
    ("rules: [\n", "custom.yaml:2: not valid YAML"),
    (GOOD.replace('minimum_version: "2.0"', "minimum_version: 1.10"),
     'custom.yaml:6: minimum_version: 1.10 is a YAML number (1.1); quote it: "1.10"'),
])
def test_bad_rule_files_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    extra = _rules_dir(tmp_path, body)
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_rules("clients", [extra])
    mixed_tree(tmp_path / "tree")
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(tmp_path / "o"),
                                       "--rules", str(extra)])
    assert result.exit_code == 2
    assert message.split(":")[0] in result.output and "Traceback" not in result.output


def test_user_rules_add_families(tmp_path: Path) -> None:
    rules = load_rules("clients", [_rules_dir(tmp_path, GOOD)])
    client = ClientCatalogue(rules).identify("[my-uploader/1.2 linux]")
    assert (client.family, client.version, client.rule) == ("my-uploader", "1.2", "SDK-900")


@pytest.mark.parametrize(("agent", "family", "version"), [
    ("[aws-cli/1.11.10 Python/2.7.8 Linux/3.2.45 botocore/1.4.67]", "aws-cli-v1", "1.11.10"),
    ("aws-cli/2.13.25 Python/3.11.5 Linux/6.8.0-56-generic exe/x86_64.ubuntu.24 prompt/off", "aws-cli-v2", "2.13.25"),
    ("[Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12]", "boto3", "1.4.4"),
    ("Boto3/1.28.62 md/Botocore#1.31.62 ua/2.0 os/macos#22.6.0 Botocore/1.31.62", "boto3", "1.28.62"),
    ("[aws-sdk-java/1.11.504 Linux/4.14.186 OpenJDK_64-Bit_Server_VM/11.0.2+9 java/11.0.2]", "aws-sdk-java-v1", "1.11.504"),
    ("aws-sdk-java/2.0.0-preview-9-SNAPSHOT Mac_OS_X/10.11.6 Java/1.8.0_151", "aws-sdk-java-v2", "2.0.0-preview-9-SNAPSHOT"),
    ("Hadoop 3.3.4, aws-sdk-java/1.12.262 Linux/5.10 cfg/retry-mode/legacy", "hadoop-s3a", "1.12.262"),
    ("ElasticMapReduce/1.0.0 emrfs/s3n {}, aws-sdk-java/1.11.129 Linux/4.4.35", "emrfs", "1.11.129"),
    ("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.226]", "s3-console", "1.12.750"),
    ("aws-sdk-nodejs/2.586.0 darwin/v13.2.0 promise", "aws-sdk-js-v2", "2.586.0"),
    ("aws-sdk-go/1.44.237 (go1.19.7; linux; arm64)", "aws-sdk-go-v1", "1.44.237"),
    ("AWSPowerShell/3.3.365.0 .NET_Runtime/4.0 .NET_Framework/4.0", "aws-powershell", "3.3.365.0"),
    ("aws-sdk-ruby2/2.11.19 ruby/2.3.1 x86_64-linux", "aws-sdk-ruby-v2", "2.11.19"),
    ("cloudtrail.amazonaws.com", "aws-cloudtrail", None),
    ("AWS Internal", "aws-internal", None),
    ("[Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36]", "browser", None),
    ("curl/7.15.1", "http-library", None),
    ("", "unknown", None),
    ("\x00\xff garbage \x1b[31m", "unknown", None),
])
def test_user_agents_from_the_facts_file(agent: str, family: str, version: str | None) -> None:
    client = CATALOGUE.identify(agent)
    assert (client.family, client.version) == (family, version)


def test_versions_compare_like_sdks_print_them() -> None:
    assert version_lt("1.11.200", "1.11.201") and not version_lt("1.11.201", "1.11.201")
    assert version_lt("1.9.0", "1.11.201")
    assert version_lt("2.0.0dev3", "2.0.0") and version_lt("2.0.0-preview-9-SNAPSHOT", "2.0.0")
    assert version_lt("3.1.10", "3.3.0.0") and not version_lt("3.3.0.0", "3.3")
    assert not version_lt(None, "1.0") and not version_lt("garbage", "1.0")


@given(st.text())
def test_version_parser_never_raises(text: str) -> None:
    parsed = parse_version(text)
    assert parsed is None or all(part >= 0 for part in parsed.release)


@given(st.text(max_size=2000))
def test_identify_never_raises(text: str) -> None:
    assert CATALOGUE.identify(text).family


def test_rule_files_in_the_wrong_place_are_reported_not_ignored(tmp_path: Path) -> None:
    extra = _rules_dir(tmp_path, GOOD)
    (extra / "sdk.yaml").write_text(GOOD)
    (extra / "clients" / "more.yml").write_text(GOOD)
    (extra / "owners").mkdir()
    (extra / "owners" / "x.yaml").write_text("owners: []\n")
    mixed_tree(tmp_path / "tree")
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(tmp_path / "o"),
                                       "--rules", str(extra)])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("s3plan: error:")]
    assert len(errors) == 1 and all(name in errors[0] for name in ("sdk.yaml", "more.yml", "x.yaml"))
    assert "custom.yaml" not in errors[0] and "DIR/clients/*.yaml" in errors[0]


def test_every_problem_of_every_rule_file_is_reported_in_one_run(tmp_path: Path) -> None:
    bad_regex = GOOD.replace("'^my-uploader/(?P<version>[0-9.]+)'", "'^my-uploader/(?P<version>[0-9.]+'")
    two_keys = GOOD.replace("SDK-900", "SDK-901").replace('minimum_version: "2.0"', "minimum_version: 1.0").replace(
        "    source: team wiki\n", "    source: team wiki\n    colour: blue\n")
    extra = _rules_dir(tmp_path, bad_regex + two_keys.replace("rules:\n", ""))
    (extra / "clients" / "other.yaml").write_text("rules: [\n")
    (extra / "acl").mkdir()
    (extra / "acl" / "dup.yaml").write_text(GOOD.replace("rules:", "rules:\n  - {}"))
    with pytest.raises(RuleError) as raised:
        load_rules("clients", [extra])
    lines = str(raised.value).splitlines()
    assert [line.split(": ")[0].rsplit("/", 1)[-1] for line in lines] == [
        "custom.yaml:5", "custom.yaml:12", "custom.yaml:14", "other.yaml:2"]
    assert "bad regex" in lines[0] and 'minimum_version: 1.0 is a YAML number (1.0); quote it: "1.0"' in lines[1]
    assert "'colour' was unexpected" in lines[2] and "not valid YAML" in lines[3]
    mixed_tree(tmp_path / "tree")
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(tmp_path / "o"),
                                       "--rules", str(extra)])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("s3plan: error:")]
    places = ["custom.yaml:5", "custom.yaml:12", "custom.yaml:14", "other.yaml:2",
              "dup.yaml:2", "dup.yaml:3", "dup.yaml:5"]  # the acl rules' problems too, in the same run
    assert len(errors) == len(places) and all(place in errors[n] for n, place in enumerate(places))


def test_past_fifty_problems_the_rest_are_counted_right(tmp_path: Path) -> None:
    body = "rules:\n" + "".join(f"  - {{id: SDK-{900 + n}, title: t, family: f, match: {{regex: '('}}, source: s}}\n"
                                for n in range(60))
    with pytest.raises(RuleError) as raised:
        load_rules("clients", [_rules_dir(tmp_path, body)])
    lines = str(raised.value).splitlines()
    assert len(lines) == 51 and all("bad regex" in line for line in lines[:50])
    assert lines[-1] == "... and 10 more problems"


def test_a_bad_pattern_is_reported_beside_another_wrong_key_and_odd_types_do_not_crash(tmp_path: Path) -> None:
    body = ("rules:\n  - {id: SDK-901, title: t, family: f, match: {regex: '('}, source: s, colour: x}\n"
            "  - {id: SDK-902, title: t, family: f, match: 5, source: s}\n"
            "  - {id: SDK-903, title: t, family: f, match: {regex: 7}, source: s}\n  - just text\n")
    with pytest.raises(RuleError) as raised:
        load_rules("clients", [_rules_dir(tmp_path, body)])
    lines = str(raised.value).splitlines()
    assert any("custom.yaml:2:" in x and "colour" in x for x in lines)
    assert any("custom.yaml:2: bad regex" in x for x in lines)
    assert any("custom.yaml:3:" in x for x in lines) and any("custom.yaml:4:" in x for x in lines)
    assert len(lines) == 5  # the fourth item, a bare string, is one more problem
