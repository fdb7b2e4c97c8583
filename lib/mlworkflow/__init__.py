"""mlworkflow: a notebook-driven tabular ML workflow."""

__version__ = "0.1.0"
