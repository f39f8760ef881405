"""Every user-visible string: the packaged English defaults, overridable by an admin's TOML."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

DEFAULTS_RESOURCE = "prompts.toml"

# Lists stored as comma-separated strings, so that every leaf stays a string an admin can
# override like any other, and their required lengths.
_LIST_KEYS = {"format.weekdays": 7, "format.months": 12}


class PromptsError(Exception):
    """A prompts file is unreadable, or uses a key or placeholder Coachbot does not know."""


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
    """The merged prompt texts, addressed by dotted keys such as "pre_training.title"."""

    texts: Mapping[str, str]
    _weekdays: tuple[str, ...] = field(init=False, repr=False)
    _months: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        weekdays = tuple(w.strip() for w in self.texts["format.weekdays"].split(","))
        months = tuple(m.strip() for m in self.texts["format.months"].split(","))
        object.__setattr__(self, "_weekdays", weekdays)
        object.__setattr__(self, "_months", months)

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
        """The prompt `key` with its {placeholders} filled from `values` (extras are ignored)."""
        template = self.raw(key)
        try:
            return template.format_map(values)
        except KeyError as exc:
            raise PromptsError(f"prompt {key!r} needs a value for {{{exc.args[0]}}}") from None
        except (ValueError, TypeError) as exc:
            raise PromptsError(f"prompt {key!r} could not be filled: {exc}") from None

    def format_date(self, day: date) -> str:
        return self.text(
            "format.date",
            weekday=self._weekdays[day.weekday()],
            day=day.day,
            month=self._months[day.month - 1],
            year=day.year,
        )

    def format_dates(self, starts_on: date, ends_on: date | None) -> str:
        """The dates of a training; a self-paced one not completed yet has no end."""
        start = self.format_date(starts_on)
        if ends_on is None:
            return self.text("format.self_paced", start=start)
        if ends_on == starts_on:
            return self.text("format.one_day", start=start)
        return self.text("format.range", start=start, end=self.format_date(ends_on))


def _defaults() -> dict[str, str]:
    source = f"bot/{DEFAULTS_RESOURCE}"
    raw = resources.files("bot").joinpath(DEFAULTS_RESOURCE).read_text(encoding="utf-8")
    try:
        flat = _flatten(tomllib.loads(raw), source)
    except tomllib.TOMLDecodeError as exc:
        raise PromptsError(f"{source}: {exc}") from exc
    for key, template in flat.items():
        _placeholders(template, key, source)
    _check_lists(flat, source)
    return flat


def load_prompts(override_path: str | None = None) -> Prompts:
    """The packaged defaults, with the keys of the TOML file at `override_path` replaced.

    An override may use only the placeholders of the default it replaces (it may drop some),
    so every prompt can always be filled; anything else raises PromptsError naming the file.
    """
    texts = _defaults()
    if override_path:
        try:
            with open(override_path, "rb") as handle:
                table = tomllib.load(handle)
        except OSError as exc:
            raise PromptsError(f"{override_path}: cannot read prompts file: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise PromptsError(f"{override_path}: not valid TOML: {exc}") from exc
        for key, template in _flatten(table, override_path).items():
            if key not in texts:
                raise PromptsError(f"{override_path}: unknown prompt key {key!r}")
            allowed = _placeholders(texts[key], key, "defaults")
            unknown = _placeholders(template, key, override_path) - allowed
            if unknown:
                names = ", ".join(f"{{{name}}}" for name in sorted(unknown))
                known = ", ".join(f"{{{name}}}" for name in sorted(allowed)) or "none"
                raise PromptsError(
                    f"{override_path}: prompt {key!r} uses unknown placeholder {names}"
                    f" (available: {known})"
                )
            texts[key] = template
        _check_lists(texts, override_path)
    return Prompts(texts)
