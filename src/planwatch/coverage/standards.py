"""Life-circle standards as data: which facilities residents should reach, how far, by what mode.

A standard file (format ``planwatch.standard/v1``) lists *circles*: a travel threshold by mode,
the age band whose population weights the result, the facility types to reach and how they
combine, and where each number comes from (clause, verification mark, source). Facility types
live in their own file (``planwatch.facility-types/v1``). The built-in files sit in
``coverage/standards/`` beside this module and are registered here like any other; a city passes
its own files to ``load_standards``, which replace a built-in standard with the same ``code`` or
add new ones. The format is documented in docs/coverage-standards.md.

The loader only reads and checks; the coverage engine turns a ``Circle`` into network searches.

Examples
--------
>>> standards = load_standards()
>>> circle = standards.circle("gb50180_5min")
>>> circle.mode, circle.weight, circle.cutoff
('walk', 'length', 300.0)
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from planwatch.coverage.network import Mode, Weight
from planwatch.coverage.travel import Direction
from planwatch.errors import CatalogueError, NotFoundError, Problem

__all__ = [
    "FACILITY_TYPES_FORMAT",
    "STANDARD_FORMAT",
    "Circle",
    "Direction",
    "FacilityRequirement",
    "FacilityType",
    "Group",
    "Measure",
    "Rule",
    "Standard",
    "StandardSet",
    "Threshold",
    "ThresholdKind",
    "Verified",
    "builtin_standard_files",
    "load_standards",
    "register_standard_file",
]

STANDARD_FORMAT: Final = "planwatch.standard/v1"
FACILITY_TYPES_FORMAT: Final = "planwatch.facility-types/v1"
_FORMATS: Final = (STANDARD_FORMAT, FACILITY_TYPES_FORMAT)
_DOC: Final = "docs/coverage-standards.md"

Group = Literal["total", "0-14", "60+", "65+"]
"""The age band whose resident population weights a circle's share."""
Rule = Literal["each", "all", "any"]
"""``each``: one share per facility type; ``all``: residents reaching every required type;
``any``: residents reaching at least one listed type."""
Measure = Literal["share", "area_per_resident"]
"""``share`` of the group within reach, or capacitated ``area_per_resident`` (shelters)."""
Verified = Literal["checked", "secondary", "unverified"]
"""``checked``: read in the official text; ``secondary``: seen in a cited secondary source;
``unverified``: from memory."""
ThresholdKind = Literal["distance_m", "minutes"]

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Text = Annotated[str, Field(min_length=1)]
Positive = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
"""A finite number above zero, written as a number (``"300"`` and ``true`` are refused)."""


class _Frozen(BaseModel):
    # A misspelt field must stop the load, not vanish.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FacilityType(_Frozen):
    """A kind of facility residents reach (``kindergarten`` 幼儿园, ``shelter`` 应急避难场所 …)."""

    code: Code
    name: Text
    """Chinese name."""
    name_en: Text
    capacity_unit: str | None = None
    """What a facility's capacity is counted in (学位, 床位, 平方米 有效避难面积), if anything."""
    group: Group | None = None
    """The age band the type serves by default; ``None`` means everyone."""


class FacilityRequirement(_Frozen):
    """One facility type a circle asks for, with where the standard lists it."""

    type: Code
    required: bool = True
    """``False``: listed by the standard but optional; reported, not part of ``rule: all``."""
    clause: str | None = None
    verified: Verified = "unverified"
    note: str | None = None


class Threshold(_Frozen):
    """How far a circle reaches: network metres or minutes at the mode's speed, never both."""

    distance_m: Positive | None = None
    minutes: Positive | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Threshold:
        if (self.distance_m is None) == (self.minutes is None):
            given = "both" if self.distance_m is not None else "neither"
            msg = (
                f"give exactly one of distance_m (network metres) or minutes (at the mode's speed); "
                f"{given} given, e.g. {{distance_m: 1000}} or {{minutes: 15}}"
            )
            raise ValueError(msg)
        return self


