"""What Coachbot reads from DATABASE_URL beyond SQLAlchemy's own parts (no SQLAlchemy here:
the settings check it before anything heavy is imported)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

PREPARE_THRESHOLD = "prepare_threshold"
# Spellings of "never" (psycopg's None; its 0 means "prepare every statement at once").
_NEVER = frozenset({"", "none", "null", "off", "false", "no", "never", "disable", "disabled"})


def prepare_threshold(value: str) -> int | None:
    """`?prepare_threshold=` of a PostgreSQL URL, as psycopg 3 takes it.

    psycopg prepares a statement on the server once it ran five times on a connection.
    Behind PgBouncer in transaction pooling, the next transaction may run on another server
    connection, where that statement does not exist (or another one has its name): set
    `?prepare_threshold=none` there, and nothing is prepared.
    """
    if value.strip().lower() in _NEVER:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"prepare_threshold={value!r} is neither a number nor none (behind PgBouncer "
            "in transaction pooling: prepare_threshold=none)"
        ) from None


def url_problem(url: str) -> str | None:
    """What is wrong with the options of `url`, if anything."""
    for value in parse_qs(urlsplit(url).query, keep_blank_values=True).get(PREPARE_THRESHOLD, []):
        try:
            prepare_threshold(value)
        except ValueError as exc:
            return str(exc)
    return None
