"""The table layer on real Delta tables in a temporary warehouse."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.errors import PipelineError, UserError
from lakehouse.settings import Settings
from lakehouse.tables import CHECKPOINT_INTERVAL, Commit, Tables, TableSpec, sql_in
from lakehouse.warehouse import Warehouse

SPEC = TableSpec("silver.things", "Things for tests.", keys=("id",), partition_by=("day",))


@pytest.fixture(params=["delta-rs", "delta-spark"])
def tables(spark, tmp_path, request):
    """Tables of a fresh warehouse, written by each Delta engine in turn: both must behave the same."""
    return Tables(Warehouse(Settings(warehouse=str(tmp_path), delta_engine=request.param)), spark)


def _frame(spark, rows):
    return spark.createDataFrame(rows, "id int, day string, value string")


def _rows(tables, **kwargs):
    return sorted(tuple(r) for r in tables.read("silver.things", **kwargs).collect())


def test_append_creates_a_partitioned_table_with_its_description(tables, spark):
    tables.append(SPEC, _frame(spark, [(1, "d1", "a"), (2, "d2", "b")]))
    assert _rows(tables) == [(1, "d1", "a"), (2, "d2", "b")]
    assert tables.names() == ["silver.things"]
    assert tables.version("silver.things") == 0
    from deltalake import DeltaTable

    table = DeltaTable(tables.uri("silver.things"))
    assert table.metadata().description == "Things for tests."
    assert table.metadata().partition_columns == ["day"]


def test_a_commit_marker_makes_a_batch_land_once(tables, spark):
    first = tables.append(SPEC, _frame(spark, [(1, "d1", "a")]), commit=Commit("test", 20260101))
    again = tables.append(SPEC, _frame(spark, [(1, "d1", "a")]), commit=Commit("test", 20260101))
    assert (first.skipped, again.skipped) == (False, True)
    assert _rows(tables) == [(1, "d1", "a")]
    assert tables.watermark("silver.things", "test") == 20260101
    assert tables.watermark("silver.things", "other") is None


def test_a_commit_keeps_its_note_for_whoever_comes_after(tables, spark):
    """A step notes its counts in its last commit; a later run finds them by the step's marker (append and merge)."""
    appended = Commit("step", 20260101).noting({"rows_in": 3})
    tables.append(SPEC, _frame(spark, [(1, "d1", "a")]), commit=appended)
    merged = Commit("step", 20260102).noting({"rows_in": 5})
    tables.merge(SPEC, _frame(spark, [(1, "d1", "b"), (2, "d1", "c")]), on=("id",), commit=merged)
    assert tables.note("silver.things", Commit("step", 20260101))["rows_in"] == 3
    assert tables.note("silver.things", Commit("step", 20260102))["rows_in"] == 5
    assert tables.note("silver.things", Commit("step", 20260103)) is None
    assert tables.note("silver.things", Commit("other", 20260101)) is None


def test_two_steps_first_to_write_a_shared_table_at_once_both_land(tables, spark):
    """Steps run side by side; both may be first to write a shared table (a quarantine): one creates, one appends."""
    frames = [_frame(spark, [(1, "d1", "from step 1")]), _frame(spark, [(2, "d1", "from step 2")])]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda i: tables.append(SPEC, frames[i], commit=Commit(f"step{i}", 1)), (0, 1)))
    assert _rows(tables) == [(1, "d1", "from step 1"), (2, "d1", "from step 2")]
    assert sorted(r.version for r in results) == [0, 1]
    assert tables.watermark("silver.things", "step0") == tables.watermark("silver.things", "step1") == 1


def test_steps_writing_a_shared_table_at_once_each_get_their_own_counts(tables, spark):
    """Each of several appends to one table at once returns the rows it wrote, not another's (a quarantine)."""
    tables.append(SPEC, _frame(spark, [(0, "d0", "first")]))
    frames = [_frame(spark, [(10 * i + n, "d1", f"step {i}") for n in range(i + 1)]) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: tables.append(SPEC, frames[i], commit=Commit(f"step{i}", 1)), range(4)))
    assert [r.rows for r in results] == [1, 2, 3, 4]
    assert len({r.version for r in results}) == 4


