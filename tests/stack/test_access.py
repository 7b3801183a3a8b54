"""Who may see what in Trino (infra/trino/etc/access-control.json), on the real server and the pipeline's own tables.

`lakehouse` (the pipeline and dbt) owns and writes the catalog; `superset` reads gold and ops; `analyst` reads silver
and gold with the customers' email, phone and address masked; anyone else gets nothing. The last tests start a second
Trino as docker-compose runs it (HTTPS, passwords) and check that a user must prove who it is there.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
import yaml

from lakehouse import stack
from lakehouse.errors import UserError
from lakehouse.trino import CA_VARIABLE, DBT_SCHEMAS, PIPELINE_USER, connected, password_variable
from lakehouse.warehouse import TABLE_SCHEMAS
from tests.ports import port

pytestmark = [pytest.mark.stack, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
MASK = "***"
# The customers' contact details: in clear in silver, hashed or partly shown in gold; masked for the analyst.
PERSONAL = {"email", "email_hash", "email_masked", "phone", "street_address", "city", "postal_code"}
# Any column whose name says it holds contact details must be one of PERSONAL (a new one is masked or named here).
LOOKS_PERSONAL = re.compile(r"email|phone|address|street|postal|city")


@pytest.fixture(scope="module")
def shop(stack_settings, stack_shop):
    """Return (settings, results) of the shared test shop, taken through every layer, dbt on Trino included, as
    `lakehouse` under the access rules (the pipeline connects as no one else)."""
    _, _, results = stack_shop
    return stack_settings, results


def _rows(settings, user: str, sql: str) -> list[tuple]:
    with connected(settings, user) as trino:
        return trino.execute(sql)


def _relations(settings, schemas: tuple[str, ...]) -> dict[str, list[str]]:
    """Return {schema.table: its columns} of `schemas`, as the pipeline's user sees them."""
    listed = ", ".join(f"'{s}'" for s in schemas)
    rows = _rows(
        settings,
        PIPELINE_USER,
        "select table_schema || '.' || table_name, column_name from lakehouse.information_schema.columns "
        f"where table_schema in ({listed}) order by table_schema, table_name, ordinal_position",
    )
    relations: dict[str, list[str]] = {}
    for name, column in rows:
        relations.setdefault(name, []).append(column)
    return relations


def test_the_pipeline_runs_every_layer_and_dbt_as_lakehouse_under_the_rules(shop):
    _, results = shop
    assert all(r.status == "ok" for r in results), [(r.step, r.error) for r in results if r.error]
    (dbt,) = [r for r in results if r.step == "dbt.build"]
    assert dbt.rows_out > 0


def test_lakehouse_owns_the_catalog_it_writes(shop):
    settings, _ = shop
    with connected(settings) as trino:
        schemas = {row[0] for row in trino.execute("show schemas from lakehouse")}
        assert {*TABLE_SCHEMAS, *DBT_SCHEMAS} <= schemas
        location = trino.execute("show create schema lakehouse.silver")[0][0]
        assert f"location = '{settings.warehouse}/silver'" in location
        # Tables registered and unregistered, views made and dropped: what registration and dbt do.
        before = trino.execute("select count(*) from lakehouse.silver.orders")[0][0]
        trino.execute("call lakehouse.system.unregister_table(schema_name => 'silver', table_name => 'orders')")
        trino.execute(
            "call lakehouse.system.register_table(schema_name => 'silver', table_name => 'orders', "
            f"table_location => '{settings.warehouse}/silver/orders')"
        )
        assert trino.execute("select count(*) from lakehouse.silver.orders")[0][0] == before > 0
        trino.execute("create view lakehouse.staging.access_probe as select count(*) as n from lakehouse.bronze.orders")
        assert trino.execute("select n from lakehouse.staging.access_probe")[0][0] > 0
        trino.execute("drop view lakehouse.staging.access_probe")


@pytest.mark.parametrize(
    ("user", "sees"),
    [("superset", {"gold", "ops"}), ("analyst", {"silver", "gold"}), ("lakehouse", {*TABLE_SCHEMAS, *DBT_SCHEMAS})],
)
def test_each_user_sees_the_schemas_it_may_read(shop, user, sees):
    settings, _ = shop
    schemas = {row[0] for row in _rows(settings, user, "show schemas from lakehouse")} - {"information_schema"}
    assert schemas == sees
    tables = _relations(settings, tuple(sees))
    listed = {
        f"{schema}.{table}"
        for schema in sees
        for (table,) in _rows(settings, user, f"show tables from lakehouse.{schema}")
    }
    assert listed == set(tables)


