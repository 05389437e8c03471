"""expkit: a declarative experiment runner for Keras."""
__version__ = "0.1.0"
