"""Who handles a request (派单): the most specific routing rule for its type and division, else
the type's own department. A rule on a division covers every division below it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.divisions.service import division_tree
from planwatch.divisions.tree import DivisionTree
from planwatch.models import Department, RoutingRule, ServiceType
from planwatch.models.enums import DivisionLevel
from planwatch.service_requests.catalogue import government_code


@dataclass(frozen=True)
class Rule:
    service_type_id: int | None
    division_id: int | None
    department_id: int | None
    district_government: bool
    street_office: bool = False


class Router:
    """The routing table of one database snapshot; pure look-ups after construction."""

    def __init__(
        self,
        rules: list[Rule],
        type_departments: dict[int, int],
        departments: dict[str, int],
        tree: DivisionTree,
    ) -> None:
        self.rules = rules
        self.type_departments = type_departments
        self.departments = departments
        self.tree = tree

    @classmethod
    def from_session(cls, session: Session) -> Router:
        rules = [
            Rule(r.service_type_id, r.division_id, r.department_id, r.district_government, r.street_office)
            for r in session.scalars(select(RoutingRule))
        ]
        types = dict(session.execute(select(ServiceType.id, ServiceType.department_id)).all())
        departments = dict(session.execute(select(Department.code, Department.id)).all())
        return cls(rules, types, departments, division_tree(session))

    def department_for(self, service_type_id: int, division_id: int) -> int:
        """The department to dispatch a request of ``service_type_id`` located in ``division_id``.

        Specificity: a rule for the type in the division (the deepest division on the path wins),
        then a rule for the type anywhere, then a rule for any type in the division, then the
        type's own department.
        """
        path = [n.id for n in self.tree.path(division_id)]
        depth = {id_: i for i, id_ in enumerate(path)}
        best: tuple[int, Rule] | None = None
        for rule in self.rules:
            if rule.service_type_id not in (None, service_type_id):
                continue
            if rule.division_id is not None and rule.division_id not in depth:
                continue
            score = (2 if rule.service_type_id is not None else 0) * 100
            score += 50 + depth[rule.division_id] if rule.division_id is not None else 0
            if rule.service_type_id is None and rule.division_id is None:
                continue
            if best is None or score > best[0]:
                best = (score, rule)
        own = self.type_departments[service_type_id]
        if best is None:
            return own
        rule = best[1]
        if not (rule.district_government or rule.street_office):
            return rule.department_id if rule.department_id is not None else own
        district = self.tree.ancestor_at(division_id, DivisionLevel.district)
        street = self.tree.ancestor_at(division_id, DivisionLevel.street) if rule.street_office else None
        # a request placed above its street goes to its district's government; one placed at the
        # city only, to its type's own department
        for unit in (street, district):
            if unit is not None and government_code(unit.code) in self.departments:
                return self.departments[government_code(unit.code)]
        return own
