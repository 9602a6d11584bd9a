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
from planwatch.models.requests import (
    AddressPoint,
    Open311Client,
    RequestEvent,
    RoutingRule,
    ServiceRequest,
    ServiceType,
)
from planwatch.models.surveys import Facility, Survey, SurveyQuestion, SurveyResponse

__all__ = [
    "AddressPoint",
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
    "Facility",
    "Import",
    "ImportFile",
    "Indicator",
    "LockException",
    "LoginAttempt",
    "Milestone",
    "Open311Client",
    "Plan",
    "Population",
    "QualitativeAssessment",
    "RequestEvent",
    "RoutingRule",
    "Section",
    "SecurityEvent",
    "ServiceRequest",
    "ServiceType",
    "SitingRun",
    "Survey",
    "SurveyQuestion",
    "SurveyResponse",
    "Target",
    "Task",
    "User",
    "UserRole",
    "UserScope",
    "ValidationRule",
]
