"""No function in the product code (lakehouse/, generator/, jobs/) is over MAX_LINES lines, `def` to last line,
unless its docstring gives the reason in a sentence containing "Long because"."""

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
