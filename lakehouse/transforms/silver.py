"""Silver transforms: type, validate, deduplicate and conform the bronze feeds.

Validation is a list of `Rule`s checked in order; a row gets the name of the first rule it breaks in `_rule`, or
null. Rules run required → type → value (length, accepted values, signs) → reference, so a record is blamed for its
most basic fault. The contract in lakehouse/entities.py gives each feed's required, type, length and accepted rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.entities import (
    CUSTOMERS,
    EVENTS,
    INVENTORY,
    ITEM_FIELDS,
    ITEM_LENGTHS,
    MILESTONES,
    ORDER_STATUS,
    ORDERS,
    PLACED,
    PRODUCT_EVENT_TYPES,
    PRODUCTS,
    STATUS_RANK,
    Entity,
    Length,
)

Transform = Callable[[DataFrame], DataFrame]

MONEY = T.DecimalType(12, 2)
RULE = "_rule"
LINEAGE = ("_source_file", "_source_line", "_batch_id")


# -- column helpers ---------------------------------------------------------------------------------------------------
def to_timestamp(text: Column) -> Column:
    """Return an ISO 8601 text as a timestamp, or null when it is not one."""
    return F.try_to_timestamp(text)


def to_money(text: Column) -> Column:
    """Return a decimal text as money (12,2), or null when it is not a number."""
    return text.try_cast(MONEY)


def to_int(text: Column) -> Column:
    """Return a text as a whole number, or null when it is not one ("2.5" and "three" are not)."""
    return text.try_cast("int")


def to_bool(text: Column) -> Column:
    return text.try_cast("boolean")


def to_date(text: Column) -> Column:
    return text.try_cast("date")


def blank(text: Column) -> Column:
    """Return true where a text is null or only white space."""
    return text.isNull() | (F.trim(text) == "")


# The two checks below test the cheap condition first: most rows pass it, and then their text is never trimmed.
def unparsed(text: Column, typed: Column) -> Column:
    """Return true where a text was given but did not convert to its type."""
    return typed.isNull() & ~blank(text)


def out_of_bounds(text: Column, bounds: Length) -> Column:
    """Return true where a text was given and its length (in characters, as delivered) is outside `bounds`."""
    length = F.length(text)
    return ((length < bounds.min) | (length > bounds.max)) & ~blank(text)


# -- rules ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """A data-quality rule: `violated` is true for a row that breaks it; `reason` says so to a person."""

    name: str
    violated: Column
    reason: str


def required(field: str) -> Rule:
    return Rule(f"required:{field}", blank(F.col(field)), f"{field} is missing")


def typed(field: str, typed_column: Column, kind: str) -> Rule:
    return Rule(f"type:{field}", unparsed(F.col(field), typed_column), f"{field} is not {kind}")


def length_reason(field: str, bounds: Length) -> str:
    """Return what a length rule tells a person: the field and its bound."""
    if bounds.min == bounds.max:
        return f"{field} is not {bounds.max} characters long"
    if bounds.min <= 1:
        return f"{field} is longer than {bounds.max} characters"
    return f"{field} is not {bounds.min} to {bounds.max} characters long"


def bounded(field: str, bounds: Length) -> Rule:
    return Rule(f"length:{field}", out_of_bounds(F.col(field), bounds), length_reason(field, bounds))


def accepted(field: str, values: Sequence[str]) -> Rule:
    return Rule(f"accepted:{field}", ~F.col(field).isin(*values), f"{field} is not one of {', '.join(values)}")


def check(name: str, violated: Column, reason: str) -> Rule:
    return Rule(name, violated, reason)


def apply_rules(rules: Sequence[Rule]) -> Transform:
    """Return a transform that sets `_rule` to the name of the first rule a row breaks (null if none)."""

    def apply(df: DataFrame) -> DataFrame:
        first = F.coalesce(*(F.when(r.violated, F.lit(r.name)) for r in rules), F.lit(None).cast("string"))
        return df.withColumn(RULE, first)

    return apply


def reasons(rules: Sequence[Rule]) -> dict[str, str]:
    return {r.name: r.reason for r in rules}


def quarantine_rows(entity: str, fields: Sequence[str], rules: Sequence[Rule], at: object) -> Transform:
    """Return a transform shaping rows for `silver.quarantine`: entity, rule, reason, the record as JSON, lineage.

    Every row comes back; the columns are set only on rows that broke a rule (`rule` is null on the others), so one
    pass over a batch gives both its quarantine and its row count.
    """
    reason_of = F.create_map(*(x for name, text in reasons(rules).items() for x in (F.lit(name), F.lit(text))))

    def select(df: DataFrame) -> DataFrame:
        broken = F.col(RULE).isNotNull()
        record = F.to_json(F.struct(*fields, "_extra_fields"))
        return df.select(
            F.when(broken, F.lit(entity)).alias("entity"),
            F.col(RULE).alias("rule"),
            reason_of[F.col(RULE)].alias("reason"),
            F.when(broken, record).alias("record"),
            *(F.when(broken, F.col(c)).alias(c) for c in LINEAGE),
            F.when(broken, F.lit(at).cast("timestamp")).alias("quarantined_at"),
        )

    return select


def valid_rows(df: DataFrame) -> DataFrame:
    return df.where(F.col(RULE).isNull()).drop(RULE)


def first_per_key(keys: Sequence[str]) -> Transform:
    """Return a transform keeping the first arrival of each key (by batch, file, line): later ones are duplicates."""
    order = Window.partitionBy(*keys).orderBy(*LINEAGE)

    def keep(df: DataFrame) -> DataFrame:
        return df.withColumn("_n", F.row_number().over(order)).where("_n = 1").drop("_n")

    return keep


def not_in(existing: DataFrame, keys: Sequence[str]) -> Transform:
    """Return a transform dropping rows whose key is already in `existing` (they were delivered before)."""

    def anti(df: DataFrame) -> DataFrame:
        return df.join(existing.select(*keys).distinct(), on=list(keys), how="left_anti")

    return anti


def flag_known(known: DataFrame, column: str, key: str, flag: str) -> Transform:
    """Return a transform adding boolean `flag`: true when `column` is null or found in `known[key]`."""

    def join(df: DataFrame) -> DataFrame:
        keys = known.select(F.col(key).alias("_known_key")).distinct().withColumn("_found", F.lit(True))
        joined = df.join(F.broadcast(keys), df[column] == keys["_known_key"], how="left")
        return joined.withColumn(flag, F.col(column).isNull() | F.col("_found").isNotNull()).drop(
            "_known_key", "_found"
        )

    return join


# -- the contract's rules ---------------------------------------------------------------------------------------------
_PARSERS: dict[str, tuple[Callable[[Column], Column], str]] = {
    "integer": (to_int, "a whole number"),
    "money": (to_money, "a number"),
    "boolean": (to_bool, "true or false"),
    "date": (to_date, "a date (YYYY-MM-DD)"),
    "timestamp": (to_timestamp, "an ISO 8601 timestamp"),
}


def contract_rules(entity: Entity) -> list[Rule]:
    """Return the rules the feed's contract implies, in this order: every required field present, every typed field
    parseable, every text field within its length bounds, every coded field one of its accepted values."""
    rules = [required(f) for f in entity.required]
    for field, kind in entity.types.items():
        if kind in _PARSERS:
            parse, text = _PARSERS[kind]
            rules.append(typed(field, parse(F.col(field)), text))
    rules += [bounded(field, bounds) for field, bounds in entity.lengths.items()]
    rules += [accepted(field, values) for field, values in entity.accepted.items()]
    return rules


# -- customers and products ------------------------------------------------------------------------------------------
def customer_rules() -> list[Rule]:
    """Return the rules a customer record must pass, in the order they are checked."""
    return [
        *contract_rules(CUSTOMERS),
        check("format:email", ~F.col("email").contains("@"), "email has no @"),
    ]


def typed_customers(df: DataFrame) -> DataFrame:
    """Return valid bronze customers as typed silver customer versions."""
    return df.select(
        F.trim("customer_id").alias("customer_id"),
        "first_name",
        "last_name",
        F.lower(F.trim("email")).alias("email"),
        "phone",
        "street_address",
        "city",
        "postal_code",
        F.upper(F.trim("country")).alias("country"),
        to_date(F.col("signup_date")).alias("signup_date"),
        F.coalesce(to_bool(F.col("marketing_opt_in")), F.lit(False)).alias("marketing_opt_in"),
        to_timestamp(F.col("updated_at")).alias("updated_at"),
        *LINEAGE,
    )


def product_rules() -> list[Rule]:
    """Return the rules a product record must pass, in the order they are checked."""
    return [
        *contract_rules(PRODUCTS),
        check("negative:price", to_money(F.col("price")) < 0, "price is negative"),
        check("negative:cost", to_money(F.col("cost")) < 0, "cost is negative"),
    ]


def typed_products(df: DataFrame) -> DataFrame:
    """Return valid bronze products as typed silver product versions."""
    return df.select(
        F.trim("product_id").alias("product_id"),
        F.trim("sku").alias("sku"),
        "name",
        "category",
        "subcategory",
        "brand",
        to_money(F.col("price")).alias("price"),
        to_money(F.col("cost")).alias("cost"),
        F.coalesce(to_bool(F.col("active")), F.lit(True)).alias("active"),
        to_timestamp(F.col("updated_at")).alias("updated_at"),
        *LINEAGE,
    )


LATEST = "_latest"


def mark_latest_version(key: str) -> Transform:
    """Return a transform setting `_latest` (true) on each key's most recent version by `updated_at`, null elsewhere."""
    order = Window.partitionBy(key).orderBy(F.col("updated_at").desc(), F.col("_batch_id").desc())

    def mark(df: DataFrame) -> DataFrame:
        return df.withColumn(LATEST, F.when(F.row_number().over(order) == 1, F.lit(True)))

    return mark


