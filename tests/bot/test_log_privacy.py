"""The logs carry ids, never a token nor what people wrote to each other."""

from __future__ import annotations

import io
import logging

from support import Bot, ada_and_grace, goal_talk_and_note

from bot.logs import setup_logging

SECRET_GOAL = "Secret-goal-text-4711"
SECRET_WHAT = "Private-agreement-0815"
SECRET_NOTE = "Confidential-thread-reply-1234"


def test_a_whole_flow_logs_no_token_and_no_private_text(bot: Bot) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, getattr(root, "_coachbot", None))
    handler = setup_logging("DEBUG", stream=stream, force=True)
    try:
        ada_and_grace(bot)
        bot.webhook({"training": "x"}, token="wrong-token-secret")
        goal_talk_and_note(bot, goal=SECRET_GOAL, what=SECRET_WHAT, note=SECRET_NOTE)
        handler.flush()
        logs = stream.getvalue()
        # Try a token in a log message: the formatter must redact it.
        logging.getLogger("bot.test").warning("oops %s", bot.settings.slack_bot_token)
        logs += stream.getvalue()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        root._coachbot = saved[2]  # type: ignore[attr-defined]
    assert "answer.recorded" in logs and "note.recorded" in logs and "goal.saved" in logs
    for secret in (
        SECRET_GOAL,
        SECRET_WHAT,
        SECRET_NOTE,
        bot.settings.slack_bot_token,
        bot.settings.slack_signing_secret,
        bot.settings.enrollment_webhook_token,
        "wrong-token-secret",
    ):
        assert secret not in logs, secret
    assert "[redacted]" in logs
