"""The organisation tree (组织机构): provinces, sub-platforms, member units, districts, towns, villages and grids,
loaded once per query or scan. KPIs and reports roll figures up along it, early warning puts a ticket's location
unit into its area; one index for both."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.db import models as m
from agent_desk.errors import DeskError

# What an early-warning area is made of: a town (乡镇/街道), or a county (a district or a county-level city).
AREA_KINDS = {"town": ("town",), "county": ("district", "subplatform")}
SUBPLATFORM_SUFFIX = "12345热线分平台"


@dataclass(frozen=True)
class Node:
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    subplatform: str | None = None


class OrgIndex:
    def __init__(self, nodes: Iterable[Node]):
        self.nodes = {n.id: n for n in nodes}
        self.by_code = {n.code: n.id for n in self.nodes.values()}
        self.children: dict[int | None, list[int]] = {}
        for n in self.nodes.values():
            self.children.setdefault(n.parent_id, []).append(n.id)

    @classmethod
    def load(cls, session: Session) -> OrgIndex:
        rows = session.execute(select(m.OrgUnit.id, m.OrgUnit.code, m.OrgUnit.name, m.OrgUnit.kind,
                                      m.OrgUnit.parent_id, m.OrgUnit.subplatform))
        return cls(Node(*row) for row in rows)

    def chain(self, node_id: int) -> list[int]:
        """The node and its ancestors, nearest first."""
        out, seen = [], set()
        current: int | None = node_id
        while current is not None and current in self.nodes and current not in seen:
            seen.add(current)
            out.append(current)
            current = self.nodes[current].parent_id
        return out

    def subtree(self, node_id: int) -> set[int]:
        out, stack = set(), [node_id]
        while stack:
            current = stack.pop()
            if current not in out:
                out.add(current)
                stack.extend(self.children.get(current, ()))
        return out

    def roots(self) -> list[int]:
        return [i for i in self.children.get(None, [])]

    def id_of(self, code: str) -> int:
        if code not in self.by_code:
            raise DeskError(422, "unknown_unit", f"单位“{code}”不存在")
        return self.by_code[code]

    def has_children(self, node_id: int, kinds: frozenset[str] | None = None) -> bool:
        return any(kinds is None or self.nodes[c].kind in kinds for c in self.children.get(node_id, ()))

    # ── areas (early warning) ───────────────────────────────────────────────
    def area_of(self, unit_id: int | None, level: str) -> Node | None:
        """The town or county (``level``) a location unit lies in."""
        node = self.nodes.get(unit_id) if unit_id is not None else None
        for node_id in self.chain(node.id) if node is not None else []:
            if self.nodes[node_id].kind in AREA_KINDS[level]:
                return self.nodes[node_id]
        return None

    def display_name(self, node: Node) -> str:
        return node.name.removesuffix(SUBPLATFORM_SUFFIX) if node.kind == "subplatform" else node.name

    def names_around(self, node: Node) -> list[str]:
        """The area's name and its ancestors' (嘉积镇, 琼海市): shared by every ticket there, never a keyword."""
        return [self.display_name(self.nodes[i]) for i in self.chain(node.id)]
