"""No function in the product code (lakehouse/, generator/, jobs/) is over MAX_LINES lines, `def` to last line,
unless its docstring gives the reason in a sentence containing "Long because"; and the product does not import its
tooling (lakehouse/devtools/) or the pipeline its BI code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lakehouse", "generator", "jobs")
MAX_LINES = 60
REASON = "Long because"


def long_functions(root: Path = ROOT) -> list[str]:
    """Return `path:line name (n lines)` for every function over MAX_LINES whose docstring gives no reason."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                length = node.end_lineno - node.lineno + 1  # from `def` to the last line, decorators not counted
                if length > MAX_LINES and REASON not in (ast.get_docstring(node) or ""):
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_long_functions_without_a_reason():
    assert long_functions() == []


def test_a_long_function_is_named_unless_its_docstring_says_why(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    (tmp_path / "lakehouse").mkdir()
    (tmp_path / "generator").mkdir()
    (tmp_path / "jobs").mkdir()
    (tmp_path / "lakehouse" / "long.py").write_text(
        f'def unexplained():\n    """Return nothing."""\n{body}\n\n'
        f'def explained():\n    """Return nothing. Long because it is a list of steps."""\n{body}\n\n'
        f"def short():\n    return 1\n"
    )
    assert long_functions(tmp_path) == [f"lakehouse/long.py:1 unexplained ({MAX_LINES + 2} lines)"]


# Who may import what: (importing modules, what they must not import, the modules exempt). Only the CLI commands that
# are the tools load lakehouse.devtools; only the table layer opens Delta tables (delta-rs, delta-spark).
TABLE_LAYER = {"lakehouse.tables", "lakehouse.table_log", "lakehouse.delta_spark"}
BOUNDARIES = (
    ("lakehouse", "lakehouse.devtools", {"lakehouse.devtools", "lakehouse.cli.bench", "lakehouse.cli.superset"}),
    ("lakehouse.pipeline", "lakehouse.bi", set()),
    ("lakehouse", "deltalake", TABLE_LAYER),
    ("lakehouse", "delta", TABLE_LAYER),
)


def crossings(root: Path = ROOT) -> list[str]:
    """Return `module imports name` for every import across a boundary, module-level or inside a function."""
    found = []
    for path in sorted((root / "lakehouse").rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            for importer, forbidden, exempt in BOUNDARIES:
                if any(module == a or module.startswith(f"{a}.") for a in exempt):
                    continue
                if module == importer or module.startswith(f"{importer}."):
                    found += [f"{module} imports {n}" for n in names if n == forbidden or n.startswith(f"{forbidden}.")]
    return found


def test_the_product_imports_neither_its_tooling_nor_the_pipeline_its_bi_nor_delta_outside_the_table_layer():
    assert crossings() == []


def test_an_import_across_a_boundary_is_named(tmp_path):
    (tmp_path / "lakehouse" / "pipeline").mkdir(parents=True)
    (tmp_path / "lakehouse" / "pipeline" / "step.py").write_text(
        "def run():\n    from lakehouse.bi import server\n    from lakehouse.devtools.bench import run_bench\n"
        "    import deltalake\n"
    )
    assert crossings(tmp_path) == [
        "lakehouse.pipeline.step imports lakehouse.bi",
        "lakehouse.pipeline.step imports lakehouse.bi.server",
        "lakehouse.pipeline.step imports lakehouse.devtools.bench",
        "lakehouse.pipeline.step imports lakehouse.devtools.bench.run_bench",
        "lakehouse.pipeline.step imports deltalake",
    ]
