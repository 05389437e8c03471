"""Training: a loaded config -> a complete run folder. `prepare` finds every input error before a folder
exists; `train` runs fit and evaluation and records the outcome."""
from expkit.training.run import Prepared, prepare, resume, train

__all__ = ["Prepared", "prepare", "resume", "train"]
