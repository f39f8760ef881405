"""The Slack side of the core's PeopleLookup: who Slack knows, and "ask again" when it fails."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.core.lookup import LookupUnavailable
from bot.sim.fakeslack import FakeSlack
from bot.slack.client import make_client
from bot.slack.lookup import SlackPeopleLookup

ROOT = Path(__file__).resolve().parents[3]


def lookup(fake: FakeSlack) -> SlackPeopleLookup:
    return SlackPeopleLookup(
        make_client("xoxb-test", fake.api_url, timeout=1, rate_limit_retries=0)
    )


def test_a_user_by_email_or_id_and_nobody_when_slack_knows_nobody(fake: FakeSlack) -> None:
    fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="Asia/Tokyo")
    people = lookup(fake)
    found = people.user("ada@example.org")
    assert found is not None and found["id"] == "UADA" and found["tz"] == "Asia/Tokyo"
    by_id = people.user("UADA")
    assert by_id is not None and by_id["profile"]["email"] == "ada@example.org"
    assert people.user("nobody@example.org") is None
    assert people.user("UNOBODY") is None
    assert people.profile("UADA") is not None


@pytest.mark.parametrize("ref", ["ada@example.org", "UADA"])
@pytest.mark.parametrize("fault", ["error", "timeout"])
def test_slack_failing_a_user_lookup_is_unavailable_not_nobody(
    fake: FakeSlack, ref: str, fault: str
) -> None:
    fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="UTC")
    method = "users.lookupByEmail" if "@" in ref else "users.info"
    if fault == "error":
        fake.fail_always(method, status=429, error="fatal_error")
    else:
        fake.hang_next(method, 2)
    with pytest.raises(LookupUnavailable):
        lookup(fake).user(ref)


def test_a_refused_profile_is_none_and_no_answer_is_unavailable(fake: FakeSlack) -> None:
    fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="UTC")
    fake.fail_next("users.profile.get", status=429, error="missing_scope")
    assert lookup(fake).profile("UADA") is None  # the manager stays unknown
    fake.hang_next("users.profile.get", 2)
    with pytest.raises(LookupUnavailable):
        lookup(fake).profile("UADA")


def test_the_core_modules_of_people_and_enrollment_import_nothing_of_slack() -> None:
    for name in ("enrollment", "directory", "lookup", "limits"):
        tree = ast.parse((ROOT / "bot" / "core" / f"{name}.py").read_text())
        imported = {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        slack = {m for m in imported if m and m.split(".")[0] in ("slack_sdk", "slack_bolt")}
        assert not slack and not {m for m in imported if m and m.startswith("bot.slack")}, name
