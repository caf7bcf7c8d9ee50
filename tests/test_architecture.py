"""The shape of the code, checked (issue 13 item 6): small modules with one job each.

The import layers and "no cycles" are import-linter's contracts (.importlinter), run by ./test's
lint stage before pytest; this file holds what import-linter cannot express."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("idp", "portals", "standins")
MAX_LINES = 400  # style rule: a module over 400 lines does more than one job


def _product_modules() -> list[Path]:
    """Every Python module of the product; templates are not Python, migrations (top-level
    migrations/) are generated history and live outside these packages."""
    return sorted(path for package in PRODUCT for path in (ROOT / package).rglob("*.py")
                  if "migrations" not in path.relative_to(ROOT).parts)


def test_the_product_modules_are_found():
    modules = {str(p.relative_to(ROOT)) for p in _product_modules()}
    assert {"idp/__init__.py", "portals/app.py"} <= modules


def test_no_product_module_exceeds_400_lines():
    offenders = []
    for path in _product_modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            offenders.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not offenders, (f"modules over {MAX_LINES} lines (split them by job):\n"
                           + "\n".join(offenders))


def test_no_test_imports_another_test_module_or_a_conftest():
    """What tests share lives in tests/support (issue 13 item 7): importing a test module runs
    its fixtures and tests' module code in another module's namespace, and conftest.py is
    pytest's, not a library."""
    import ast

    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if "vendor" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
                names += [f"{names[0]}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                last = name.rsplit(".", 1)[-1]
                if last == "conftest" or last.startswith("test_") or name.endswith("helpers"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not offenders, "import from tests/support instead:\n" + "\n".join(offenders)
