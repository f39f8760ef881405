"""The Slack app manifest: the commands, events, Workflow Builder step and the fewest scopes
that work. `manifest.json` at the root is `manifest()` (tests/scenarios/test_slack_cli.py)."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import Function

# Each scope, and what needs it; nothing more is asked for.
BOT_SCOPES = {
    "chat:write": "send the nudges and digest, update a DM after an answer",
    "commands": "/enroll, /goal and /training-summary",
    "users:read": "the directory sync (users.list), time zones, deactivations, statuses",
    "users:read.email": "match Slack people to the emails of the LMS and the CSV",
    "users.profile:read": "the manager profile field",
    "im:history": "record a manager's reply in the thread of a prompt (message.im)",
    "im:write": "find a DM after a crash, to never send a nudge twice",
    "reactions:write": "acknowledge a recorded thread reply with a reaction",
    "usergroups:read": "LD_USERGROUP: the members of the L&D user group",
    "files:write": "the weekly chart and CSV for L&D leads",
}

BOT_EVENTS = ["app_home_opened", "function_executed", "message.im", "user_change"]

COMMANDS = [
    ("/enroll", "Enroll people in a training", ""),
    ("/goal", "Share or list your application goals", "[your goal | list]"),
    (
        "/training-summary",
        "The L&D summary (L&D leads)",
        "[last | YYYY-Www | YYYY-MM-DD..YYYY-MM-DD] [csv] [training name]",
    ),
]


def _parameter(name: str, kind: str, title: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "title": title, "description": description, **extra}


# The Workflow Builder step (bot/slack/listeners/workflow.py). `enrolled_by` is a
# user_context, which only Slack fills (with "Person who used this workflow"): the access
# rule of /enroll needs to know who asks, and a plain user id could name anyone.
FUNCTIONS: dict[str, Any] = {
    Function.ENROLL_LEARNER.value: {
        "title": "Enroll a learner in a training",
        "description": "Coachbot then nudges the learner and their manager to talk before "
        "and after the training",
        "input_parameters": {
            "learner": _parameter(
                "learner",
                "slack#/types/user_id",
                "Learner",
                "Who takes the training",
                is_required=True,
            ),
            "training": _parameter(
                "training",
                "string",
                "Training",
                "The training's name, as people know it (at most 200 characters)",
                is_required=True,
            ),
            "starts_on": _parameter(
                "starts_on", "slack#/types/date", "Starts on", "First day", is_required=True
            ),
            "ends_on": _parameter(
                "ends_on", "slack#/types/date", "Ends on", "Last day", is_required=True
            ),
            "manager": _parameter(
                "manager",
                "slack#/types/user_id",
                "Manager",
                "Leave empty to use the learner's manager on record; only L&D leads may "
                "name another one",
                is_required=False,
            ),
            "enrolled_by": _parameter(
                "enrolled_by",
                "slack#/types/user_context",
                "Enrolled by",
                "Who asks: Coachbot checks they may enroll this learner",
                is_required=True,
                hint='Choose "Person who used this workflow"',
            ),
        },
        "output_parameters": {
            "enrollment_id": _parameter(
                "enrollment_id",
                "string",
                "Enrollment id",
                "Coachbot's id of the enrollment (the same for a learner already enrolled)",
                is_required=True,
            ),
        },
    }
}


def manifest(request_url: str | None = None) -> dict[str, Any]:
    """Socket Mode by default; with `request_url` (https://host), HTTP mode on one URL."""
    events_url = f"{request_url.rstrip('/')}/slack/events" if request_url else None
    commands = []
    for command, description, hint in COMMANDS:
        entry: dict[str, Any] = {
            "command": command,
            "description": description,
            "should_escape": False,
        }
        if hint:
            entry["usage_hint"] = hint
        if events_url:
            entry["url"] = events_url
        commands.append(entry)
    event_subscriptions: dict[str, Any] = {"bot_events": BOT_EVENTS}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if events_url:
        event_subscriptions["request_url"] = events_url
        interactivity["request_url"] = events_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "Coachbot",
            "description": "Turns training into performance: nudges managers to talk with "
            "their people before and after a training, and remembers what they agreed.",
            "background_color": "#2c5f2d",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": "Coachbot", "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": sorted(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": event_subscriptions,
            "interactivity": interactivity,
            # Custom Workflow Builder steps need an org-ready app and a remote runtime
            # (this app, not Slack's infrastructure).
            "org_deploy_enabled": True,
            "socket_mode_enabled": events_url is None,
            "token_rotation_enabled": False,
            "function_runtime": "remote",
        },
        "functions": FUNCTIONS,
    }
