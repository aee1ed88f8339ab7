"""What `runs ls`, `runs compare`, `runs history` and `runs system` print: runs, groups and rows
as a fitted table, JSON, JSONL, CSV or IDs.

Invariant: every format shows the same rows in the same order; a table never grows wider than
the terminal (views.columns.fit), and user text reaches Rich only through views.render.
"""
from __future__ import annotations

import sys
from typing import Iterable, List, Optional

from wandb_cli.errors import UsageError
from wandb_cli.views.output import (
    ascii_bytes_stream,
    print_json,
    stdout_is_tty,
    table_width,
    write_output,
    write_table_text,
)


def load_runs(store, *, deleted: bool, texts: bool = False) -> list:
    """`texts`: the records refer to their `--format json` texts (see runs_json)."""
    if deleted:
        from wandb_cli.store.lifecycle import iter_trash

        return list(iter_trash(store))
    records = list(store.iter_runs(texts=texts))
    warn_damaged(records)
    return records


def warn_damaged(records: list) -> None:
    """One stderr line per run that could not be read whole; the listing goes on."""
    from wandb_cli.textfmt import printable

    for record in records:
        if record.problems:
            print(f"wbrun: warning: run {printable(record.id)} ({record.state}): "
                  f"{printable('; '.join(record.problems))}", file=sys.stderr)


def note_limit(rows: list, total: int, limit: Optional[int]) -> None:
    from wandb_cli.views.columns import limit_note

    note = limit_note(len(rows), total, limit)
    if note:
        print(f"wbrun: {note}", file=sys.stderr)
    elif not rows:
        print("wbrun: no runs to list", file=sys.stderr)


def print_runs(rows: list, *, keys, sort, spark, fmt: str, crop: str) -> None:
    from wandb_cli.views import columns as runs_table

    if fmt in ("json", "jsonl"):
        # (no run with a text: print_json's one pass holds less than a text encoded per run)
        text = runs_json(rows) if fmt == "json" and any(r.rendered is not None for r in rows) else None
        if text is not None:
            write_output(text, newline=True)
        else:
            from wandb_cli.store.layout import read_deferred

            read_deferred(rows)  # (to_dict reads every field of each)
            print_json([r.to_dict() for r in rows], lines=fmt == "jsonl",
                       finite=all(r.finite for r in rows))
        return
    if fmt == "ids":
        write_ids(rows)
        return
    sparks = None
    if spark is not None:
        from wandb_cli.views.overview import history_sparks

        sparks = (spark, history_sparks(rows, spark))
    shown = runs_table.run_columns(rows, columns=keys, sort=sort, sparks=sparks,
                                   width=table_width() if fmt == "table" else None)
    print_columns(shown, fmt=fmt, crop=crop, rows=len(rows))


def runs_json(rows: list) -> bytearray | None:
    """What print_json writes for these runs' to_dict(), each run's text read from the index's
    rows file where it has one (store/rowtext.py: 28,000 runs ~0.5 -> ~0.15 s here) into one
    buffer of the output's size, and encoded as print_json would otherwise; None where
    print_json writes them all another way (a NaN or infinity in a config or summary, a
    value orjson cannot encode), or where the rows file gives less than it should or a text
    that is not a run's (one not beginning with a space and ending with `}` with quotes
    around its path, or holding a NUL, which JSON never does): that file is then discarded,
    to be written again by the next JSON listing."""
    from wandb_cli.views.output import has_nonfinite_in

    if has_nonfinite_in([m for r in rows if not r.finite for m in (r.summary, r.config)]):
        return None
    planned = _json_plan(rows)
    if planned is None:
        return None
    out = bytearray(planned[1])
    bad = _fill(out, planned[0])
    if bad is None and 0 not in out:
        return out
    for texts in {step[0] for step in planned[0] if step[0] is not None} if bad is None else (bad,):
        texts.discard()
    return None


def _json_plan(rows: list) -> tuple[list, int] | None:
    """Per run: (its text's file, its row there, the lengths of its parts, its path) or (None,
    its text encoded); and the output's size.  None where orjson cannot encode a run."""
    import orjson

    from wandb_cli.store.jsonio import pretty_item

    plan = []
    size = 2  # "[\n", then each text and ",\n" (the last one "\n]")
    try:
        for r in rows:
            lengths = r.rendered[0].lengths(r.rendered[1]) if r.rendered is not None else None
            if lengths is None:
                plan.append((None, pretty_item(r.to_dict())))
                size += len(plan[-1][1]) + 2
            else:
                # (within its quotes, a slice: a small result of orjson holds a 4 kB block,
                # 28,000 of them 115 MB)
                path = orjson.dumps(r.dir)[1:-1]
                plan.append((*r.rendered, lengths, path))
                size += lengths[0] + len(path) + lengths[1] + 2
    except TypeError:
        return None
    return plan, size


def _fill(out: bytearray, plan: list):
    """The output written into `out` as planned; the rows file that gave a short or foreign
    text, if one did (the output is then incomplete)."""
    view = memoryview(out)
    view[:2], at = b"[\n", 2
    for step in plan:
        if step[0] is None:
            view[at:at + len(step[1])] = step[1]
            at += len(step[1])
        else:
            texts, row, (before, after), path = step
            middle, end = at + before, at + before + len(path) + after
            view[middle:middle + len(path)] = path
            if not texts.read_into(row, view[at:middle], view[end - after:end]) \
                    or out[at] != _SPACE or out[middle - 1] != _QUOTE or out[end - after] != _QUOTE \
                    or out[end - 1] != _BRACE:
                return texts
            at = end
        view[at:at + 2] = b",\n"
        at += 2
    view[at - 2:] = b"\n]"
    return None


