"""``edge zones draw``'s drawing state, apart from the window so it can be tested headless.

Clicks add corners (normalised to the picture); a key turns the corners clicked so far
into a shape: ``z`` a zone (3+ corners), ``l`` a line (the last 2), ``m`` a detection
mask, ``n`` a motion mask (3+ each); ``u`` undoes the last corner, or the last shape when
no corner is pending. ``toml()`` is what to paste into the config: names are ``zone1``,
``line1``... to rename there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.config.zones import LineConfig, MaskConfig, ZoneConfig

KEYS_HELP = "click: corner  z: zone  l: line  m: mask  n: motion mask  u: undo  q/Esc: done"


@dataclass
class Sketch:
    corners: list[tuple[float, float]] = field(default_factory=list)
    zones: list[ZoneConfig] = field(default_factory=list)
    lines: list[LineConfig] = field(default_factory=list)
    masks: list[MaskConfig] = field(default_factory=list)
    _order: list[str] = field(default_factory=list)  # kinds of the shapes, for undo
    message: str = KEYS_HELP

    def click(self, x: float, y: float) -> None:
        self.corners.append((round(min(max(x, 0.0), 1.0), 3), round(min(max(y, 0.0), 1.0), 3)))

    def key(self, char: str) -> None:
        points = [list(p) for p in self.corners]
        if char == "z" and len(points) >= 3:
            name = f"zone{len(self.zones) + 1}"
            self.zones.append(ZoneConfig.model_validate({"name": name, "points": points}))
            self._done("zones", f"{name} added")
        elif char == "l" and len(points) >= 2:
            name = f"line{len(self.lines) + 1}"
            self.lines.append(LineConfig.model_validate({"name": name, "points": points[-2:]}))
            self._done("lines", f"{name} added (arrow: the in side)")
        elif char in ("m", "n") and len(points) >= 3:
            kind = "detections" if char == "m" else "motion"
            self.masks.append(MaskConfig.model_validate({"points": points, "applies_to": kind}))
            self._done("masks", f"{kind} mask added")
        elif char == "u":
            self._undo()
        elif char in ("z", "l", "m", "n"):
            self.message = "click more corners first (a line needs 2, a polygon 3)"

    def toml(self) -> str:
        out: list[str] = []
        for zone in self.zones:
            out += ["[[zones]]", f'name = "{zone.name}"', f"points = {_points(zone.points)}", ""]
        for line in self.lines:
            out += ["[[lines]]", f'name = "{line.name}"', f"points = {_points(line.points)}", ""]
        for mask in self.masks:
            out += [
                "[[masks]]",
                f'applies_to = "{mask.applies_to}"',
                f"points = {_points(mask.points)}",
                "",
            ]
        return "\n".join(out) if out else "# nothing drawn\n"

    def _done(self, kind: str, message: str) -> None:
        self._order.append(kind)
        self.corners.clear()
        self.message = message

    def _undo(self) -> None:
        if self.corners:
            self.corners.pop()
        elif self._order:
            getattr(self, self._order.pop()).pop()
        self.message = "undone"


def _points(points: list[list[float]]) -> str:
    return "[" + ", ".join(f"[{x:g}, {y:g}]" for x, y in points) + "]"
