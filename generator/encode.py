"""Vectorised text encoding: numpy columns in, Arrow string arrays of JSON or CSV tokens out.

Every function here works on whole columns. Fixed-width values (ids, UUIDs, timestamps) are built as a byte
matrix and handed to Arrow without copying; variable-width values are concatenated by Arrow compute kernels.
A JSON or CSV line is then one `binary_join_element_wise` over the tokens of its fields, and a file is the data
buffer of the resulting array. No value passes through a Python object on the way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MS_PER_DAY = 86_400_000
_ZERO = ord("0")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_TWO_DIGITS = pa.array([f"{i:02d}" for i in range(100)])
_BOOLEANS = pa.array(["false", "true"])
_EPOCH = np.datetime64("1970-01-01", "D")


def fixed_width(matrix: np.ndarray) -> pa.StringArray:
    """Return an Arrow string array whose i-th value is row i of an (n, width) uint8 matrix of ASCII bytes."""
    matrix = np.ascontiguousarray(matrix, dtype=np.uint8)
    n, width = matrix.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(matrix))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Return an (n, width) uint8 matrix of the zero-padded decimal digits of non-negative integers."""
    values = np.asarray(values, dtype=np.int64)
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = values.copy()
    for col in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        out[:, col] = digit + _ZERO
    return out


