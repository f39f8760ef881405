"""The translated prompt catalogues in bot/locales stay in step with bot/prompts.toml.

Each locale has the same sections and keys as the English catalogue, the same {placeholders}
per key, the right number of weekday and month names, the same Slack markup that matters
(emoji codes, links, slash commands), and fits Slack's limits on plain-text elements.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
ENGLISH = ROOT / "bot" / "prompts.toml"
LOCALES_DIR = ROOT / "bot" / "locales"
LOCALES = ["fr", "de", "es", "pt-BR", "ja"]

# Slack's limits on plain_text elements (see bot/slack/blocks/primitives.py).
TITLE_MAX = 24  # modal title, submit and close
BUTTON_MAX = 75  # buttons and options
CONFIRM_BUTTON_MAX = 30  # confirm dialog buttons
CONFIRM_TITLE_MAX = 100
HEADER_MAX = 150
PLACEHOLDER_MAX = 150

LIST_LENGTHS = {"format.weekdays": 7, "format.months": 12}

# Radio buttons and checkboxes built from these keys are Slack options (75 characters).
OPTION_KEYS = {
    "interest.a_little",
    "interest.somewhat",
    "interest.a_lot",
    "pre_training_modal.org_1",
    "pre_training_modal.org_2",
    "pre_training_modal.org_3",
    "goal_modal.share_option",
    "case_modal.consent_option",
}
CONFIRM_BUTTON_KEYS = {"goal_list.delete_confirm", "goal_list.delete_deny"}
CONFIRM_TITLE_KEYS = {"goal_list.delete_title"}
# Message headers (header blocks) and other plain-text titles outside modals.
HEADER_KEYS = {
    "goal_invite.title",
    "pre_training.title",
    "debrief.title",
    "follow_up.title",
    "learner_follow_up.title",
    "follow_up.title_later",
    "learner_follow_up.title_later",
    "goal_shared.title",
    "home.waiting",
    "home.reports_trainings",
    "home.logged_before",
    "home.my_trainings",
    "home.my_goals",
    "home.coming_next",
    "home.this_week",
    "trainings.heading",
}
# Buttons whose keys live outside [buttons], with the surface they belong to.
BUTTON_KEYS = {"trainings.edit"}

EMOJI = re.compile(r":[a-z0-9_+-]+:")
SLASH_COMMAND = re.compile(r"`(/[a-z-]+)")
LINK = re.compile(r"<\{url\}\|")


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{key}."))
        else:
            flat[key] = value
    return flat


def _load(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return _flatten(tomllib.load(handle))


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _without_placeholders(template: str) -> str:
    """The literal text of a template: what is left when every placeholder is empty."""
    return "".join(literal for literal, _, _, _ in string.Formatter().parse(template))


def _is_modal_title(key: str) -> bool:
    section, _, name = key.rpartition(".")
    if section == "modals":
        return name in {"submit", "close", "done", "notice_title"}
    if section.endswith("_modal"):
        return name in {"title", "submit", "close", "done"}
    return False


def _is_button(key: str) -> bool:
    return key.startswith("buttons.") or key in OPTION_KEYS or key in BUTTON_KEYS


ENGLISH_TEXTS = _load(ENGLISH)


@pytest.fixture(params=LOCALES)
def locale(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    name: str = request.param
    return name, _load(LOCALES_DIR / f"{name}.toml")


@pytest.mark.parametrize("name", LOCALES)
def test_parses_as_toml(name: str) -> None:
    path = LOCALES_DIR / f"{name}.toml"
    assert path.is_file(), f"missing {path}"
    tomllib.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", LOCALES)
def test_has_the_header_comment(name: str) -> None:
    text = (LOCALES_DIR / f"{name}.toml").read_text(encoding="utf-8")
    header = text.split("\n[", 1)[0]
    assert "Translated from bot/prompts.toml; keep keys and placeholders in step." in header


def test_same_keys_as_english(locale: tuple[str, dict[str, Any]]) -> None:
    name, texts = locale
    missing = sorted(set(ENGLISH_TEXTS) - set(texts))
    extra = sorted(set(texts) - set(ENGLISH_TEXTS))
    assert not missing, f"{name}: missing keys {missing}"
    assert not extra, f"{name}: keys not in bot/prompts.toml {extra}"


def test_every_value_is_a_string(locale: tuple[str, dict[str, Any]]) -> None:
    name, texts = locale
    bad = sorted(key for key, value in texts.items() if not isinstance(value, str))
    assert not bad, f"{name}: not strings {bad}"


def test_same_placeholders_as_english(locale: tuple[str, dict[str, Any]]) -> None:
    name, texts = locale
    wrong = {
        key: (sorted(_placeholders(texts[key])), sorted(_placeholders(english)))
        for key, english in ENGLISH_TEXTS.items()
        if key in texts and _placeholders(texts[key]) != _placeholders(english)
    }
    assert not wrong, f"{name}: placeholders differ (translation, English): {wrong}"


def test_list_lengths(locale: tuple[str, dict[str, Any]]) -> None:
    name, texts = locale
    for key, length in LIST_LENGTHS.items():
        names = [part.strip() for part in texts[key].split(",")]
        assert len(names) == length, f"{name}: {key} has {len(names)} names, needs {length}"
        assert all(names), f"{name}: {key} has an empty name"
        assert len(set(names)) == length, f"{name}: {key} repeats a name"


def test_dates_can_be_filled(locale: tuple[str, dict[str, Any]]) -> None:
    name, texts = locale
    weekdays = texts["format.weekdays"].split(",")
    months = texts["format.months"].split(",")
    day = texts["format.date"].format(weekday=weekdays[0], day=2, month=months[2], year=2026)
    assert weekdays[0].strip() in day and months[2].strip() in day and "2" in day, name
    span = texts["format.range"].format(start="A", end="B")
    assert "A" in span and "B" in span, name


@pytest.mark.parametrize(
    ("kind", "limit"),
    [(_is_modal_title, TITLE_MAX), (_is_button, BUTTON_MAX)],
    ids=["modal_titles_and_labels", "buttons_and_options"],
)
def test_short_texts_fit(
    locale: tuple[str, dict[str, Any]], kind: Callable[[str], bool], limit: int
) -> None:
    name, texts = locale
    too_long = {
        key: len(_without_placeholders(value))
        for key, value in texts.items()
        if kind(key) and len(_without_placeholders(value)) > limit
    }
    assert not too_long, f"{name}: over {limit} characters: {too_long}"


def test_other_plain_text_fits(locale: tuple[str, dict[str, Any]]) -> None:
    name, texts = locale
    limits = {key: CONFIRM_BUTTON_MAX for key in CONFIRM_BUTTON_KEYS}
    limits.update({key: CONFIRM_TITLE_MAX for key in CONFIRM_TITLE_KEYS})
    limits.update({key: HEADER_MAX for key in HEADER_KEYS})
    limits.update({key: PLACEHOLDER_MAX for key in texts if key.endswith("_placeholder")})
    too_long = {
        key: (len(_without_placeholders(texts[key])), limit)
        for key, limit in limits.items()
        if len(_without_placeholders(texts[key])) > limit
    }
    assert not too_long, f"{name}: too long (length, limit): {too_long}"


def test_plain_text_keys_have_no_mrkdwn(locale: tuple[str, dict[str, Any]]) -> None:
    name, texts = locale
    plain = [
        key
        for key in texts
        if _is_modal_title(key) or _is_button(key) or key in CONFIRM_BUTTON_KEYS
    ]
    marked = sorted(key for key in plain if "*" in texts[key] or "`" in texts[key])
    assert not marked, f"{name}: mrkdwn in plain-text keys {marked}"


def test_keeps_slack_markup(locale: tuple[str, dict[str, Any]]) -> None:
    """Emoji codes, links and slash commands of the English text survive the translation."""
    name, texts = locale
    lost: dict[str, set[str]] = {}
    for key, english in ENGLISH_TEXTS.items():
        text = texts[key]
        for pattern in (EMOJI, SLASH_COMMAND, LINK):
            missing = set(pattern.findall(english)) - set(pattern.findall(text))
            if missing:
                lost.setdefault(key, set()).update(missing)
    assert not lost, f"{name}: markup missing {lost}"


def test_keeps_bullets_and_line_breaks(locale: tuple[str, dict[str, Any]]) -> None:
    name, texts = locale
    differ = sorted(
        key
        for key, english in ENGLISH_TEXTS.items()
        if english.count("\n") != texts[key].count("\n")
        or english.startswith("• ") != texts[key].startswith("• ")
    )
    assert not differ, f"{name}: line breaks or leading bullet differ from English: {differ}"
