"""The package layout's rules, checked: one-way dependencies (import-linter's contracts in pyproject.toml),
few plain modules at the top, no file over 400 lines, and commands that read runs never load TensorFlow."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "expkit"
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "api.py", "backend.py", "errors.py"}


def lint_imports():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is part of the test extra: pip install -e '.[test]'"
    return subprocess.run([exe, "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_import_linter_contracts_hold():
    done = lint_imports()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_reversed_dependency_breaks_the_contract(tmp_path):
    """The check can fail: a runstore module importing the CLI is reported."""
    bad = PACKAGE / "runstore" / "_layout_probe.py"
    bad.write_text("from expkit.cli import app  # noqa: F401\n")
    try:
        done = lint_imports()
    finally:
        bad.unlink()
    assert done.returncode != 0
    assert "expkit.runstore._layout_probe -> expkit.cli" in done.stdout.replace("\n", " ") or \
        "expkit.runstore is not allowed to import expkit.cli" in done.stdout


def test_few_plain_modules_at_the_top():
    plain = {p.name for p in PACKAGE.glob("*.py")}
    assert plain <= TOP_LEVEL_MODULES, f"new top-level modules {sorted(plain - TOP_LEVEL_MODULES)}: give them a package"


def test_no_module_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, f"split these by responsibility: {long}"


@pytest.mark.parametrize("argv", [["--help"], ["compare", "--help"], ["validate", "configs/mnist_fast.yaml"]])
def test_light_commands_never_import_tensorflow(argv):
    code = ("import sys; from expkit.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
