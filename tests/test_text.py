"""The skipgram dataset: words, vocabulary, pairs with negative sampling, and the King James text."""
from __future__ import annotations

import numpy as np
import pytest

from expkit.config import load_config
from expkit.data.text import kjv_text, load_skipgram, skipgram_pairs, tokenize, vocabulary
from expkit.errors import ConfigError, DataError
from tests.helpers import config_dict, write_config


def test_tokenize_lowercases_words_and_drops_kjv_headings_and_verse_numbers():
    text = "Genesis 1\n\n  1 In the beginning God created the heaven.\n  2 And the earth's form,\nvoid.\n1 John 3\n"
    assert tokenize(text, headings=True) == ["in", "the", "beginning", "god", "created", "the", "heaven", "and",
                                             "the", "earth's", "form", "void"]
    assert tokenize("Genesis 1", headings=False) == ["genesis"]


def test_vocabulary_is_by_frequency_then_first_appearance():
    assert vocabulary("b a c a b a d".split(), 3) == ["a", "b", "c"]


def pairs(n=2000, window=2, negatives=3, subsample=0.0, seed=0, vocab=50):
    rng = np.random.default_rng(1)
    ids = rng.integers(0, vocab, n)
    counts = np.bincount(ids, minlength=vocab)
    return ids, skipgram_pairs(ids, counts, window, negatives, subsample, np.random.default_rng(seed))


def test_positive_pairs_are_exactly_the_words_within_the_window():
    ids, (x, y) = pairs(n=300, window=2, negatives=0)
    expected = sorted((int(ids[i]), int(ids[j])) for i in range(300) for j in range(max(0, i - 2), min(300, i + 3))
                      if i != j)
    assert sorted(map(tuple, x.tolist())) == expected
    assert (y == 1).all() and x.dtype == np.int32


def test_negatives_per_positive_and_their_unigram_distribution():
    ids, (x, y) = pairs(n=20_000, window=1, negatives=3)
    assert (y == 0).sum() == 3 * (y == 1).sum()
    fake = x[y == 0, 1]
    counts = np.bincount(ids, minlength=50) ** 0.75
    observed = np.bincount(fake, minlength=50) / len(fake)
    np.testing.assert_allclose(observed, counts / counts.sum(), atol=0.005)


def test_pairs_are_deterministic_by_seed_and_subsampling_drops_frequent_words():
    _, (a, _) = pairs(seed=3)
    _, (b, _) = pairs(seed=3)
    _, (c, _) = pairs(seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    _, (d, _) = pairs(n=20_000, negatives=0, subsample=1e-3)
    assert len(d) < 0.8 * 4 * 20_000


def test_the_king_james_text_comes_from_debians_bible_program(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPKIT_CACHE", str(tmp_path))
    path = kjv_text()
    assert path == tmp_path / "kjv.txt"
    words = tokenize(path.read_text(), headings=True)
    assert words[:4] == ["in", "the", "beginning", "god"] and words[-2:] == ["all", "amen"]
    assert 780_000 < len(words) < 800_000
    assert kjv_text(program="no-such-program") == path  # made once: the cached file is used


def test_a_missing_bible_program_says_which_package_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPKIT_CACHE", str(tmp_path))
    with pytest.raises(DataError, match="apt-get install bible-kjv"):
        kjv_text(program="no-such-program")


def test_a_text_file_gives_a_vocabulary_and_pairs(tmp_path):
    (tmp_path / "t.txt").write_text("the cat sat on the mat. the dog sat on the log. " * 20)
    cfg = load_config(write_config(tmp_path, config_dict(
        [{"type": "Dense", "units": 1}], dataset={"name": "skipgram", "path": "t.txt", "subsample": 0,
                                                  "negative_samples": 1, "window": 1}))).config.dataset
    raw = load_skipgram(cfg, 0)
    assert raw.vocabulary[0] == "the" and set(raw.vocabulary) == {"the", "cat", "sat", "on", "mat", "dog", "log"}
    assert raw.x_train.shape == (2 * 2 * (20 * 12 - 1), 2) and raw.kind == "sequence" and raw.num_classes == 2


@pytest.mark.parametrize("dataset, message", [
    ({"name": "skipgram"}, "set dataset.path to a text file, or dataset.corpus to kjv"),
    ({"name": "skipgram", "corpus": "kjv", "path": "t.txt"}, "(not both)"),
    ({"name": "mnist", "corpus": "kjv"}, "dataset.corpus is only used by skipgram"),
    ({"name": "skipgram", "corpus": "shakespeare"}, "kjv"),
    ({"name": "skipgram", "corpus": "kjv", "window": 0}, "greater than 0"),
])
def test_bad_skipgram_settings(tmp_path, dataset, message):
    with pytest.raises(ConfigError, match=None) as error:
        load_config(write_config(tmp_path, config_dict([{"type": "Dense", "units": 1}], dataset=dataset)))
    assert message in str(error.value)
