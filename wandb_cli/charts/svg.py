"""Line charts as one self-contained SVG document (no scripts, fonts or links to fetch).

Invariant: every item of a panel is exactly one `<path class="series">` (a band's mean
line), plus, for a band, one `<path class="band">` under it; axes and grid are `<line>`s, so
paths count series.  All user text is first made printable (`chart_axes.printable`: no
control characters, which XML cannot hold even escaped) and then XML-escaped, so the file
always parses.  PNG output converts the same charts with an image library found at call
time (cairosvg, else matplotlib); neither is a dependency.
"""
from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import escape

from wandb_cli.charts.axes import Frame, display_width, frame, legend_text, printable
from wandb_cli.charts.data import Band, Line, Panel, downsample_panel
from wandb_cli.errors import UsageError, WbrunError

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_STYLE = (
    ".series{fill:none;stroke-width:1.5;stroke-linejoin:round;stroke-linecap:round}"
    ".band{stroke:none;fill-opacity:0.18}.grid{stroke:#e6e6e6}.axis{stroke:#888}"
    ".title{font-size:14px;font-weight:bold}.tick{fill:#555}.xlabel{fill:#555}"
    ".note{fill:#777;font-style:italic}.nodata{fill:#999}.legend{fill:#222}"
)
_CHAR_PX, _ROW_PX, _TOP, _RIGHT = 7, 18, 34, 16  # text metrics are estimates at 12px


def render_svg(panels: list[Panel], *, width: int = 800, panel_height: int = 260) -> str:
    """The panels stacked top to bottom in one SVG document; `panel_height` is each plot
    area's height in pixels (titles, axes and legends add to it)."""
    width, panel_height = max(width, 200), max(panel_height, 60)
    parts, top = [], 0
    for panel in panels:
        body, height = _panel(panel, width, panel_height)
        parts.append(f'<g class="panel" transform="translate(0,{top})">{body}</g>')
        top += height
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top}" '
            f'viewBox="0 0 {width} {top}" font-family="sans-serif" font-size="12">')
    background = '<rect width="100%" height="100%" fill="#ffffff"/>'
    return "\n".join([head, f"<style>{_STYLE}</style>", background, *parts, "</svg>"]) + "\n"


