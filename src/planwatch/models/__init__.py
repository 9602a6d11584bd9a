"""Every ORM table of planwatch. Import from here so Alembic sees the whole schema."""

from planwatch.models.base import Base
from planwatch.models.data_value import DataValue
from planwatch.models.division import Division, Population
from planwatch.models.indicator import Indicator, Target
from planwatch.models.plan import CatalogueChange, Department, Milestone, Plan, Section, Task

__all__ = [
    "Base",
    "CatalogueChange",
    "DataValue",
    "Department",
    "Division",
    "Indicator",
    "Milestone",
    "Plan",
    "Population",
    "Section",
    "Target",
    "Task",
]
