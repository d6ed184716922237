"""The package version, in a leaf module: the Crossref client names it in its User-Agent
without importing the package (which would import everything the package exports)."""

__version__ = "0.1.0"
