"""``edge zones check CONFIG`` and ``edge zones draw``: see the zones before trusting them.

``check`` renders the config's zones, lines and masks over a snapshot from its source
and saves the picture (and lists each zone's share of the frame); ``draw`` opens a window
on a source's snapshot where clicks place corners, and prints the TOML to paste into the
config (``edge.zones.sketch``). docs/zones.md shows both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.errors import EXIT_OK, ConfigError

DESCRIPTION = __doc__.split("\n\n")[1]
WINDOW = "edge zones draw"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    zones = commands.add_parser(
        "zones", help="check or draw zones, lines and masks", description=DESCRIPTION
    )
    actions = zones.add_subparsers(dest="zones_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="render the config's zones over a snapshot")
    check.add_argument("config", type=Path, help="TOML config file")
    check.add_argument(
        "--out", type=Path, default=Path("zones.png"), help="picture to save (zones.png)"
    )
    check.set_defaults(handler=handle)
    draw = actions.add_parser("draw", help="draw zones with the mouse; prints their TOML")
    draw.add_argument("--source", help="as edge run's --source (default: the config's)")
    draw.add_argument("--config", type=Path, help="show this config's zones to start with")
    draw.add_argument("--out", type=Path, help="also write the TOML here")
    draw.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return _check(args) if args.zones_command == "check" else _draw(args)


def _check(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from edge.config.load import load_config
    from edge.zones.draw import ZoneOverlay
    from edge.zones.snapshot import snapshot

    config = load_config(args.config)
    if not (config.zones or config.lines or config.masks):
        raise ConfigError(
            f"{args.config} has no [[zones]], [[lines]] or [[masks]]",
            hint="edge zones draw --source ... prints some to paste in",
        )
    image = snapshot(config.source)
    canvas = np.ascontiguousarray(
        image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), np.uint8
    )
    ZoneOverlay(config.zones, config.lines, config.masks)(canvas)
    if not cv2.imwrite(str(args.out), canvas):
        raise ConfigError(f"cannot write {args.out}", hint="use a .png or .jpg path")
    for zone in config.zones:
        print(
            f"zone {zone.name}: {_area(zone.points):.1%} of the frame, anchor {zone.anchor}, "
            f"inertia {zone.inertia}, labels {', '.join(zone.labels) if zone.labels else 'all'}"
        )
    for line in config.lines:
        print(f"line {line.name}: {line.points[0]} -> {line.points[1]}, in side {line.in_side}")
    for mask in config.masks:
        print(f"mask ({mask.applies_to}): {_area(mask.points):.1%} of the frame")
    print(f"saved {args.out} ({canvas.shape[1]}x{canvas.shape[0]})")
    return EXIT_OK


def _draw(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from edge.config.load import load_config
    from edge.observers.preview import GUI_HINT, check_display
    from edge.sources import parse_source_spec
    from edge.zones.draw import ZoneOverlay
    from edge.zones.sketch import Sketch
    from edge.zones.snapshot import snapshot

    overrides = {"source": parse_source_spec(args.source)} if args.source else None
    config = load_config(args.config, overrides)
    check_display()
    image = snapshot(config.source)
    base = np.ascontiguousarray(
        image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), np.uint8
    )
    h, w = base.shape[:2]
    sketch = Sketch()
    known = ZoneOverlay(config.zones, config.lines, config.masks)
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
    except cv2.error as exc:
        raise ConfigError("edge zones draw cannot open a window", hint=GUI_HINT) from exc

    def on_mouse(event: int, x: int, y: int, _flags: int, _param: object) -> None:
        if event == cv2.EVENT_LBUTTONDOWN:
            sketch.click(x / w, y / h)

    cv2.setMouseCallback(WINDOW, on_mouse)
    while True:
        canvas = base.copy()
        known(canvas)
        ZoneOverlay(sketch.zones, sketch.lines, sketch.masks)(canvas)
        for x, y in sketch.corners:
            cv2.circle(canvas, (round(x * w), round(y * h)), 4, (0, 0, 255), -1)
        cv2.putText(
            canvas,
            sketch.message,
            (4, h - 8),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        cv2.imshow(WINDOW, canvas)
        key = cv2.waitKey(30) & 0xFF
        if key in (ord("q"), 27):
            break
        if key != 255:
            sketch.key(chr(key))
    cv2.destroyWindow(WINDOW)
    text = sketch.toml()
    sys.stdout.write(text)
    if args.out is not None:
        args.out.write_text(text)
    return EXIT_OK


def _area(points: list[list[float]]) -> float:
    """The polygon's share of the frame (shoelace formula)."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, [*points[1:], points[0]], strict=True):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2
