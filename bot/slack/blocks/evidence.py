"""The L&D lead's evidence on the App Home: the latest weekly chart, and the success cases to
follow up (the consenting learners named with their result, the others only counted)."""

from __future__ import annotations

from bot.core.cases import CaseReport
from bot.prompts import Prompts
from bot.slack.blocks.primitives import Json, _header, _plain
from bot.slack.blocks.summary import case_blocks

ALT_TEXT_MAX = 2000


def chart_block(file_id: str, week: str, prompts: Prompts) -> Json:
    """The chart the digest uploaded, shown from Slack's own copy of the file."""
    return {
        "type": "image",
        "slack_file": {"id": file_id},
        "alt_text": prompts.text("summary.chart_alt", week=week)[:ALT_TEXT_MAX],
        "title": _plain(prompts.text("summary.chart_file", week=week), ALT_TEXT_MAX),
    }


def evidence_blocks(
    prompts: Prompts, *, chart: tuple[str, str] | None, cases: CaseReport | None
) -> list[Json]:
    blocks: list[Json] = []
    if chart is not None:
        blocks += [_header(prompts.text("summary.home_chart")), chart_block(*chart, prompts)]
    if cases is not None and cases.answered:
        blocks.append(_header(prompts.text("summary.home_cases")))
        blocks += case_blocks(cases, prompts)
    return blocks
