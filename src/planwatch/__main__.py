"""``python -m planwatch`` runs the command line."""

from planwatch.cli.main import app

app(prog_name="planwatch")