class Circle(_Frozen):
    """A life circle: residents of ``group`` within ``threshold`` by ``mode`` of ``facilities``."""

    code: Code
    """Unique across all loaded files."""
    name: Text
    name_en: Text
    mode: Mode
    threshold: Threshold
    range_m: tuple[Positive, Positive] | None = None
    """The standard's distance range when it gives one; the threshold is its upper bound."""
    direction: Direction = "to_facility"
    group: Group = "total"
    rule: Rule = "each"
    measure: Measure = "share"
    per_resident_m2: Positive | None = Field(default=None, validate_default=True)
    """``area_per_resident`` only: minimum effective area per person; a facility of area A
    serves at most A / per_resident_m2 residents within reach."""
    facilities: tuple[FacilityRequirement, ...] = Field(min_length=1)
    indicator: Code | None = None
    """The catalogue indicator this circle's result is written to, if any."""
    clause: Text
    verified: Verified
    source: Text
    note: str | None = None

    @field_validator("range_m")
    @classmethod
    def _range(cls, value: tuple[float, float] | None, info: ValidationInfo) -> tuple[float, float] | None:
        if value is None:
            return value
        low, high = value
        if low > high:
            msg = f"write the range low to high, e.g. [{high:g}, {low:g}]"
            raise ValueError(msg)
        threshold = info.data.get("threshold")
        if isinstance(threshold, Threshold):
            if threshold.distance_m is None:
                msg = "range_m goes with threshold.distance_m; for a range of minutes, say so in note"
                raise ValueError(msg)
            if threshold.distance_m != high:
                msg = f"the threshold is the range's upper bound: set threshold.distance_m to {high:g} or fix range_m"
                raise ValueError(msg)
        return value

    @field_validator("per_resident_m2")
    @classmethod
    def _per_resident(cls, value: float | None, info: ValidationInfo) -> float | None:
        measure = info.data.get("measure")
        if measure == "area_per_resident" and value is None:
            msg = "measure 'area_per_resident' needs per_resident_m2, the minimum effective area per person (e.g. 2.0)"
            raise ValueError(msg)
        if measure == "share" and value is not None:
            msg = "per_resident_m2 applies only to measure 'area_per_resident'; remove it or change measure"
            raise ValueError(msg)
        return value

    @field_validator("facilities")
    @classmethod
    def _distinct(
        cls, value: tuple[FacilityRequirement, ...], info: ValidationInfo
    ) -> tuple[FacilityRequirement, ...]:
        seen: set[str] = set()
        for requirement in value:
            if requirement.type in seen:
                msg = f"facility type {requirement.type!r} is listed twice; keep one entry"
                raise ValueError(msg)
            seen.add(requirement.type)
        if info.data.get("rule") == "all" and not any(requirement.required for requirement in value):
            # with nothing required, every resident would count as reaching "all"
            msg = "rule 'all' needs at least one facility with required: true"
            raise ValueError(msg)
        return value

    @field_validator("indicator")
    @classmethod
    def _one_result(cls, value: str | None, info: ValidationInfo) -> str | None:
        facilities = info.data.get("facilities") or ()
        if value is not None and info.data.get("rule") == "each" and len(facilities) > 1:
            msg = (
                "rule 'each' gives one share per facility type, but an indicator takes one value; "
                "use rule 'all' or 'any', or drop the indicator"
            )
            raise ValueError(msg)
        return value

    @property
    def threshold_kind(self) -> ThresholdKind:
        """``distance_m`` or ``minutes``: which of the two the threshold gives."""
        return "distance_m" if self.threshold.distance_m is not None else "minutes"

    @property
    def threshold_value(self) -> float:
        """The threshold in its own unit (metres or minutes)."""
        value = self.threshold.distance_m if self.threshold.distance_m is not None else self.threshold.minutes
        assert value is not None  # noqa: S101 - Threshold guarantees exactly one
        return value

    @property
    def unit(self) -> str:
        """``m`` or ``min``: the unit of the threshold and of every cost reported for the circle."""
        return "m" if self.threshold_kind == "distance_m" else "min"

    @property
    def weight(self) -> Weight:
        """The network edge weight to search on: ``length`` for metres, ``time`` for minutes."""
        return "length" if self.threshold_kind == "distance_m" else "time"

    @property
    def cutoff(self) -> float:
        """The threshold in the unit of ``weight`` on the network: metres, or seconds."""
        return self.threshold_value if self.weight == "length" else self.threshold_value * 60.0

    @property
    def facility_codes(self) -> tuple[str, ...]:
        """Every listed facility type, in file order."""
        return tuple(requirement.type for requirement in self.facilities)

    @property
    def required_codes(self) -> tuple[str, ...]:
        """The types marked ``required``: the ones ``rule: all`` needs."""
        return tuple(requirement.type for requirement in self.facilities if requirement.required)


class Standard(_Frozen):
    """One standard or plan: its header and its circles."""

    code: Code
    title: Text
    title_en: Text
    issued_by: Text
    effective: dt.date
    status: Text
    """A note on the standard's status (in force, recommended, superseded …)."""
    source: str | None = None
    note: str | None = None
    circles: tuple[Circle, ...] = Field(min_length=1)


