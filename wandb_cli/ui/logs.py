"""output.log for the web page: whole lines from a byte offset, colours as class names,
every other escape removed.

Invariant: a chunk ends at the end of a line (while the run is live, a partial last line
waits for the next poll), so an escape sequence or a UTF-8 character is never cut in two,
and `next_offset` is where the next poll starts.  Text comes back as plain strings; the page
inserts them as text nodes, so program output can never become HTML.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from wandb_cli.textfmt import terminal_safe_output

MAX_CHUNK = 1 << 20
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def log_chunk(path: Path, offset: int, *, ended: bool, most: int = MAX_CHUNK) -> dict[str, Any]:
    """Lines of `path` from `offset`: {"lines": [[[text, classes], ...], ...],
    "next_offset", "size"}; at most ~`most` bytes per call (`more` says there is more)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            offset = min(offset, size)
            fh.seek(offset)
            data = fh.read(most)
    except FileNotFoundError:
        return {"lines": [], "next_offset": 0, "size": 0, "more": False}
    more = offset + len(data) < size
    if ended and not more:
        cut = len(data)
    else:
        cut = data.rfind(b"\n") + 1
        if cut == 0 and more:
            cut = len(data)  # one line longer than a chunk: send what there is
    text = terminal_safe_output(data[:cut], keep_colors=True).decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return {"lines": [segments(line) for line in lines], "next_offset": offset + cut,
            "size": size, "more": offset + cut < size}


def segments(line: str) -> list[list[str]]:
    """[text, css classes] runs of one line; a carriage return keeps what was drawn last
    (a progress bar shows its final state), other control characters are dropped."""
    if "\r" in line:
        line = line.rstrip("\r").rsplit("\r", 1)[-1]
    out: list[list[str]] = []
    style: dict[str, str] = {}
    pos = 0
    for match in _SGR.finditer(line):
        _emit(out, line[pos:match.start()], style)
        style = _apply(style, match.group(1))
        pos = match.end()
    _emit(out, line[pos:], style)
    return out


def _emit(out: list, text: str, style: dict[str, str]) -> None:
    text = _CONTROL.sub("", text.replace("\t", "    "))
    if text:
        out.append([text, " ".join(style.values())])


def _apply(style: dict[str, str], params: str) -> dict[str, str]:
    style = dict(style)
    codes = [int(c) if c.isdigit() else 0 for c in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            style = {}
        elif code == 1:
            style["b"] = "ansi-b"
        elif code == 3:
            style["i"] = "ansi-i"
        elif code == 4:
            style["u"] = "ansi-u"
        elif code in (22, 23, 24):
            style.pop({22: "b", 23: "i", 24: "u"}[code], None)
        elif 30 <= code <= 37 or 90 <= code <= 97:
            style["fg"] = f"ansi-fg{code - 30 if code < 90 else code - 82}"
        elif 40 <= code <= 47 or 100 <= code <= 107:
            style["bg"] = f"ansi-bg{code - 40 if code < 100 else code - 92}"
        elif code == 39:
            style.pop("fg", None)
        elif code == 49:
            style.pop("bg", None)
        elif code in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
            index = codes[i + 2]
            if index < 16:
                style["fg" if code == 38 else "bg"] = f"ansi-{'fg' if code == 38 else 'bg'}{index}"
            i += 2
        elif code in (38, 48) and i + 4 < len(codes) and codes[i + 1] == 2:
            i += 4  # true colour: not mapped to a class, left as the default colour
        i += 1
    return style
