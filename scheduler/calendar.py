"""Public holidays: whose days off they are, from the `holidays` package.

A person's country is the people.csv `country` (ISO 3166, optionally with a subdivision such
as `GB-SCT`), else the country of their Slack time zone in the IANA `zone.tab`. HOLIDAYS says
whether to look: `auto` (each person's own), `off`, or codes applied to everyone.
"""

from __future__ import annotations

import functools
from collections.abc import Container
from datetime import date
from importlib import resources

import holidays

AUTO, OFF = "auto", "off"


class UnknownCountry(ValueError):
    """A country or subdivision code the holidays package does not know."""


def parse_code(code: str) -> tuple[str, str | None]:
    """`GB-SCT` -> ("GB", "SCT"); `us` -> ("US", None)."""
    country, _, subdiv = code.strip().upper().partition("-")
    return country, subdiv or None


@functools.cache
def calendar(code: str) -> Container[date]:
    """The public holidays of `code` (a country, optionally with a subdivision)."""
    country, subdiv = parse_code(code)
    try:
        return holidays.country_holidays(country, subdiv=subdiv)
    except NotImplementedError as exc:
        raise UnknownCountry(
            f"unknown country or subdivision {code!r}: use an ISO 3166 code such as GB, "
            "US or GB-SCT"
        ) from exc


def check_code(code: str) -> str:
    """The code, normalised, if the holidays package knows it; else UnknownCountry."""
    calendar(code)
    country, subdiv = parse_code(code)
    return f"{country}-{subdiv}" if subdiv else country


@functools.cache
def _zone_countries() -> dict[str, str]:
    table = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    countries = {}
    for line in table.splitlines():
        if line and not line.startswith("#"):
            code, _coordinates, name, *_ = line.split("\t")
            countries[name] = code
    return countries


def country_of_zone(tz_name: str | None) -> str | None:
    """The country of an IANA zone in zone.tab ("Europe/London" -> "GB"); None for "UTC"."""
    return _zone_countries().get(tz_name or "")


class Holidays:
    """The days off of one place: the union of the calendars of its codes."""

    def __init__(self, codes: tuple[str, ...]) -> None:
        self.codes = codes
        self._calendars = [calendar(code) for code in codes]

    def __contains__(self, day: object) -> bool:
        return any(day in c for c in self._calendars)

    def __repr__(self) -> str:
        return f"Holidays({', '.join(self.codes)})"


def place_codes(setting: str, country: str | None, tz_name: str | None) -> tuple[str, ...]:
    """Whose holidays a person keeps under HOLIDAYS=`setting`."""
    if setting == OFF:
        return ()
    if setting != AUTO:
        return tuple(code.strip() for code in setting.split(",") if code.strip())
    own = country or country_of_zone(tz_name)
    if not own:
        return ()
    try:
        calendar(own)
    except UnknownCountry:
        # A zone's country the package does not cover (Antarctica, say): weekends only.
        return ()
    return (own,)