def write_chart(path: str | os.PathLike, panels: list[Panel], *, width: int = 800, panel_height: int = 260) -> None:
    """Write the panels to `path`: an .svg file, or a .png when an image library is there."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise UsageError(f"cannot write charts to {printable(target.name)!s}: the file name must end in .svg or .png")
    svg = render_svg(panels, width=width, panel_height=panel_height)
    try:
        if suffix == ".svg":
            target.write_text(svg, encoding="utf-8")
        else:
            _write_png(target, svg, panels, width, panel_height)
    except OSError as error:
        raise WbrunError(f"cannot write {printable(target)}: {error.strerror or error}") from error


def _panel(panel: Panel, width: int, plot_height: int) -> tuple[str, int]:
    """One panel's SVG elements (origin at its top left) and the height they take."""
    axes = frame(panel, x_ticks=max(2, width // 110), y_ticks=max(2, plot_height // 45), pad=0.04)
    left = 12 + _CHAR_PX * max((len(label) for _, label in axes.y_ticks), default=1)
    box = (left, _TOP, width - _RIGHT, _TOP + plot_height)  # plot area: x0, y0, x1, y1
    title = printable(panel.title) + (" (log scale)" if panel.log_y else "")
    out = [f'<text class="title" x="{width / 2:.0f}" y="20" text-anchor="middle">{escape(title)}</text>']
    out += _axes(axes, box, printable(panel.x_label))
    if panel.empty:
        out.append(f'<text class="nodata" x="{(box[0] + box[2]) / 2:.0f}" y="{(box[1] + box[3]) / 2:.0f}" '
                   'text-anchor="middle">no data</text>')
    out += _items(downsample_panel(panel, box[2] - box[0]), axes, box)
    legend, bottom = _legend(panel, left, box[3] + 44, width - _RIGHT)
    out += legend
    for note in panel.notes:
        out.append(f'<text class="note" x="{left}" y="{bottom + 12}">{escape(printable(note))}</text>')
        bottom += _ROW_PX
    return "".join(out), bottom + 16


def _place(axes: Frame, box: tuple[int, int, int, int], x: float, y: float) -> str:
    x0, y0, x1, y1 = box
    return f"{x0 + axes.fx(x) * (x1 - x0):.1f},{y1 - axes.fy(y) * (y1 - y0):.1f}"


def _items(panel: Panel, axes: Frame, box: tuple[int, int, int, int]) -> list[str]:
    out = []
    for index, item in enumerate(panel.items):
        color = PALETTE[index % len(PALETTE)]
        if isinstance(item, Band) and item.xs:
            upper = [_place(axes, box, x, y) for x, y in zip(item.xs, item.hi)]
            lower = [_place(axes, box, x, y) for x, y in zip(reversed(item.xs), reversed(item.lo))]
            out.append(f'<path class="band" fill="{color}" d="M{" L".join(upper + lower)} Z"/>')
    for index, item in enumerate(panel.items):
        color = PALETTE[index % len(PALETTE)]
        ys = item.ys if isinstance(item, Line) else item.mean
        points = [_place(axes, box, x, y) for x, y in zip(item.xs, ys)]
        path = f"M{' L'.join(points)}" if points else ""
        dot = ' style="stroke-width:5"' if len(points) == 1 else ""  # a lone point drawn as a dot
        out.append(f'<path class="series" stroke="{color}"{dot} d="{path}{" l0,0" if dot else ""}">'
                   f"<title>{escape(legend_text(item))}</title></path>")
    return out


def _axes(axes: Frame, box: tuple[int, int, int, int], x_label: str) -> list[str]:
    """Grid lines at the ticks, the two axis lines, tick labels and the x axis name."""
    x0, y0, x1, y1 = box
    out = []
    for position, label in axes.y_ticks:
        y = y1 - (position - axes.y_lo) / (axes.y_hi - axes.y_lo) * (y1 - y0)
        out.append(f'<line class="grid" x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
    for position, label in axes.x_ticks:
        x = x0 + axes.fx(position) * (x1 - x0)
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{y1 + 16}" text-anchor="middle">{escape(label)}</text>')
    out.append(f'<line class="axis" x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}"/>')
    out.append(f'<line class="axis" x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}"/>')
    out.append(f'<text class="xlabel" x="{x1}" y="{y1 + 32}" text-anchor="end">{escape(x_label)}</text>')
    return out


def _legend(panel: Panel, left: int, top: int, right: int) -> tuple[list[str], int]:
    """A swatch and the name of each item, flowing into rows; returns the elements and the
    y just below the last row."""
    out, x, y = [], left, top
    for index, item in enumerate(panel.items):
        name = legend_text(item)
        size = 22 + _CHAR_PX * display_width(name)
        if x > left and x + size > right:
            x, y = left, y + _ROW_PX
        color = PALETTE[index % len(PALETTE)]
        out.append(f'<rect class="swatch" x="{x}" y="{y - 9}" width="16" height="4" fill="{color}"/>')
        out.append(f'<text class="legend" x="{x + 20}" y="{y}">{escape(name)}</text>')
        x += size + 16
    return out, y + (_ROW_PX if panel.items else 0) - 12


def _write_png(target: Path, svg: str, panels: list[Panel], width: int, panel_height: int) -> None:
    try:
        import cairosvg  # optional, found at call time
    except (ImportError, OSError):  # OSError: the package is there but libcairo is not
        cairosvg = None
    if cairosvg is not None:
        cairosvg.svg2png(bytestring=svg.encode("utf-8"), write_to=str(target))
        return
    try:
        import matplotlib.figure  # noqa: F401  (optional, found at call time)
    except ImportError:
        raise UsageError("PNG output needs matplotlib or cairosvg installed (pip install matplotlib); "
                         "or write an .svg file, which needs nothing") from None
    _png_with_matplotlib(target, panels, width, panel_height)


def _png_with_matplotlib(target: Path, panels: list[Panel], width: int, panel_height: int) -> None:
    """The same charts drawn by matplotlib: one axes per panel, bands as filled areas."""
    from matplotlib.figure import Figure  # a bare Figure: no pyplot, no global backend change

    dpi = 100
    figure = Figure(figsize=(width / dpi, max(len(panels), 1) * (panel_height + 120) / dpi), dpi=dpi)
    for number, panel in enumerate(panels, start=1):
        axes = figure.add_subplot(max(len(panels), 1), 1, number)
        axes.set_title(printable(panel.title))
        axes.set_xlabel("\n".join(printable(text) for text in (panel.x_label, *panel.notes)))
        for index, item in enumerate(downsample_panel(panel, width).items):
            color = PALETTE[index % len(PALETTE)]
            if isinstance(item, Band):
                axes.fill_between(item.xs, item.lo, item.hi, color=color, alpha=0.18, linewidth=0)
            ys = item.ys if isinstance(item, Line) else item.mean
            # "$" starts mathtext in matplotlib; escaped so a name is shown as written
            axes.plot(item.xs, ys, color=color, marker="o" if len(ys) == 1 else None,
                      label=legend_text(item).replace("$", r"\$"))
        if panel.log_y:
            axes.set_yscale("log")
        if panel.empty:
            axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
        elif panel.items:
            axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(str(target), format="png")
