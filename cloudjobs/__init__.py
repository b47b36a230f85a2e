"""cloudjobs: batch jobs over what every site uploaded (lake, reports, model training)."""

__version__ = "0.1.0"
