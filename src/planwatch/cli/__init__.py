"""The ``planwatch`` command line (Typer + Rich)."""
