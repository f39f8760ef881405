"""The Slack CLI project: `manifest.json` is what `coachbot manifest` prints and is valid
against Slack's published manifest schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from bot.cli import main
from bot.slack.ids import Function
from bot.slack.manifest import manifest

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "tests" / "slack_manifest_schema"  # SOURCE.md there says where from


def schema_validator() -> Draft7Validator:
    """Slack's top schema, with the versioned schemas it refers to served from the copies."""
    text = (SCHEMAS / "manifest.schema.json").read_text()
    top = json.loads(text)
    resources = [(top["$id"], top)]
    for uri in set(re.findall(r'"\$ref": "(https://[^"]+)"', text)):
        resources.append((uri, json.loads((SCHEMAS / uri.rsplit("/", 1)[1]).read_text())))
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(doc, default_specification=DRAFT7)) for uri, doc in resources
    )
    return Draft7Validator(top, registry=registry)


def errors(document: dict[str, Any]) -> list[str]:
    """Every complaint, the ones inside Slack's oneOf (by manifest version) included."""
    found: list[str] = []

    def walk(error: Any) -> None:
        found.append(f"{'/'.join(map(str, error.absolute_path))}: {error.message}")
        for inner in error.context or ():
            walk(inner)

    for error in schema_validator().iter_errors(document):
        walk(error)
    return found


# -- manifest.json --------------------------------------------------------------------------


def test_manifest_json_is_what_coachbot_manifest_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest"]) == 0
    printed = capsys.readouterr().out
    assert (ROOT / "manifest.json").read_text() == printed, (
        "manifest.json is out of date: run `coachbot manifest > manifest.json`"
    )


@pytest.mark.parametrize("url", [None, "https://coachbot.example.org"], ids=["socket", "http"])
def test_the_manifest_is_valid_against_slacks_schema(url: str | None) -> None:
    assert errors(manifest(url)) == []


def test_the_schema_refuses_what_slack_would() -> None:
    """The copies do bite: a step without a title, an unknown setting, a plain-http URL."""
    untitled = manifest()
    del untitled["functions"][Function.ENROLL_LEARNER]["title"]
    assert any("'title' is a required property" in e for e in errors(untitled))
    unknown = manifest()
    unknown["settings"]["socket_mode"] = True
    assert errors(unknown)
    insecure = manifest("https://coachbot.example.org")
    insecure["settings"]["event_subscriptions"]["request_url"] = "ftp://coachbot.example.org"
    assert errors(insecure)


def test_the_manifest_declares_the_workflow_step_and_its_event() -> None:
    data = manifest()
    assert "function_executed" in data["settings"]["event_subscriptions"]["bot_events"]
    assert data["settings"]["org_deploy_enabled"] is True  # custom steps need an org-ready app
    assert data["settings"]["function_runtime"] == "remote"
    assert set(data["functions"]) == {"enroll_learner"}
