"""Silver: typed, validated, deduplicated and conformed tables, upserted by business key.

Every step reads the bronze batches after its own watermark, sends rows that break a rule to `silver.quarantine`
(entity, rule, reason, the record and where it came from), drops records delivered before (duplicates, counted),
and writes its tables. Follow-up work (current customer rows, order status) is derived from what the batch range
committed, so a step interrupted half-way finishes correctly when re-run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame

from lakehouse.entities import CUSTOMERS as CUSTOMER_FEED
from lakehouse.entities import EVENTS as EVENT_FEED
from lakehouse.entities import INVENTORY as INVENTORY_FEED
from lakehouse.entities import ORDER_STATUS as STATUS_FEED
from lakehouse.entities import ORDERS as ORDER_FEED
from lakehouse.entities import PRODUCTS as PRODUCT_FEED
from lakehouse.entities import Entity
from lakehouse.pipeline import audit, bronze
from lakehouse.pipeline.context import RunContext, Step, StepResult, next_batch
from lakehouse.rows import Rows, split
from lakehouse.tables import Commit, Frame, TableSpec
from lakehouse.transforms import silver as tf

QUARANTINE = TableSpec(
    "silver.quarantine",
    "Records that broke a data-quality rule: the entity, the rule, why, the record as JSON, and its source.",
    partition_by=("entity",),
)
CUSTOMERS = TableSpec("silver.customers", "Customers as they are now: one row per customer.", keys=("customer_id",))
CUSTOMERS_HISTORY = TableSpec(
    "silver.customers_history",
    "Every version of every customer, effective from its updated_at; the source of the SCD2 dimension.",
    keys=("customer_id", "updated_at"),
)
PRODUCTS = TableSpec("silver.products", "Products as they are now: one row per product.", keys=("product_id",))
PRODUCTS_HISTORY = TableSpec(
    "silver.products_history",
    "Every version of every product, effective from its updated_at; the source of the SCD2 dimension.",
    keys=("product_id", "updated_at"),
)
ORDERS = TableSpec(
    "silver.orders",
    "One row per order with its amounts, current status and the time it reached each status.",
    keys=("order_id",),
)
ORDER_ITEMS = TableSpec(
    "silver.order_items",
    "One row per order line with quantity, price, discount and amounts.",
    keys=("order_id", "line_no"),
)
ORDER_STATUS_HISTORY = TableSpec(
    "silver.order_status_history", "Every status change of every order.", keys=("status_id",)
)
EVENTS = TableSpec(
    "silver.events",
    "Clickstream events, deduplicated, partitioned by the day they happened (late arrivals land in their own day).",
    keys=("event_id",),
    partition_by=("event_date",),
)
INVENTORY_MOVEMENTS = TableSpec(
    "silver.inventory_movements", "Stock movements with signed quantities.", keys=("movement_id",)
)
# Silver's tables, for the table catalog (lakehouse/pipeline/catalog.py).
TABLES = (
    CUSTOMERS,
    CUSTOMERS_HISTORY,
    PRODUCTS,
    PRODUCTS_HISTORY,
    ORDERS,
    ORDER_ITEMS,
    ORDER_STATUS_HISTORY,
    EVENTS,
    INVENTORY_MOVEMENTS,
    QUARANTINE,
)


def _batch_range(lo: int, hi: int) -> str:
    return f"_batch_id > {lo} and _batch_id <= {hi}"


class _Step:
    """Bookkeeping shared by the silver steps: the pending bronze range, reading it, quarantining, counting."""

    def __init__(self, ctx: RunContext, feed: Entity, primary: TableSpec):
        name = step_name(feed)
        self.ctx = ctx
        self.feed = feed
        self.primary = primary
        self.result = StepResult(step=name, table=primary.name)
        source = bronze.table_spec(feed).name
        self.done = ctx.tables.watermark(primary.name, name) or 0
        self.available = ctx.tables.watermark(source, source) or 0
        self.source = source
        self._persisted: DataFrame | None = None
        self._rows: Rows | None = None
        self.unrecorded = audit.unrecorded(ctx, name, primary.name, self.done)

    @property
    def pending(self) -> bool:
        return self.available > self.done

    @property
    def commit(self) -> Commit:
        return Commit(self.result.step, self.available)

    def closing(self, rows_out: int | None = None) -> Commit:
        """Return the marker of the step's last commit, noting the batch's counts (`audit.closing`)."""
        return audit.closing(self.commit, self.result, rows_out)

    def read_bronze(self) -> DataFrame:
        lo, hi = self.done, self.available
        self.result.batch_from, self.result.batch_to = next_batch(lo) if lo else None, hi
        return self.ctx.tables.read(self.source, where=_batch_range(lo, hi))

    def check(self, df: DataFrame, rules: Sequence[tf.Rule]) -> DataFrame:
        """Apply `rules`, quarantine the rows that break one, and return the rest (persisted, still untyped)."""
        checked = self.ctx.tables.cache(df.transform(tf.apply_rules(rules)))
        # One pass fills the cache, counts the batch and brings back its quarantine (the rows with a rule set).
        shaped = checked.transform(tf.quarantine_rows(self.feed.name, self.feed.fields, rules, self.ctx.started_at))
        every = self.ctx.tables.materialize(shaped)
        quarantined = every.where_set("rule")
        written = self.ctx.tables.append(QUARANTINE, quarantined, commit=self.commit, skip_empty=True)
        # A run that stopped after this commit left the rows in the quarantine; they are this batch's all the same
        # (counted as duplicates instead, the batch would not add up).
        self.result.rows_quarantined = quarantined.num_rows if written.skipped else written.rows
        self.result.rows_in = every.num_rows
        self._persisted, self._rows = checked, every
        return tf.valid_rows(checked)

    def finish(self, inserted: int) -> StepResult:
        r = self.result
        r.rows_out = inserted
        r.rows_duplicate = r.rows_in - r.rows_quarantined - inserted
        if self.unrecorded is not None:  # the batches a stopped run committed are recorded with this one's
            r.absorb(self.unrecorded)
        if self._persisted is not None:
            self._persisted.unpersist()
        if self._rows is not None:
            self._rows.release()
        return r

    def skipped(self) -> StepResult:
        if self.unrecorded is not None:
            return self.unrecorded
        self.result.status = "skipped"
        return self.result

    def known(self, spec: TableSpec, column: str) -> DataFrame:
        """Return the keys already in a silver table (an empty frame when it does not exist yet)."""
        if self.ctx.tables.exists(spec.name):
            return self.ctx.tables.read(spec.name).select(column)
        return self.ctx.spark.createDataFrame([], f"{column} string")


def _dimension(
    ctx: RunContext,
    feed: Entity,
    rules: Sequence[tf.Rule],
    typed: Callable[[DataFrame], DataFrame],
    key: str,
    history: TableSpec,
    current: TableSpec,
) -> StepResult:
    """Load new versions of a dimension into its history table, then bring the current table up to date."""
    step = _Step(ctx, feed, current)
    if not step.pending:
        return step.skipped()
    valid = step.check(step.read_bronze(), rules)
    versions = valid.transform(typed).transform(tf.first_per_key([key, "updated_at"]))
    if ctx.tables.exists(history.name):
        versions = versions.transform(tf.not_in(ctx.tables.read(history.name), [key, "updated_at"]))
    # One Spark pass gives the new versions and marks each key's latest among them, for the current table.
    marked = ctx.tables.materialize(versions.transform(tf.mark_latest_version(key)))
    appended = ctx.tables.append(history, marked.drop([tf.LATEST]), commit=step.commit)
    inserted = appended.rows
    if appended.skipped:  # a run before this one committed the versions and stopped before the current table
        committed = ctx.tables.read(history.name, where=_batch_range(step.done, step.available))
        latest: Frame = committed.transform(tf.latest_version(key))
        inserted = committed.count()  # this batch's versions all the same, not duplicates
    else:
        latest = marked.where_set(tf.LATEST).drop([tf.LATEST])
    ctx.tables.merge(current, latest, update_when="s.updated_at > t.updated_at", commit=step.closing(inserted))
    marked.release()
    return step.finish(inserted)


def customers(ctx: RunContext) -> StepResult:
    """Silver customers: versions into `silver.customers_history`, the latest into `silver.customers`."""
    return _dimension(
        ctx,
        CUSTOMER_FEED,
        tf.customer_rules(),
        tf.typed_customers,
        "customer_id",
        CUSTOMERS_HISTORY,
        CUSTOMERS,
    )


def products(ctx: RunContext) -> StepResult:
    """Silver products: versions into `silver.products_history`, the latest into `silver.products`."""
    return _dimension(
        ctx, PRODUCT_FEED, tf.product_rules(), tf.typed_products, "product_id", PRODUCTS_HISTORY, PRODUCTS
    )


def orders(ctx: RunContext) -> StepResult:
    """Silver orders and order lines: new orders inserted once, checked against known customers and products."""
    step = _Step(ctx, ORDER_FEED, ORDERS)
    if not step.pending:
        return step.skipped()
    prepared = (
        step.read_bronze()
        .transform(tf.with_parsed_items)
        .transform(tf.flag_known(step.known(CUSTOMERS, "customer_id"), "customer_id", "customer_id", "_customer_known"))
        .transform(tf.flag_known_items(step.known(PRODUCTS, "product_id")))
    )
    valid = step.check(prepared, tf.order_rules())
    new = valid.transform(tf.first_per_key(["order_id"])).transform(
        tf.not_in(step.known(ORDERS, "order_id"), ["order_id"])
    )
    new = ctx.tables.cache(new)
    lines = tf.order_lines(new)
    headers = tf.order_headers(new, lines)
    # One Spark pass computes the lines and the orders together; they part where they are held (orders are flagged).
    both = ctx.tables.materialize(tf.stack(lines, headers, "_order"))
    line_rows, header_rows = split(both, "_order", lines.columns, headers.columns)
    ctx.tables.append(ORDER_ITEMS, line_rows, commit=step.commit)
    inserted = ctx.tables.append(ORDERS, header_rows, commit=step.closing(header_rows.num_rows)).rows
    both.release()
    new.unpersist()
    return step.finish(inserted)


def order_status(ctx: RunContext) -> StepResult:
    """Silver order status: changes into `silver.order_status_history`, then each touched order's status."""
    step = _Step(ctx, STATUS_FEED, ORDERS)
    if not step.pending:
        return step.skipped()
    step.result.table = ORDER_STATUS_HISTORY.name
    prepared = step.read_bronze().transform(
        tf.flag_known(step.known(ORDERS, "order_id"), "order_id", "order_id", "_order_known")
    )
    valid = step.check(prepared, tf.order_status_rules())
    changes = valid.transform(tf.typed_status_changes).transform(tf.first_per_key(["status_id"]))
    changes = changes.transform(tf.not_in(step.known(ORDER_STATUS_HISTORY, "status_id"), ["status_id"]))
    appended = ctx.tables.append(ORDER_STATUS_HISTORY, changes, commit=step.commit)

    history = ctx.tables.read(ORDER_STATUS_HISTORY.name)
    batch = history.where(_batch_range(step.done, step.available))
    # A run that committed the changes and stopped before the orders wrote them: they are this batch's inserts.
    inserted = batch.count() if appended.skipped else appended.rows
    touched = batch.select("order_id").distinct()
    affected = ctx.tables.read(ORDERS.name).join(touched, on="order_id", how="left_semi")
    updated = affected.transform(
        tf.apply_status_history(history.join(touched, on="order_id", how="left_semi"), step.available)
    )
    ctx.tables.merge(ORDERS, updated, commit=step.closing(inserted))
    return step.finish(inserted)


