"""Trino's types, as the embedded SQL engine reports them: names, how Delta's types map to them, and their Arrow form.

The embedded engine computes with DuckDB, whose types differ from Trino's (`HUGEINT` sums, `DOUBLE` averages of
decimals, timestamps in microseconds, ...). It works out each result column's Trino type itself (lakehouse/
sql_translate.py) and gives the column that type: its name here, its values cast to the Arrow type Trino's values
have (`timestamp(3) with time zone` is milliseconds in a zone, `bigint` is int64, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lakehouse.errors import UserError

UTC = "UTC"
INTEGERS = ("tinyint", "smallint", "integer", "bigint")


@dataclass(frozen=True)
class TrinoType:
    """A Trino type: its base name and parameters, e.g. decimal (12, 2), varchar (5,) or (), array (element,).

    A `timestamp with time zone` also carries the zone its values are shown in (`AT TIME ZONE` changes it).
    """

    base: str
    args: tuple[Any, ...] = ()
    zone: str = UTC

    def __str__(self) -> str:
        if self.base == "decimal":
            return f"decimal({self.args[0]},{self.args[1]})"
        if self.base == "varchar":
            return f"varchar({self.args[0]})" if self.args else "varchar"
        if self.base in ("timestamp", "time"):
            return f"{self.base}({self.args[0]})"
        if self.base in ("timestamp with time zone", "time with time zone"):
            kind = self.base.split(" ", 1)
            return f"{kind[0]}({self.args[0]}) {kind[1]}"
        if self.base == "array":
            return f"array({self.args[0]})"
        if self.base == "map":
            return f"map({self.args[0]}, {self.args[1]})"
        if self.base == "row":
            return "row(" + ", ".join(f"{name} {kind}" if name else str(kind) for name, kind in self.args) + ")"
        return self.base

    # -- kinds ------------------------------------------------------------------------------------------------------
    @property
    def is_integer(self) -> bool:
        return self.base in INTEGERS

    @property
    def is_decimal(self) -> bool:
        return self.base == "decimal"

    @property
    def is_exact(self) -> bool:
        """Return whether the type is an integer or a decimal (the types Trino's arithmetic keeps exact)."""
        return self.is_integer or self.is_decimal

    @property
    def is_floating(self) -> bool:
        return self.base in ("double", "real")

    @property
    def is_numeric(self) -> bool:
        return self.is_exact or self.is_floating

    @property
    def is_string(self) -> bool:
        return self.base in ("varchar", "char")

    @property
    def is_instant(self) -> bool:
        return self.base == "timestamp with time zone"

    @property
    def is_temporal(self) -> bool:
        return self.base in ("date", "timestamp", "timestamp with time zone")

    @property
    def is_interval(self) -> bool:
        return self.base.startswith("interval")

    @property
    def precision(self) -> int:
        return int(self.args[0]) if self.args else 3

    @property
    def element(self) -> TrinoType | None:
        return self.args[0] if self.base == "array" else None

    def decimal_form(self) -> TrinoType:
        """Return the decimal an exact type takes part in decimal arithmetic as (integer is decimal(10,0), ...)."""
        if self.is_decimal:
            return self
        digits = {"tinyint": 3, "smallint": 5, "integer": 10, "bigint": 19}[self.base]
        return decimal(digits, 0)


def decimal(precision: int, scale: int) -> TrinoType:
    return TrinoType("decimal", (min(precision, 38), scale))


def varchar(length: int | None = None) -> TrinoType:
    return TrinoType("varchar", () if length is None else (length,))


def timestamp(precision: int = 3) -> TrinoType:
    return TrinoType("timestamp", (precision,))


def instant(precision: int = 3, zone: str = UTC) -> TrinoType:
    """Return `timestamp(p) with time zone`, its values shown in `zone`."""
    return TrinoType("timestamp with time zone", (precision,), zone)


def array(element: TrinoType) -> TrinoType:
    return TrinoType("array", (element,))


def map_of(key: TrinoType, value: TrinoType) -> TrinoType:
    return TrinoType("map", (key, value))


BIGINT = TrinoType("bigint")
INTEGER = TrinoType("integer")
DOUBLE = TrinoType("double")
REAL = TrinoType("real")
BOOLEAN = TrinoType("boolean")
DATE = TrinoType("date")
VARCHAR = varchar()
JSON = TrinoType("json")
UNKNOWN = TrinoType("unknown")  # the type of NULL
INTERVAL_DAY = TrinoType("interval day to second")
INTERVAL_MONTH = TrinoType("interval year to month")


# -- Delta -------------------------------------------------------------------------------------------------------------
_DELTA_PRIMITIVES = {
    "string": VARCHAR,
    "long": BIGINT,
    "integer": INTEGER,
    "short": TrinoType("smallint"),
    "byte": TrinoType("tinyint"),
    "float": REAL,
    "double": DOUBLE,
    "boolean": BOOLEAN,
    "binary": TrinoType("varbinary"),
    "date": DATE,
    "timestamp": instant(3),  # Trino reads Delta's instants to the millisecond (it truncates the microseconds)
    "timestamp_ntz": timestamp(6),
}
_DELTA_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def from_delta(kind: Any) -> TrinoType:
    """Return the Trino type of a Delta schema type (as in the Delta log's JSON), as Trino's Delta connector maps it."""
    if isinstance(kind, str):
        if kind in _DELTA_PRIMITIVES:
            return _DELTA_PRIMITIVES[kind]
        if match := _DELTA_DECIMAL.match(kind):
            return decimal(int(match[1]), int(match[2]))
        raise UserError(f"the Delta type {kind} has no Trino type the embedded engine knows")
    if kind["type"] == "array":
        return array(from_delta(kind["elementType"]))
    if kind["type"] == "map":
        return map_of(from_delta(kind["keyType"]), from_delta(kind["valueType"]))
    return TrinoType("row", tuple((field["name"], from_delta(field["type"])) for field in kind["fields"]))


# -- Arrow -------------------------------------------------------------------------------------------------------------
_ARROW = {
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "real": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "varchar": pa.string(),
    "char": pa.string(),
    "json": pa.string(),
    "varbinary": pa.binary(),
    "interval day to second": pa.duration("ms"),
    "unknown": pa.null(),
}


def to_arrow(kind: TrinoType) -> pa.DataType:
    """Return the Arrow type holding values of `kind` as Trino gives them (e.g. milliseconds for timestamp(3))."""
    if kind.base in _ARROW:
        return _ARROW[kind.base]
    if kind.is_decimal:
        return pa.decimal128(*kind.args)
    if kind.base in ("timestamp", "timestamp with time zone"):
        unit = "ms" if kind.precision <= 3 else "us" if kind.precision <= 6 else "ns"
        return pa.timestamp(unit, tz=kind.zone if kind.is_instant else None)
    if kind.base == "array":
        return pa.list_(to_arrow(kind.args[0]))
    if kind.base == "map":
        return pa.map_(to_arrow(kind.args[0]), to_arrow(kind.args[1]))
    if kind.base == "row":
        return pa.struct([pa.field(name or f"field{i}", to_arrow(t)) for i, (name, t) in enumerate(kind.args)])
    raise UserError(f"the embedded engine cannot return values of type {kind}")


def from_arrow(kind: pa.DataType) -> TrinoType | None:
    """Return the Trino type DuckDB's Arrow result type stands for, or None when Trino has no such type."""
    if pa.types.is_boolean(kind):
        return BOOLEAN
    if pa.types.is_integer(kind):
        # DuckDB's unsigned and 128-bit results (counts, sums) are Trino's bigint
        return {8: TrinoType("tinyint"), 16: TrinoType("smallint"), 32: INTEGER}.get(kind.bit_width, BIGINT)
    if pa.types.is_float32(kind):
        return REAL
    if pa.types.is_float64(kind):
        return DOUBLE
    if pa.types.is_decimal(kind):
        return BIGINT if (kind.precision, kind.scale) == (38, 0) else decimal(kind.precision, kind.scale)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return VARCHAR
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return TrinoType("varbinary")
    if pa.types.is_date(kind):
        return DATE
    if pa.types.is_timestamp(kind):
        return instant(3) if kind.tz else timestamp(3)
    if pa.types.is_interval(kind) or pa.types.is_duration(kind):
        return INTERVAL_DAY
    if pa.types.is_null(kind):
        return UNKNOWN
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        element = from_arrow(kind.value_type)
        return array(element) if element else None
    if pa.types.is_map(kind):
        key, value = from_arrow(kind.key_type), from_arrow(kind.item_type)
        return map_of(key, value) if key and value else None
    if pa.types.is_struct(kind):
        fields = [(kind.field(i).name, from_arrow(kind.field(i).type)) for i in range(kind.num_fields)]
        if any(t is None for _, t in fields):
            return None
        return TrinoType("row", tuple(fields))
    return None


def _family(kind: TrinoType) -> str:
    if kind.is_integer:
        return "integer"
    if kind.is_floating:
        return "floating"
    if kind.is_string or kind.base == "json":
        return "string"
    if kind.base in ("timestamp", "timestamp with time zone"):
        return kind.base
    return kind.base


def convert(column: pa.ChunkedArray, kind: TrinoType) -> pa.ChunkedArray:
    """Return DuckDB's result `column` as values of Trino type `kind`; refuse when that would change a value."""
    target = to_arrow(kind) if not kind.is_interval else pa.duration("ms")
    if column.null_count == len(column):  # NULLs of whatever type DuckDB gave them
        return pa.chunked_array([pa.nulls(len(column), target)])
    found = from_arrow(column.type)
    if found is None:
        raise UserError(f"the embedded engine computes a column as {column.type}, which Trino has no type for")
    compatible = _family(found) == _family(kind) or found == UNKNOWN
    compatible |= found.is_exact and kind.is_exact and not (found.is_decimal and kind.is_integer and found.args[1])
    if not compatible:
        raise UserError(f"the embedded engine computes {found} where Trino gives {kind}")
    if kind.is_interval:
        return _interval(column)
    if kind.base == "row" and pa.types.is_struct(column.type):
        return _row(column, kind)
    if column.type == target:
        return column
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(column.type):
        # Trino keeps timestamp(3) to the millisecond, cutting off finer digits
        return column.cast(pa.timestamp(column.type.unit, tz=target.tz), safe=False).cast(target, safe=False)
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise UserError(f"the embedded engine cannot give its {column.type} result as Trino's {kind}: {exc}") from None


def _row(column: pa.ChunkedArray, kind: TrinoType) -> pa.ChunkedArray:
    """Return DuckDB's structs as Trino's rows: fields by position, each of its Trino type."""
    combined = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if len(kind.args) != combined.type.num_fields:
        raise UserError(
            f"the embedded engine computes a row of {combined.type.num_fields} fields where Trino has {kind}"
        )
    fields = [
        convert(pa.chunked_array([combined.field(i)]), field_kind).combine_chunks()
        for i, (_, field_kind) in enumerate(kind.args)
    ]
    names = [name or f"field{i}" for i, (name, _) in enumerate(kind.args)]
    rows = pa.StructArray.from_arrays(fields, names=names, mask=combined.is_null())
    return pa.chunked_array([rows])


def _interval(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Return DuckDB's intervals as Trino's `interval day to second` (a duration in milliseconds)."""
    if pa.types.is_duration(column.type):
        return column.cast(pa.duration("ms"), safe=False)
    values: list[int | None] = []
    for value in column.to_pylist():
        if value is None:
            values.append(None)
            continue
        if value.months:
            raise UserError("an interval of months is Trino's interval year to month, which the embedded engine lacks")
        values.append(value.days * 86_400_000 + value.nanoseconds // 1_000_000)
    return pa.chunked_array([pa.array(values, pa.int64()).cast(pa.duration("ms"))])
