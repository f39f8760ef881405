"""The Bolt internals Coachbot leans on, pinned, so that an upgrade that renames them fails
here with a message instead of silently slowing or breaking every acknowledgement.

bot/slack/app.py relies on three of them:
- AckFirstExecutor recognises the function Bolt's ThreadListenerRunner submits to run a
  listener by its name, `run_ack_function_asynchronously`, and hands the request thread its
  ack as soon as the listener acks (Bolt itself polls every 10 ms);
- _guard_after_ack walks `App._listeners` and wraps each CustomListener's `ack_function`,
  reading `arg_names` and `auto_acknowledgement`.
"""

from __future__ import annotations

import inspect

from slack_bolt import App
from slack_bolt.listener.custom_listener import CustomListener
from slack_bolt.listener.thread_runner import ThreadListenerRunner

from bot.slack import app as coachbot_app

UPGRADE_HINT = (
    "slack_bolt changed an internal that bot/slack/app.py relies on ({}); "
    "update AckFirstExecutor / _guard_after_ack, or drop them for lazy listeners"
)


def test_the_runner_submits_the_function_ack_first_recognises() -> None:
    source = inspect.getsource(ThreadListenerRunner.run)
    name = coachbot_app.BOLT_ACK_FUNCTION
    assert f"def {name}(" in source, UPGRADE_HINT.format(f"no nested function {name}")
    assert f"listener_executor.submit({name})" in source, UPGRADE_HINT.format(
        f"{name} is no longer what goes to the listener executor"
    )


def test_listeners_are_where_the_guard_finds_them() -> None:
    app = App(token="xoxb-pinned", signing_secret="s", token_verification_enabled=False)

    @app.action("pinned")
    def pinned(ack: object, body: object) -> None: ...

    listeners = getattr(app, "_listeners", None)
    assert isinstance(listeners, list), UPGRADE_HINT.format("App._listeners is gone")
    listener = listeners[-1]
    assert isinstance(listener, CustomListener), UPGRADE_HINT.format("not a CustomListener")
    for attribute in ("ack_function", "arg_names", "auto_acknowledgement"):
        assert hasattr(listener, attribute), UPGRADE_HINT.format(f"CustomListener.{attribute}")
    assert listener.ack_function is pinned
    assert {"ack", "body"} <= set(listener.arg_names)
