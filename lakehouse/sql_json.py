"""Trino's JSON functions for the embedded engine, as DuckDB functions written in Python.

DuckDB's JSON functions answer differently from Trino's: they write numbers back as DuckDB parsed them (`1.50`
becomes `1.5`, `1e10` becomes `10000000000.0`), `->>` gives objects and arrays as text where Trino's
`json_extract_scalar` gives NULL, and nothing sorts an object's keys as Trino's JSON type does. These functions
give Trino's text: `json_extract_scalar` keeps a scalar's text as written, `json_extract` writes numbers as Java
does (`2.5`, `1.0E10`), and `json_parse` also sorts the keys of each object.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

import duckdb
from duckdb.func import FunctionNullHandling

# A message raised inside a function reaches the user as the refusal or error it names (see lakehouse/sql.py).
_PATH_PART = re.compile(r"""\.([A-Za-z_$][\w$]*)|\[\s*(\d+)\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\.\*|\[\s*\*\s*\]""")


class _Number:
    """A JSON number with the text it was written as."""

    def __init__(self, text: str):
        self.text = text


def _load(text: str) -> Any:
    return json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_Number)


def java_double(value: float) -> str:
    """Return a double as Java's Double.toString writes it (which is how Trino writes a JSON number with a fraction)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    number = Decimal(repr(value))  # the shortest digits that give the value back, as Java's algorithm chooses
    if 1e-3 <= abs(value) < 1e7:
        text = format(number, "f")
        return text if "." in text else f"{text}.0"
    sign, digits, exponent = number.as_tuple()
    figures = "".join(str(d) for d in digits).rstrip("0") or "0"
    power = len(digits) + int(exponent) - 1
    return f"{'-' if sign else ''}{figures[0]}.{figures[1:] or '0'}E{power}"


def _number(value: _Number) -> str:
    if re.fullmatch(r"-?\d+", value.text):
        return value.text
    return java_double(float(value.text))


def _dump(value: Any, sort_keys: bool) -> str:
    if isinstance(value, _Number):
        return _number(value)
    if isinstance(value, dict):
        items = sorted(value.items()) if sort_keys else value.items()
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_dump(v, sort_keys)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v, sort_keys) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _walk(value: Any, path: str) -> tuple[bool, Any]:
    """Return (found, value at a Trino JSONPath such as `$.items[0].sku` or `$["a b"]`)."""
    text = path.strip()
    if not text.startswith("$"):
        raise ValueError(f"Invalid JSON path: '{path}'")
    position = 1
    while position < len(text):
        match = _PATH_PART.match(text, position)
        if match is None or match.group(0) in (".*", "[*]"):
            raise ValueError(f"Invalid JSON path: '{path}'")
        key = match.group(1) if match.group(1) is not None else match.group(3)
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                return False, None
            value = value[key]
        else:
            index = int(match.group(2))
            if not isinstance(value, list) or index >= len(value):
                return False, None
            value = value[index]
        position = match.end()
    return True, value


def parse(text: str) -> str:
    """json_parse(): the JSON value of a text, its object keys sorted; an error for text that is no JSON."""
    try:
        value = _load(text)
    except ValueError:
        raise ValueError(f"Cannot convert value to JSON: '{text[:60]}'") from None
    return _dump(value, sort_keys=True)


def _at(text: str | None, path: str | None) -> tuple[bool, Any]:
    """Return (found, value) at `path` of the JSON `text`; not found for NULLs and text that is no JSON."""
    if text is None or path is None:
        return False, None
    try:
        return _walk(_load(text), path)
    except json.JSONDecodeError:
        return False, None


def extract(text: str | None, path: str | None) -> str | None:
    """json_extract(): the JSON at `path`, numbers written as Trino writes them; NULL where there is none."""
    found, value = _at(text, path)
    return _dump(value, sort_keys=False) if found else None


def extract_scalar(text: str | None, path: str | None) -> str | None:
    """json_extract_scalar(): the text of the scalar at `path` (a number as written); NULL for objects and arrays."""
    found, value = _at(text, path)
    if not found or value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, _Number):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def array_length(text: str | None) -> int | None:
    """json_array_length(): the length of a JSON array; NULL for any other JSON (and for text that is no JSON)."""
    if text is None:
        return None
    try:
        value = _load(text)
    except json.JSONDecodeError:
        return None
    return len(value) if isinstance(value, list) else None


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Define the functions on `con`, each named trino_json_<function>."""
    con.create_function("trino_json_parse", parse, ["VARCHAR"], "VARCHAR", side_effects=False)
    # these give NULL for some values, which DuckDB allows a function only with its "special" NULL handling
    con.create_function(
        "trino_json_extract",
        extract,
        ["VARCHAR", "VARCHAR"],
        "VARCHAR",
        null_handling=FunctionNullHandling.SPECIAL,
        side_effects=False,
    )
    con.create_function(
        "trino_json_extract_scalar",
        extract_scalar,
        ["VARCHAR", "VARCHAR"],
        "VARCHAR",
        null_handling=FunctionNullHandling.SPECIAL,
        side_effects=False,
    )
    con.create_function(
        "trino_json_array_length",
        array_length,
        ["VARCHAR"],
        "BIGINT",
        null_handling=FunctionNullHandling.SPECIAL,
        side_effects=False,
    )
