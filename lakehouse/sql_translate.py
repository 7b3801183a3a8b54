"""Trino SQL made DuckDB SQL that gives Trino's answer: each expression's Trino type, and rewrites where DuckDB differs.

sqlglot translates Trino's syntax to DuckDB's, but not its semantics: `7 / 2` is 3 on Trino and 3.5 on DuckDB, an
average of decimals is a decimal on Trino and a double on DuckDB, `date_diff` counts whole units on Trino and crossed
boundaries on DuckDB, and so on. The `Translator` walks a parsed Trino query scope by scope, works out the Trino type
of every expression as Trino's analyzer would (column types come from the catalog), and rewrites the expressions
whose DuckDB meaning differs, so that DuckDB computes Trino's values; the query's columns then take their Trino types.
What cannot be made to agree (Trino's approximate percentiles, for one) is refused with a `UserError` naming it.

The rewrites use a few DuckDB macros and Trino's JSON functions written in Python (lakehouse/sql_json.py), which
`install` defines on a connection.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
from sqlglot import exp

from lakehouse import sql_json
from lakehouse import sql_types as t
from lakehouse.errors import UserError
from lakehouse.sql_types import TrinoType

Columns = list[tuple[str, TrinoType | None]]
# A message DuckDB raises from inside a rewritten query; the engine turns it into the refusal it names.
REFUSAL = "lakehouse-refusal: "
# Trino's approx_distinct is exact while its HyperLogLog stays sparse; the embedded engine counts exactly, which agrees
# up to 251 distinct values (measured on Trino 476), and refuses to answer above this bound.
APPROX_DISTINCT_EXACT = 200


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Define on `con` the macros and the function the translated queries use."""
    con.execute(
        "create or replace macro trino_idiv(a, b) as case when b = 0 then error('Division by zero') else a // b end"
    )
    con.execute(
        "create or replace macro trino_imod(a, b) as case when b = 0 then error('Division by zero') else a % b end"
    )
    # a / b of two decimals, from their unscaled values: ua * m / ub rounded half up, scaled down by the factor f
    con.execute(
        "create or replace macro trino_decimal_div(ua, ub, m, f) as case when ub = 0 then error('Division by zero') "
        "else cast(sign(ua) * sign(ub) * ((abs(ua) * m * 2 + abs(ub)) // (2 * abs(ub))) as decimal(38, 0)) * f end"
    )
    con.execute(
        "create or replace macro trino_regexp_extract(s, p, g) as "
        "case when regexp_matches(s, p) then regexp_extract(s, p, g) end"
    )
    con.execute(
        "create or replace macro trino_split_part(s, d, i) as "
        "case when i <= len(string_split(s, d)) then split_part(s, d, i) end"
    )
    sql_json.install(con)


@dataclass
class Scope:
    """What names mean at one level of a query: its relations' columns, CTEs, lambda parameters, output aliases."""

    parent: Scope | None = None
    ctes: dict[str, Columns] = field(default_factory=dict)
    relations: dict[str, Columns] = field(default_factory=dict)
    lambdas: dict[str, TrinoType | None] = field(default_factory=dict)
    outputs: dict[str, TrinoType | None] = field(default_factory=dict)

    def child(self) -> Scope:
        return Scope(parent=self, ctes=dict(self.ctes), lambdas=dict(self.lambdas))

    def column(self, name: str, table: str) -> TrinoType | None:
        """Return the type of a column reference, looking outwards for correlated references."""
        scope: Scope | None = self
        while scope is not None:
            if not table and name in scope.lambdas:
                return scope.lambdas[name]
            for alias, columns in scope.relations.items():
                if table and alias != table:
                    continue
                for column, kind in columns:
                    if column == name:
                        return kind
            scope = scope.parent
        return None


def _from(select: exp.Select) -> exp.From | None:
    return select.args.get("from_") or select.args.get("from")


def _call(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _cast(node: exp.Expr, duck_type: str) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build(duck_type, dialect="duckdb"))


# Joda-Time pattern letters (Trino's format_datetime) as strftime directives, by the number of times a letter repeats.
_JODA = {
    "y": {1: "%Y", 2: "%y", 4: "%Y"},
    "x": {1: "%G", 2: "%g", 4: "%G"},
    "M": {1: "%-m", 2: "%m", 3: "%b", 4: "%B"},
    "d": {1: "%-d", 2: "%d"},
    "H": {1: "%-H", 2: "%H"},
    "h": {1: "%-I", 2: "%I"},
    "m": {1: "%-M", 2: "%M"},
    "s": {1: "%-S", 2: "%S"},
    "S": {3: "%g", 6: "%f"},
    "E": {1: "%a", 2: "%a", 3: "%a", 4: "%A"},
    "a": {1: "%p"},
    "D": {3: "%j"},
    "w": {1: "%-V", 2: "%V"},
}


def java_to_strftime(pattern: str) -> str | None:
    """Return a Joda-Time pattern as a strftime format, or None when it uses a letter this does not know."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = i + 1
            text = ""
            while end < len(pattern):
                if pattern[end] == "'" and pattern[end + 1 : end + 2] == "'":
                    text, end = text + "'", end + 2
                elif pattern[end] == "'":
                    break
                else:
                    text, end = text + pattern[end], end + 1
            out.append((text or "'").replace("%", "%%"))
            i = end + 1
        elif char.isalpha():
            run = len(pattern) - i - len(pattern[i:].lstrip(char))
            counts = _JODA.get(char, {})
            directive = counts.get(run) or (counts.get(max(counts)) if counts and run > max(counts) else None)
            if directive is None:
                return None
            out.append(directive)
            i += run
        else:
            out.append("%%" if char == "%" else char)
            i += 1
    return "".join(out)


def _function_name(node: exp.Expr) -> str:
    """Return a function's name as the query spelled it (as Trino spells it, for the ones sqlglot knows)."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    return node.sql(dialect="trino").split("(", 1)[0].strip().lower() or node.key


def _unit(node: exp.Expr) -> str:
    unit = node.args.get("unit")
    return (unit.name if unit is not None else "day").lower()


