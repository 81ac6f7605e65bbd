"""A workflow drawn from its ASL: every state a box, every transition an arrow (Next, a
Choice's branches and Default, a Catch), a Map a box holding its item processor's states.

Laid out top to bottom in layers: a state's layer is its longest distance from StartAt once
the loops' back edges are set aside (a loop's arrow is drawn up the right side; an arrow
that skips layers — a Catch to a later state — down a lane of its own on the left). Written here
rather than taken from a layout library: the graphs are a dozen states, and the one thing a
library would add — crossing minimisation — matters less than what none of the small ones
does, boxes nested in boxes (a Distributed Map's states inside the Map).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NODE_HEIGHT = 38
LAYER_GAP = 34
NODE_GAP = 26
CHAR_WIDTH = 7.4  # of the page's 13 px sans-serif, near enough
MAP_PADDING = 18
MAP_HEADER = 46  # the Map's title, and its run's progress bar below it
LANE_GAP = 14  # between the lanes on the left that arrows skipping layers take


@dataclass
class _Laid:
    width: float
    height: float
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)


def transitions(state: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, kind, label) of each transition out of a state."""
    found: list[tuple[str, str, str]] = []
    for choice in state.get("Choices", []):
        found.append((choice["Next"], "choice", _condition(choice)))
    if "Default" in state:
        found.append((state["Default"], "default", "otherwise"))
    if "Next" in state:
        found.append((state["Next"], "next", ""))
    for catch in state.get("Catch", []):
        found.append((catch["Next"], "catch", "catch " + ", ".join(catch.get("ErrorEquals", []))))
    return found


def _condition(choice: dict[str, Any]) -> str:
    variable = str(choice.get("Variable", "")).rsplit(".", 1)[-1]
    for key, value in choice.items():
        if key.endswith(("Equals", "LessThan", "GreaterThan")) and not key.endswith("Path"):
            return f"{variable} = {value}" if key.endswith("Equals") else f"{variable} {key} {value}"
        if key in ("IsPresent", "IsNull"):
            return f"{variable} {key} {value}"
    return variable or "condition"


def layout(definition: dict[str, Any]) -> dict[str, Any]:
    """The drawing of a state machine (its ASL as a dict): nodes with absolute positions
    (`parent`: the Map holding a node), edges as polylines."""
    laid = _lay(definition, prefix="")
    return {"width": laid.width, "height": laid.height, "nodes": laid.nodes, "edges": laid.edges}


