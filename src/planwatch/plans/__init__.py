"""The plan catalogue: plans, sections, indicators, tasks and targets; loading and editing."""