def common_type(kinds: list[TrinoType | None]) -> TrinoType | None:
    """Return the type Trino coerces a set of values to (CASE branches, COALESCE, VALUES rows), None if unsure."""
    known = [k for k in kinds if k is not None and k != t.UNKNOWN]
    if len(known) < len([k for k in kinds if k != t.UNKNOWN]):
        return None
    if not known:
        return t.UNKNOWN
    first = known[0]
    if all(k == first for k in known):
        return first
    if all(k.is_string for k in known):
        lengths = [k.args[0] if k.args else None for k in known]
        return t.VARCHAR if None in lengths else t.varchar(max(int(n) for n in lengths if n is not None))
    if all(k.is_integer for k in known):
        return max(known, key=lambda k: t.INTEGERS.index(k.base))
    if all(k.is_exact for k in known):
        decimals = [k.decimal_form() for k in known]
        scale = max(d.args[1] for d in decimals)
        digits = max(d.args[0] - d.args[1] for d in decimals)
        return t.decimal(digits + scale, scale)
    if all(k.is_numeric for k in known):
        return t.DOUBLE if any(k.base == "double" or k.is_decimal for k in known) else t.REAL
    if all(k.is_instant for k in known):
        return t.instant(max(k.precision for k in known), first.zone)
    if all(k.base == "timestamp" for k in known):
        return t.timestamp(max(k.precision for k in known))
    if {k.base for k in known} <= {"date", "timestamp"}:
        return t.timestamp(max(k.precision if k.base == "timestamp" else 0 for k in known))
    return None


def _literal_zone(text: str) -> str:
    """Return the zone a timestamp literal names (`2026-01-01 10:00:00 Europe/Berlin`): UTC when it names none."""
    match = re.search(r":\d{2}(?:\.\d+)?\s*([A-Za-z][\w/+-]*|[+-]\d{1,2}(?::?\d{2})?)\s*$", text)
    if match is None or match[1].upper() in ("UTC", "Z", "GMT", "UT"):
        return t.UTC
    return match[1]


def datatype(node: exp.DataType) -> TrinoType | None:
    """Return the Trino type a parsed Trino type name (in a CAST) stands for."""
    kind = node.this
    params = [
        int(p.this.this) if isinstance(p.this, exp.Literal) else None
        for p in node.expressions
        if isinstance(p, exp.DataTypeParam)
    ]
    simple = {
        exp.DataType.Type.BIGINT: t.BIGINT,
        exp.DataType.Type.INT: t.INTEGER,
        exp.DataType.Type.SMALLINT: TrinoType("smallint"),
        exp.DataType.Type.TINYINT: TrinoType("tinyint"),
        exp.DataType.Type.DOUBLE: t.DOUBLE,
        exp.DataType.Type.FLOAT: t.REAL,
        exp.DataType.Type.BOOLEAN: t.BOOLEAN,
        exp.DataType.Type.DATE: t.DATE,
        exp.DataType.Type.JSON: t.JSON,
        exp.DataType.Type.VARBINARY: TrinoType("varbinary"),
    }
    if kind in simple:
        return simple[kind]
    if kind in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR):
        base = "char" if kind == exp.DataType.Type.CHAR else "varchar"
        return TrinoType(base, (params[0],) if params and params[0] is not None else ((1,) if base == "char" else ()))
    if kind == exp.DataType.Type.DECIMAL:
        precision = params[0] if params else 38
        scale = params[1] if len(params) > 1 else 0
        return t.decimal(precision or 38, scale or 0)
    if kind in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATETIME):
        return t.timestamp(params[0] if params and params[0] is not None else 3)
    if kind == exp.DataType.Type.TIMESTAMPTZ:
        return t.instant(params[0] if params and params[0] is not None else 3)
    if kind == exp.DataType.Type.ARRAY and node.expressions:
        element = datatype(node.expressions[0])
        return t.array(element) if element else None
    if kind == exp.DataType.Type.MAP and len(node.expressions) == 2:
        key, value = datatype(node.expressions[0]), datatype(node.expressions[1])
        return t.map_of(key, value) if key and value else None
    if kind == exp.DataType.Type.STRUCT:
        fields = []
        for column in node.expressions:
            if isinstance(column, exp.ColumnDef) and isinstance(column.args.get("kind"), exp.DataType):
                fields.append((column.name, datatype(column.args["kind"])))
            elif isinstance(column, exp.DataType):
                fields.append(("", datatype(column)))
        if any(kind is None for _, kind in fields):
            return None
        return TrinoType("row", tuple(fields))
    return None


