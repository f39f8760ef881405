"""The Slack CLI project: `manifest.json` is what `coachbot manifest` prints and is valid
against Slack's published manifest schema; `.slack/hooks.json` makes `slack run` start the
bot in Socket Mode with the CLI's tokens. Everything short of the Slack CLI itself: the
hooks are run as it runs them, against the fake Slack and a local Socket Mode server."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from support import LEAD, eventually

from bot import slack_run
from bot.cli import main
from bot.sim.fakeslack import FakeSlack
from bot.slack.ids import Function
from bot.slack.manifest import manifest
from storage import crud
from storage.db import Database
from tests.scenarios.test_metrics import free_port, stop
from tests.scenarios.test_socket_mode import SocketServer

ROOT = Path(__file__).resolve().parents[2]
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


# -- .slack/hooks.json -----------------------------------------------------------------------


def hooks() -> dict[str, Any]:
    return json.loads((ROOT / ".slack" / "hooks.json").read_text())


def command(line: str) -> list[str]:
    """A hook's command as this test runs it: `python3` is this interpreter."""
    args = shlex.split(line)
    return [sys.executable if args[0] == "python3" else args[0], *args[1:]]


def test_the_hooks_use_slack_cli_hooks_and_start_the_bot() -> None:
    data = hooks()
    assert data["hooks"]["get-hooks"] == "python3 -m slack_cli_hooks.hooks.get_hooks"
    assert data["hooks"]["start"] == "python3 -m bot.slack_run"
    # The bot opens its own socket (Bolt's SocketModeHandler), as every Bolt app does.
    assert data["config"]["sdk-managed-connection-enabled"] is True
    assert data["config"]["watch"]["manifest"]["paths"] == ["manifest.json"]
    assert json.loads((ROOT / ".slack" / "config.json").read_text())["manifest"] == {
        "source": "local"
    }


def test_get_hooks_and_get_manifest_answer_as_the_slack_cli_expects() -> None:
    done = subprocess.run(
        command(hooks()["hooks"]["get-hooks"]), cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    sdk = json.loads(done.stdout)
    assert sdk["config"]["sdk-managed-connection-enabled"] is True
    # get-manifest comes from the package (hooks.json does not override it): it reads the
    # project's manifest.json, which the test above keeps equal to `coachbot manifest`.
    assert "get-manifest" not in hooks()["hooks"]
    boundary = uuid.uuid4().hex
    done = subprocess.run(
        f"{sdk['hooks']['get-manifest']} --protocol message-boundaries --boundary {boundary}",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    answer = done.stdout.split(boundary)[1]
    assert json.loads(answer) == json.loads((ROOT / "manifest.json").read_text())


def test_the_start_hook_needs_the_clis_app_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert slack_run.main({}) == 2
    assert "SLACK_CLI_XAPP" in capsys.readouterr().err


def test_the_start_hook_runs_the_bot_in_socket_mode_with_the_clis_tokens(
    fake: FakeSlack, tmp_path: Path
) -> None:
    """What `slack run` does: start the hook with the local app's tokens, the bot connects
    its socket, and a workflow's step delivered over it completes."""
    ws = SocketServer()
    fake.socket_url = ws.url
    fake.add_user("UREP", email="rep@example.org", real_name="Rui", tz="Europe/Lisbon")
    database_url = f"sqlite:///{tmp_path}/slack-run.db"
    db = Database(database_url)
    db.upgrade()
    with db.session() as s:
        crud.upsert_person(s, slack_id=LEAD, email="lead@example.org", name="Lea")
    db.dispose()
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLACK_CLI_XAPP": "xapp-1-from-the-slack-cli",
        "SLACK_CLI_XOXB": "xoxb-from-the-slack-cli",
        # Another app's tokens, from the shell or .env: the CLI's win.
        "SLACK_APP_TOKEN": "xapp-1-another-app",
        "SLACK_BOT_TOKEN": "xoxb-another-app",
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "LD_LEADS": LEAD,
    }
    env.pop("SLACK_SIGNING_SECRET", None)
    proc = subprocess.Popen(
        command(hooks()["hooks"]["start"]),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ws.wait_for_connections(1, timeout=30)
        (opened,) = fake.calls_to("apps.connections.open")
        assert opened.token == "xapp-1-from-the-slack-cli"
        event = fake.execute_function(
            Function.ENROLL_LEARNER,
            {
                "learner": "UREP",
                "training": "Coaching Skills",
                "starts_on": "2030-03-04",
                "ends_on": "2030-03-05",
                "enrolled_by": {"id": LEAD, "secret": "c2VjcmV0"},
            },
        )
        envelope = {
            "type": "events_api",
            "envelope_id": str(uuid.uuid4()),
            "accepts_response_payload": False,
            "payload": {
                "type": "event_callback",
                "team_id": fake.team_id,
                "api_app_id": fake.app_id,
                "event_id": "EvSLACKRUN1",
                "event_time": 1900000000,
                "event": event,
            },
        }
        ws.deliver(envelope)
        ws.wait_for_ack(envelope["envelope_id"])
        run = fake.wait_for_function(event["function_execution_id"])
        assert run["state"] == "completed", run["error"]
        assert run["outputs"]["enrollment_id"].isdigit()
        # The web routes are up on PORT beside the socket, as in `coachbot run`.
        eventually(lambda: _healthy(f"http://127.0.0.1:{port}/healthz"), timeout=10)
        # Everything the bot asked of Slack, it asked with the CLI's tokens (and the step's).
        tokens = {c.token for c in fake.calls}
        assert {t for t in tokens if t and not t.startswith("xwfp-")} == {
            "xapp-1-from-the-slack-cli",
            "xoxb-from-the-slack-cli",
        }
    finally:
        ws.stop()
        output = stop(proc)
    assert proc.returncode == 0, output


def _healthy(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False