def _lay(machine: dict[str, Any], prefix: str, parent: str | None = None) -> _Laid:
    states: dict[str, Any] = machine.get("States", {})
    start = machine.get("StartAt")
    layer, back = _layers(states, start)
    inner: dict[str, _Laid] = {}
    sizes: dict[str, tuple[float, float]] = {}
    for name, state in states.items():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        width = max(130.0, len(name) * CHAR_WIDTH + 34)
        if processor:
            inner[name] = _lay(processor, prefix=f"{prefix}{name}/", parent=f"{prefix}{name}")
            width = max(width, inner[name].width + 2 * MAP_PADDING, (len(name) + 18) * CHAR_WIDTH + 24)
            sizes[name] = (width, inner[name].height + MAP_HEADER + MAP_PADDING)
        else:
            sizes[name] = (width, NODE_HEIGHT)
    rows: dict[int, list[str]] = {}
    for name in states:  # the ASL's own order within a layer: it is how the author reads it
        rows.setdefault(layer[name], []).append(name)
    long = [
        (name, target)
        for name, state in states.items()
        for target, _, _ in transitions(state)
        if target in states and (name, target) not in back and layer[target] > layer[name] + 1
    ]
    lanes = {edge: LANE_GAP * (i + 1) for i, edge in enumerate(long)}
    left = LANE_GAP * (len(long) + 1) if long else 0.0
    row_width = {r: sum(sizes[n][0] for n in names) + NODE_GAP * (len(names) - 1) for r, names in rows.items()}
    total_width = max(row_width.values(), default=0.0)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    y = 0.0
    for row in sorted(rows):
        x = left + (total_width - row_width[row]) / 2
        height = max(sizes[n][1] for n in rows[row])
        for name in rows[row]:
            w, h = sizes[name]
            boxes[name] = (x, y, w, h)
            x += w + NODE_GAP
        y += height + LAYER_GAP
    laid = _Laid(left + total_width + 60, max(y - LAYER_GAP, 0.0))  # room on the right for loops
    for name, state in states.items():
        x, y0, w, h = boxes[name]
        laid.nodes.append(
            {
                "id": prefix + name,
                "name": name,
                "type": state.get("Type", ""),
                "parent": parent,
                "x": x,
                "y": y0,
                "w": w,
                "h": h,
                "start": name == start,
                "end": bool(state.get("End")) or state.get("Type") in ("Succeed", "Fail"),
                "comment": state.get("Comment"),
                "distributed": (state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"),
            }
        )
        if name in inner:
            _place(laid, inner[name], x + (w - inner[name].width + 60) / 2, y0 + MAP_HEADER)
        for target, kind, label in transitions(state):
            if target not in boxes:
                continue
            route = "loop" if (name, target) in back else "lane" if (name, target) in lanes else "down"
            laid.edges.append(
                _edge(
                    prefix + name,
                    prefix + target,
                    kind,
                    label,
                    boxes[name],
                    boxes[target],
                    route,
                    left + total_width + 24 if route == "loop" else lanes.get((name, target), 0.0),
                )
            )
    return laid


def _place(into: _Laid, inner: _Laid, dx: float, dy: float) -> None:
    for node in inner.nodes:
        into.nodes.append({**node, "x": node["x"] + dx, "y": node["y"] + dy})
    for edge in inner.edges:
        into.edges.append({**edge, "points": [[x + dx, y + dy] for x, y in edge["points"]]})


def _edge(
    source: str,
    target: str,
    kind: str,
    label: str,
    from_box: tuple[float, float, float, float],
    to_box: tuple[float, float, float, float],
    route: str,
    side: float,
) -> dict[str, Any]:
    """An arrow: straight down (with one bend), up the right side at `side` (a loop), or down
    the lane at `side` on the left (it skips layers)."""
    sx, sy, sw, sh = from_box
    tx, ty, tw, th = to_box
    if route == "loop":
        points = [[sx + sw, sy + sh / 2], [side, sy + sh / 2], [side, ty + th / 2], [tx + tw, ty + th / 2]]
    elif route == "lane":
        points = [[sx, sy + sh / 2], [side, sy + sh / 2], [side, ty + th / 2], [tx, ty + th / 2]]
    else:
        start, end = [sx + sw / 2, sy + sh], [tx + tw / 2, ty]
        middle = (start[1] + end[1]) / 2 if end[1] > start[1] else start[1] + LAYER_GAP / 2
        points = [start, [start[0], middle], [end[0], middle], end]
    return {
        "from": source,
        "to": target,
        "kind": "loop" if route == "loop" else kind,
        "label": label,
        "route": route,
        "points": points,
    }


def _layers(states: dict[str, Any], start: str | None) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Each state's layer (its longest path from `start`, loops aside) and the loops' back edges."""
    back: set[tuple[str, str]] = set()
    order: list[str] = []
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str) -> None:  # depth-first: an edge to a state on the path is a loop
        visiting.add(name)
        for target, _, _ in transitions(states[name]):
            if target not in states:
                continue
            if target in visiting:
                back.add((name, target))
            elif target not in done:
                visit(target)
        visiting.discard(name)
        done.add(name)
        order.append(name)

    if start in states:
        visit(start)
    for name in states:  # unreachable states still get drawn
        if name not in done:
            visit(name)
    layer = dict.fromkeys(states, 0)
    for name in reversed(order):  # a topological order once the back edges are out
        for target, _, _ in transitions(states[name]):
            if target in states and (name, target) not in back:
                layer[target] = max(layer[target], layer[name] + 1)
    return layer, back