class Translator:
    """Types a parsed Trino query and rewrites it in place into DuckDB terms (see the module's docstring).

    `bind` is called with each table the query reads (not its CTEs): it points the node at the DuckDB relation that
    holds the table and returns the table's columns with their Trino types.
    """

    def __init__(self, bind: Callable[[exp.Table], Columns]):
        self.bind = bind
        # The type of every node typed so far, by id; the nodes are kept so that no id is reused.
        self._kinds: dict[int, TrinoType | None] = {}
        self._replaced: dict[int, exp.Expr] = {}
        self._seen: list[exp.Expr] = []

    def _replace(self, old: exp.Expr, new: exp.Expr) -> None:
        """Put `new` where `old` is; the type worked out for `old` will be `new`'s."""
        old.replace(new)
        self._replaced[id(old)] = new
        self._seen += [old, new]

    # -- queries ------------------------------------------------------------------------------------------------------
    def statement(self, node: exp.Expr) -> Columns:
        """Translate a whole query; return its output columns' names and Trino types (None where unsure)."""
        return self.query(node, Scope())

    def query(self, node: exp.Expr, scope: Scope) -> Columns:
        if isinstance(node, exp.Subquery):
            columns = self.query(node.this, scope)
            self._modifiers(node, scope, columns)
            return columns
        inner = scope.child()
        with_ = node.args.get("with_") or node.args.get("with")
        if with_ is not None:
            for cte in with_.expressions:
                columns = self.query(cte.this, inner)
                names = [c.name for c in cte.args["alias"].columns] if cte.args.get("alias") else []
                if names:
                    columns = [(n, kind) for n, (_, kind) in zip(names, columns, strict=False)]
                inner.ctes[cte.alias_or_name] = columns
        if isinstance(node, exp.Select):
            return self.select(node, inner)
        if isinstance(node, exp.SetOperation):
            left = self.query(node.left, inner)
            right = self.query(node.right, inner)
            columns = [(name, common_type([a, b])) for (name, a), (_, b) in zip(left, right, strict=False)]
            self._modifiers(node, inner, columns)
            return columns
        if isinstance(node, exp.Values):
            return self._values(node, inner)
        raise UserError(f"only queries are allowed here, not {node.key.upper()}")

    def _modifiers(self, node: exp.Expr, scope: Scope, columns: Columns) -> None:
        """Type ORDER BY of a query whose output columns are known (a set operation, a parenthesised query)."""
        order = node.args.get("order")
        if order is not None:
            outer = scope.child()
            outer.relations[""] = columns
            outer.outputs = dict(columns)
            self.expr(order, outer)

    def select(self, node: exp.Select, scope: Scope) -> Columns:
        source = _from(node)
        if source is not None:
            self.source(source.this, scope)
        for join in node.args.get("joins") or []:
            self.source(join.this, scope)
            if join.args.get("on") is not None:
                self.expr(join.args["on"], scope)
        for key in ("where", "group", "having", "qualify"):
            if node.args.get(key) is not None:
                self.expr(node.args[key], scope)
        columns: Columns = []
        for index, projection in enumerate(list(node.expressions)):
            if isinstance(projection, exp.Star):
                for relation in scope.relations.values():
                    columns.extend(relation)
                continue
            if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                columns.extend(scope.relations.get(projection.table, []))
                continue
            kind = self.expr(projection, scope)
            current = node.expressions[index]
            if isinstance(current, exp.Alias):
                name = current.alias
            elif isinstance(current, exp.Column):
                name = current.name
            else:
                name = f"_col{index}"
            columns.append((name, kind))
        scope.outputs = dict(columns)
        order = node.args.get("order")
        if order is not None:
            for ordered in order.expressions:
                target = ordered.this
                is_alias = isinstance(target, exp.Column) and not target.table and target.name in scope.outputs
                if not is_alias and not isinstance(target, exp.Literal):
                    self.expr(target, scope)
        return columns

    def source(self, node: exp.Expr, scope: Scope) -> None:
        """Register a FROM item's columns under its alias."""
        alias_node = node.args.get("alias")
        names = [c.name for c in alias_node.columns] if isinstance(alias_node, exp.TableAlias) else []
        if isinstance(node, exp.Table):
            if not node.db and node.name in scope.ctes:
                columns = scope.ctes[node.name]
                alias = node.alias_or_name
            else:
                alias = node.alias or node.name
                columns = self.bind(node)
        elif isinstance(node, exp.Subquery):
            columns = self.query(node.this, scope)  # sees this level's CTEs (and, harmlessly, its relations)
            alias = node.alias
        elif isinstance(node, exp.Unnest):
            columns = self._unnest(node, scope)
            alias = node.alias
            names = [c.name for c in node.args["alias"].columns] if node.args.get("alias") else []
            if isinstance(node.args.get("offset"), exp.Identifier):
                names.append(node.args["offset"].name)
        elif isinstance(node, exp.Values):
            columns = self._values(node, scope)
            alias = node.alias
        else:
            for child in node.iter_expressions():
                self.expr(child, scope)
            return
        if names:
            columns = [(n, kind) for n, (_, kind) in zip(names, columns, strict=False)]
        scope.relations[alias] = columns

    def _values(self, node: exp.Values, scope: Scope) -> Columns:
        rows = [self._tuple(row, scope) for row in node.expressions]
        width = max((len(r) for r in rows), default=0)
        return [(f"_col{i}", common_type([r[i] for r in rows if i < len(r)])) for i in range(width)]

    def _tuple(self, row: exp.Expr, scope: Scope) -> list[TrinoType | None]:
        if isinstance(row, exp.Tuple):
            return [self.expr(e, scope) for e in list(row.expressions)]
        return [self.expr(row, scope)]

    def _unnest(self, node: exp.Unnest, scope: Scope) -> Columns:
        columns: Columns = []
        arguments = list(node.expressions)
        for argument in arguments:
            kind = self.expr(argument, scope)
            if kind is not None and kind.base == "map":
                columns += [("", kind.args[0]), ("", kind.args[1])]
            elif kind is not None and kind.base == "array" and kind.args[0].base == "row":
                columns += list(kind.args[0].args)
            else:
                columns.append(("", kind.element if kind is not None else None))
        offset = node.args.get("offset")
        if offset:
            columns.append((offset.name if isinstance(offset, exp.Identifier) else "ordinality", t.BIGINT))
        if len(node.expressions) > 1:
            self._zip_unnest(node)
        return columns

    def _zip_unnest(self, node: exp.Unnest) -> None:
        """Rewrite UNNEST(a, b) (which DuckDB lacks) as the zip DuckDB makes of several UNNESTs in one SELECT."""
        names = [c.name for c in node.args["alias"].columns] if node.args.get("alias") else []
        offset = node.args.get("offset")
        if isinstance(offset, exp.Identifier):
            names.append(offset.name)
        arguments = list(node.expressions)
        if len(names) < len(arguments) + bool(offset):
            raise UserError("UNNEST of several arrays needs a name for each column: UNNEST(a, b) AS t(x, y)")
        projections: list[exp.Expr] = [
            exp.alias_(exp.Unnest(expressions=[argument]), name, quoted=True)
            for argument, name in zip(arguments, names, strict=False)
        ]
        if node.args.get("offset"):
            longest = _call("greatest", *(_call("len", a.copy()) for a in arguments))
            positions = _call("range", exp.Literal.number(1), exp.Add(this=longest, expression=exp.Literal.number(1)))
            projections.append(exp.alias_(exp.Unnest(expressions=[positions]), names[len(arguments)], quoted=True))
        alias = exp.TableAlias(this=node.args["alias"].this) if node.args.get("alias") else None
        self._replace(node, exp.Subquery(this=exp.select(*projections), alias=alias))

    # -- expressions ----------------------------------------------------------------------------------------------
    def expr(self, node: exp.Expr | None, scope: Scope) -> TrinoType | None:
        """Return the Trino type of `node`, rewriting it (and its children) in place where DuckDB differs."""
        if node is None:
            return None
        if isinstance(node, exp.Subquery | exp.Select | exp.SetOperation):
            columns = self.query(node, scope)
            return columns[0][1] if len(columns) == 1 else None
        if id(node) in self._kinds:
            return self._kinds[id(node)]
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None and isinstance(node, exp.Func) and not isinstance(node, exp.Connector | exp.Predicate):
            raise UserError(
                f"{_function_name(node)}(): the embedded engine does not know Trino's answer for this function "
                "(run it on the stack, LAKEHOUSE_ENV=stack)"
            )
        if handler is not None and getattr(handler, "own_children", False):
            kind = handler(node, scope)
        else:
            kinds = [self.expr(child, scope) for child in list(node.iter_expressions())]
            kind = self._generic(node, kinds) if handler is None else handler(node, scope)
        self._seen.append(node)
        current: exp.Expr | None = node
        while current is not None:
            self._kinds[id(current)] = kind
            current = self._replaced.get(id(current))
        return kind

    def _generic(self, node: exp.Expr, kinds: list[TrinoType | None]) -> TrinoType | None:
        if isinstance(node, exp.Predicate | exp.Connector | exp.Not | exp.Exists):
            return t.BOOLEAN
        if isinstance(node, exp.Paren | exp.Neg | exp.Abs | exp.Ordered | exp.Distinct | exp.Alias):
            return kinds[0] if kinds else None
        return None

    def type_of(self, node: exp.Expr | None, scope: Scope) -> TrinoType | None:
        """Return the type of a child node (typed, and translated, the first time it is asked for)."""
        return self.expr(node, scope)

    # Leaves
    def _Literal(self, node: exp.Literal, scope: Scope) -> TrinoType | None:
        if node.is_string:
            return t.varchar(len(node.this))
        text = str(node.this)
        if re.fullmatch(r"\d+", text):
            return t.INTEGER if int(text) <= 2**31 - 1 else t.BIGINT
        if re.fullmatch(r"\d*\.\d*", text):
            whole, fraction = text.split(".")
            digits = len(whole.lstrip("0")) + len(fraction)
            return t.decimal(max(digits, 1), len(fraction))
        return t.DOUBLE

    def _Boolean(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.BOOLEAN

    def _Null(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.UNKNOWN

    def _Column(self, node: exp.Column, scope: Scope) -> TrinoType | None:
        if isinstance(node.this, exp.Star):
            return None
        return scope.column(node.name, node.table)

    _Column.own_children = True  # type: ignore[attr-defined]  # marks a handler that translates its own children

    def _Identifier(self, node: exp.Identifier, scope: Scope) -> TrinoType | None:
        return scope.lambdas.get(node.name)

    def _Var(self, node: exp.Var, scope: Scope) -> None:
        return None

    def _DataType(self, node: exp.DataType, scope: Scope) -> None:
        return None

    _DataType.own_children = True  # type: ignore[attr-defined]  # marks a handler that translates its own children

    def _Interval(self, node: exp.Interval, scope: Scope) -> TrinoType:
        unit = _unit(node)
        return t.INTERVAL_MONTH if unit in ("year", "month", "quarter") else t.INTERVAL_DAY

    def _Star(self, node: exp.Star, scope: Scope) -> None:
        return None

    # Conversions
    def _Cast(self, node: exp.Cast, scope: Scope) -> TrinoType | None:
        target = datatype(node.to)
        source = self.type_of(node.this, scope)
        if target is None:
            return None
        if target.is_instant and isinstance(node.this, exp.Literal) and node.this.is_string:
            target = t.instant(target.precision, _literal_zone(node.this.this))
        if target.base == "timestamp":
            node.set("to", exp.DataType.build("timestamp", dialect="duckdb"))
        elif target.is_instant:
            node.set("to", exp.DataType.build("timestamptz", dialect="duckdb"))
        if source is None:
            return target
        if target.is_string:
            self._cast_to_varchar(node, source)
        elif source.is_instant and source.zone != t.UTC and target.base in ("date", "timestamp"):
            node.set("this", self._wall(node.this, source))
        elif source.is_string and not isinstance(node.this, exp.Literal):
            self._cast_from_varchar(node, target)
        return target

    def _cast_from_varchar(self, node: exp.Cast, target: TrinoType) -> None:
        """Accept only the text Trino casts (DuckDB also reads `2026-01-02T10:00Z` as a timestamp, `1.5` as 2)."""
        if target.is_instant:
            raise UserError(
                "CAST of varchar to timestamp with time zone: on Trino each value keeps the zone its text names, "
                "which the embedded engine cannot; cast to timestamp, or use from_iso8601_timestamp()"
            )
        pattern = {
            "date": r"^\s*\d{4,}-\d{1,2}-\d{1,2}\s*$",
            "timestamp": r"^\s*\d{4,}-\d{1,2}-\d{1,2}(\s+\d{1,2}:\d{1,2}(:\d{1,2}(\.\d{1,12})?)?)?\s*$",
        }.get(target.base)
        if target.is_integer:
            pattern = r"^\s*[+-]?\d+\s*$"
        if pattern is None:
            return
        accepted = _call("regexp_full_match", node.this.copy(), exp.Literal.string(pattern))
        if isinstance(node, exp.TryCast):
            refused: exp.Expr = exp.Null()
        else:
            message = f"Cannot cast value to {target}"
            refused = _call("error", exp.DPipe(this=exp.Literal.string(f"{message}: "), expression=node.this.copy()))
        self._replace(node, exp.Case(ifs=[exp.If(this=accepted, true=node.copy())], default=refused))

    _TryCast = _Cast

    def _cast_to_varchar(self, node: exp.Cast, source: TrinoType) -> None:
        """Give a cast to varchar Trino's text (`2026-01-01 10:00:00.000 UTC`, `1.5E0`), or refuse where unknown."""
        if source.is_instant or source.base == "timestamp":
            digits = "%g" if source.precision == 3 else "%f" if source.precision == 6 else None
            if digits is None and source.precision != 0:
                raise UserError(f"CAST of {source} to varchar is not supported by the embedded engine")
            pattern = "%Y-%m-%d %H:%M:%S" + (f".{digits}" if digits else "")
            value = self._wall(node.this, source) if source.is_instant else node.this
            text: exp.Expr = _call("strftime", value, exp.Literal.string(pattern))
            if source.is_instant:
                text = exp.DPipe(this=text, expression=exp.Literal.string(f" {source.zone}"))
            self._replace(node, text)
        elif source.is_floating:
            raise UserError("CAST of a double to varchar: Trino writes it as 1.5E0, which the embedded engine does not")

    # Arithmetic
    def _arithmetic(self, node: exp.Binary, scope: Scope) -> TrinoType | None:
        left, right = self.type_of(node.this, scope), self.type_of(node.expression, scope)
        if left is None or right is None:
            return None
        if left == t.UNKNOWN or right == t.UNKNOWN:
            return right if left == t.UNKNOWN else left
        operator = type(node)
        if left.is_integer and right.is_integer:
            kind = max(left, right, key=lambda k: t.INTEGERS.index(k.base))
            if operator is exp.Div:
                self._replace(node, _call("trino_idiv", node.this, node.expression))
            elif operator is exp.Mod:
                self._replace(node, _call("trino_imod", node.this, node.expression))
            return kind
        if left.is_exact and right.is_exact:
            return self._decimal_arithmetic(node, left.decimal_form(), right.decimal_form())
        if left.is_numeric and right.is_numeric:
            if "double" in (left.base, right.base) or left.is_decimal or right.is_decimal:
                return t.DOUBLE
            return t.REAL
        if operator in (exp.Add, exp.Sub) and left.is_temporal and right.is_interval:
            return self._plus_interval(node, left)
        if operator is exp.Add and right.is_temporal and left.is_interval:
            return self._plus_interval(node, right)
        if operator is exp.Sub and left.is_temporal and right.is_temporal:
            if left.base == "date" and right.base == "date":
                self._replace(node, _call("to_days", _cast(node.copy(), "integer")))
            return t.INTERVAL_DAY
        if left.is_interval and right.is_interval:
            return left
        return None

    def _plus_interval(self, node: exp.Binary, kind: TrinoType) -> TrinoType:
        """Type a date or time plus or minus an interval (DuckDB makes a date a timestamp; Trino keeps it)."""
        if kind.base == "date":
            self._replace(node, _cast(node.copy(), "date"))
            return kind
        if kind.is_instant and kind.zone != t.UTC:
            raise UserError("adding an interval to a time AT TIME ZONE is not supported by the embedded engine")
        if kind.base == "timestamp":
            return t.timestamp(max(kind.precision, 3))
        return t.instant(max(kind.precision, 3), kind.zone)

    def _decimal_arithmetic(self, node: exp.Binary, left: TrinoType, right: TrinoType) -> TrinoType:
        (p1, s1), (p2, s2) = left.args, right.args
        operator = type(node)
        if operator in (exp.Add, exp.Sub):
            scale = max(s1, s2)
            return t.decimal(1 + scale + max(p1 - s1, p2 - s2), scale)
        if operator is exp.Mul:
            return t.decimal(p1 + p2, s1 + s2)
        if operator is exp.Mod:
            scale = max(s1, s2)
            return t.decimal(min(p2 - s2, p1 - s1) + scale, scale)
        scale = max(s1, s2)
        result = t.decimal(p1 + s2 + max(0, s2 - s1), scale)
        self._replace(node, self._decimal_division(node.this, s1, node.expression, s2, result))
        return result

    @staticmethod
    def _decimal_division(dividend: exp.Expr, s1: int, divisor: exp.Expr, s2: int, result: TrinoType) -> exp.Expr:
        """Return DuckDB SQL dividing two exact values as Trino does: to the result's scale, rounded half up."""

        def unscaled(value: exp.Expr, scale: int) -> exp.Expr:
            if scale:
                value = exp.Mul(this=exp.Paren(this=value), expression=exp.Literal.number(10**scale))
            return _cast(value, "hugeint")

        scale = result.args[1]
        multiplier = _cast(exp.Literal.string(str(10 ** (s2 + scale - s1))), "hugeint")
        factor = _cast(exp.Literal.string(str(Decimal(1).scaleb(-scale))), f"decimal({scale + 1}, {scale})")
        quotient = _call("trino_decimal_div", unscaled(dividend, s1), unscaled(divisor, s2), multiplier, factor)
        return _cast(quotient, f"decimal({result.args[0]}, {scale})")

    _Add = _Sub = _Mul = _Div = _Mod = _arithmetic

    def _IntDiv(self, node: exp.IntDiv, scope: Scope) -> TrinoType | None:
        return self.type_of(node.this, scope)

    def _DPipe(self, node: exp.DPipe, scope: Scope) -> TrinoType | None:
        return self._concat([self.type_of(node.this, scope), self.type_of(node.expression, scope)])

    def _Concat(self, node: exp.Concat, scope: Scope) -> TrinoType | None:
        kinds = [self.type_of(e, scope) for e in node.expressions]
        if t.UNKNOWN in kinds:
            raise UserError("concat() of a NULL literal: Trino takes it for array concatenation; use || instead")
        parts = list(node.expressions)
        # DuckDB's concat() skips NULLs; Trino's (like ||) is NULL when any part is
        chained: exp.Expr = parts[0]
        for part in parts[1:]:
            chained = exp.DPipe(this=chained, expression=part, safe=False)
        self._replace(node, exp.Paren(this=chained) if len(parts) > 1 else chained)
        return self._concat(kinds)

    @staticmethod
    def _concat(kinds: list[TrinoType | None]) -> TrinoType | None:
        if any(k is None for k in kinds):
            return None
        if all(k.is_string or k == t.UNKNOWN for k in kinds if k is not None):
            lengths = [k.args[0] if k is not None and k.args else None for k in kinds if k != t.UNKNOWN]
            return t.VARCHAR if None in lengths else t.varchar(sum(int(n) for n in lengths if n is not None))
        arrays = [k for k in kinds if k is not None and k.base == "array"]
        return arrays[0] if arrays else None

    # Conditionals
    def _Case(self, node: exp.Case, scope: Scope) -> TrinoType | None:
        branches = [self.type_of(i.args.get("true"), scope) for i in node.args.get("ifs") or []]
        if node.args.get("default") is not None:
            branches.append(self.type_of(node.args["default"], scope))
        return common_type(branches)

    def _If(self, node: exp.If, scope: Scope) -> TrinoType | None:
        branches = [self.type_of(node.args.get("true"), scope)]
        if node.args.get("false") is not None:
            branches.append(self.type_of(node.args["false"], scope))
        return common_type(branches)

    def _Coalesce(self, node: exp.Coalesce, scope: Scope) -> TrinoType | None:
        return common_type([self.type_of(node.this, scope), *(self.type_of(e, scope) for e in node.expressions)])

    _Greatest = _Least = _Coalesce

    def _Nullif(self, node: exp.Nullif, scope: Scope) -> TrinoType | None:
        return self.type_of(node.this, scope)

    # Aggregates
    def _wrapper(self, node: exp.Expr) -> tuple[exp.Expr, Callable[[exp.Expr], exp.Expr]]:
        """Return the node an aggregate's rewrite replaces (its FILTER and OVER, if any) and how to re-apply them."""
        outer = node
        wrappers: list[exp.Expr] = []
        while isinstance(outer.parent, exp.Filter | exp.Window) and outer.parent.this is outer:
            outer = outer.parent
            wrappers.append(outer)

        def wrap(aggregate: exp.Expr) -> exp.Expr:
            for wrapper in wrappers:
                copy = wrapper.copy()
                copy.set("this", aggregate)
                aggregate = copy
            return aggregate

        return outer, wrap

    def _Count(self, node: exp.Count, scope: Scope) -> TrinoType:
        return t.BIGINT

    _CountIf = _Count

    def _ApproxDistinct(self, node: exp.ApproxDistinct, scope: Scope) -> TrinoType:
        outer, wrap = self._wrapper(node)
        exact = wrap(exp.Count(this=exp.Distinct(expressions=[node.this.copy()])))
        message = (
            f"{REFUSAL}approx_distinct: more than {APPROX_DISTINCT_EXACT} distinct values, where Trino's HyperLogLog "
            "estimate differs from the exact count the embedded engine makes; use count(distinct ...)"
        )
        check = exp.GT(this=exact.copy(), expression=exp.Literal.number(APPROX_DISTINCT_EXACT))
        self._replace(
            outer, exp.Case(ifs=[exp.If(this=check, true=_call("error", exp.Literal.string(message)))], default=exact)
        )
        return t.BIGINT

    def _ApproxQuantile(self, node: exp.Expr, scope: Scope) -> None:
        raise UserError(
            "approx_percentile: Trino's t-digest estimate cannot be reproduced by the embedded engine "
            "(run it on the stack, LAKEHOUSE_ENV=stack)"
        )

    def _Sum(self, node: exp.Sum, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        if kind is None:
            return None
        if kind.is_integer:
            return t.BIGINT
        if kind.is_decimal:
            return t.decimal(38, kind.args[1])
        return kind

    def _Avg(self, node: exp.Avg, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        if kind is None:
            return None
        if kind.is_integer:
            return t.DOUBLE
        if kind.is_decimal:
            outer, wrap = self._wrapper(node)
            total = wrap(exp.Sum(this=node.this.copy()))
            count = exp.Nullif(this=wrap(exp.Count(this=node.this.copy())), expression=exp.Literal.number(0))
            self._replace(outer, self._decimal_division(total, kind.args[1], count, 0, kind))
            return kind
        return kind

    def _Min(self, node: exp.Expr, scope: Scope) -> TrinoType | None:
        return self.type_of(node.this, scope)

    _Max = _AnyValue = _ArgMax = _ArgMin = _FirstValue = _LastValue = _NthValue = _Lag = _Lead = _Min
    _Abs = _Upper = _Lower = _Trim = _Reverse = _Substring = _ArraySort = _Min

    def _SplitPart(self, node: exp.SplitPart, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        # DuckDB gives '' for a part beyond the last; Trino gives NULL
        arguments = [node.this.copy(), node.args["delimiter"].copy(), node.args["part_index"].copy()]
        self._replace(node, _call("trino_split_part", *arguments))
        return kind

    def _Exists(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.BOOLEAN

    _IsNan = _Exists

    def _GroupConcat(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.VARCHAR

    _Format = _GroupConcat

    def _BitwiseAnd(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.BIGINT

    _BitwiseOr = _BitwiseXor = _BitwiseNot = _BitwiseAnd

    def _Sign(self, node: exp.Expr, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        if kind is None:
            return None
        if kind.is_decimal:
            self._replace(node, _cast(node.copy(), "decimal(1, 0)"))
            return t.decimal(1, 0)
        self._replace(node, _cast(node.copy(), kind.base))
        return kind

    def _Struct(self, node: exp.Struct, scope: Scope) -> TrinoType | None:
        fields = []
        for argument in node.expressions:
            if isinstance(argument, exp.PropertyEQ | exp.Alias):
                fields.append((argument.alias_or_name, self.type_of(argument, scope)))
            else:
                fields.append(("", self.type_of(argument, scope)))
        if any(kind is None for _, kind in fields):
            return None
        return TrinoType("row", tuple(fields))

    def _RegexpReplace(self, node: exp.Expr, scope: Scope) -> TrinoType:
        replacement = node.args.get("replacement")
        if isinstance(replacement, exp.Literal) and replacement.is_string:
            # Trino refers to a group as $1, DuckDB as \1
            replacement.set("this", re.sub(r"\$(\d)", r"\\\1", replacement.this))
        elif replacement is not None:
            raise UserError("regexp_replace(): the embedded engine needs the replacement as a quoted literal")
        return t.VARCHAR

    def _ArrayAgg(self, node: exp.ArrayAgg, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        return t.array(kind) if kind is not None else None

    def _Window(self, node: exp.Window, scope: Scope) -> TrinoType | None:
        # The window's own parts first: an aggregate's rewrite copies them (see _wrapper)
        for key in ("partition_by", "order", "spec"):
            value = node.args.get(key)
            for part in value if isinstance(value, list) else [value]:
                self.expr(part, scope)
        return self.type_of(node.this, scope)

    _Window.own_children = True  # type: ignore[attr-defined]  # marks a handler that translates its own children

    def _Filter(self, node: exp.Filter, scope: Scope) -> TrinoType | None:
        self.expr(node.expression, scope)
        return self.type_of(node.this, scope)

    _Filter.own_children = True  # type: ignore[attr-defined]  # marks a handler that translates its own children

    def _RowNumber(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.BIGINT

    _Rank = _DenseRank = _Ntile = _Length = _StrPosition = _RowNumber

    def _PercentRank(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.DOUBLE

    _CumeDist = _Stddev = _StddevSamp = _StddevPop = _Variance = _VariancePop = _Sqrt = _Ln = _Exp = _PercentRank
    _Pow = _Log = _TimeToUnix = _PercentRank

    def _Corr(self, node: exp.Binary, scope: Scope) -> TrinoType:
        kinds = [self.type_of(node.this, scope), self.type_of(node.expression, scope)]
        if all(k is not None and k.base in ("tinyint", "smallint", "integer", "real") for k in kinds):
            # Trino coerces such arguments to real and answers in real
            outer, wrap = self._wrapper(node)
            copy = node.copy()
            copy.set("this", _cast(node.this.copy(), "real"))
            copy.set("expression", _cast(node.expression.copy(), "real"))
            self._replace(outer, _cast(wrap(copy), "real"))
            return t.REAL
        return t.DOUBLE

    _CovarSamp = _CovarPop = _Corr

    def _LogicalOr(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.BOOLEAN

    _LogicalAnd = _RegexpLike = _ArrayContains = _StartsWith = _LogicalOr

    def _Grouping(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.INTEGER

    def _Round(self, node: exp.Round, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        if kind is None or not kind.is_decimal:
            return kind
        precision, scale = kind.args
        if node.args.get("decimals") is None:
            return t.decimal(precision - scale + min(scale, 1), 0)
        return t.decimal(precision + 1, scale)

    def _Floor(self, node: exp.Expr, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        if kind is None or not kind.is_decimal:
            return kind
        precision, scale = kind.args
        return t.decimal(precision - scale + min(scale, 1), 0)

    _Ceil = _Floor

    # Dates and times
    def _wall(self, node: exp.Expr, kind: TrinoType | None) -> exp.Expr:
        """Return `node` as DuckDB's wall-clock time in its zone, when its zone is not the session's (UTC)."""
        if kind is not None and kind.is_instant and kind.zone != t.UTC:
            return _call("timezone", exp.Literal.string(kind.zone), node.copy())
        return node

    @staticmethod
    def _instant(node: exp.Expr, kind: TrinoType) -> exp.Expr:
        """Return a wall-clock time in `kind`'s zone as the instant it is (the inverse of `_wall`)."""
        return _call("timezone", exp.Literal.string(kind.zone), node)

    def _temporal_function(self, node: exp.Expr, scope: Scope, argument: str = "this") -> TrinoType | None:
        """Type a function of one date/time (its result is a number or text) computed on wall-clock time."""
        kind = self.type_of(node.args.get(argument), scope)
        if kind is not None and kind.is_instant and kind.zone != t.UTC:
            node.set(argument, self._wall(node.args[argument], kind))
        return kind

    def _TimestampTrunc(self, node: exp.Expr, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        if kind is None:
            return None
        zoned = kind.is_instant and kind.zone != t.UTC
        if zoned:
            node.set("this", self._wall(node.this, kind))
        if kind.base == "date":
            self._replace(node, _cast(node.copy(), "date"))
        elif zoned:
            self._replace(node, self._instant(node.copy(), kind))
        return kind

    _DateTrunc = _TimestampTrunc

    def _DateAdd(self, node: exp.DateAdd, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        if kind is None:
            return None
        unit = _unit(node)
        zoned = kind.is_instant and kind.zone != t.UTC and unit in ("day", "week", "month", "quarter", "year")
        if zoned:
            node.set("this", self._wall(node.this, kind))
        if kind.base == "date":
            self._replace(node, _cast(node.copy(), "date"))
        elif zoned:
            self._replace(node, self._instant(node.copy(), kind))
        return kind

    def _DateDiff(self, node: exp.DateDiff, scope: Scope) -> TrinoType:
        end, start = node.this, node.expression
        kinds = [self.type_of(start, scope), self.type_of(end, scope)]
        unit = _unit(node)
        if unit in ("day", "week", "month", "quarter", "year"):
            start, end = self._wall(start, kinds[0]), self._wall(end, kinds[1])
        # Trino counts whole units elapsed, which is DuckDB's date_sub (its date_diff counts boundaries crossed)
        self._replace(node, _call("date_sub", exp.Literal.string(unit), start.copy(), end.copy()))
        return t.BIGINT

    def _Extract(self, node: exp.Extract, scope: Scope) -> TrinoType:
        self._temporal_function(node, scope, "expression")
        part = node.this.name.lower()
        parts = {"dow": "isodow", "day_of_week": "isodow", "doy": "doy", "day_of_year": "doy", "week": "week"}
        if part in parts:
            node.set("this", exp.var(parts[part].upper()))
        return t.BIGINT

    _Extract.own_children = True  # type: ignore[attr-defined]  # marks a handler that translates its own children

    def _date_part(self, node: exp.Expr, scope: Scope) -> TrinoType:
        self._temporal_function(node, scope)
        return t.BIGINT

    _date_part.own_children = True  # type: ignore[attr-defined]  # marks a handler that translates its own children
    _Year = _Month = _Day = _DayOfMonth = _Hour = _Minute = _Second = _Quarter = _date_part
    _DayOfWeekIso = _DayOfWeek = _DayOfYear = _WeekOfYear = _Week = _YearOfWeek = _date_part

    def _TimeToStr(self, node: exp.Expr, scope: Scope) -> TrinoType:
        self._temporal_function(node, scope)
        return t.VARCHAR

    _TimeToStr.own_children = True  # type: ignore[attr-defined]  # marks a handler that translates its own children

    def _AtTimeZone(self, node: exp.AtTimeZone, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        zone = node.args.get("zone")
        if not isinstance(zone, exp.Literal) or not zone.is_string:
            raise UserError("AT TIME ZONE needs a zone name in quotes on the embedded engine, e.g. 'Europe/Berlin'")
        name = "UTC" if zone.this.upper() in ("UTC", "Z", "GMT", "+00:00") else zone.this
        if kind is None or kind.base == "date":
            return None
        if kind.base == "timestamp":  # a wall-clock time is read in the session's zone first
            self._replace(node, _cast(node.this.copy(), "timestamptz"))
        else:
            self._replace(node, node.this.copy())  # the instant stays; only the zone it is shown in changes
        return t.instant(kind.precision, name)

    def _UnixToTime(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.instant(3)

    _FromISO8601Timestamp = _CurrentTimestamp = _UnixToTime

    def _StrToTime(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.timestamp(3)

    _Localtimestamp = _StrToTime

    def _CurrentDate(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.DATE

    _Date = _TsOrDsToDate = _LastDay = _StrToDate = _CurrentDate

    def _GenerateSeries(self, node: exp.GenerateSeries, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.args.get("start"), scope)
        if kind is None:
            return None
        if kind.is_integer:
            return t.array(t.BIGINT)
        if kind.base == "date":
            self._replace(node, _cast(node.copy(), "date[]"))
        return t.array(kind)

    # Strings
    def _RegexpExtract(self, node: exp.RegexpExtract, scope: Scope) -> TrinoType:
        group = node.args.get("group") or exp.Literal.number(0)
        # DuckDB gives '' where Trino gives NULL: when the pattern does not match
        self._replace(node, _call("trino_regexp_extract", node.this.copy(), node.expression.copy(), group.copy()))
        return t.VARCHAR

    def _Split(self, node: exp.Split, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        return t.array(kind) if kind is not None else None

    def _Pad(self, node: exp.Expr, scope: Scope) -> TrinoType:
        return t.VARCHAR

    _Replace = _ArrayToString = _Pad

    def _Typeof(self, node: exp.Typeof, scope: Scope) -> TrinoType:
        kind = self.type_of(node.this, scope)
        if kind is None:
            raise UserError("typeof(): the embedded engine cannot tell this expression's Trino type")
        self._replace(node, exp.Literal.string(str(kind)))
        return t.VARCHAR

    _Typeof.own_children = True  # type: ignore[attr-defined]  # marks a handler that translates its own children

    # Arrays and maps
    def _Array(self, node: exp.Array, scope: Scope) -> TrinoType | None:
        element = common_type([self.type_of(e, scope) for e in node.expressions])
        return t.array(element) if element is not None else None

    def _Bracket(self, node: exp.Bracket, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        if kind is None:
            return None
        if kind.base == "map":
            return kind.args[1]
        if kind.base == "array":
            return kind.args[0]
        return None

    def _Transform(self, node: exp.Expr, scope: Scope) -> TrinoType | None:
        kind = self.type_of(node.this, scope)
        function = node.expression
        if not isinstance(function, exp.Lambda):
            return None
        inner = scope.child()
        for parameter in function.expressions:
            inner.lambdas[parameter.name] = kind.element if kind is not None else None
        body = self.expr(function.this, inner)
        if isinstance(node, exp.Transform):
            return t.array(body) if body is not None else None
        return kind if isinstance(node, exp.ArrayFilter) else t.BOOLEAN

    _Transform.own_children = True  # type: ignore[attr-defined]  # marks a handler that translates its own children
    _ArrayFilter = _Transform

    def _ArraySize(self, node: exp.Expr, scope: Scope) -> TrinoType:
        kind = self.type_of(node.this, scope)
        if kind is not None and kind.base == "map":
            self._replace(node, _call("cardinality", node.this.copy()))
        return t.BIGINT

    # JSON
    def _ParseJSON(self, node: exp.Expr, scope: Scope) -> TrinoType:
        self._replace(node, _call("trino_json_parse", node.this.copy()))
        return t.JSON

    def _json_path(self, node: exp.Expr) -> exp.Expr:
        path = node.expression
        if isinstance(path, exp.JSONPath):  # sqlglot parsed the literal; the functions take Trino's text
            text = path.sql(dialect="trino")
            return exp.Literal.string(text[1:-1].replace("''", "'"))
        return path.copy()

    def _JSONExtract(self, node: exp.Expr, scope: Scope) -> TrinoType:
        self._replace(node, _call("trino_json_extract", node.this.copy(), self._json_path(node)))
        return t.JSON

    def _JSONExtractScalar(self, node: exp.Expr, scope: Scope) -> TrinoType:
        kind = self.type_of(node.this, scope)
        self._replace(node, _call("trino_json_extract_scalar", node.this.copy(), self._json_path(node)))
        return kind if kind is not None and kind.is_string else t.VARCHAR

    def _JSONFormat(self, node: exp.Expr, scope: Scope) -> TrinoType:
        self._replace(node, _cast(node.this.copy(), "varchar"))
        return t.VARCHAR

    # Functions sqlglot keeps by name
    def _Anonymous(self, node: exp.Anonymous, scope: Scope) -> TrinoType | None:
        name = node.name.lower()
        arguments = list(node.expressions)
        if name in ("any_match", "all_match", "none_match") and len(arguments) == 2:
            array_kind = self.type_of(arguments[0], scope)
            if isinstance(arguments[1], exp.Lambda):
                inner = scope.child()
                for parameter in arguments[1].expressions:
                    inner.lambdas[parameter.name] = array_kind.element if array_kind is not None else None
                self.expr(arguments[1].this, inner)
            return self._match(node, name, list(node.expressions), scope)
        kinds = [self.type_of(a, scope) for a in arguments]
        arguments = list(node.expressions)  # as typing left them
        if name == "map_agg" and len(arguments) == 2:
            return self._map_agg(node, arguments, kinds)
        if name == "histogram" and kinds:
            return t.map_of(kinds[0], t.BIGINT) if kinds[0] is not None else None
        if name == "every":
            self._replace(node, exp.LogicalAnd(this=arguments[0].copy()))
            return t.BOOLEAN
        if name == "json_array_length":
            self._replace(node, _call("trino_json_array_length", *(a.copy() for a in arguments)))
            return t.BIGINT
        if name in ("infinity", "nan") and not arguments:
            self._replace(node, _cast(exp.Literal.string("inf" if name == "infinity" else "nan"), "double"))
            return t.DOUBLE
        if name == "format_datetime" and len(arguments) == 2:
            return self._format_datetime(node, arguments, kinds)
        if name in ("with_timezone", "at_timezone") and len(arguments) == 2:
            return self._timezone(node, name, arguments, kinds)
        raise UserError(
            f"{name}(): the embedded engine does not know Trino's answer for this function "
            "(run it on the stack, LAKEHOUSE_ENV=stack)"
        )

    _Anonymous.own_children = True  # type: ignore[attr-defined]  # marks a handler that translates its own children

    def _map_agg(
        self, node: exp.Anonymous, arguments: list[exp.Expr], kinds: list[TrinoType | None]
    ) -> TrinoType | None:
        """Rewrite map_agg(k, v) as map_from_entries over the rows whose key is not null; return its map type."""
        outer, wrap = self._wrapper(node)
        pairs = exp.Anonymous(
            this="list",
            expressions=[
                exp.Struct(
                    expressions=[
                        exp.PropertyEQ(this=exp.to_identifier("k"), expression=arguments[0].copy()),
                        exp.PropertyEQ(this=exp.to_identifier("v"), expression=arguments[1].copy()),
                    ]
                )
            ],
        )
        known = exp.Filter(
            this=pairs,
            expression=exp.Where(this=exp.Not(this=exp.Is(this=arguments[0].copy(), expression=exp.Null()))),
        )
        self._replace(outer, _call("map_from_entries", wrap(known)))
        key, value = kinds
        return t.map_of(key, value) if key is not None and value is not None else None

    def _format_datetime(
        self, node: exp.Anonymous, arguments: list[exp.Expr], kinds: list[TrinoType | None]
    ) -> TrinoType:
        """Rewrite format_datetime(t, 'java pattern') as strftime; return VARCHAR."""
        pattern = arguments[1]
        converted = java_to_strftime(pattern.this) if isinstance(pattern, exp.Literal) else None
        if converted is None:
            raise UserError(
                "format_datetime(): the embedded engine knows the pattern letters y M d H h m s S E a D w x "
                "and quoted text, given as a literal"
            )
        moment = self._wall(arguments[0], kinds[0])
        self._replace(node, _call("strftime", moment.copy(), exp.Literal.string(converted)))
        return t.VARCHAR

    def _timezone(
        self, node: exp.Anonymous, name: str, arguments: list[exp.Expr], kinds: list[TrinoType | None]
    ) -> TrinoType:
        """Rewrite with_timezone / at_timezone(t, 'zone'); return the instant type in that zone."""
        zone = arguments[1]
        if not isinstance(zone, exp.Literal) or not zone.is_string:
            raise UserError(f"{name}() needs a zone name in quotes on the embedded engine")
        source = arguments[0]
        if name == "with_timezone":  # the wall-clock time, read in that zone
            self._replace(node, _call("timezone", zone.copy(), source.copy()))
        else:
            self._replace(node, source.copy())
        precision = kinds[0].precision if kinds[0] is not None else 3
        return t.instant(precision, zone.this)

    def _match(self, node: exp.Anonymous, name: str, arguments: list[exp.Expr], scope: Scope) -> TrinoType:
        """any_match / all_match / none_match as counts of the elements a predicate holds for (NULLs aside)."""
        array, predicate = arguments
        if not isinstance(predicate, exp.Lambda):
            raise UserError(f"{name}() takes a lambda, e.g. x -> x > 0")
        if name == "all_match":
            predicate = exp.Lambda(
                this=exp.Not(this=exp.Paren(this=predicate.this.copy())), expressions=predicate.expressions
            )
        filtered = exp.ArrayFilter(this=array.copy(), expression=predicate.copy())
        count = _call("len", filtered)
        test = exp.EQ if name in ("all_match", "none_match") else exp.GT
        self._replace(node, test(this=count, expression=exp.Literal.number(0)))
        return t.BOOLEAN
