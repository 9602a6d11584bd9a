"""planwatch: carry out a city's five-year plan as a measured, accountable system."""

__version__ = "0.1.0"

__all__ = ["__version__"]
