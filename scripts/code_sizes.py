"""Modules over 600 lines and functions over 60 lines (docstrings not counted) in ``planner``.

Usage: ``python scripts/code_sizes.py`` (exits 1 when a module is over its limit).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def long_functions(path: Path) -> list[tuple[str, int]]:
    """``(qualified name, lines)`` of each function of ``path`` longer than the limit."""
    out = []
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            doc = node.body[0] if node.body else None
            if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant):
                lines -= (doc.end_lineno or doc.lineno) - doc.lineno + 1  # docstring not counted
            if lines > MAX_FUNCTION_LINES:
                out.append((node.name, lines))
    return out


def main() -> int:
    """Print the modules and functions over their limits."""
    files = sorted((ROOT / "planner").rglob("*.py"))
    big = [(f, len(f.read_text().splitlines())) for f in files]
    big = [(f, n) for f, n in big if n > MAX_MODULE_LINES]
    for f, n in big:
        print(f"module {f.relative_to(ROOT)}: {n} lines")
    count = 0
    for f in files:
        for name, n in long_functions(f):
            count += 1
            print(f"function {f.relative_to(ROOT)}:{name}: {n} lines")
    print(f"{len(big)} module(s) > {MAX_MODULE_LINES} lines, {count} function(s) > 60 lines")
    return 1 if big else 0


if __name__ == "__main__":
    raise SystemExit(main())
