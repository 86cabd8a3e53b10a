"""The delivery x leadership map as a picture, rendered server-side to PNG with matplotlib.

Matplotlib's object API on the Agg canvas (no pyplot, so no global state shared between
threads), imported when a map is drawn, never at start. Names are placed greedily beside their
markers — the nearest spot, in eight directions and growing distances, that overlaps no name
already placed, no marker, no cell name and stays inside the plot, with a leader line when it is
not right beside its marker (adjustText, tried first, took 5 s for nine crowded names and still
left one overlap); past ``LABELS_MAX`` people the map shows markers only (the CSV names
everyone). Colours are Okabe and Ito's, which read under every common colour
blindness, and each category has its own marker shape too.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.talent.readiness import BANDS, CELL_NAMES, Category

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox
from bot.talent.rules import TalentRules

LABELS_MAX = 60
WIDTH_INCHES, HEIGHT_INCHES, DPI = 11.0, 8.0, 100
PLOT_RECT = (0.07, 0.08, 0.62, 0.84)  # left, bottom, width, height of the plot, as figure fractions
STYLE = {  # colour (Okabe-Ito), marker, filled
    Category.READY_NOW: ("#009E73", "o", True),
    Category.READY_WITH_DEVELOPMENT: ("#0072B2", "s", True),
    Category.DEVELOP_IN_ROLE: ("#E69F00", "D", True),
    Category.NOT_ENOUGH_EVIDENCE: ("#7F7F7F", "o", False),
}


@dataclass(frozen=True)
class MapPoint:
    name: str
    delivery: float
    leadership: float
    delivery_interval: tuple[float, float]
    leadership_interval: tuple[float, float]
    category: Category


@dataclass(frozen=True)
class MapImage:
    png: bytes
    width: int
    height: int
    plot_box: tuple[float, float, float, float]  # left, top, right, bottom, in pixels from the top left
    labels: int  # names drawn
    label_overlaps: int  # pairs of names whose boxes overlap once placed

    def pixel(self, delivery: float, leadership: float) -> tuple[int, int]:
        """Where a level pair is drawn, in pixels from the top left (the axes run 1 to 5)."""
        left, top, right, bottom = self.plot_box
        x = left + (delivery - 1) / 4 * (right - left)
        y = bottom - (leadership - 1) / 4 * (bottom - top)
        return round(x), round(y)


def render_map(points: Sequence[MapPoint], rules: TalentRules, *, title: str) -> MapImage:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_axes(PLOT_RECT)
    axes.set_xlim(1, 5)
    axes.set_ylim(1, 5)
    axes.set_xlabel("Delivery: calibrated level (1-5; 3 is as expected)")
    axes.set_ylabel("Leadership: calibrated level (1-5; 3 is as expected)")
    axes.set_title(title, fontsize=11, loc="left", parse_math=False)
    low, high = rules.cuts
    edges = (1.0, low, high, 5.0)
    for cut in (low, high):
        axes.axvline(cut, color="#BBBBBB", linewidth=1, zorder=1)
        axes.axhline(cut, color="#BBBBBB", linewidth=1, zorder=1)
    cell_names = [
        axes.text(
            (edges[d] + edges[d + 1]) / 2,
            edges[lead + 1] - 0.06,
            name,
            ha="center",
            va="top",
            fontsize=8,
            color="#777777",
            zorder=5,
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1},
        )
        for (d, lead), name in CELL_NAMES.items()
    ]
    texts = []
    xs, ys = [p.delivery for p in points], [p.leadership for p in points]
    for category in Category:  # one call per category, not per person: 10,000 people draw in a second
        mine = [p for p in points if p.category is category]
        if not mine:
            continue
        colour, marker, filled = STYLE[category]
        x, y = [p.delivery for p in mine], [p.leadership for p in mine]
        axes.errorbar(
            x,
            y,
            xerr=[
                [p.delivery - p.delivery_interval[0] for p in mine],
                [p.delivery_interval[1] - p.delivery for p in mine],
            ],
            yerr=[
                [p.leadership - p.leadership_interval[0] for p in mine],
                [p.leadership_interval[1] - p.leadership for p in mine],
            ],
            fmt="none",
            ecolor=colour,
            alpha=0.35 if len(points) <= LABELS_MAX else 0.05,
            linewidth=1,
            zorder=2,
        )
        axes.scatter(
            x,
            y,
            s=70 if len(points) <= LABELS_MAX else 12,
            marker=marker,
            c=colour if filled else "white",
            edgecolors=colour,
            linewidths=1.5 if len(points) <= LABELS_MAX else 0.5,
            zorder=3,
        )
    if len(points) > LABELS_MAX:  # too many names to read: each cell says how many it holds
        low_cut, high_cut = rules.cuts
        for (d, lead), _ in CELL_NAMES.items():
            inside = sum(
                1
                for p in points
                if (p.delivery >= low_cut) + (p.delivery >= high_cut) == d
                and (p.leadership >= low_cut) + (p.leadership >= high_cut) == lead
            )
            axes.text(
                (edges[d] + edges[d + 1]) / 2,
                (edges[lead] + edges[lead + 1]) / 2,
                f"{inside:,}",
                ha="center",
                va="center",
                fontsize=15,
                fontweight="bold",
                color="#222222",
                zorder=5,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "boxstyle": "round"},
            )
    else:
        # A name is text, never mathtext: "$\\foo$" in a Slack name must not break the picture.
        texts = [
            axes.text(0, 0, p.name, fontsize=8, zorder=4, ha="left", va="bottom", parse_math=False)
            for p in points
        ]
    counts = {c: sum(1 for p in points if p.category is c) for c in Category}
    handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker=STYLE[c][1],
            markersize=8,
            markerfacecolor=STYLE[c][0] if STYLE[c][2] else "white",
            markeredgecolor=STYLE[c][0],
            label=f"{c.value} ({counts[c]})",
        )
        for c in Category
    ]
    handles.append(Line2D([], [], color="#777777", alpha=0.5, label=f"{rules.confidence:.0%} interval"))
    figure.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(0.71, 0.92), frameon=False, title="Readiness"
    )
    figure.text(
        0.71,
        0.12,
        f"Cells cut at {low:.1f} and {high:.1f}:\n"
        f"{BANDS[0]} below {low:.1f}, {BANDS[2]} from {high:.1f}.\n"
        "A person whose bars cross a line\ncould sit in either cell.",
        fontsize=8,
        color="#555555",
    )
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = _place_labels(axes, renderer, texts, list(zip(xs, ys, strict=True)), cell_names)
    overlaps = sum(1 for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.overlaps(b))
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    width, height = canvas.get_width_height()
    box = axes.get_window_extent(renderer)
    return MapImage(
        png=buffer.getvalue(),
        width=width,
        height=height,
        plot_box=(float(box.x0), float(height - box.y1), float(box.x1), float(height - box.y0)),
        labels=len(texts),
        label_overlaps=overlaps,
    )


DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))
DISTANCES = (6, 14, 26, 40, 60, 85, 115)  # pixels from the marker's centre
MARKER_HALF = 7  # pixels: a marker's half width


def _place_labels(
    axes: Axes, renderer: RendererAgg, texts: list[Text], at: list[tuple[float, float]], fixed: list[Text]
) -> list[Bbox]:
    """Move each name to its spot (see the module's docstring); the boxes they ended in."""
    from matplotlib.transforms import Bbox

    to_pixels, to_data = axes.transData.transform, axes.transData.inverted().transform
    frame = axes.get_window_extent(renderer)
    centres = [to_pixels(point) for point in at]
    markers = [
        Bbox.from_extents(x - MARKER_HALF, y - MARKER_HALF, x + MARKER_HALF, y + MARKER_HALF)
        for x, y in centres
    ]
    taken = [t.get_window_extent(renderer) for t in fixed] + markers
    placed: list[Bbox] = []
    order = sorted(range(len(texts)), key=lambda i: (-at[i][1], at[i][0]))
    for i in order:
        text, (x, y) = texts[i], centres[i]
        width, height = text.get_window_extent(renderer).size
        best: tuple[float, Bbox, float] | None = None
        for distance in DISTANCES:
            for dx, dy in DIRECTIONS:
                left = x + dx * distance - (width if dx < 0 else width / 2 if dx == 0 else 0)
                bottom = y + dy * distance - (height if dy < 0 else height / 2 if dy == 0 else 0)
                box = Bbox.from_bounds(left, bottom, width, height)
                if not frame.contains(box.x0, box.y0) or not frame.contains(box.x1, box.y1):
                    continue
                clash = sum(
                    _overlap(box, other)
                    for other in placed + [m for j, m in enumerate(taken) if j != len(fixed) + i]
                )
                if best is None or clash < best[0]:
                    best = (clash, box, distance)
                if clash == 0:
                    break
            if best is not None and best[0] == 0:
                break
        if best is None:  # nowhere inside: beside the marker, as it comes
            best = (0.0, Bbox.from_bounds(x + DISTANCES[0], y, width, height), DISTANCES[0])
        _, box, distance = best
        text.set_position(to_data((box.x0, box.y0)))
        if distance > DISTANCES[1]:
            nearest = (min(max(x, box.x0), box.x1), min(max(y, box.y0), box.y1))
            axes.plot(
                *zip(to_data((x, y)), to_data(nearest), strict=True), color="#888888", linewidth=0.5, zorder=2
            )
        placed.append(box)
    return placed


def _overlap(a: Bbox, b: Bbox) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width * height if width > 0 and height > 0 else 0.0