def events(ctx: RunContext) -> StepResult:
    """Silver events: typed, checked, deduplicated on event_id, appended to the day each event happened."""
    step = _Step(ctx, EVENT_FEED, EVENTS)
    if not step.pending:
        return step.skipped()
    prepared = (
        step.read_bronze()
        .transform(tf.flag_known(step.known(PRODUCTS, "product_id"), "product_id", "product_id", "_product_known"))
        .transform(tf.flag_known(step.known(CUSTOMERS, "customer_id"), "customer_id", "customer_id", "_customer_known"))
    )
    valid = step.check(prepared, tf.event_rules())
    typed = valid.transform(tf.typed_events).transform(tf.first_per_key(["event_id"]))
    # Events delivered before are skipped by an insert-only merge; matching on the day as well lets delta-rs
    # read only the days this batch touches.
    written = ctx.tables.merge(EVENTS, typed, on=("event_id", "event_date"), insert_only=True, commit=step.closing())
    return step.finish(written.inserted)


def inventory(ctx: RunContext) -> StepResult:
    """Silver inventory movements: typed, checked (signs, products), inserted once per movement_id."""
    step = _Step(ctx, INVENTORY_FEED, INVENTORY_MOVEMENTS)
    if not step.pending:
        return step.skipped()
    prepared = step.read_bronze().transform(
        tf.flag_known(step.known(PRODUCTS, "product_id"), "product_id", "product_id", "_product_known")
    )
    valid = step.check(prepared, tf.inventory_rules())
    movements = valid.transform(tf.typed_movements).transform(tf.first_per_key(["movement_id"]))
    movements = movements.transform(tf.not_in(step.known(INVENTORY_MOVEMENTS, "movement_id"), ["movement_id"]))
    inserted = ctx.tables.append(INVENTORY_MOVEMENTS, movements, commit=step.closing()).rows
    return step.finish(inserted)


