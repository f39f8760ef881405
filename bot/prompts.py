"""Every user-visible string, in each shipped language, and each reader's dates and numbers.

The English texts are bot/prompts.toml, the translations bot/locales/<language>.toml, and an
admin's PROMPTS_FILE may override any of them per language. A person's Slack locale picks the
language (`match_locale`) and, through Babel's CLDR data, how dates and numbers are written.
"""

from __future__ import annotations

import re
import string
import threading
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from importlib import resources
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import (
    DateTimePattern,
    format_time,
    get_datetime_format,
    match_skeleton,
)
from babel.numbers import format_decimal, format_percent

DEFAULTS_RESOURCE = "prompts.toml"
LOCALES_FOLDER = "locales"
ENGLISH = "en"
# The languages Coachbot ships, as Slack spells its locales' language parts; `en` is the
# catalogue every other one is checked against.
SHIPPED_LOCALES = (ENGLISH, "fr", "de", "es", "pt-BR", "ja")

# Lists stored as comma-separated strings, so that every leaf stays a string an admin can
# override like any other, and their required lengths.
_LIST_KEYS = {"format.weekdays": 7, "format.months": 12}
# The keys that write a date by hand; overriding one of them for a language makes that
# language's dates follow the catalogue instead of Babel.
_DATE_KEYS = frozenset({"format.date", "format.weekdays", "format.months"})
# CLDR skeletons: weekday, day and abbreviated month ("Tue, Dec 1", "mar. 1 déc.",
# "12月1日(火)"), and day and month alone for the chart's week labels.
_DATE_SKELETON = "MMMEd"
_SHORT_DATE_SKELETON = "MMMd"
# {percent} comes formatted with its sign, as the reader writes it ("42%", "42 %").
_PERCENT_SIGN_AFTER = re.compile(r"\{percent\}[\s\u00a0\u202f]*[%\uff05]")
# Slack's locale codes that are not BCP 47 / CLDR names.
_SLACK_ALIASES = {"es-la": "es-419"}
_CACHE_MAX = 256


class PromptsError(Exception):
    """A prompts file is unreadable, or uses a key or placeholder Coachbot does not know."""


def locale_tag(raw: str | None) -> str:
    """A locale as Slack writes it, tidied: `fr_fr` -> `fr-FR`; "" when there is none."""
    parts = [p for p in re.split(r"[-_]", (raw or "").strip()) if p]
    if not parts or not parts[0].isalpha():
        return ""
    tidy = [parts[0].lower()]
    for part in parts[1:]:
        tidy.append(part.upper() if len(part) == 2 else part.lower())
    return "-".join(tidy)


def match_locale(raw: str | None, default: str | None = ENGLISH) -> str | None:
    """The shipped language for a Slack locale: the exact tag (`pt-BR`), else its language
    part (`fr-FR` -> `fr`, `pt-PT` -> `pt-BR`), else `default`."""
    tag = locale_tag(raw)
    if not tag:
        return default
    by_tag = {shipped.lower(): shipped for shipped in SHIPPED_LOCALES}
    if tag.lower() in by_tag:
        return by_tag[tag.lower()]
    language = tag.split("-")[0]
    for shipped in SHIPPED_LOCALES:
        if shipped.split("-")[0].lower() == language:
            return shipped
    return default


def babel_locale(raw: str | None) -> Locale | None:
    """Babel's locale for a Slack locale (`en-GB`, `es-LA`), None when CLDR has none."""
    tag = locale_tag(raw)
    if not tag:
        return None
    tag = _SLACK_ALIASES.get(tag.lower(), tag)
    try:
        return Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        return None