def latest_version(key: str) -> Transform:
    """Return a transform keeping each key's most recent version (by `updated_at`)."""

    def keep(df: DataFrame) -> DataFrame:
        return df.transform(mark_latest_version(key)).where(F.col(LATEST)).drop(LATEST)

    return keep


# -- orders -----------------------------------------------------------------------------------------------------------
ITEM_TEXT = T.ArrayType(T.StructType([T.StructField(name, T.StringType()) for name in ITEM_FIELDS]))


def with_parsed_items(df: DataFrame) -> DataFrame:
    """Return bronze orders with `_items`: the items JSON parsed (fields still text), null when unparseable."""
    return df.withColumn("_items", F.from_json(F.col("items"), ITEM_TEXT))


def _any_item(predicate: Callable[[Column], Column]) -> Column:
    return F.coalesce(F.exists("_items", predicate), F.lit(False))


def _item_blank(field: str) -> Callable[[Column], Column]:
    return lambda item: blank(item[field])


def _item_unparsed(field: str, parse: Callable[[Column], Column]) -> Callable[[Column], Column]:
    return lambda item: unparsed(item[field], parse(item[field]))


def _item_out_of_bounds(field: str, bounds: Length) -> Callable[[Column], Column]:
    return lambda item: out_of_bounds(item[field], bounds)


