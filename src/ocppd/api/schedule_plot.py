"""A composite schedule as an SVG plot of the limit against time, written by ocppd (no
plotting dependency), for the API and any page that embeds it.

A step line for the limit; where nothing limits (unconstrained) the line stops and a
hatched band at the top says so. The y axis starts at 0 and ends a little above the highest
limit; times on the x axis are UTC. Every text is XML-escaped, attributes included: a charge
point's identity is whatever it connected with.
"""

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from ocppd.protocol.smart_charging import Composite
from ocppd.protocol.smart_charging.composite import DEFAULT_PHASES

WIDTH, HEIGHT = 800, 320
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 50
TICKS = 6


def plot(composite: Composite, title: str) -> str:
    """The SVG document (UTF-8 text)."""
    limits = [i.limit for i in composite.intervals if i.limit is not None]
    top = _nice_ceiling(max(limits) * 1.1) if limits else 1.0
    span = (composite.end - composite.start).total_seconds()
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + inner_w * (at - composite.start).total_seconds() / span

    def y(limit: float) -> float:
        return TOP + inner_h * (1 - limit / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        '<defs><pattern id="free" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<path d="M0,6 L6,0" stroke="#999" stroke-width="1"/></pattern></defs>',
        f'<text x="{LEFT}" y="20" font-size="13">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{inner_w}" height="{inner_h}" fill="none" '
        'stroke="#ccc"/>',
    ]
    for n in range(TICKS):
        value = top * n / (TICKS - 1)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#eee"/><text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
            f"{escape(_number(value))}</text>"
        )
        at = composite.start + timedelta(seconds=span * n / (TICKS - 1))
        parts.append(
            f'<text x="{x(at):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{escape(at.strftime('%m-%d %H:%M:%S'))}</text>"
        )
    parts.append(
        f'<text x="{LEFT + inner_w / 2}" y="{HEIGHT - 10}" text-anchor="middle">'
        f"time (UTC) from {escape(composite.start.isoformat())}</text>"
        f'<text x="16" y="{TOP + inner_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + inner_h / 2})">'
        f"limit ({escape(str(composite.unit))})</text>"
    )
    parts.extend(_line(composite, x, y))
    parts.append("</svg>")
    return "\n".join(parts)


def _line(
    composite: Composite, x: Callable[[datetime], float], y: Callable[[float], float]
) -> list[str]:
    """The step line of the limited intervals, the bands of the unconstrained ones."""
    shapes: list[str] = []
    path: list[str] = []
    for interval in composite.intervals:
        left, right = x(interval.start), x(interval.end)
        if interval.limit is None:
            shapes.append(
                f'<rect x="{left:.1f}" y="{TOP}" width="{right - left:.1f}" height="14" '
                f'fill="url(#free)"><title>unconstrained</title></rect>'
            )
            if path:
                shapes.append(_path(path))
                path = []
            continue
        level = y(interval.limit)
        path.append(f"{'L' if path else 'M'}{left:.1f},{level:.1f} L{right:.1f},{level:.1f}")
        phases = interval.number_phases
        phases_label = "" if phases in (None, DEFAULT_PHASES) else f" on {phases} phases"
        label = f"{_number(interval.limit)} {composite.unit}{phases_label}"
        shapes.append(
            f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{level:.1f}" y2="{level:.1f}" '
            f'stroke="transparent" stroke-width="8"><title>{escape(label)}</title></line>'
        )
    if path:
        shapes.append(_path(path))
    return shapes


def _path(steps: list[str]) -> str:
    line = quoteattr(" ".join(steps))
    return f'<path d={line} fill="none" stroke="#1565c0" stroke-width="2"/>'


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _nice_ceiling(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least `value`."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)