def _placeholders(template: str, key: str, source: str) -> frozenset[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise PromptsError(f"{source}: prompt {key!r} is not a valid template: {exc}") from exc
    names: set[str] = set()
    for _literal, name, spec, _conversion in parsed:
        if name is None:
            continue
        # Only plain names: "{}" or "{x.attr}" would fail or reach into objects at runtime.
        if not name.isidentifier():
            raise PromptsError(
                f"{source}: prompt {key!r} has placeholder {{{name}}}; use plain names only"
            )
        if spec and "{" in spec:
            raise PromptsError(f"{source}: prompt {key!r} nests placeholders in {{{name}}}")
        names.add(name)
    if _PERCENT_SIGN_AFTER.search(template):
        raise PromptsError(
            f"{source}: prompt {key!r} puts a % sign after {{percent}}, which already has one "
            "written as the reader writes it (42%, 42 %); remove the sign"
        )
    return frozenset(names)


def _flatten(table: Mapping[str, Any], source: str, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, source, f"{key}."))
        elif isinstance(value, str):
            flat[key] = value
        else:
            raise PromptsError(f"{source}: prompt {key!r} must be a string, not {value!r}")
    return flat


def _check_lists(flat: Mapping[str, str], source: str) -> None:
    for key, length in _LIST_KEYS.items():
        if key in flat and len(flat[key].split(",")) != length:
            raise PromptsError(f"{source}: prompt {key!r} needs {length} comma-separated names")


@dataclass(frozen=True)
class Prompts:
    """The texts of one language, addressed by dotted keys such as "pre_training.title",
    and how one reader writes dates and numbers (`locale`, a Slack or CLDR locale).

    Dates are Babel's, in the reader's own CLDR conventions (en-US "Tue, Dec 1", en-GB
    "Tue 1 Dec", fr "mar. 1 déc.", ja "12月1日(火)"), unless the catalogue's `format.date`,
    `format.weekdays` or `format.months` were overridden for this language (`custom_dates`):
    an admin who wrote a date format by hand gets it.
    """

    texts: Mapping[str, str]
    language: str = ENGLISH
    locale: str = ENGLISH
    custom_dates: bool = False
    _babel: Locale = field(init=False, repr=False)
    _date: DateTimePattern = field(init=False, repr=False)
    _short_date: DateTimePattern = field(init=False, repr=False)
    _datetime: str = field(init=False, repr=False)
    _weekdays: tuple[str, ...] = field(init=False, repr=False)
    _months: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        found = babel_locale(self.locale) or babel_locale(self.language) or Locale("en")
        skeletons = found.datetime_skeletons
        weekdays = tuple(w.strip() for w in self.texts["format.weekdays"].split(","))
        months = tuple(m.strip() for m in self.texts["format.months"].split(","))
        date_skeleton = match_skeleton(_DATE_SKELETON, skeletons) or _DATE_SKELETON
        short_skeleton = match_skeleton(_SHORT_DATE_SKELETON, skeletons) or _SHORT_DATE_SKELETON
        for name, value in (
            ("_babel", found),
            ("_date", skeletons[date_skeleton]),
            ("_short_date", skeletons[short_skeleton]),
            ("_datetime", str(get_datetime_format("short", locale=found))),
            ("_weekdays", weekdays),
            ("_months", months),
        ):
            object.__setattr__(self, name, value)

    def __contains__(self, key: object) -> bool:
        return key in self.texts

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)

    def raw(self, key: str) -> str:
        try:
            return self.texts[key]
        except KeyError:
            raise PromptsError(f"no prompt {key!r}") from None

    def text(self, key: str, **values: object) -> str:
        """The prompt `key` with its {placeholders} filled from `values` (extras are ignored).

        Whole numbers are written as the reader writes them ("1,234", "1 234", "1.234").
        """
        template = self.raw(key)
        filled = {
            name: self.number(value)
            if isinstance(value, int) and not isinstance(value, bool)
            else value
            for name, value in values.items()
        }
        try:
            return template.format_map(filled)
        except KeyError as exc:
            raise PromptsError(f"prompt {key!r} needs a value for {{{exc.args[0]}}}") from None
        except (ValueError, TypeError) as exc:
            raise PromptsError(f"prompt {key!r} could not be filled: {exc}") from None

    # -- dates, times and numbers, as this reader writes them --------------------------------

    def format_date(self, day: date) -> str:
        if self.custom_dates:
            return self.raw("format.date").format_map(
                {
                    "weekday": self._weekdays[day.weekday()],
                    "day": str(day.day),
                    "month": self._months[day.month - 1],
                    "year": str(day.year),
                }
            )
        return str(self._date.apply(day, self._babel))

    def format_dates(self, starts_on: date, ends_on: date | None) -> str:
        start = self.format_date(starts_on)
        if ends_on is None:  # a self-paced training not completed yet has no end
            return self.text("format.self_paced", start=start)
        if ends_on == starts_on:
            return self.text("format.one_day", start=start)
        return self.text("format.range", start=start, end=self.format_date(ends_on))

    def format_short_date(self, day: date) -> str:
        """Day and month only ("Dec 1", "1 déc.", "12月1日"): the chart's axis."""
        return str(self._short_date.apply(day, self._babel))

    def format_time(self, moment: time | datetime) -> str:
        """A time of day: "9:30 AM" in en-US, "09:30" in en-GB, fr or de."""
        return str(format_time(moment, "short", locale=self._babel))

    def format_when(self, moment: datetime) -> str:
        """A local date and time ("Tue, Dec 1, 9:30 AM", "mar. 1 déc. 09:30")."""
        return self._datetime.replace("{1}", self.format_date(moment.date())).replace(
            "{0}", self.format_time(moment)
        )

    def number(self, value: float, *, digits: int = 0) -> str:
        """A number with the reader's grouping and decimal signs, up to `digits` decimals."""
        pattern = "#,##0." + "#" * digits if digits else "#,##0"
        return str(format_decimal(value, format=pattern, locale=self._babel))

    def percent(self, share: float) -> str:
        """A share (0.42) as the reader writes a percentage: "42%", "42 %" (no break)."""
        return str(format_percent(share, locale=self._babel))