def _item_rules() -> list[Rule]:
    """Return the rules every line of an order must pass: present, required fields filled, typed fields parseable,
    text fields within their length bounds."""
    rules = [
        check("type:items", F.col("_items").isNull() | (F.size("_items") == 0), "items is not a list of order lines")
    ]
    for field in ITEM_FIELDS:
        rules.append(check(f"required:items.{field}", _any_item(_item_blank(field)), f"an item has no {field}"))
    for field, kind in ITEM_FIELDS.items():
        if kind in _PARSERS:
            parse, text = _PARSERS[kind]
            rules.append(
                check(
                    f"type:items.{field}",
                    _any_item(_item_unparsed(field, parse)),
                    f"an item's {field} is not {text}",
                )
            )
    for field, bounds in ITEM_LENGTHS.items():
        reason = f"an item's {length_reason(field, bounds)}"
        rules.append(check(f"length:items.{field}", _any_item(_item_out_of_bounds(field, bounds)), reason))
    return rules


def order_rules() -> list[Rule]:
    """Return the rules an order record must pass, in the order they are checked."""
    return [
        *contract_rules(ORDERS),
        *_item_rules(),
        check("negative:shipping_amount", to_money(F.col("shipping_amount")) < 0, "shipping_amount is negative"),
        check(
            "negative:items.quantity",
            _any_item(lambda i: to_int(i["quantity"]) <= 0),
            "an item's quantity is zero or negative",
        ),
        check(
            "negative:items.unit_price", _any_item(lambda i: to_money(i["unit_price"]) < 0), "a unit_price is negative"
        ),
        check(
            "negative:items.discount_amount",
            _any_item(lambda i: to_money(i["discount_amount"]) < 0),
            "a discount_amount is negative",
        ),
        check("reference:customer_id", ~F.col("_customer_known"), "customer_id is not a known customer"),
        check("reference:items.product_id", ~F.col("_products_known"), "an item's product_id is not a known product"),
    ]


