"""`expkit neighbours RUN WORD...`: the words whose learned vectors are nearest, by cosine similarity.

The vectors are the rows of one Embedding layer of the run's model (loaded in Keras' safe mode):
by default the first Embedding layer, the one a skip-gram model's word input feeds; `--layer`
names another (its context vectors, say). The vocabulary is the one training saved in
preprocessing.json, so row i is the i-th word of that list.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from expkit.errors import ExpkitError, suggest
from expkit.runstore import RunFolder


def load_vectors(run_dir: Path, layer: str | None = None) -> tuple[np.ndarray, list[str], str]:
    """(unit-length vectors [V, D], vocabulary, the layer's name)."""
    from expkit.serving.export import load_run_model
    vocab = (RunFolder(run_dir).read_preprocessing() or {}).get("vocabulary")
    if not vocab:
        raise ExpkitError(f"{run_dir}: the run saved no vocabulary (preprocessing.json has none): neighbours needs "
                          "a run trained on a text dataset, such as configs/kjv_skipgram.yaml")
    model = load_run_model(run_dir)
    embeddings = [lay for lay in model.layers if type(lay).__name__ == "Embedding"]
    if layer is not None:
        names = [lay.name for lay in model.layers]
        chosen = [lay for lay in embeddings if lay.name == layer]
        if not chosen:
            raise ExpkitError(f"--layer {layer}: the model has no Embedding layer of that name{suggest(layer, names)}; "
                              f"its Embedding layers: {', '.join(e.name for e in embeddings) or 'none'}")
        embeddings = chosen
    if not embeddings:
        raise ExpkitError(f"{run_dir}: the model has no Embedding layer, so it holds no word vectors")
    weights = np.asarray(embeddings[0].get_weights()[0], dtype=np.float64)
    weights = weights[:len(vocab)]
    norms = np.linalg.norm(weights, axis=1, keepdims=True)
    return weights / np.maximum(norms, 1e-12), list(vocab), embeddings[0].name


def nearest(vectors: np.ndarray, vocab: list[str], word: str, k: int) -> list[tuple[str, float]]:
    """The k words most similar to `word` (itself excluded), with their cosine similarities."""
    index = {w: i for i, w in enumerate(vocab)}
    if word not in index:
        raise ExpkitError(f"'{word}' is not in the run's vocabulary of {len(vocab):,} words"
                          f"{suggest(word, vocab)}; words are lowercase")
    similarity = vectors @ vectors[index[word]]
    similarity[index[word]] = -np.inf
    best = np.argsort(-similarity, kind="stable")[:k]
    return [(vocab[i], float(similarity[i])) for i in best]
