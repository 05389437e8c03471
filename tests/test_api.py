"""The Python API: the README's example runs as written (in a temporary folder), and bad input raises
the same errors the CLI turns into exit codes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_api_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### In a notebook or a script"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    exec(compile(readme_api_example(), "README.md", "exec"), {})
    out = capsys.readouterr().out
    runs = list((tmp_path / "runs" / "api-demo").rglob("run.json"))
    assert len(runs) == 4  # two trains, two sweep points
    assert "completed" in out and "test.accuracy" in out


def test_train_with_a_bad_config_raises_config_error(tmp_path):
    import expkit
    from expkit.errors import ConfigError
    with pytest.raises(ConfigError, match="epochs"):
        expkit.train({"experiment": {"name": "x"}, "dataset": {"name": "xor"},
                      "model": {"layers": [{"type": "Dense", "units": 1}]}, "compile": {"loss": "mse"},
                      "training": {"epochs": 0}}, runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_api_names_are_public():
    import expkit
    assert {"train", "sweep", "load_runs", "compare_runs"} <= set(dir(expkit))


def test_expkit_sweep_stays_the_api_function_after_the_package_is_imported():
    import expkit
    import expkit.sweep.points  # noqa: F401  (binds the package to expkit.sweep)
    from expkit.sweep.driver import sweep
    assert callable(expkit.sweep)
    assert expkit.api.sweep is sweep


def test_compare_runs_groups_by_a_key_as_the_cli_does(tmp_path):
    import expkit
    from test_compare import make_run
    for seed, name in [(0, "a"), (1, "a"), (0, "b")]:
        make_run(tmp_path, name=name, seed=seed, units=(16 if name == "a" else 32,))
    table = expkit.compare_runs(tmp_path, group_by="experiment.name")
    assert sorted((row["name"], row["n"]) for row in table.rows) == [("a", 2), ("b", 1)]