# -- loading ----------------------------------------------------------------------------------


def _read_catalogue(resource: str, source: str) -> dict[str, str]:
    raw = resources.files("bot").joinpath(resource).read_text(encoding="utf-8")
    try:
        return _flatten(tomllib.loads(raw), source)
    except tomllib.TOMLDecodeError as exc:
        raise PromptsError(f"{source}: {exc}") from exc


@cache
def _shipped() -> dict[str, dict[str, str]]:
    """The packaged catalogues, checked: read once per process, copied by every loader."""
    english_source = f"bot/{DEFAULTS_RESOURCE}"
    english = _read_catalogue(DEFAULTS_RESOURCE, english_source)
    allowed = {key: _placeholders(t, key, english_source) for key, t in english.items()}
    _check_lists(english, english_source)
    catalogues = {ENGLISH: english}
    for language in SHIPPED_LOCALES[1:]:
        source = f"bot/{LOCALES_FOLDER}/{language}.toml"
        flat = _read_catalogue(f"{LOCALES_FOLDER}/{language}.toml", source)
        for key, template in flat.items():
            if key not in english:
                raise PromptsError(f"{source}: prompt {key!r} is not in {english_source}")
            unknown = _placeholders(template, key, source) - allowed[key]
            if unknown:
                raise PromptsError(f"{source}: prompt {key!r} uses unknown {sorted(unknown)}")
        _check_lists(flat, source)
        # A key a translation lacks (tests/bot/test_locales.py keeps that from shipping)
        # reads in English rather than failing a message.
        catalogues[language] = english | flat
    return catalogues


def _defaults() -> dict[str, str]:
    return dict(_shipped()[ENGLISH])