def test_a_write_finds_its_own_commit_after_another_step_committed(tables, spark):
    """The commit a write made is the one with its marker, even when another step's commit came after it."""
    mine = tables.append(SPEC, _frame(spark, [(1, "d1", "a"), (2, "d1", "b")]), commit=Commit("mine", 1))
    tables.append(SPEC, _frame(spark, [(3, "d1", "c")]), commit=Commit("other", 1))
    if hasattr(tables.engine, "_last_commit"):  # delta-spark learns a write's counts from the log afterwards
        version, metrics = tables.engine._last_commit(tables.uri("silver.things"), Commit("mine", 1))
        assert (version, metrics["num_output_rows"]) == (mine.version, 2)


def test_rows_materialized_from_a_table_keep_their_values_after_that_table_is_written(tables, spark):
    """A step computes what is new against a table, writes it there, then uses the same rows again (a dimension's
    latest versions): the rows must be the ones computed, not recomputed against the table as it now is."""
    tables.append(SPEC, _frame(spark, [(1, "d1", "old")]))
    offered = _frame(spark, [(1, "d1", "old"), (2, "d1", "new")])
    new = tables.materialize(offered.join(tables.read("silver.things"), on=["id", "day", "value"], how="left_anti"))
    tables.append(SPEC, new)
    assert new.num_rows == 1
    assert sorted(tuple(r) for r in new.frame(spark).collect()) == [(2, "d1", "new")]
    new.release()


def test_overwrite_by_predicate_replaces_only_matching_rows(tables, spark):
    tables.append(SPEC, _frame(spark, [(1, "d1", "a"), (2, "d2", "b")]))
    tables.overwrite(SPEC, _frame(spark, [(3, "d2", "c")]), predicate=sql_in("day", ["d2"]))
    assert _rows(tables) == [(1, "d1", "a"), (3, "d2", "c")]


def test_merge_updates_matches_and_inserts_the_rest(tables, spark):
    tables.append(SPEC, _frame(spark, [(1, "d1", "a"), (2, "d1", "b")]))
    result = tables.merge(SPEC, _frame(spark, [(2, "d1", "B"), (3, "d1", "c")]))
    assert _rows(tables) == [(1, "d1", "a"), (2, "d1", "B"), (3, "d1", "c")]
    assert result.inserted == 1


def test_insert_only_merge_skips_keys_already_present(tables, spark):
    tables.append(SPEC, _frame(spark, [(1, "d1", "a")]))
    result = tables.merge(SPEC, _frame(spark, [(1, "d1", "changed"), (2, "d1", "b")]), insert_only=True)
    assert _rows(tables) == [(1, "d1", "a"), (2, "d1", "b")]
    assert result.inserted == 1


def test_insert_only_merge_on_a_partition_key_reads_only_the_data_partitions(tables, spark):
    tables.append(SPEC, _frame(spark, [(1, "d1", "a"), (2, "d2", "b")]))
    offered = _frame(spark, [(1, "d1", "again"), (2, "d3", "same id, another day"), (3, "d1", "c"), (3, "d1", "c")])
    result = tables.merge(SPEC, offered.dropDuplicates(), on=("id", "day"), insert_only=True, commit=Commit("t", 2))
    assert _rows(tables) == [(1, "d1", "a"), (2, "d2", "b"), (2, "d3", "same id, another day"), (3, "d1", "c")]
    assert (result.rows, result.inserted) == (3, 2)
    again = tables.merge(SPEC, offered.dropDuplicates(), on=("id", "day"), insert_only=True, commit=Commit("t", 2))
    assert again.skipped and tables.version("silver.things") == 1


def test_arrow_rows_can_be_written_too(tables):
    data = pa.table({"id": pa.array([7], pa.int32()), "day": ["d9"], "value": ["x"]})
    tables.append(SPEC, data)
    assert _rows(tables) == [(7, "d9", "x")]


def test_an_empty_side_table_append_commits_nothing_once_the_table_exists(tables):
    empty = pa.table(
        {"id": pa.array([], pa.int32()), "day": pa.array([], pa.string()), "value": pa.array([], pa.string())}
    )
    created = tables.append(SPEC, empty, commit=Commit("test", 1), skip_empty=True)
    assert created.version == 0 and not created.skipped  # a table that does not exist yet is still created
    again = tables.append(SPEC, empty, commit=Commit("test", 2), skip_empty=True)
    assert again.skipped and tables.version(SPEC.name) == 0
    assert tables.watermark(SPEC.name, "test") == 1


