"""expkit: a declarative experiment runner for Keras."""
__version__ = "0.1.0"

_API = ("load_runs", "compare_runs", "train", "resume", "sweep")


def __getattr__(name: str):
    # Lazy, so `import expkit` (and the CLI) stays light: expkit.load_runs loads expkit.api on first use.
    if name in _API:
        from expkit import api
        return getattr(api, name)
    raise AttributeError(f"module 'expkit' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])
