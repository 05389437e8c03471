"""Property-based tests (Hypothesis): whatever a config file or a `--set` holds, `expkit validate` answers
with exit 0 or 2 and never an exception. The in-process CLI is called, so any exception fails the example
with its traceback; examples are bounded so the file runs in well under a minute."""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expkit.cli import main
from expkit.runstore import flatten

VALID = {
    "experiment": {"name": "prop", "seed": 0, "tags": ["a"]},
    "dataset": {"name": "xor", "samples": 200, "validation_split": 0.1},
    "model": {"layers": [{"type": "Dense", "units": 8, "activation": "relu"},
                         {"type": "Dropout", "rate": 0.1},
                         {"type": "Dense", "units": 1, "activation": "sigmoid"}]},
    "compile": {"loss": "binary_crossentropy", "metrics": ["accuracy"],
                "optimizer": {"name": "adam", "learning_rate": 0.01}},
    "training": {"epochs": 2, "batch_size": 16, "callbacks": {"early_stopping": {"monitor": "val_loss"}}},
}
PATHS = sorted(flatten(VALID))  # 'model.layers.0.units', ...
PROFILE = settings(max_examples=150, deadline=2000, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["relu", "adam", "Dense", "xor", "val_loss", "1e3",
                                                           "~", "null", "", "-", "<<", "*a", "!!int x"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(PATHS)),
                                                 inner, max_size=4)), max_leaves=12)


def validate(text: str, *args: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "cfg.yaml"
        cfg.write_text(text, encoding="utf-8", errors="surrogatepass")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", str(cfg), *args])
        return code, err.getvalue()


def test_the_base_config_is_valid():
    assert validate(yaml.safe_dump(VALID)) == (0, "")


@PROFILE
@given(st.text(max_size=300))
def test_any_text_is_answered(text):
    code, err = validate(text)
    assert code in (0, 2)
    assert code == 0 or err.strip(), "exit 2 without a message"


@PROFILE
@given(values)
def test_any_yaml_document_is_answered(document):
    code, err = validate(yaml.safe_dump(document, allow_unicode=True))
    assert code == 2 and err.strip()  # no random document is a whole experiment


def _mutate(data, path: list, action: str, new):
    """VALID with the value at `path` replaced, deleted, or given a new sibling key."""
    node = data
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = int(path[-1]) if isinstance(node, list) else path[-1]
    if action == "replace":
        node[last] = new
    elif action == "delete" and isinstance(node, dict):
        del node[last]
    elif isinstance(node, dict):
        node[f"{last}_extra"] = new
    return data


@PROFILE
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(["replace", "delete", "add"]), values),
                min_size=1, max_size=3))
def test_mutated_valid_configs_are_answered(mutations):
    import copy
    data = copy.deepcopy(VALID)
    for path, action, new in mutations:
        try:
            data = _mutate(data, path.split("."), action, new)
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # an earlier mutation removed or replaced the path
    code, err = validate(yaml.safe_dump(data, allow_unicode=True))
    assert code in (0, 2)
    assert code == 0 or err.strip()


keys = st.one_of(st.sampled_from(PATHS), st.text(max_size=30),
                 st.builds(lambda p, s: f"{p}.{s}", st.sampled_from(PATHS), st.text(max_size=8)))


@PROFILE
@given(st.lists(st.tuples(keys, st.one_of(st.text(max_size=40), values.map(
    lambda v: yaml.safe_dump(v, default_flow_style=True).strip()))), min_size=1, max_size=3))
def test_any_set_override_is_answered(overrides):
    args = [f"--set={key}={value}" for key, value in overrides]  # "--set -x=1" would be read as an option
    code, err = validate(yaml.safe_dump(VALID), *args)
    assert code in (0, 2)
    assert code == 0 or err.strip()