def test_a_table_gets_a_log_checkpoint_every_few_commits(tables):
    """Each look at a table replays the commits since its last checkpoint; frequent checkpoints keep that short."""
    from deltalake import DeltaTable

    for i in range(CHECKPOINT_INTERVAL + 1):
        data = pa.table({"id": pa.array([i], pa.int32()), "day": ["d1"], "value": [str(i)]})
        tables.append(SPEC, data)
    table = DeltaTable(tables.uri(SPEC.name))
    assert table.metadata().configuration["delta.checkpointInterval"] == str(CHECKPOINT_INTERVAL)
    log = Path(tables.uri(SPEC.name)) / "_delta_log"
    checkpoints = sorted(p.name for p in log.glob("*.checkpoint.parquet"))
    # delta-rs checkpoints after version 9, Spark at version 10: either way one in the first 11 commits.
    assert len(checkpoints) == 1
    assert len(_rows(tables)) == CHECKPOINT_INTERVAL + 1


def test_optimize_brings_an_older_table_up_to_the_current_settings(tables):
    from deltalake import DeltaTable, write_deltalake

    uri = tables.uri(SPEC.name)
    write_deltalake(uri, pa.table({"id": pa.array([1], pa.int32()), "day": ["d1"], "value": ["a"]}))
    assert "delta.checkpointInterval" not in DeltaTable(uri).metadata().configuration
    tables.optimize(SPEC.name)
    assert DeltaTable(uri).metadata().configuration["delta.checkpointInterval"] == str(CHECKPOINT_INTERVAL)


def test_a_table_state_loaded_while_another_step_commits_is_not_kept(tables, monkeypatch):
    """Steps run in threads: a look at a table that began before another step's commit must not be cached."""
    import lakehouse.tables as module

    def rows(id_: int) -> pa.Table:
        return pa.table({"id": pa.array([id_], pa.int32()), "day": ["d1"], "value": ["x"]})

    tables.append(SPEC, rows(1))
    tables.refresh()
    real = module.DeltaTable

    class OtherStepCommitsWhileThisLoads(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)  # this state predates the other step's commit
            monkeypatch.setattr(module, "DeltaTable", real)
            tables.append(SPEC, rows(2))

    monkeypatch.setattr(module, "DeltaTable", OtherStepCommitsWhileThisLoads)
    assert tables.version("silver.things") == 0  # the look that raced the commit answers from what it loaded...
    assert tables.version("silver.things") == 1  # ...and the next look sees the commit
    assert _rows(tables) == [(1, "d1", "x"), (2, "d1", "x")]


def test_read_as_of_a_version_and_history(tables, spark):
    tables.append(SPEC, _frame(spark, [(1, "d1", "a")]))
    tables.append(SPEC, _frame(spark, [(2, "d1", "b")]))
    assert _rows(tables, version=0) == [(1, "d1", "a")]
    operations = [h["operation"] for h in tables.history("silver.things")]  # newest first
    assert len(operations) == 2 and operations[0] == "WRITE"  # the first is WRITE or CREATE TABLE AS SELECT


def test_a_where_clause_prunes_and_filters(tables, spark):
    tables.append(SPEC, _frame(spark, [(1, "d1", "a"), (2, "d2", "b")]))
    assert _rows(tables, where="day = 'd2'") == [(2, "d2", "b")]
    answer = tables.query("silver.things", "select count(*) as n from t where day = 'd1'")
    assert answer.column("n").to_pylist() == [1]


def test_optimize_compacts_and_vacuum_removes_unreferenced_files(tables, spark):
    for i in range(3):
        tables.append(SPEC, _frame(spark, [(i, "d1", "x")]))
    metrics = tables.optimize("silver.things")
    assert metrics["numFilesRemoved"] == 3 and metrics["numFilesAdded"] == 1
    removed = tables.vacuum("silver.things", retention_hours=0)
    assert len(removed) == 3
    assert len(_rows(tables)) == 3


def test_a_schema_change_is_refused_with_the_columns_named(tables, spark):
    tables.append(SPEC, _frame(spark, [(1, "d1", "a")]))
    other = spark.createDataFrame([(1, "d1", "a", 5)], "id int, day string, value string, extra int")
    with pytest.raises(PipelineError, match=r"new \['extra'\]"):
        tables.append(SPEC, other)


def test_reading_a_missing_table_says_what_to_do(tables):
    with pytest.raises(UserError, match="does not exist yet"):
        tables.read("silver.nothing")


def test_table_names_are_checked():
    with pytest.raises(UserError, match="not a table name"):
        TableSpec("things", "no layer")


def test_predicates_refuse_values_that_could_break_out():
    assert sql_in("day", ["2026-01-01", 5]) == "day in ('2026-01-01', 5)"
    with pytest.raises(PipelineError):
        sql_in("day", ["x') or (1=1"])
