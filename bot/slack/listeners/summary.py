"""`/training-summary [last | YYYY-Www | csv]` and the App Home button, for L&D leads only.

Both acknowledge at once; the summary, chart and CSV are built afterwards (a lazy listener)
and arrive in the lead's DM with the bot.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core import reporting
from bot.services import Services
from bot.slack.ids import Action
from bot.slack.replies import tell
from bot.slack.summary import dm_channel, post_csv, post_summary

log = logging.getLogger(__name__)

COMMAND = "/training-summary"


class SummaryListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _request(self, body: dict[str, Any]) -> reporting.Request | None:
        try:
            return reporting.parse_request(
                body.get("text") or "",
                self.services.clock(),
                self.services.settings.default_timezone,
            )
        except reporting.WeekArgumentError:
            return None

    def acknowledge(self, ack: Ack, body: dict[str, Any]) -> None:
        user = body.get("user_id") or ""
        prompts = self.services.prompts_for(user)
        if not self.services.is_ld_lead(user):
            ack(text=prompts.text("ephemeral.not_authorized_summary"))
            log.info("summary.refused user=%s", user)
            return
        request = self._request(body)
        if request is None:
            ack(text=prompts.text("summary.usage"))
            return
        key = "summary.preparing_csv" if request.csv_only else "summary.preparing"
        ack(text=prompts.text(key, week=request.week.label))

    def deliver(self, body: dict[str, Any], client: WebClient) -> None:
        user = body.get("user_id") or ""
        request = self._request(body)
        if request is None or not self.services.is_ld_lead(user):
            return
        self._send(client, user, request)

    def _send(self, client: WebClient, user: str, request: reporting.Request) -> None:
        services = self.services
        now = services.clock()
        prompts = services.prompts_for(user)  # it arrives in the lead's own DM
        try:
            channel = dm_channel(client, user)
            csv_data = reporting.build_csv(services.db, services.settings, request.week, now)
            if request.csv_only:
                post_csv(client, channel, request.week, csv_data, prompts)
            else:
                summary = reporting.build_summary(services.db, services.settings, request.week, now)
                post_summary(client, channel, summary, csv_data, prompts)
        except Exception as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc)
            log.exception(
                "summary.failed user=%s week=%s error=%s", user, request.week.label, error
            )
            with contextlib.suppress(SlackApiError):
                client.chat_postMessage(channel=user, text=prompts.text("ephemeral.error"))

    def ack_button(self, ack: Ack) -> None:
        ack()

    def send_from_home(self, body: dict[str, Any], client: WebClient) -> None:
        user = (body.get("user") or {}).get("id") or ""
        if not self.services.is_ld_lead(user):
            log.info("summary.button_refused user=%s", user)
            prompts = self.services.prompts_for(user)
            tell(client, body, prompts.text("ephemeral.not_authorized_summary"), prompts)
            return
        week = reporting.parse_request(
            "", self.services.clock(), self.services.settings.default_timezone
        ).week
        self._send(client, user, reporting.Request(week))


def register(app: App, services: Services) -> None:
    listeners = SummaryListeners(services)
    app.command(COMMAND)(ack=listeners.acknowledge, lazy=[listeners.deliver])
    app.action(Action.SEND_SUMMARY)(ack=listeners.ack_button, lazy=[listeners.send_from_home])