def test_superset_can_ask_what_its_trino_dialect_asks(shop):
    """Superset lists catalogs, schemas, tables, columns and table comments through these."""
    settings, _ = shop
    assert ("lakehouse",) in _rows(settings, "superset", "select table_cat from system.jdbc.catalogs")
    columns = _rows(
        settings,
        "superset",
        "select column_name from lakehouse.information_schema.columns "
        "where table_schema = 'gold' and table_name = 'mart_daily_sales'",
    )
    assert columns
    comments = _rows(
        settings,
        "superset",
        "select schema_name || '.' || table_name from system.metadata.table_comments "
        "where catalog_name = 'lakehouse' and schema_name <> 'information_schema'",
    )
    assert {name for (name,) in comments} == set(_relations(settings, ("gold", "ops")))


@pytest.mark.parametrize(
    ("user", "table"),
    [
        ("superset", "silver.orders"),
        ("superset", "silver.customers"),
        ("superset", "bronze.orders"),
        ("superset", "snapshots.snap_customers"),
        ("analyst", "bronze.customers"),
        ("analyst", "bronze.quarantine"),
        ("analyst", "ops.run_audit"),
        ("analyst", "snapshots.snap_customers"),
        ("analyst", "intermediate.int_customers_versioned"),
        ("somebody", "gold.mart_daily_sales"),
        ("somebody", "silver.customers"),
    ],
)
def test_a_read_outside_ones_schemas_is_denied(shop, user, table):
    settings, _ = shop
    assert _rows(settings, PIPELINE_USER, f"select count(*) from lakehouse.{table}")[0][0] >= 0  # the table is there
    with pytest.raises(UserError, match="Access Denied"):
        _rows(settings, user, f"select count(*) from lakehouse.{table}")


def test_anyone_else_cannot_even_run_a_query(shop):
    settings, _ = shop
    for sql in ("select 1", "show catalogs", "select * from system.runtime.nodes"):
        with pytest.raises(UserError, match="Access Denied: Cannot execute query"):
            _rows(settings, "somebody", sql)


@pytest.mark.parametrize(
    ("user", "sql"),
    [
        ("analyst", "create table lakehouse.gold.access_probe as select 1 as x"),
        ("analyst", "delete from lakehouse.silver.orders"),
        ("superset", "insert into lakehouse.ops.run_audit select * from lakehouse.ops.run_audit"),
        ("superset", "create schema lakehouse.access_probe"),
        ("analyst", "call lakehouse.system.unregister_table(schema_name => 'gold', table_name => 'dim_date')"),
    ],
)
def test_readers_cannot_write(shop, user, sql):
    settings, _ = shop
    with pytest.raises(UserError, match="Access Denied"):
        _rows(settings, user, sql)


def test_superset_reads_gold_and_ops_in_full(shop):
    settings, _ = shop
    for name in ("gold.dim_customers", "gold.mart_daily_sales", "ops.run_audit"):
        sql = f"select count(*) from lakehouse.{name}"
        assert _rows(settings, "superset", sql) == _rows(settings, PIPELINE_USER, sql), name
    # Superset's dashboards are not masked: the analyst's masks are the analyst's.
    masked = _rows(settings, "superset", f"select count(*) from lakehouse.gold.dim_customers where city = '{MASK}'")
    assert masked == [(0,)]


def test_the_analyst_sees_every_customer_contact_detail_masked_and_everything_else_as_it_is(shop):
    settings, _ = shop
    relations = _relations(settings, ("silver", "gold"))
    looks_personal = {c for columns in relations.values() for c in columns if LOOKS_PERSONAL.search(c)}
    assert looks_personal <= PERSONAL, f"contact details the rules do not mask: {looks_personal - PERSONAL}"
    with_personal = {name: columns for name, columns in relations.items() if PERSONAL & set(columns)}
    assert {"silver.customers", "silver.customers_history", "gold.dim_customers"} <= set(with_personal)
    for name, columns in with_personal.items():
        personal = [c for c in columns if c in PERSONAL]
        counts = ", ".join(f"count_if({c} is distinct from '{MASK}')" for c in personal)
        unmasked = f"select {counts} from lakehouse.{name}"
        (as_analyst,) = _rows(settings, "analyst", unmasked)
        (as_lakehouse,) = _rows(settings, PIPELINE_USER, unmasked)
        assert all(n == 0 for n in as_analyst), (name, dict(zip(personal, as_analyst, strict=True)))
        assert all(n > 0 for n in as_lakehouse), (name, dict(zip(personal, as_lakehouse, strict=True)))
        others = [c for c in columns if c not in PERSONAL]
        checksums = f"select count(*), {', '.join(f'checksum({c})' for c in others)} from lakehouse.{name}"
        assert _rows(settings, "analyst", checksums) == _rows(settings, PIPELINE_USER, checksums), name


