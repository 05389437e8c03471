"""Writes the small data files committed beside the configs that need several named arrays or text.
Made from a seed, so re-running gives the same files: python examples/keras_reference/make_data.py"""
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def tickets(rng, n=200):
    """The functional-API guide's tickets: title, body (token ids), tags -> priority, department."""
    np.savez_compressed(HERE / "tickets.npz", title_train=rng.integers(1, 1000, (n, 10)).astype("int32"),
                        body_train=rng.integers(1, 1000, (n, 40)).astype("int32"),
                        tags_train=rng.integers(0, 2, (n, 12)).astype("float32"),
                        priority_train=rng.random((n, 1)).astype("float32"),
                        department_train=rng.integers(0, 4, n).astype("int32"))


def pairs(rng, n=200):
    """Siamese pairs: two 8x8 patches, with keras.io's labels for its contrastive loss: 0 when they come
    from the same pattern, 1 when not."""
    base = rng.random((4, 8, 8, 1)).astype("float32")
    a_class, b_class = rng.integers(0, 4, n), rng.integers(0, 4, n)
    noise = lambda: rng.normal(0, 0.1, (n, 8, 8, 1)).astype("float32")  # noqa: E731
    np.savez_compressed(HERE / "pairs.npz", left_train=base[a_class] + noise(), right_train=base[b_class] + noise(),
                        y_train=(a_class != b_class).astype("float32"))


def reviews(rng, n=300):
    """Short 'reviews' whose words say the label: text classification with TextVectorization."""
    good, bad = ["good", "great", "fine", "lovely", "superb"], ["bad", "awful", "poor", "dull", "boring"]
    filler = ["the", "film", "was", "plot", "acting", "very", "and", "a"]
    labels = rng.integers(0, 2, n)
    text = [" ".join(rng.choice((good if y else bad) + filler, 12)) for y in labels]
    np.savez_compressed(HERE / "reviews.npz", text_train=np.array(text), y_train=labels.astype("int32"))


def waves(rng, n=300, steps=128):
    """FordA-like univariate series: two classes of noisy waves of different frequency."""
    labels = rng.integers(0, 2, n)
    t = np.linspace(0, 1, steps)
    x = np.sin(2 * np.pi * (3 + 3 * labels[:, None]) * t + rng.random((n, 1)) * 6) + rng.normal(0, 0.3, (n, steps))
    np.savez_compressed(HERE / "waves.npz", x_train=x[..., None].astype("float32"), y_train=labels.astype("int32"))


if __name__ == "__main__":
    generator = np.random.default_rng(0)
    for make in (tickets, pairs, reviews, waves):
        make(generator)
    print("wrote", ", ".join(p.name for p in sorted(HERE.glob("*.npz"))))
