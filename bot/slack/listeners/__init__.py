"""Slack listeners, one module per capability, each with a `register(app, services)`."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services


def register_all(app: App, services: Services) -> None:
    from bot.slack.listeners import (
        conversations,
        directory,
        enroll,
        followup,
        goals,
        home,
        summary,
        trainings,
        workflow,
    )

    listening = (enroll, directory, conversations, followup, goals, home, summary, workflow)
    for module in (*listening, trainings):
        module.register(app, services)
