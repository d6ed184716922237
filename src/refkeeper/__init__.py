"""refkeeper: a reference desk for editors of evidence-based writing."""

__version__ = "0.1.0"
