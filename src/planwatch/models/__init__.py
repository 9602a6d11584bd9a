"""Every ORM table of planwatch. Import from here so Alembic sees the whole schema."""

from planwatch.models.account import (
    ApiToken,
    AuditChainHead,
    AuthSession,
    LoginAttempt,
    SecurityEvent,
    User,
    UserRole,
    UserScope,
)
from planwatch.models.base import Base
from planwatch.models.coverage import CoverageDivisionResult, CoverageRun, SitingRun
from planwatch.models.data_value import (
    Approval,
    DataValue,
    DataValueAudit,
    Import,
    ImportFile,
    LockException,
    ValidationRule,
)
from planwatch.models.division import Division, Population
from planwatch.models.evaluation import EvaluationRound, EvaluationRoundTarget, QualitativeAssessment
from planwatch.models.indicator import Indicator, Target
from planwatch.models.plan import CatalogueChange, Department, Milestone, Plan, Section, Task

__all__ = [
    "ApiToken",
    "Approval",
    "AuditChainHead",
    "AuthSession",
    "Base",
    "CatalogueChange",
    "CoverageDivisionResult",
    "CoverageRun",
    "DataValue",
    "DataValueAudit",
    "Department",
    "Division",
    "EvaluationRound",
    "EvaluationRoundTarget",
    "Import",
    "ImportFile",
    "Indicator",
    "LockException",
    "LoginAttempt",
    "Milestone",
    "Plan",
    "Population",
    "QualitativeAssessment",
    "Section",
    "SecurityEvent",
    "SitingRun",
    "Target",
    "Task",
    "User",
    "UserRole",
    "UserScope",
    "ValidationRule",
]