_SPACE, _QUOTE, _BRACE = b' "}'  # how a run's text, and its parts around the path, begin and end


def write_ids(rows: Iterable) -> None:
    from wandb_cli import nogc

    sys.stdout.write("".join(f"{r.id}\n" for r in rows))
    nogc.output_written()


def print_columns(columns: list, *, fmt: str, crop: str, rows: int) -> None:
    """Columns as CSV (all of them, raw values) or as a table fitted to the terminal."""
    from wandb_cli.views import columns as runs_table
    from wandb_cli.views import render

    if fmt == "csv":
        from wandb_cli.store.history import to_csv

        records = [{c.key: c.values[i] for c in columns} for i in range(rows)]
        write_table_text(to_csv(records, [c.key for c in columns]))
        return
    if rows:
        render.print_fitted(runs_table.fit(columns, table_width(), crop_mode=crop))


def print_groups(rows: list, group_by: List[str], *, keys, sort, spark, fmt: str, crop: str,
                  spread: str) -> None:
    from wandb_cli.query.filter import group_runs, value_getter
    from wandb_cli.views import columns as runs_table
    from wandb_cli.views import group_table

    if spark is not None:
        raise UsageError("--spark draws each run's history; it does not apply to --group-by")
    if fmt == "ids":
        groups = group_runs(rows, group_by, sort=sort)
        write_ids(r for g in groups for r in g.runs)
        return
    stats = group_table.stat_columns(runs_table.run_columns(rows, columns=keys, sort=sort, cells=False),
                                     group_by)
    dist = group_table.distribution_key(
        sort, stats, lambda key: map(value_getter(key, rows), rows))
    groups = group_runs(rows, group_by, stats=[c.key for c in stats], spark=dist, sort=sort,
                        presorted=True,  # (narrow_runs sorted them by the same keys)
                        known={c.key: c.values for c in stats})
    if fmt in ("json", "jsonl"):
        print_json([g.to_dict() for g in groups], lines=fmt == "jsonl")
    elif fmt == "csv":
        from wandb_cli.store.history import to_csv

        headers, flat = group_table.group_csv(groups, group_by, [c.key for c in stats])
        write_table_text(to_csv(flat, headers))
    else:
        shown = group_table.group_columns(groups, group_by, stats, spread=spread, dist_key=dist)
        print_columns(shown, fmt=fmt, crop=crop, rows=len(groups))


def print_rows(rows: list[dict], fmt: str, *, strip_prefix: str = "") -> None:
    """History or system rows as a table, JSON or CSV."""
    from wandb_cli.store.history import columns_of, to_csv
    from wandb_cli.views import render

    columns = columns_of(rows)
    if fmt == "json":
        print_json(rows)
    elif fmt == "csv":
        write_table_text(to_csv(rows, columns))
    else:
        from wandb_cli.views.output import describe_reference as describe  # short references

        headers = [c[len(strip_prefix):] if c.startswith(strip_prefix) else c for c in columns]
        render.console().print(render.table(headers, [[describe(row.get(c)) for c in columns]
                                                      for row in rows]))


def print_history(run_dir, fmt: str) -> None:
    """A run's history as a table, JSON or CSV, streamed block by block (bounded memory at
    any length; a big history's CSV is converted without parsing where it can be)."""
    from wandb_cli.store.history import big_history, history_blocks

    big = big_history(run_dir) if fmt == "csv" else None
    if big is not None:
        _print_csv_stream(run_dir, *big)
        return
    columns, blocks = history_blocks(run_dir)
    _print_blocks(columns, blocks, fmt)


def _print_csv_stream(run_dir, keys: list[str], end: int) -> None:
    from wandb_cli.store.history import CsvWriter, raw_blocks

    writer = CsvWriter(keys)
    write_table_text(writer.header())
    raw = None if stdout_is_tty() else ascii_bytes_stream(sys.stdout)  # piped: rows as they are
    for block in raw_blocks(run_dir, end):
        plain = writer.plain_rows(block)
        if plain is None:
            write_table_text(writer.parsed_rows(block))
        elif raw is None:
            write_table_text(plain.decode("ascii"))
        else:
            sys.stdout.flush()  # (what the text layer holds goes first)
            raw.write(plain)


def _print_blocks(columns: list[str], blocks, fmt: str) -> None:
    """History rows streamed block by block (bounded memory at any length).  A table is
    printed one block at a time, each with its header."""
    import io

    from wandb_cli.store.history import write_csv
    from wandb_cli.views import render
    from wandb_cli.views.output import describe_reference as describe  # short references

    if fmt == "json":
        _print_json_blocks(blocks)
    elif fmt == "csv":
        for i, rows in enumerate(blocks):
            out = io.StringIO()
            write_csv(out, columns, [rows])
            text = out.getvalue()
            write_table_text(text if i == 0 else text[text.index("\n") + 1:])
    else:
        for rows in blocks:
            if rows:
                render.console().print(render.table(columns, [[describe(row.get(c)) for c in columns]
                                                              for row in rows]))


def _print_json_blocks(blocks) -> None:
    """One JSON array, as print_json writes it, written a block at a time."""
    import orjson

    from wandb_cli.store import jsonio

    out = sys.stdout.buffer
    first = True
    for rows in blocks:
        if not rows:
            continue
        text = orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        if b"null" in text and jsonio.has_nonfinite(rows):
            text = jsonio.dumps(rows)
            body = text[1:-1]
        else:
            body = text[2:-2]  # "[\n" ... "\n]"
        out.write((b"[\n" if first else b",\n") + body)
        first = False
    out.write(b"[]\n" if first else b"\n]\n")
    sys.stdout.flush()

