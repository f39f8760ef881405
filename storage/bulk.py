"""Many new rows in one go, past the ORM: COPY on PostgreSQL, one executemany on SQLite.

For imports, where binding values through SQLAlchemy costs more than storing them. Values
are encoded by the column's own type (`encoder`), once per distinct value, so what is
stored is exactly what an ORM insert would store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session


def encoder(dialect: sa.Dialect, column: sa.Column[Any]) -> Callable[[Any], Any]:
    """A value of `column` as `insert` takes it on `dialect`: what the column's type turns it
    into before the driver sees it (for a UTCDateTime its UTC check and conversion, and on
    SQLite the text SQLAlchemy writes) and, on PostgreSQL, that as COPY's text.

    Meant for values that repeat (apply it once per distinct value); ints, plain strings
    and None can be given to `insert` as they are.
    """
    process = column.type.dialect_impl(dialect).bind_processor(dialect) or _same
    if dialect.name != "postgresql":
        return process

    def as_text(value: Any) -> Any:
        value = process(value)
        return value if value is None or isinstance(value, str) else str(value)

    return as_text


def _same(value: Any) -> Any:
    return value


def where_in(
    dialect: sa.Dialect, column: Any, values: Iterable[Any], chunk: int = 500
) -> Iterator[sa.ColumnElement[bool]]:
    """Conditions `column IN values`, as few as the driver allows: one `= ANY(array)` on
    PostgreSQL (one parameter, so nothing to render or parse per value), IN lists of
    `chunk` on SQLite (which limits the parameters of one statement)."""
    items = list(values)
    if not items:
        return
    if dialect.name == "postgresql":
        param = sa.bindparam(None, items, type_=postgresql.ARRAY(column.type))
        yield column == sa.any_(param)
        return
    for i in range(0, len(items), chunk):
        yield column.in_(items[i : i + chunk])


def new_ids(session: Session, table: sa.Table, count: int) -> list[int]:
    """`count` primary keys for new rows of `table`, to insert them with their ids known.

    PostgreSQL hands them out from the column's sequence, safe against other writers. SQLite
    would give the next rows max(id) + 1, ...; the session's transaction holds the write lock
    from its start (BEGIN IMMEDIATE, storage/db.py), and should another writer still get in
    between, the insert fails on the primary key like any unique-key conflict.
    """
    if count <= 0:
        return []
    conn = session.connection()
    name = table.name
    if conn.dialect.name == "postgresql":
        ids = conn.execute(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                "FROM generate_series(1, :count)"
            ),
            {"table": name, "count": count},
        ).scalars()
        return sorted(int(i) for i in ids)
    quoted = conn.dialect.identifier_preparer.quote(name)
    top = conn.exec_driver_sql(f"SELECT max(id) FROM {quoted}").scalar()
    first = int(top or 0) + 1
    return list(range(first, first + count))


def insert(
    session: Session, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert `rows` (values in `columns` order, already encoded) in the session's transaction.

    A column left out gets NULL, as it would from an ORM insert of None only when the column
    has no default: name every column that has one. Driver errors come back as SQLAlchemy's
    (an IntegrityError for a unique key), as from `session.execute`.
    """
    for column in columns:
        if column not in table.c:
            raise KeyError(f"{table.name} has no column {column!r}")
    conn = session.connection()
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    raw: Any = conn.connection.driver_connection
    if dialect.name == "postgresql":
        statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
    else:
        marks = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"
    dbapi = dialect.loaded_dbapi
    try:
        if dialect.name == "postgresql":
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(_copy_text(rows, len(columns)))
        else:
            cursor = raw.cursor()
            try:
                cursor.executemany(statement, rows)
            finally:
                cursor.close()
    except dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(rows: Iterable[Sequence[Any]], width: int) -> bytes:
    """Rows in COPY's text format: str(value), NULL as \\N, specials escaped.

    Values are rarely special, so all rows are joined first and escaped one by one only
    when the counts of separators and backslashes show that some value needs it.
    """
    rows = list(rows)
    null = "\\N"
    lines = [
        "\t".join([null if v is None else v if type(v) is str else str(v) for v in row])
        for row in rows
    ]
    text = "\n".join(lines) + "\n" if lines else ""
    nulls = sum(row.count(None) for row in rows)  # type: ignore[attr-defined]
    if (
        text.count("\n") != len(rows)
        or text.count("\t") != len(rows) * (width - 1)
        or text.count("\\") != nulls
        or "\r" in text
    ):
        text = "".join(
            "\t".join([null if v is None else str(v).translate(_COPY_ESCAPES) for v in row]) + "\n"
            for row in rows
        )
    return text.encode()