class _FacilityTypesFile(_Frozen):
    types: tuple[FacilityType, ...] = Field(min_length=1)


@dataclass(frozen=True)
class StandardSet:
    """Every standard in force for a city, with the facility types they refer to.

    Attributes
    ----------
    standards
        By standard code, built-ins first, then the city's additions.
    facility_types
        By facility type code.
    files
        The file each standard came from, by standard code.
    """

    standards: Mapping[str, Standard]
    facility_types: Mapping[str, FacilityType]
    files: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def circles(self) -> Mapping[str, Circle]:
        """Every circle by code, in file order."""
        return MappingProxyType({c.code: c for s in self.standards.values() for c in s.circles})

    def circle(self, code: str) -> Circle:
        """The circle with this code; ``NotFoundError`` names the known ones."""
        try:
            return self.circles[code]
        except KeyError:
            known = ", ".join(self.circles)
            raise NotFoundError(f"no life circle {code!r}; known circles: {known}") from None

    def standard_of(self, circle_code: str) -> Standard:
        """The standard a circle belongs to."""
        circle = self.circle(circle_code)
        return next(s for s in self.standards.values() if circle in s.circles)

    def circles_for_indicator(self, indicator: str) -> tuple[Circle, ...]:
        """The circles whose result is written to this catalogue indicator."""
        return tuple(c for c in self.circles.values() if c.indicator == indicator)

    def facility_types_used(self) -> tuple[str, ...]:
        """Codes of the facility types some circle lists, in facility-type file order."""
        used = {code for circle in self.circles.values() for code in circle.facility_codes}
        return tuple(code for code in self.facility_types if code in used)


# —— registry of built-in files ——

_BUILTIN_DIR: Final = Path(__file__).with_suffix("")
_BUILTIN_FILES: dict[Path, None] = {}  # an ordered set


def register_standard_file(path: Path) -> None:
    """Add a file to the built-in layer that every ``load_standards`` call reads.

    The files shipped with planwatch are registered this way; a plugin can ship more. A city's own
    files are passed to ``load_standards`` instead, so they can replace built-in standards.
    """
    _BUILTIN_FILES[Path(path)] = None


def builtin_standard_files() -> tuple[Path, ...]:
    """The registered built-in files, in registration order."""
    return tuple(_BUILTIN_FILES)


for _name in ("facility_types.yaml", "gb50180-2018.yaml", "tdt1062-2021.yaml", "chengdu-14fyp.yaml"):
    register_standard_file(_BUILTIN_DIR / _name)


# —— loading ——


@dataclass
class _Layer:
    """The files of one layer (built-in or the city's), parsed and keyed by code."""

    standards: dict[str, tuple[Standard, str]] = field(default_factory=dict)
    types: dict[str, tuple[FacilityType, str]] = field(default_factory=dict)


def load_standards(paths: Sequence[Path] | None = None) -> StandardSet:
    """Read the built-in standard files, then a city's own files over them.

    Parameters
    ----------
    paths
        The city's files (``planwatch.standard/v1`` or ``planwatch.facility-types/v1``) or
        folders of ``*.yaml`` / ``*.yml`` files. A standard with the code of a built-in one
        replaces it whole; a facility type with a built-in code replaces that type; anything
        else is added. ``None`` or empty: the built-in files only.

    Returns
    -------
    StandardSet
        Every standard and facility type, checked against each other.

    Raises
    ------
    CatalogueError
        Listing every problem in every file (file, circle, field and the fix); nothing is loaded.
    """
    problems: list[Problem] = []
    builtin = _read_layer(builtin_standard_files(), problems)
    city = _read_layer(_expand(paths or (), problems), problems)

    types = {**builtin.types, **city.types}
    standards = {**builtin.standards, **city.standards}
    problems.extend(_cross_check(standards, types))
    if problems:
        raise CatalogueError(problems)
    return StandardSet(
        standards=MappingProxyType({code: s for code, (s, _) in standards.items()}),
        facility_types=MappingProxyType({code: t for code, (t, _) in types.items()}),
        files=MappingProxyType({code: name for code, (_, name) in standards.items()}),
    )


def _expand(paths: Iterable[Path], problems: list[Problem]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".yaml", ".yml"))
            if not found:
                problems.append(Problem(str(path), "", "", "folder holds no .yaml or .yml file"))
            files.extend(found)
        else:
            files.append(path)
    return files


