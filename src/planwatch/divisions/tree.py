"""An in-memory view of the current division tree for fast descendant look-ups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from planwatch.models.enums import DivisionLevel


@dataclass(frozen=True)
class Node:
    id: int
    code: str
    name_zh: str
    name_en: str | None
    level: DivisionLevel
    parent_id: int | None


class DivisionTree:
    """Parent/child index over one snapshot of divisions."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.nodes: dict[int, Node] = {node.id: node for node in nodes}
        self.by_code: dict[str, Node] = {node.code: node for node in self.nodes.values()}
        self.children: dict[int | None, list[int]] = defaultdict(list)
        for node in self.nodes.values():
            self.children[node.parent_id].append(node.id)

    @property
    def root(self) -> Node | None:
        """The top of the tree (the city), or None for an empty tree."""
        tops = self.children.get(None, [])
        return self.nodes[tops[0]] if tops else None

    def descendants(self, division_id: int, *, level: DivisionLevel | None = None) -> list[Node]:
        """All units below ``division_id`` (not itself), optionally only those at ``level``."""
        out: list[Node] = []
        stack = list(self.children.get(division_id, []))
        while stack:
            node = self.nodes[stack.pop()]
            if level is None or node.level is level:
                out.append(node)
            if level is None or node.level.depth < level.depth:
                stack.extend(self.children.get(node.id, []))
        return sorted(out, key=lambda n: n.code)

    def ancestor_at(self, division_id: int, level: DivisionLevel) -> Node | None:
        node: Node | None = self.nodes.get(division_id)
        while node is not None and node.level is not level:
            node = self.nodes.get(node.parent_id) if node.parent_id is not None else None
        return node

    def path(self, division_id: int) -> list[Node]:
        """From the root down to ``division_id``."""
        out: list[Node] = []
        node: Node | None = self.nodes.get(division_id)
        while node is not None:
            out.append(node)
            node = self.nodes.get(node.parent_id) if node.parent_id is not None else None
        return out[::-1]
