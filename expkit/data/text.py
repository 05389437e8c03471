"""Skip-gram pairs with negative sampling from a real text, for word embeddings (word2vec's recipe).

The text: `dataset.path`, a plain UTF-8 file, or `dataset.corpus: kjv`, the King James Bible
(1611/1769, public domain), which Debian ships as the package bible-kjv: expkit runs its `bible`
program once and keeps the text in $EXPKIT_CACHE (default ~/.cache/expkit)/kjv.txt.

1. Words: the lowercased runs of letters (with inner apostrophes), in order; the KJV's chapter
   headings ("Genesis 1") and verse numbers are dropped.
2. Vocabulary: the `num_words` most frequent words (default 10,000; ties by first appearance);
   index i is the i-th most frequent word. Other words are removed from the stream.
3. Subsampling (Mikolov et al. 2013): a word of frequency f is kept with probability
   min(1, sqrt(t / f) + t / f), t = `subsample` (0 keeps every word).
4. Pairs: each word with each word up to `window` positions before and after it is a positive pair
   (label 1); for each positive, `negative_samples` contexts drawn from the unigram distribution
   raised to the 3/4 power are negatives (label 0).
All random draws come from the seed. Samples are int32 [word, context]; a model with two named
inputs gets column 0 as the first input and column 1 as the second (see pipeline.py).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np

from expkit.data.raw import CLASSIFICATION, RawData, random_generator
from expkit.errors import DataError

DEFAULT_NUM_WORDS = 10_000
DEFAULT_WINDOW, DEFAULT_NEGATIVES, DEFAULT_SUBSAMPLE = 2, 4, 1e-4
KJV_RANGE = "gen1:1-rev22:21"
WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
KJV_HEADING = re.compile(r"^\s*(?:[1-3] )?[A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)* \d+\s*$")
VERSE_NUMBER = re.compile(r"^\s+\d+ ")


def cache_dir() -> Path:
    return Path(os.environ.get("EXPKIT_CACHE", Path.home() / ".cache" / "expkit"))


def kjv_text(program: str = "bible") -> Path:
    """The King James text as a file, made once from Debian's bible-kjv package."""
    out = cache_dir() / "kjv.txt"
    if out.is_file():
        return out
    exe = shutil.which(program)
    if exe is None:
        raise DataError(f"corpus 'kjv' comes from Debian's bible-kjv package (the King James Version, public "
                        f"domain), whose program '{program}' is not installed: apt-get install bible-kjv; or "
                        "set dataset.path to a plain-text file instead")
    result = subprocess.run([exe, KJV_RANGE], capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or len(result.stdout) < 1_000_000:
        raise DataError(f"'{exe} {KJV_RANGE}' failed (exit {result.returncode}): {result.stderr.strip()[:300]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".kjv.{os.getpid()}.tmp")
    tmp.write_text(result.stdout)
    tmp.replace(out)  # atomic: a reader never sees half the text
    return out


def tokenize(text: str, headings: bool = False) -> list[str]:
    """Lowercased words in order; with `headings`, the KJV's chapter headings and verse numbers go first."""
    if headings:
        lines = (VERSE_NUMBER.sub(" ", line) for line in text.splitlines() if not KJV_HEADING.match(line))
        text = "\n".join(lines)
    return WORD.findall(text.lower())


def vocabulary(words: list[str], num_words: int) -> list[str]:
    counts = Counter(words)
    return sorted(counts, key=lambda w: -counts[w])[:num_words]  # sorted() is stable: first seen wins ties


def skipgram_pairs(ids: np.ndarray, counts: np.ndarray, window: int, negatives: int, subsample: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """([N, 2] int32 word/context pairs, [N] labels) from a stream of word ids; see the module docstring."""
    if subsample > 0:
        freq = counts[ids] / counts.sum()
        keep = np.minimum(1.0, np.sqrt(subsample / freq) + subsample / freq)
        ids = ids[rng.random(len(ids)) < keep]
    words, contexts = [], []
    for offset in range(1, window + 1):
        words += [ids[:-offset], ids[offset:]]
        contexts += [ids[offset:], ids[:-offset]]
    word, context = np.concatenate(words), np.concatenate(contexts)
    noise = counts.astype(np.float64) ** 0.75
    fake = rng.choice(len(counts), size=len(word) * negatives, p=noise / noise.sum())
    x = np.stack([np.concatenate([word, np.repeat(word, negatives)]), np.concatenate([context, fake])], axis=1)
    y = np.concatenate([np.ones(len(word)), np.zeros(len(fake))]).astype(np.int64)
    order = rng.permutation(len(x))
    return x[order].astype(np.int32), y[order]


def load_skipgram(cfg, seed: int) -> RawData:
    if cfg.corpus == "kjv":
        path, source = kjv_text(), "the King James Bible (Debian bible-kjv, public domain)"
    else:
        path, source = Path(cfg.path), cfg.path
        if not path.is_file():
            raise DataError(f"{path}: no such text file; set dataset.path to a plain UTF-8 text file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error}); save it as UTF-8") from None
    words = tokenize(text, headings=cfg.corpus == "kjv")
    vocab = vocabulary(words, cfg.num_words or DEFAULT_NUM_WORDS)
    window = cfg.window or DEFAULT_WINDOW
    negatives = DEFAULT_NEGATIVES if cfg.negative_samples is None else cfg.negative_samples
    subsample = DEFAULT_SUBSAMPLE if cfg.subsample is None else cfg.subsample
    if len(vocab) < 2 or len(words) <= window:
        raise DataError(f"{path}: {len(words)} words, {len(vocab)} distinct; a skip-gram model needs a longer text")
    index = {w: i for i, w in enumerate(vocab)}
    ids = np.array([index[w] for w in words if w in index], dtype=np.int64)
    counts = np.bincount(ids, minlength=len(vocab))
    x, y = skipgram_pairs(ids, counts, window, negatives, subsample, random_generator(seed, 7))
    return RawData(x, y, CLASSIFICATION, "sequence",
                   f"{source}: {len(words):,} words, vocabulary {len(vocab):,}, {len(x):,} skip-gram pairs",
                   num_classes=2, vocabulary=vocab)
