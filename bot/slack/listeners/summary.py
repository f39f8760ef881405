"""`/training-summary [last | YYYY-Www | YYYY-MM-DD..YYYY-MM-DD] [csv] [training name]` and the
App Home button, for L&D leads only.

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
from bot.mrkdwn import user_text
from bot.prompts import Prompts
from bot.services import Services
from bot.slack.ids import Action
from bot.slack.replies import tell
from bot.slack.summary import dm_channel, post_csv, post_summary
from storage.metrics import Week

log = logging.getLogger(__name__)

COMMAND = "/training-summary"


class SummaryListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _request(
        self, body: dict[str, Any], prompts: Prompts
    ) -> tuple[reporting.Request, tuple[int, str] | None] | str:
        """The request and its training (id, name), or what to tell the lead instead."""
        try:
            request = reporting.parse_request(
                body.get("text") or "",
                self.services.clock(),
                self.services.settings.default_timezone,
            )
        except reporting.WeekArgumentError as exc:
            reason = prompts.text("summary.bad_period", reason=str(exc))
            return f"{reason} {prompts.text('summary.usage')}"
        if request.training is None:
            return request, None
        try:
            return request, reporting.find_training(self.services.db, request.training)
        except reporting.UnknownTraining as exc:
            return unknown_training_text(exc, prompts)

    def acknowledge(self, ack: Ack, body: dict[str, Any]) -> None:
        user = body.get("user_id") or ""
        prompts = self.services.prompts_for(user)
        if not self.services.is_ld_lead(user):
            ack(text=prompts.text("ephemeral.not_authorized_summary"))
            log.info("summary.refused user=%s", user)
            return
        found = self._request(body, prompts)
        if isinstance(found, str):
            ack(text=found)
            return
        ack(text=preparing_text(found[0], prompts))

    def deliver(self, body: dict[str, Any], client: WebClient) -> None:
        user = body.get("user_id") or ""
        if not self.services.is_ld_lead(user):
            return
        found = self._request(body, self.services.prompts_for(user))
        if not isinstance(found, str):
            self._send(client, user, *found)

    def _send(
        self,
        client: WebClient,
        user: str,
        request: reporting.Request,
        training: tuple[int, str] | None = None,
    ) -> None:
        services = self.services
        now = services.clock()
        prompts = services.prompts_for(user)  # it arrives in the lead's own DM
        period, training_id = request.period, training[0] if training else None
        try:
            channel = dm_channel(client, user)
            csv_data = reporting.build_csv(
                services.db, services.settings, period, now, training_id=training_id
            )
            if request.csv_only:
                post_csv(client, channel, period, csv_data, prompts)
            else:
                summary = reporting.build_summary(
                    services.db, services.settings, period, now, training=training
                )
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


def preparing_text(request: reporting.Request, prompts: Prompts) -> str:
    period = request.period
    key = "summary.preparing_csv" if request.csv_only else "summary.preparing"
    if isinstance(period, Week):
        return prompts.text(key, week=period.label)
    return prompts.text(
        f"{key}_span",
        start=prompts.format_date(period.first),
        end=prompts.format_date(period.last),
    )


def unknown_training_text(exc: reporting.UnknownTraining, prompts: Prompts) -> str:
    text = prompts.text("summary.unknown_training", name=user_text(exc.name, 100))
    if exc.close:
        names = ", ".join(f"“{user_text(n, 100)}”" for n in exc.close)
        text += prompts.text("summary.close_names", names=names)
    return text


def register(app: App, services: Services) -> None:
    listeners = SummaryListeners(services)
    app.command(COMMAND)(ack=listeners.acknowledge, lazy=[listeners.deliver])
    app.action(Action.SEND_SUMMARY)(ack=listeners.ack_button, lazy=[listeners.send_from_home])