def flag_known_items(known_products: DataFrame) -> Transform:
    """Return a transform adding `_products_known`: every item's product_id is a known product."""

    def flag(df: DataFrame) -> DataFrame:
        keys = known_products.select(F.col("product_id").alias("_pid")).distinct().withColumn("_found", F.lit(True))
        lines = df.select(*LINEAGE, F.explode_outer("_items").alias("_item")).select(
            *LINEAGE, F.col("_item.product_id").alias("_pid")
        )
        found = (
            lines.join(F.broadcast(keys), on="_pid", how="left")
            .groupBy(*LINEAGE)
            .agg(F.bool_and(F.col("_pid").isNull() | F.col("_found").isNotNull()).alias("_products_known"))
        )
        return df.join(found, on=list(LINEAGE), how="left").withColumn(
            "_products_known", F.coalesce("_products_known", F.lit(True))
        )

    return flag


def order_lines(df: DataFrame) -> DataFrame:
    """Return valid orders (with `_items`) as one typed row per order line."""
    item = F.col("_item")
    quantity = to_int(item["quantity"])
    unit_price = to_money(item["unit_price"])
    discount = F.coalesce(to_money(item["discount_amount"]), F.lit(0).cast(MONEY))
    gross = (quantity * unit_price).cast(MONEY)
    exploded = df.select("order_id", "order_ts", "_batch_id", F.posexplode("_items").alias("_pos", "_item"))
    return exploded.select(
        "order_id",
        F.coalesce(to_int(item["line_no"]), F.col("_pos") + 1).alias("line_no"),
        F.trim(item["product_id"]).alias("product_id"),
        item["sku"].alias("sku"),
        quantity.alias("quantity"),
        unit_price.alias("unit_price"),
        gross.alias("gross_amount"),
        discount.alias("discount_amount"),
        (gross - discount).cast(MONEY).alias("net_amount"),
        F.to_date(to_timestamp(F.col("order_ts"))).alias("order_date"),
        "_batch_id",
    )


def order_headers(df: DataFrame, lines: DataFrame) -> DataFrame:
    """Return valid orders as typed silver orders (status `placed`), with amounts summed from their lines."""
    totals = lines.groupBy("order_id").agg(
        F.count("*").alias("item_count"),
        F.sum("quantity").cast("int").alias("units"),
        F.sum("gross_amount").cast(MONEY).alias("gross_amount"),
        F.sum("discount_amount").cast(MONEY).alias("discount_amount"),
        F.sum("net_amount").cast(MONEY).alias("net_amount"),
    )
    ts = to_timestamp(F.col("order_ts"))
    no_ts = F.lit(None).cast("timestamp")
    return df.join(totals, on="order_id", how="inner").select(
        "order_id",
        F.trim("customer_id").alias("customer_id"),
        ts.alias("order_ts"),
        F.to_date(ts).alias("order_date"),
        F.coalesce("currency", F.lit("EUR")).alias("currency"),
        "payment_method",
        "channel",
        "shipping_country",
        "item_count",
        "units",
        "gross_amount",
        "discount_amount",
        F.coalesce(to_money(F.col("shipping_amount")), F.lit(0).cast(MONEY)).alias("shipping_amount"),
        "net_amount",
        F.lit(PLACED).alias("status"),
        ts.alias("status_ts"),
        *(no_ts.alias(column) for column in MILESTONES.values()),
        "_batch_id",
    )


def stack(first: DataFrame, second: DataFrame, flag: str) -> DataFrame:
    """Return the rows of two frames as one, to collect in one pass: `flag` is true on `second`'s rows, else null.

    Each row has the columns of both frames; those of the other frame are null (a shared column keeps its type).
    """
    return first.unionByName(second.withColumn(flag, F.lit(True)), allowMissingColumns=True)


# -- order status -----------------------------------------------------------------------------------------------------
def order_status_rules() -> list[Rule]:
    """Return the rules an order status record must pass, in the order they are checked."""
    return [
        *contract_rules(ORDER_STATUS),
        check("reference:order_id", ~F.col("_order_known"), "order_id is not a known order"),
    ]


