"""Line charts as terminal text, drawn in braille dots (2 x 4 dots per character cell).

Invariant: the output depends only on the panels and the `width`, `height` and `color`
arguments (never on the terminal or the environment), so it can be compared with golden
files; with `color=False` it holds no escape sequence at all, and with `color=True` the only
escape sequences are the colour codes written here (user text passes through
`chart_axes.printable`).  Lines are drawn in panel order, later ones on top; a band's
min-max area shows as shaded cells wherever no line passes.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Mapping

from wandb_cli.charts.axes import Frame, display_width, frame, legend_text, printable, truncate
from wandb_cli.charts.data import Band, Line, Panel, downsample_panel

# Colour of the i-th item: ANSI foreground codes, bright ones after the basic six.
PALETTE = (34, 31, 32, 33, 35, 36, 94, 91, 92, 93, 95, 96)
BAND_CHAR = "░"
_DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][column] in a cell
_RESET = "\x1b[0m"
MIN_WIDTH, MIN_HEIGHT = 24, 3


def color_enabled(environ: Mapping[str, str], *, isatty: bool) -> bool:
    """Whether to colour: only on a terminal, and never when NO_COLOR is set non-empty."""
    return isatty and not environ.get("NO_COLOR")


def render_panels(panels: list[Panel], *, width: int = 80, height: int = 15, color: bool = False) -> str:
    """All panels, one below the other, each `width` columns wide with a plot area `height`
    rows high (plus title, x axis, legend and notes); ends with a newline."""
    return "\n\n".join(render_panel(p, width=width, height=height, color=color) for p in panels) + "\n"


def render_panel(panel: Panel, *, width: int, height: int, color: bool) -> str:
    """One panel as lines of text joined by newlines (no trailing newline)."""
    width, height = max(width, MIN_WIDTH), max(height, MIN_HEIGHT)
    axes = frame(panel, x_ticks=max(2, width // 12), y_ticks=max(2, height // 2))
    gutter = max((display_width(label) for _, label in axes.y_ticks), default=0) + 1
    canvas = Canvas(width - gutter - 1, height, axes)
    if panel.empty:
        canvas.message("no data")
    else:
        canvas.draw(downsample_panel(panel, canvas.dots_x))
    title = printable(panel.title) + (" (log scale)" if panel.log_y else "")
    title = truncate(title, width)
    lines = [" " * ((width - display_width(title)) // 2) + _paint(title, "1", color)]
    lines += _plot_rows(canvas, axes, gutter, color)
    lines += _x_axis(canvas, axes, gutter, printable(panel.x_label))
    lines += _legend(panel, width, color)
    lines += [truncate("note: " + printable(note), width) for note in panel.notes]
    return "\n".join(lines)


class Canvas:
    """A grid of character cells, each holding braille dots, a colour and a band mark."""

    def __init__(self, columns: int, rows: int, axes: Frame):
        self.columns, self.rows, self.axes = columns, rows, axes
        self.dots_x, self.dots_y = columns * 2, rows * 4
        self.bits = [[0] * columns for _ in range(rows)]
        self.owner = [[-1] * columns for _ in range(rows)]  # item index of the last dot
        self.band = [[-1] * columns for _ in range(rows)]  # item index of a band covering it
        self.text: dict[int, str] = {}  # row -> message centred on it

    def message(self, text: str) -> None:
        self.text[self.rows // 2] = text

    def draw(self, panel: Panel) -> None:
        for index, item in enumerate(panel.items):
            if isinstance(item, Band):
                self._fill_band(item, index)
        for index, item in enumerate(panel.items):
            ys = item.ys if isinstance(item, Line) else item.mean
            self._polyline([self._dot(x, y) for x, y in zip(item.xs, ys)], index)

    def _dot(self, x: float, y: float) -> tuple[int, int]:
        """The dot (column, row from the top) nearest to a data point, clamped to the canvas."""
        column = round(self.axes.fx(x) * (self.dots_x - 1))
        row = self.dots_y - 1 - round(self.axes.fy(y) * (self.dots_y - 1))
        return min(max(column, 0), self.dots_x - 1), min(max(row, 0), self.dots_y - 1)

    def _polyline(self, dots: list[tuple[int, int]], index: int) -> None:
        for start, end in zip(dots, dots[1:]):
            self._segment(start, end, index)
        if len(dots) == 1:
            self._set(*dots[0], index)

    def _segment(self, start: tuple[int, int], end: tuple[int, int], index: int) -> None:
        """Bresenham's line between two dots, both ends included."""
        (x0, y0), (x1, y1) = start, end
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x1 > x0 else -1), (1 if y1 > y0 else -1)
        error = dx + dy
        while True:
            self._set(x0, y0, index)
            if x0 == x1 and y0 == y1:
                return
            twice = 2 * error
            if twice >= dy:
                error, x0 = error + dy, x0 + sx
            if twice <= dx:
                error, y0 = error + dx, y0 + sy

    def _set(self, column: int, row: int, index: int) -> None:
        cell_row, cell_column = row // 4, column // 2
        self.bits[cell_row][cell_column] |= _DOT_BITS[row % 4][column % 2]
        self.owner[cell_row][cell_column] = index

    def _fill_band(self, band: Band, index: int) -> None:
        """Mark the cells between the band's lo and hi, read at each dot column's x."""
        if not band.xs:
            return
        first, last = self._dot(band.xs[0], band.mean[0])[0], self._dot(band.xs[-1], band.mean[-1])[0]
        span = self.axes.x_hi - self.axes.x_lo
        for column in range(first, last + 1):
            x = self.axes.x_lo + span * column / max(self.dots_x - 1, 1)
            lo, hi = _interpolate(band, x)
            top, bottom = self._dot(x, hi)[1] // 4, self._dot(x, lo)[1] // 4
            for row in range(top, bottom + 1):
                self.band[row][column // 2] = index


def _interpolate(band: Band, x: float) -> tuple[float, float]:
    """The band's (lo, hi) at x, linear between its points and flat beyond its ends."""
    i = bisect_left(band.xs, x)
    if i <= 0 or i >= len(band.xs):
        j = 0 if i <= 0 else len(band.xs) - 1
        return band.lo[j], band.hi[j]
    x0, x1 = band.xs[i - 1], band.xs[i]
    t = (x - x0) / (x1 - x0) if x1 > x0 else 1.0
    return (band.lo[i - 1] + t * (band.lo[i] - band.lo[i - 1]), band.hi[i - 1] + t * (band.hi[i] - band.hi[i - 1]))


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}{_RESET}" if color and text else text


