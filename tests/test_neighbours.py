"""expkit neighbours: a real skip-gram run on a text with two topics puts each topic's words together."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from expkit.cli import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
ANIMALS, NUMBERS = ["cat", "dog", "cow"], ["one", "two", "three"]


def expkit(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """configs/kjv_skipgram.yaml itself, on a small text: animals eat and drink, numbers add up."""
    tmp = tmp_path_factory.mktemp("skipgram")
    rng = np.random.default_rng(0)
    lines = [f"{rng.choice(ANIMALS)} {rng.choice(['eats', 'drinks'])} {rng.choice(['grass', 'water', 'milk'])}"
             for _ in range(600)]
    lines += [f"{rng.choice(NUMBERS)} {rng.choice(['plus', 'minus'])} {rng.choice(['four', 'five', 'six'])}"
              for _ in range(600)]
    rng.shuffle(lines)
    (tmp / "text.txt").write_text(". ".join(lines) + ".\n")
    overrides = ["dataset.corpus=null", f"dataset.path={tmp / 'text.txt'}", "dataset.subsample=0",
                 "dataset.negative_samples=4", "dataset.shuffle_buffer=null", "model.layers.0.input_dim=20",
                 "model.layers.1.input_dim=20", "model.layers.0.output_dim=8", "model.layers.1.output_dim=8",
                 "training.epochs=4", "training.batch_size=64"]
    result = expkit("train", ROOT / "configs" / "kjv_skipgram.yaml", "--runs-dir", tmp / "runs",
                    *[a for o in overrides for a in ("--set", o)])
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def neighbours(line: str) -> list[str]:
    return [item.split()[0] for item in line.split(":  ", 1)[1].split(", ")]


def test_each_words_nearest_neighbours_share_its_contexts(run):
    result = expkit("neighbours", run, "cat", "One", "-k", "2")
    assert result.returncode == 0, result.stderr
    cat, one = result.stdout.strip().splitlines()
    assert cat.startswith("cat (word_vectors):") and one.startswith("One (word_vectors):")
    assert set(neighbours(cat)) == {"dog", "cow"}
    assert set(neighbours(one)) == {"two", "three"}
    similarity = float(cat.split(", ")[0].split()[-1])
    assert -1.0 <= similarity <= 1.0


def test_the_context_layer_can_be_chosen(run):
    result = expkit("neighbours", run, "cat", "--layer", "context_vectors", "-k", "3")
    assert result.returncode == 0 and result.stdout.startswith("cat (context_vectors):")


@pytest.mark.parametrize("args, message", [
    (["kat"], "'kat' is not in the run's vocabulary of 16 words (did you mean 'cat'?)"),
    (["cat", "--layer", "word_vector"], "no Embedding layer of that name (did you mean 'word_vectors'?)"),
    (["cat", "-k", "0"], "--k 0: expected at least 1"),
])
def test_bad_requests(run, args, message):
    result = expkit("neighbours", run, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_run_without_a_vocabulary(mnist_run):
    result = subprocess.run([sys.executable, "-m", "expkit", "neighbours", str(mnist_run), "cat"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "saved no vocabulary" in result.stderr and "Traceback" not in result.stderr
