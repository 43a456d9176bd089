"""The size rules of the project: no module over 500 lines, no function over 60 lines in segstudio/."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "segstudio"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def long_functions(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """`module:line name (n lines)` for each function or method longer than the limit."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({n} lines)")
    return out


def test_the_checker_sees_the_package():
    assert len(_modules()) > 50


def test_no_module_over_500_lines():
    big = [f"{p.relative_to(PACKAGE.parent)} ({n} lines)" for p in _modules()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not big, "modules over 500 lines: " + "; ".join(big)


def test_no_function_over_60_lines():
    long = [f for p in _modules() for f in long_functions(p)]
    assert not long, "functions over 60 lines: " + "; ".join(long)


def test_the_function_rule_catches_a_long_method(tmp_path):
    body = "\n".join(f"        x{i} = {i}" for i in range(MAX_FUNCTION_LINES - 1))
    f = tmp_path / "probe.py"
    f.write_text(f"class A:\n    def fits(self):\n{body}\n\n    def too_long(self):\n{body}\n        x = 0\n",
                 encoding="utf-8")
    assert long_functions(f, tmp_path) == [f"probe.py:{MAX_FUNCTION_LINES + 3} too_long ({MAX_FUNCTION_LINES + 1} lines)"]