def _read_layer(paths: Iterable[Path], problems: list[Problem]) -> _Layer:
    layer = _Layer()
    for path in paths:
        name = str(path)
        parsed = _read_file(path, problems)
        if isinstance(parsed, Standard):
            if parsed.code in layer.standards:
                other = layer.standards[parsed.code][1]
                problems.append(
                    Problem(
                        name,
                        "(top level)",
                        "code",
                        f"standard {parsed.code!r} is also in {other}; give each file its own code",
                    )
                )
            else:
                layer.standards[parsed.code] = (parsed, name)
        elif isinstance(parsed, _FacilityTypesFile):
            for index, facility_type in enumerate(parsed.types):
                if facility_type.code in layer.types:
                    other = layer.types[facility_type.code][1]
                    problems.append(
                        Problem(
                            name,
                            f"types[{index}] ({facility_type.code})",
                            "code",
                            f"facility type {facility_type.code!r} is defined twice (also in {other}); keep one",
                        )
                    )
                else:
                    layer.types[facility_type.code] = (facility_type, name)
    return layer


def _read_file(path: Path, problems: list[Problem]) -> Standard | _FacilityTypesFile | None:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problems.append(Problem(name, "", "", "no such file; check the path"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, "", "", f"not UTF-8 text ({exc.reason}); save the file as UTF-8"))
        return None
    except OSError as exc:
        problems.append(
            Problem(name, "", "", f"not a readable file ({exc.strerror}); give the path of a YAML file")
        )
        return None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem(name, where, "", f"not valid YAML: {reason}"))
        return None
    if not isinstance(raw, dict):
        problems.append(Problem(name, "", "", "the file must hold a mapping that starts with format: …"))
        return None
    fmt = raw.pop("format", None)
    if fmt not in _FORMATS:
        wanted = " or ".join(repr(f) for f in _FORMATS)
        problems.append(Problem(name, "(top level)", "format", f"must be {wanted} (got {fmt!r})"))
        return None
    model: type[Standard | _FacilityTypesFile] = Standard if fmt == STANDARD_FORMAT else _FacilityTypesFile
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problem_from_error(name, raw, err) for err in exc.errors() if not _echo(err))
        return None


def _echo(err: Any) -> bool:
    """A list reported too short only because its bad items were dropped: already reported."""
    if err["type"] != "too_short" or not isinstance(err.get("input"), list):
        return False
    return len(err["input"]) >= int((err.get("ctx") or {}).get("min_length", 0))


def _problem_from_error(name: str, raw: dict[str, Any], err: Any) -> Problem:
    loc: tuple[Any, ...] = tuple(err["loc"])
    # The entry is a circle or a facility type (circles[2] (gb50180_5min)); the rest is the field.
    if len(loc) >= 2 and loc[0] in ("circles", "types") and isinstance(loc[1], int):
        entry = f"{loc[0]}[{loc[1]}]"
        node = _follow(raw, loc[:2])
        if isinstance(node, dict) and "code" in node:
            entry += f" ({node['code']})"
        rest = loc[2:]
    else:
        entry, rest = "(top level)", loc
    field_name = ""
    for part in rest:
        field_name += f"[{part}]" if isinstance(part, int) else (f".{part}" if field_name else str(part))
    return Problem(name, entry, field_name, _message(err))


def _message(err: Any) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"unknown field; check the spelling against {_DOC}"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')} (got {value!r})"
    if kind == "greater_than":
        return f"must be a positive number (got {value!r})"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    message = str(err["msg"])
    if value is None or isinstance(value, str | int | float | bool):
        message += f" (got {value!r})"
    return message


def _follow(raw: Any, path: tuple[Any, ...]) -> Any:
    node = raw
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _cross_check(
    standards: Mapping[str, tuple[Standard, str]], types: Mapping[str, tuple[FacilityType, str]]
) -> list[Problem]:
    """Checks that need every file: circle codes unique, facility types known."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for standard, name in standards.values():
        for index, circle in enumerate(standard.circles):
            entry = f"circles[{index}] ({circle.code})"
            if circle.code in seen:
                message = f"circle code {circle.code!r} is already used in {seen[circle.code]}; circle codes are unique across all files, rename one"
                problems.append(Problem(name, entry, "code", message))
            else:
                seen[circle.code] = name
            for position, requirement in enumerate(circle.facilities):
                if requirement.type not in types:
                    problems.append(
                        Problem(
                            name,
                            entry,
                            f"facilities[{position}].type",
                            _unknown_type(requirement.type, types),
                        )
                    )
    return problems


def _unknown_type(code: str, types: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(code, list(types), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"unknown facility type {code!r}; {hint}use a code from coverage/standards/facility_types.yaml "
        f"or add the type in a file of format {FACILITY_TYPES_FORMAT!r}"
    )
