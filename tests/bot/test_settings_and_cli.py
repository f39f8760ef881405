"""Settings fail fast with messages that name the variable; the CLI explains itself."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import ConfigError, load_log_level, load_settings


def test_defaults_match_the_interface() -> None:
    s = load_settings({}, env_file=None)
    assert s.database_url == "sqlite:///coachbot.db" and s.port == 3000
    assert s.delivery_time == time(9, 30) and s.delivery_end == time(17, 0)
    assert s.delivery_days == frozenset({0, 1, 2, 3, 4})
    assert (s.goal_invite_days, s.pre_training_days, s.post_training_days) == (5, 3, 1)
    assert (s.follow_up_days, s.reminder_after_days, s.max_reminders) == ((30,), 2, 1)
    assert s.dispatch_interval_seconds == 30 and s.digest_day == 0
    assert s.digest_time == time(9, 0) and s.min_group_size == 3
    assert s.share_notes_with_ld is False and s.retention_days is None
    assert s.slack_api_url == "https://slack.com/api/"


def test_every_bad_value_is_named_with_its_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "PORT": "eighty",
                "DELIVERY_TIME": "9h30",
                "DELIVERY_DAYS": "mon,funday",
                "DEFAULT_TIMEZONE": "Mars/Olympus",
                "LD_LEADS": "alice",
                "SLACK_BOT_TOKEN": "xoxp-user-token",
                "DATABASE_URL": "mysql://x",
                "SHARE_NOTES_WITH_LD": "perhaps",
                "MAX_REMINDERS": "-1",
            },
            env_file=None,
        )
    message = str(caught.value)
    for name in (
        "PORT",
        "DELIVERY_TIME",
        "DELIVERY_DAYS",
        "DEFAULT_TIMEZONE",
        "LD_LEADS",
        "SLACK_BOT_TOKEN",
        "DATABASE_URL",
        "SHARE_NOTES_WITH_LD",
        "MAX_REMINDERS",
    ):
        assert name in message
    assert "HH:MM" in message and "Europe/Paris" in message and "xoxb-" in message


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("PORT=4000\nDEFAULT_TIMEZONE=Europe/Paris\n")
    s = load_settings({"PORT": "5000"}, env_file=env)
    assert s.port == 5000 and s.default_timezone == "Europe/Paris"


def test_log_level_is_read_like_the_settings(tmp_path: Path) -> None:
    assert load_log_level({}, env_file=None) is None
    env = tmp_path / ".env"
    env.write_text("LOG_LEVEL=debug\n")
    assert load_log_level({}, env_file=env) == "DEBUG"
    assert load_log_level({"LOG_LEVEL": "warning"}, env_file=env) == "WARNING"
    with pytest.raises(ConfigError, match="LOG_LEVEL must be one of DEBUG, INFO"):
        load_log_level({"LOG_LEVEL": "verbose"}, env_file=None)


def test_secrets_never_show_in_a_repr() -> None:
    s = load_settings(
        {"SLACK_BOT_TOKEN": "xoxb-secret-1", "DATABASE_URL": "postgresql://u:hunter2@h/db"},
        env_file=None,
    )
    assert "xoxb-secret-1" not in repr(s) and "hunter2" not in repr(s)


ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        # PYTHONPATH: this checkout's code, whichever checkout the environment was installed from
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_first_run_without_configuration_says_what_is_missing_and_writes_nothing(
    tmp_path: Path,
) -> None:
    result = _run("run", env={}, cwd=tmp_path)  # no .env, no variable, an empty folder
    assert result.returncode == 2 and result.stdout == ""
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" in result.stderr
    assert "api.slack.com/apps" in result.stderr and "SLACK_APP_TOKEN" in result.stderr
    assert f"a .env file in {tmp_path.resolve()} (there is none yet" in result.stderr
    assert "cp .env.example .env" in result.stderr and "coachbot demo" in result.stderr
    assert "Traceback" not in result.stderr and "alembic" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no coachbot.db, no -wal or -shm beside it


@pytest.mark.parametrize("command", ["dispatch", "worker", "sync"])
def test_a_slack_job_without_a_token_says_so_before_it_creates_a_database(
    command: str, tmp_path: Path
) -> None:
    result = _run(command, env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert f"{command} needs to call Slack" in result.stderr
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_with_a_dotenv_the_message_points_at_it(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_SIGNING_SECRET=s3cret\n")
    result = _run("run", "--http", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET:" not in result.stderr
    assert f"Set it in {tmp_path.resolve() / '.env'}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def _alembic_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "logger=alembic" in line]


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["db", "upgrade"], {}),
        (["dispatch"], {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": "http://127.0.0.1:9/"}),
    ],
)
def test_alembic_keeps_its_info_lines_to_itself_by_default(
    argv: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    first = _run(*argv, env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert _alembic_lines(first.stderr) == []
    # What remains is Coachbot's own line saying what the migrations did.
    (line,) = first.stderr.splitlines()
    assert "logger=storage.db db.upgraded from=empty to=" in line
    again = _run(*argv, env=env, cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == ""
    assert (tmp_path / "coachbot.db").exists()


def test_log_level_debug_shows_alembic_again_from_dotenv_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOG_LEVEL=debug\n")
    result = _run("db", "upgrade", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert any("Running upgrade" in line for line in _alembic_lines(result.stderr))


def test_an_unknown_log_level_exits_2_naming_it(tmp_path: Path) -> None:
    result = _run("manifest", env={"LOG_LEVEL": "loud"}, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_malformed_setting_exits_2_without_a_traceback(tmp_path: Path) -> None:
    result = _run("dispatch", env={"DELIVERY_END": "08:00"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "DELIVERY_END" in result.stderr and "Traceback" not in result.stderr


def test_follow_up_days_is_one_or_more_rounds() -> None:
    assert load_settings({"FOLLOW_UP_DAYS": "30"}, env_file=None).rules.follow_up_days == (30,)
    two = load_settings({"FOLLOW_UP_DAYS": " 30, 90 "}, env_file=None)
    assert two.follow_up_days == two.rules.follow_up_days == (30, 90)
    for bad, says in (
        ("90,30", "larger than the one before"),
        ("30,30", "larger than the one before"),
        ("0", "from 1 to 365"),
        ("30,400", "from 1 to 365"),
        ("a month", "such as 30 or 30,90"),
        ("30,,90", "such as 30 or 30,90"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_settings({"FOLLOW_UP_DAYS": bad}, env_file=None)
        assert "FOLLOW_UP_DAYS" in str(caught.value) and says in str(caught.value), bad


def test_a_bad_follow_up_days_exits_2_naming_it(tmp_path: Path) -> None:
    result = _run("dispatch", env={"FOLLOW_UP_DAYS": "90,30"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "FOLLOW_UP_DAYS" in result.stderr and "Traceback" not in result.stderr


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert main(["manifest", "--url", "http://insecure"]) == 2


def test_db_upgrade_creates_the_database(tmp_path: Path) -> None:
    result = _run("db", "upgrade", env={"DATABASE_URL": f"sqlite:///{tmp_path}/c.db"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c.db").exists()


def test_manifest_has_commands_events_and_least_scopes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest"]) == 0
    data = json.loads(capsys.readouterr().out)
    commands = {c["command"] for c in data["features"]["slash_commands"]}
    assert commands == {"/enroll", "/goal", "/training-summary"}
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert set(data["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "function_executed",  # the Workflow Builder step
        "message.im",
        "user_change",
    }
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    assert "chat:write" in scopes and "users:read.email" in scopes
    assert not {"chat:write.public", "channels:history", "admin", "users:write"} & scopes
    assert main(["manifest", "--url", "https://coachbot.example.org"]) == 0
    http = json.loads(capsys.readouterr().out)
    assert http["settings"]["socket_mode_enabled"] is False
    assert http["settings"]["event_subscriptions"]["request_url"] == (
        "https://coachbot.example.org/slack/events"
    )
    assert all(c["url"].endswith("/slack/events") for c in http["features"]["slash_commands"])