def test_the_analyst_sees_quarantined_customer_records_masked_and_the_others_in_full(shop):
    settings, _ = shop
    sql = (
        f"select entity, count(*), count_if(record = '{MASK}') from lakehouse.silver.quarantine group by entity "
        "order by entity"
    )
    as_analyst = _rows(settings, "analyst", sql)
    as_lakehouse = _rows(settings, PIPELINE_USER, sql)
    assert {entity for entity, _, _ in as_lakehouse} >= {"customers", "events"}, as_lakehouse
    for (entity, n, masked), (_, n_lakehouse, masked_lakehouse) in zip(as_analyst, as_lakehouse, strict=True):
        assert n == n_lakehouse and masked_lakehouse == 0
        assert masked == (n if entity == "customers" else 0), entity


# -- Trino as docker-compose runs it --------------------------------------------------------------------------------
HTTP_PORT, HTTPS_PORT = port(18081), port(18443)  # beside the test stack's 18080


def _compose_trino_options(secrets_dir: Path, overlay_dir: Path) -> list[str]:
    """Return the launcher options docker-compose.yml gives Trino, its container paths mapped to this machine's."""
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["trino"]
    mounts = {}
    for volume in service["volumes"]:
        source, target, *_ = volume.split(":")
        mounts[target] = {"./.compose/trino": secrets_dir, "./infra/trino/compose": overlay_dir}.get(source)
    options = []
    for option in service["command"][1:]:
        for target, source in mounts.items():
            if source is not None:
                option = option.replace(f"{target}/", f"{source}/")
        options.append(option.replace("https.port=8443", f"https.port={HTTPS_PORT}"))
    return options


@pytest.fixture(scope="module")
def compose_trino(shop, tmp_path_factory, monkeypatch_module):
    """Start a second Trino on the test stack's S3, with docker-compose's options and files made by
    `stack init --compose`; return its settings (https URL). The first Trino and its catalog stay as they are."""
    settings, _ = shop
    work = tmp_path_factory.mktemp("compose-trino")
    # Passwords of its own, generated as `stack init --compose` does; emptied first, so they are put back after.
    for variable in (*(password_variable(u) for u in stack.TRINO_USERS), stack.TRINO_SHARED_SECRET):
        monkeypatch_module.setenv(variable, "")
    stack.ensure_compose_secrets(work / ".env")
    secrets_dir = work / "secrets"
    stack.write_compose_trino(secrets_dir)
    overlay = work / "overlay"
    shutil.copytree(ROOT / "infra" / "trino" / "compose", overlay)
    for properties in overlay.glob("*.properties"):
        properties.write_text(properties.read_text().replace("/etc/trino-secrets/", f"{secrets_dir}/"))
    local = dataclasses.replace(settings, trino_url=f"http://127.0.0.1:{HTTP_PORT}", stack_dir=str(work / "stack"))
    service = stack.trino(local, work / "stack", _compose_trino_options(secrets_dir, overlay))
    assert service is not None
    # Not the local stack's schema set-up over plain HTTP: this Trino takes no one's word for who they are there.
    service = dataclasses.replace(service, after_start=None, ports=(HTTP_PORT, HTTPS_PORT))
    boss = stack.supervisor(local)
    monkeypatch_module.setenv(CA_VARIABLE, str(secrets_dir / "ca.crt"))
    try:
        boss.start(service, say=lambda line: None)
        ready = dataclasses.replace(local, trino_url=f"https://localhost:{HTTPS_PORT}")
        # For a few seconds after it says it has started, Trino may still answer NO_NODES_AVAILABLE to a query of
        # the catalog (`select 1` needs no node, so it does not tell).
        probe = "select count(*) from lakehouse.gold.dim_date"
        stack._retry(lambda: _rows(ready, PIPELINE_USER, probe), 60, lambda exc: "NO_NODES_AVAILABLE" in str(exc))
        yield ready
    finally:
        boss.stop(service)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_compose_trino_lets_each_user_in_with_its_password_over_https(compose_trino):
    for user in stack.TRINO_USERS:
        assert _rows(compose_trino, user, "select count(*) from lakehouse.gold.dim_date")[0][0] > 0, user
    masked = f"select count_if(city <> '{MASK}') from lakehouse.gold.dim_customers"
    assert _rows(compose_trino, "analyst", masked) == [(0,)]
    assert _rows(compose_trino, "superset", masked)[0][0] > 0


def test_compose_trino_turns_away_a_wrong_password_and_a_missing_one(compose_trino, monkeypatch):
    monkeypatch.setenv(password_variable("analyst"), "not-the-password")
    with pytest.raises(UserError, match="error 401: b'Access Denied: Invalid credentials'"):
        _rows(compose_trino, "analyst", "select 1")
    # A user with no password at all: the name alone is not enough.
    with pytest.raises(UserError, match="error 401: b'Unauthorized'"):
        _rows(compose_trino, "somebody", "select 1")
    # Nor over plain HTTP, which stays open inside compose's network only for the healthcheck.
    plain = dataclasses.replace(compose_trino, trino_url=f"http://127.0.0.1:{HTTP_PORT}")
    with pytest.raises(UserError, match="Authentication over HTTP is not enabled"):
        _rows(plain, "lakehouse", "select 1")
