"""Charts drawn on the server as SVG: no script, no library to ship, readable without colour.

Each chart is an ``<svg role="img">`` with a text alternative (``aria-label``, and a ``<title>``
for the pointer); the page shows the same figures in a table beside it, so that the chart is
never the only way to read a number (WCAG 1.1.1, 1.4.1). Colours are the page's text colour and
one accent with a contrast of at least 3:1 against white (1.4.11).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

ACCENT = "#1d4f91"  # 8.6:1 on white
MUTED = "#595959"  # 7:1 on white: the target line


def sparkline(
    points: Sequence[tuple[str, float]], label: str, target: float | None = None, width: int = 160, height: int = 36
) -> Markup:
    """An indicator's history as a line (and its target as a dashed line), described by ``label``."""
    values = [v for _, v in points] + ([target] if target is not None else [])
    if not points:
        return Markup("")
    low, high = min([*values, 0.0]), max(values)
    span = (high - low) or 1.0
    pad = 3

    def y(value: float) -> float:
        return round(height - pad - (value - low) / span * (height - 2 * pad), 1)

    step = (width - 2 * pad) / max(len(points) - 1, 1)
    path = " ".join(f"{'M' if i == 0 else 'L'}{round(pad + i * step, 1)},{y(v)}" for i, (_, v) in enumerate(points))
    parts = [
        (
            f'<svg class="spark" role="img" aria-label="{escape(label)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><title>{escape(label)}</title>'
        )
    ]
    if target is not None:
        parts.append(
            f'<line x1="0" x2="{width}" y1="{y(target)}" y2="{y(target)}" stroke="{MUTED}" stroke-dasharray="4 3"/>'
        )
    parts.append(f'<path d="{path}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    last_x, last_y = round(pad + (len(points) - 1) * step, 1), y(points[-1][1])
    parts.append(f'<circle cx="{last_x}" cy="{last_y}" r="3" fill="{ACCENT}"/></svg>')
    return Markup("".join(parts))  # noqa: S704 - every text in it went through escape()


def bars(items: Sequence[tuple[str, float]], label: str, width: int = 320, bar_height: int = 18) -> Markup:
    """Horizontal bars, one per (name, value), described by ``label``; the names are drawn as text."""
    if not items:
        return Markup("")
    high = max((v for _, v in items), default=0) or 1
    name_width = 130
    gap = 6
    height = len(items) * (bar_height + gap)
    parts = [
        (
            f'<svg class="bars" role="img" aria-label="{escape(label)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><title>{escape(label)}</title>'
        )
    ]
    for i, (name, value) in enumerate(items):
        top = i * (bar_height + gap)
        length = round((width - name_width - 50) * value / high, 1)
        parts.append(
            f'<text x="0" y="{top + bar_height - 5}" font-size="12" fill="#1a1a1a">{escape(name[:20])}</text>'
            f'<rect x="{name_width}" y="{top}" width="{length}" height="{bar_height}" fill="{ACCENT}"/>'
            f'<text x="{name_width + length + 4}" y="{top + bar_height - 5}" font-size="12" fill="#1a1a1a">'
            f"{escape(format(value, 'g'))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it went through escape()