def _cell(canvas: Canvas, row: int, column: int) -> tuple[str, str]:
    """A cell's character and its colour code ('' for none)."""
    if canvas.bits[row][column]:
        return chr(0x2800 + canvas.bits[row][column]), str(PALETTE[canvas.owner[row][column] % len(PALETTE)])
    if canvas.band[row][column] >= 0:
        return BAND_CHAR, f"2;{PALETTE[canvas.band[row][column] % len(PALETTE)]}"
    return " ", ""


def _canvas_row(canvas: Canvas, row: int, color: bool) -> str:
    if row in canvas.text:
        return truncate(canvas.text[row], canvas.columns).center(canvas.columns)
    run: list[str]
    out, run, run_code = [], [], ""
    for column in range(canvas.columns):
        char, code = _cell(canvas, row, column)
        if code != run_code and run:
            out.append(_paint("".join(run), run_code, color and bool(run_code)))
            run = []
        run.append(char)
        run_code = code
    out.append(_paint("".join(run), run_code, color and bool(run_code)))
    return "".join(out)


def _plot_rows(canvas: Canvas, axes: Frame, gutter: int, color: bool) -> list[str]:
    labels: dict[int, str] = {}
    for position, label in axes.y_ticks:
        row = (canvas.dots_y - 1 - round((position - axes.y_lo) / (axes.y_hi - axes.y_lo) * (canvas.dots_y - 1))) // 4
        labels.setdefault(row, label)
    rows = []
    for row in range(canvas.rows):
        label = labels.get(row, "")
        prefix = " " * (gutter - display_width(label)) + label + ("┤" if label else "│")
        rows.append((prefix + _canvas_row(canvas, row, color)).rstrip())
    return rows


def _x_axis(canvas: Canvas, axes: Frame, gutter: int, x_label: str) -> list[str]:
    """The axis line with a mark at each labelled x tick, then the tick labels and, at the
    right end, the name of the x axis (tick labels that would touch it are left out)."""
    marks = ["─"] * canvas.columns
    total = gutter + 1 + canvas.columns
    x_label = truncate(x_label, total // 2)
    labels = [" "] * (total - display_width(x_label))
    free_from, free_to = 0, len(labels) - 1  # keep a space before the axis name
    for position, label in axes.x_ticks:
        column = round(axes.fx(position) * (canvas.dots_x - 1)) // 2
        start = max(gutter + 1 + column - len(label) // 2, free_from)
        if start + len(label) > free_to:
            continue
        marks[column] = "┬"
        labels[start:start + len(label)] = label
        free_from = start + len(label) + 1
    return [" " * gutter + "└" + "".join(marks), ("".join(labels) + x_label).rstrip()]


def _legend(panel: Panel, width: int, color: bool) -> list[str]:
    """Legend entries `━━ name`, as many to a line as fit; long names are cut with `…`."""
    line: list[str]
    lines, line, used = [], [], 0
    for index, item in enumerate(panel.items):
        mark = _paint("━━", str(PALETTE[index % len(PALETTE)]), color)
        name = truncate(legend_text(item), width - 3)
        size = 3 + display_width(name)
        if line and used + 2 + size > width:
            lines.append("  ".join(line))
            line, used = [], 0
        line.append(f"{mark} {name}")
        used += size + (2 if used else 0)
    if line:
        lines.append("  ".join(line))
    return lines
