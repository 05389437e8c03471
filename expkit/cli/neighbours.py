"""`expkit neighbours RUN WORD...`: nearest words in a run's learned embedding."""
from __future__ import annotations

from pathlib import Path

from expkit.errors import ExpkitError


def add_parser(sub) -> None:
    parser = sub.add_parser("neighbours", aliases=["neighbors"],
                            help="the nearest words to WORD in a run's word embedding (cosine similarity)")
    parser.add_argument("run", type=Path, help="a completed run trained on a text dataset (e.g. skipgram)")
    parser.add_argument("words", nargs="+", metavar="WORD", help="one or more words")
    parser.add_argument("-k", "--k", type=int, default=10, help="how many neighbours (default 10)")
    parser.add_argument("--layer", help="the Embedding layer to read (default: the first, the word vectors)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    if args.k < 1:
        raise ExpkitError(f"--k {args.k}: expected at least 1")
    from expkit.serving.neighbours import load_vectors, nearest
    vectors, vocab, layer = load_vectors(args.run, args.layer)
    results = [(word, nearest(vectors, vocab, word.lower(), args.k)) for word in args.words]
    for word, found in results:
        print(f"{word} ({layer}):  " + ", ".join(f"{w} {s:.3f}" for w, s in found))
    return 0