def ids(prefix: str, numbers: np.ndarray, width: int, *, quoted: bool = False) -> pa.StringArray:
    """Return ids like `C0000042`: a prefix and a zero-padded number of `width` digits (in JSON quotes if asked)."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    digits = _digits(numbers, width)
    return fixed_width(_quote(np.hstack([np.broadcast_to(head, (len(digits), len(head))), digits]), quoted))


def token_pool(values: pa.Array | list, *, escape: bool = False) -> pa.StringArray:
    """Return JSON tokens of a small pool of values with a final `null` token (index len(values)).

    Taking from such a pool turns a whole column of indices into JSON tokens in one step; use index
    len(values) for null.
    """
    values = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string())
    return pa.concat_arrays([json_string(values, escape=escape), pa.array(["null"], type=pa.string())])


def pool_index(index: np.ndarray, size: int) -> np.ndarray:
    """Return indices into a token pool of `size` values, with negative indices pointing at its `null`."""
    return np.where(index < 0, size, index)


def uuids(raw: np.ndarray, *, quoted: bool = False) -> pa.StringArray:
    """Return version-4 UUID strings made from an (n, 16) uint8 matrix of random bytes (in JSON quotes if asked)."""
    return fixed_width(_quote(uuid_matrix(raw), quoted))


def _quote(matrix: np.ndarray, quoted: bool) -> np.ndarray:
    """Return the matrix with a `"` column on either side when `quoted`."""
    if not quoted:
        return matrix
    quote = np.full((len(matrix), 1), ord('"'), dtype=np.uint8)
    return np.hstack([quote, matrix, quote])


def uuid_matrix(raw: np.ndarray) -> np.ndarray:
    """Return an (n, 36) uint8 matrix of version-4 UUID text made from (n, 16) random bytes."""
    raw = np.array(raw, dtype=np.uint8, copy=True).reshape(-1, 16)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((len(raw), 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((len(raw), 36), ord("-"), dtype=np.uint8)
    out[:, 0:8] = hexed[:, 0:8]
    out[:, 9:13] = hexed[:, 8:12]
    out[:, 14:18] = hexed[:, 12:16]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    return out


def splitmix64(keys: np.ndarray) -> np.ndarray:
    """Return a well-mixed uint64 hash of each uint64 key (the SplitMix64 finaliser)."""
    z = np.asarray(keys, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hashed_uuid_bytes(seed: int, keys: np.ndarray) -> np.ndarray:
    """Return (n, 16) bytes derived only from (seed, key), so the same key gives the same UUID on every day."""
    keys = np.asarray(keys, dtype=np.uint64)
    salt = splitmix64(np.array([seed], dtype=np.uint64))[0]
    high = splitmix64(keys ^ salt)
    low = splitmix64(high ^ np.uint64(0xD6E8FEB86659FD93))
    return np.stack([high, low], axis=1).view(np.uint8).reshape(-1, 16)


def _date_matrix(days: np.ndarray) -> np.ndarray:
    """Return an (n, 10) uint8 matrix of `YYYY-MM-DD` for day numbers since 1970-01-01."""
    unique, inverse = np.unique(np.asarray(days, dtype=np.int64), return_inverse=True)
    text = np.datetime_as_string(_EPOCH + unique.astype("timedelta64[D]"), unit="D").astype("S10")
    return np.frombuffer(text.tobytes(), dtype=np.uint8).reshape(-1, 10)[inverse.reshape(-1)]


def timestamps(ms: np.ndarray, *, quoted: bool = False) -> pa.StringArray:
    """Return ISO 8601 UTC strings with milliseconds and a `Z` (`2026-01-03T14:05:09.123Z`) for epoch millis.

    With `quoted`, each is wrapped in JSON quotes.
    """
    ms = np.asarray(ms, dtype=np.int64)
    days, tod = np.divmod(ms, MS_PER_DAY)
    out = np.empty((len(ms), 24), dtype=np.uint8)
    out[:, :10] = _date_matrix(days)
    hour, rest = np.divmod(tod, 3_600_000)
    minute, rest = np.divmod(rest, 60_000)
    second, milli = np.divmod(rest, 1000)
    out[:, 10] = ord("T")
    out[:, 11:13] = _digits(hour, 2)
    out[:, 13] = ord(":")
    out[:, 14:16] = _digits(minute, 2)
    out[:, 16] = ord(":")
    out[:, 17:19] = _digits(second, 2)
    out[:, 19] = ord(".")
    out[:, 20:23] = _digits(milli, 3)
    out[:, 23] = ord("Z")
    return fixed_width(_quote(out, quoted))


def dates(days: np.ndarray) -> pa.StringArray:
    """Return `YYYY-MM-DD` strings for day numbers since 1970-01-01."""
    return fixed_width(_date_matrix(np.asarray(days)))


def integers(values: np.ndarray) -> pa.StringArray:
    """Return the decimal text of integers."""
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def money(cents: np.ndarray) -> pa.StringArray:
    """Return non-negative amounts in cents as decimals with two places (`1250` -> `12.50`)."""
    cents = np.asarray(cents, dtype=np.int64)
    if len(cents) and cents.min() < 0:
        raise ValueError("money() formats non-negative amounts only")
    euros, rest = np.divmod(cents, 100)
    return pc.binary_join_element_wise(integers(euros), ".", _TWO_DIGITS.take(rest), "")


def booleans(values: np.ndarray) -> pa.StringArray:
    """Return `true`/`false` for a boolean array."""
    return _BOOLEANS.take(np.asarray(values, dtype=np.int8))


def json_string(values: pa.Array, *, escape: bool = True, null: np.ndarray | None = None) -> pa.StringArray:
    """Return JSON string tokens (quoted; `null` where the value is null or `null` is true).

    `escape=False` is for columns whose values are known to need no escaping (ids, codes, URLs we build).
    """
    values = pa.array(values, type=pa.string()) if not isinstance(values, pa.Array) else values
    if escape:
        values = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    token = pc.binary_join_element_wise('"', values, '"', "")
    if null is not None:
        token = pc.if_else(pa.array(np.asarray(null, dtype=bool)), pa.scalar(None, pa.string()), token)
    return pc.fill_null(token, "null")


def csv_string(values: pa.Array) -> pa.StringArray:
    """Return CSV tokens of text: always quoted, quotes doubled, empty for null."""
    values = pa.array(values, type=pa.string()) if not isinstance(values, pa.Array) else values
    token = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.fill_null(token, "")


def json_lines(fields: Sequence[tuple[str, pa.Array]]) -> pa.StringArray:
    """Return one JSON object per row, each ending in a newline, from (name, token array) pairs in order."""
    parts: list[pa.Array | str] = []
    for i, (name, tokens) in enumerate(fields):
        parts.append(("{" if i == 0 else ",") + f'"{name}":')
        parts.append(tokens)
    parts.append("}\n")
    return _concat(parts, len(fields[0][1]))


def json_objects(fields: Sequence[tuple[str, pa.Array]]) -> pa.StringArray:
    """Return one JSON object per row without a trailing newline (for nested values)."""
    parts: list[pa.Array | str] = []
    for i, (name, tokens) in enumerate(fields):
        parts.append(("{" if i == 0 else ",") + f'"{name}":')
        parts.append(tokens)
    parts.append("}")
    return _concat(parts, len(fields[0][1]))


def json_arrays(elements: pa.StringArray, offsets: np.ndarray) -> pa.StringArray:
    """Return JSON array tokens: row i holds `elements[offsets[i]:offsets[i+1]]`, comma-separated in brackets."""
    lists = pa.ListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int32)), elements)
    return pc.binary_join_element_wise("[", pc.binary_join(lists, ","), "]", "")


def csv_lines(tokens: Sequence[pa.Array]) -> pa.StringArray:
    """Return one CSV row per index, fields separated by commas, each row ending in a newline."""
    parts: list[pa.Array | str] = []
    for i, column in enumerate(tokens):
        if i:
            parts.append(",")
        parts.append(column)
    parts.append("\n")
    return _concat(parts, len(tokens[0]))


def _concat(parts: Sequence[pa.Array | str], n: int) -> pa.StringArray:
    """Return the element-wise concatenation of arrays and literal strings."""
    if n == 0:
        return pa.array([], type=pa.string())
    return pc.binary_join_element_wise(*parts, "")


def line_offsets(lines: pa.StringArray) -> np.ndarray:
    """Return where each value starts in `to_bytes(lines)`, plus the total length at the end."""
    if len(lines) == 0:
        return np.zeros(1, dtype=np.int64)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return (offsets - offsets[0]).astype(np.int64)


def line_buffer(lines: pa.StringArray) -> memoryview:
    """Return a zero-copy view of the concatenated UTF-8 bytes of all values."""
    if len(lines) == 0:
        return memoryview(b"")
    buffers = lines.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])]


def to_bytes(lines: pa.StringArray) -> bytes:
    """Return the concatenated UTF-8 bytes of all values (the lines already end in newlines)."""
    if len(lines) == 0:
        return b""
    if lines.null_count:
        raise ValueError("a line is null: a token was null where it should have been `null`")
    lines = lines.cast(pa.string()) if lines.type != pa.string() else lines
    buffers = lines.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    return buffers[2].slice(start, end - start).to_pybytes()