def step_name(feed: Entity) -> str:
    """Return the name of a feed's silver step (its run audit's step and its batch marker's app id)."""
    return f"silver.{feed.name}"


def _step(
    feed: Entity,
    run: Callable[[RunContext], StepResult],
    *,
    marker: TableSpec,
    reads: tuple[TableSpec, ...] = (),
    writes: tuple[TableSpec, ...] = (),
    needs: tuple[str, ...] = (),
) -> Step:
    """Declare the silver step of a feed: named after it, it waits for the feed's bronze step and reads its table,
    then `reads`; it writes `writes` and the quarantine, its batch marker riding on its write of `marker`."""
    bronze_table = bronze.table_spec(feed).name
    return Step(
        step_name(feed),
        run,
        reads=(bronze_table, *(spec.name for spec in reads)),
        writes=(*(spec.name for spec in writes), QUARANTINE.name),
        needs=(bronze_table, *needs),  # a bronze step is named after the table it writes
        marker=marker.name,
    )


# Facts are checked against the dimensions loaded before them.
_DIMENSION_STEPS = (step_name(CUSTOMER_FEED), step_name(PRODUCT_FEED))
STEPS = (
    _step(
        CUSTOMER_FEED, customers, reads=(CUSTOMERS_HISTORY,), writes=(CUSTOMERS_HISTORY, CUSTOMERS), marker=CUSTOMERS
    ),
    _step(PRODUCT_FEED, products, reads=(PRODUCTS_HISTORY,), writes=(PRODUCTS_HISTORY, PRODUCTS), marker=PRODUCTS),
    _step(
        ORDER_FEED,
        orders,
        reads=(CUSTOMERS, PRODUCTS, ORDERS),
        writes=(ORDERS, ORDER_ITEMS),
        needs=_DIMENSION_STEPS,
        marker=ORDERS,
    ),
    _step(
        STATUS_FEED,
        order_status,
        reads=(ORDERS, ORDER_STATUS_HISTORY),
        writes=(ORDER_STATUS_HISTORY, ORDERS),
        needs=(step_name(ORDER_FEED),),
        marker=ORDERS,
    ),
    _step(
        EVENT_FEED, events, reads=(CUSTOMERS, PRODUCTS, EVENTS), writes=(EVENTS,), needs=_DIMENSION_STEPS, marker=EVENTS
    ),
    _step(
        INVENTORY_FEED,
        inventory,
        reads=(PRODUCTS, INVENTORY_MOVEMENTS),
        writes=(INVENTORY_MOVEMENTS,),
        needs=(step_name(PRODUCT_FEED),),
        marker=INVENTORY_MOVEMENTS,
    ),
)


BY_NAME = {step.name: step for step in STEPS}