@dataclass(frozen=True)
class Catalogues:
    """Every shipped language's Prompts, with the admin's overrides; each reader's Prompts
    comes from `for_locale(their Slack locale)`, DEFAULT_LOCALE when that is unknown."""

    texts: Mapping[str, Mapping[str, str]]
    default_locale: str = ENGLISH
    custom_dates: frozenset[str] = frozenset()
    _cache: dict[str, Prompts] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.texts)

    @property
    def default(self) -> Prompts:
        return self.for_locale(None)

    def for_locale(self, locale: str | None) -> Prompts:
        """The texts of the shipped language matching `locale` (see `match_locale`), dates
        and numbers in `locale`'s own conventions (en-GB and en-US differ); a locale with no
        shipped language reads DEFAULT_LOCALE's texts, and writes dates as they do there."""
        key = locale_tag(locale)
        with self._lock:
            found = self._cache.get(key)
        if found is not None:
            return found
        language = match_locale(key, None)
        if language is None:
            found = self.for_locale(self.default_locale) if key != self._default_key else None
            if found is None:  # DEFAULT_LOCALE itself is not shipped: settings refuse that
                found = self._make(ENGLISH, ENGLISH)
        else:
            found = self._make(language, key)
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = found
        return found

    @property
    def _default_key(self) -> str:
        return locale_tag(self.default_locale)

    def _make(self, language: str, locale: str) -> Prompts:
        return Prompts(
            self.texts[language],
            language=language,
            locale=locale if babel_locale(locale) is not None else language,
            custom_dates=language in self.custom_dates,
        )


def _language_tables(table: Mapping[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """A PROMPTS_FILE's tables by language: top-level sections are English, a table named
    after a shipped language (`[fr.buttons]`, `["pt-BR".buttons]`) holds that language's."""
    english_sections = {key.split(".")[0] for key in _defaults()}
    by_language: dict[str, dict[str, Any]] = {}
    for name, value in table.items():
        if name in SHIPPED_LOCALES:
            if not isinstance(value, Mapping):
                raise PromptsError(
                    f"{source}: {name!r} must be a table of that language's prompts, "
                    f"such as [{name}.buttons]"
                )
            by_language.setdefault(name, {}).update(value)
        elif name in english_sections or not isinstance(value, Mapping):
            by_language.setdefault(ENGLISH, {})[name] = value
        else:
            languages = ", ".join(SHIPPED_LOCALES)
            raise PromptsError(
                f"{source}: unknown prompt section or language {name!r} "
                f"(sections are those of bot/{DEFAULTS_RESOURCE}; languages: {languages})"
            )
    return by_language


def load_catalogues(
    override_path: str | None = None, *, default_locale: str = ENGLISH
) -> Catalogues:
    """The shipped catalogues, with the keys of the TOML file at `override_path` replaced.

    Its top-level sections override English; a table named after a shipped language
    (`[fr.pre_training]`) overrides that language. An override may use only the
    placeholders of the key it replaces (it may drop some), so every prompt can always be
    filled; anything else raises PromptsError naming the file, and the key.
    """
    texts = {language: dict(flat) for language, flat in _shipped().items()}
    custom: set[str] = set()
    if override_path:
        try:
            with open(override_path, "rb") as handle:
                table = tomllib.load(handle)
        except OSError as exc:
            raise PromptsError(f"{override_path}: cannot read prompts file: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise PromptsError(f"{override_path}: not valid TOML: {exc}") from exc
        english = texts[ENGLISH]
        allowed = {key: _placeholders(t, key, "defaults") for key, t in english.items()}
        for language, tables in _language_tables(table, override_path).items():
            prefix = "" if language == ENGLISH else f"{language}."
            for key, template in _flatten(tables, override_path).items():
                if key not in english:
                    raise PromptsError(f"{override_path}: unknown prompt key {prefix + key!r}")
                unknown = _placeholders(template, prefix + key, override_path) - allowed[key]
                if unknown:
                    names = ", ".join(f"{{{name}}}" for name in sorted(unknown))
                    known = ", ".join(f"{{{name}}}" for name in sorted(allowed[key])) or "none"
                    raise PromptsError(
                        f"{override_path}: prompt {prefix + key!r} uses unknown placeholder "
                        f"{names} (available: {known})"
                    )
                texts[language][key] = template
                if key in _DATE_KEYS:
                    custom.add(language)
            _check_lists(texts[language], f"{override_path} [{language}]")
    return Catalogues(texts, default_locale=default_locale, custom_dates=frozenset(custom))


def load_prompts(override_path: str | None = None, *, locale: str = ENGLISH) -> Prompts:
    """One language's Prompts (English by default), with the overrides of `override_path`."""
    return load_catalogues(override_path).for_locale(locale)