def typed_status_changes(df: DataFrame) -> DataFrame:
    return df.select(
        F.trim("status_id").alias("status_id"),
        F.trim("order_id").alias("order_id"),
        F.col("status"),
        to_timestamp(F.col("status_ts")).alias("status_ts"),
        *LINEAGE,
    )


def apply_status_history(history: DataFrame, batch: int) -> Transform:
    """Return a transform setting each order's status and milestone times from its full status history.

    The current status is the change with the latest time (ties broken by the lifecycle order), so changes that
    arrive late or out of order still give the right answer.
    """
    rank = F.create_map(*(x for s, r in STATUS_RANK.items() for x in (F.lit(s), F.lit(r))))

    def apply(orders: DataFrame) -> DataFrame:
        milestones = history.groupBy("order_id").agg(
            F.max_by(F.struct("status", "status_ts"), F.struct("status_ts", rank[F.col("status")])).alias("_last"),
            *(F.min(F.when(F.col("status") == s, F.col("status_ts"))).alias(at) for s, at in MILESTONES.items()),
        )
        replaced = {"status", "status_ts", "_batch_id", *MILESTONES.values()}
        joined = orders.select(*(c for c in orders.columns if c not in replaced)).join(
            milestones, on="order_id", how="inner"
        )
        return joined.select(
            *(c for c in orders.columns if c not in replaced),
            F.col("_last.status").alias("status"),
            F.col("_last.status_ts").alias("status_ts"),
            *MILESTONES.values(),
            F.lit(batch).alias("_batch_id"),
        ).select(*orders.columns)

    return apply


# -- events -----------------------------------------------------------------------------------------------------------
def event_rules() -> list[Rule]:
    """Return the rules an event record must pass, in the order they are checked."""
    return [
        *contract_rules(EVENTS),
        check(
            "required:product_id",
            F.col("event_type").isin(*PRODUCT_EVENT_TYPES) & blank(F.col("product_id")),
            "a product event has no product_id",
        ),
        check(
            "required:order_id",
            (F.col("event_type") == "purchase") & blank(F.col("order_id")),
            "a purchase has no order_id",
        ),
        check("reference:product_id", ~F.col("_product_known"), "product_id is not a known product"),
        check("reference:customer_id", ~F.col("_customer_known"), "customer_id is not a known customer"),
    ]


def typed_events(df: DataFrame) -> DataFrame:
    """Return valid bronze events as typed silver events, dated by when they happened (not when they arrived)."""
    ts = to_timestamp(F.col("event_ts"))
    return df.select(
        F.trim("event_id").alias("event_id"),
        "event_type",
        ts.alias("event_ts"),
        F.to_date(ts).alias("event_date"),
        "anonymous_id",
        F.nullif(F.trim("customer_id"), F.lit("")).alias("customer_id"),
        F.nullif(F.trim("product_id"), F.lit("")).alias("product_id"),
        F.nullif(F.trim("order_id"), F.lit("")).alias("order_id"),
        "page_url",
        "referrer",
        "device",
        "country",
        F.col("_batch_date").alias("arrived_date"),
        *LINEAGE,
    )


# -- inventory --------------------------------------------------------------------------------------------------------
def inventory_rules() -> list[Rule]:
    """Return the rules an inventory record must pass, in the order they are checked."""
    qty = to_int(F.col("quantity"))
    return [
        *contract_rules(INVENTORY),
        check(
            "sign:quantity",
            (F.col("movement_type").isin("initial", "receipt", "return") & (qty <= 0))
            | ((F.col("movement_type") == "sale") & (qty >= 0))
            | ((F.col("movement_type") == "adjustment") & (qty == 0)),
            "quantity has the wrong sign for the movement type",
        ),
        check("reference:product_id", ~F.col("_product_known"), "product_id is not a known product"),
    ]


def typed_movements(df: DataFrame) -> DataFrame:
    ts = to_timestamp(F.col("movement_ts"))
    return df.select(
        F.trim("movement_id").alias("movement_id"),
        F.trim("product_id").alias("product_id"),
        ts.alias("movement_ts"),
        F.to_date(ts).alias("movement_date"),
        "movement_type",
        to_int(F.col("quantity")).alias("quantity"),
        "warehouse",
        *LINEAGE,
    )
