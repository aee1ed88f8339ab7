"""`Table`: columns and rows, stored as W&B's `<key>_<step>_<id>.table.json`
(`{"columns": [...], "data": [[...], ...]}`) with a `table-file` reference in the row.

Invariants: every row has one cell per column; cells are stored as JSON (numpy values as
numbers or lists, media cells as their own files with their reference object in the cell);
no row is dropped (W&B's run file keeps only 10,000).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from wandb_cli.errors import UsageError
from wandb_cli.media.base import Media

LOG_MODES = ("IMMUTABLE", "MUTABLE", "INCREMENTAL")


def _is_dataframe(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.startswith("pandas")


class Table(Media):
    """W&B's `wandb.Table(columns=None, data=None, rows=None, dataframe=None, ...)`."""

    log_type = "table-file"
    subdir = "table"
    MAX_ROWS = 10000
    MAX_ARTIFACT_ROWS = 200000

    def __init__(self, columns: list | None = None, data: Any = None, rows: Any = None,
                 dataframe: Any = None, dtype: Any = None, optional: Any = True,
                 allow_mixed_types: bool = False, log_mode: str | None = "IMMUTABLE"):
        super().__init__()
        if log_mode not in LOG_MODES:
            raise UsageError(f"wandb.Table: log_mode must be one of {', '.join(LOG_MODES)}")
        self.log_mode = log_mode
        self.columns: list = list(columns) if columns is not None else ["Input", "Output", "Expected"]
        self.data: list[list[Any]] = []
        source = dataframe if dataframe is not None else data if data is not None else rows
        if source is None:
            return
        if _is_dataframe(source):
            self.columns = [str(name) if not isinstance(name, (int, float)) else name
                            for name in source.columns]
            source = source.itertuples(index=False, name=None)
        elif hasattr(source, "tolist") and hasattr(source, "ndim"):
            if source.ndim != 2:
                raise UsageError(f"wandb.Table: data must be 2-D, not of shape {list(source.shape)}")
            if columns is None:
                self.columns = [f"col{i}" for i in range(source.shape[1])]
            source = list(source)
        for row in source:
            self.add_data(*row)

    # --- W&B's Table API --------------------------------------------------------------
    def add_data(self, *values: Any) -> None:
        """Append one row (one value per column)."""
        if len(values) != len(self.columns):
            raise UsageError(f"wandb.Table: this table expects {len(self.columns)} values per "
                             f"row ({', '.join(map(str, self.columns))}); got {len(values)}")
        self.data.append(list(values))

    def add_row(self, *values: Any) -> None:
        self.add_data(*values)

    def add_column(self, name: Any, data: Any, optional: bool = False) -> None:
        """Append a column; `data` has one value per existing row."""
        values = list(data)
        if name in self.columns:
            raise UsageError(f"wandb.Table: column {name!r} already exists")
        if self.data and len(values) != len(self.data):
            raise UsageError(f"wandb.Table: column {name!r} has {len(values)} values for "
                             f"{len(self.data)} rows")
        if not self.data:
            self.data = [[value] for value in values]
        else:
            for row, value in zip(self.data, values):
                row.append(value)
        self.columns.append(name)

    def get_column(self, name: Any, convert_to: str | None = None) -> Any:
        """The values of one column (`convert_to="numpy"` gives an array)."""
        if name not in self.columns:
            raise UsageError(f"wandb.Table: no column {name!r}")
        index = self.columns.index(name)
        values = [row[index] for row in self.data]
        if convert_to == "numpy":
            import numpy as np

            return np.array(values)
        return values

    def get_index(self) -> list[int]:
        return list(range(len(self.data)))

    def get_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def iterrows(self) -> Iterator[tuple[int, list]]:
        yield from enumerate(self.data)

    def cast(self, col_name: Any, dtype: Any, optional: bool = False) -> None:
        """Accepted for W&B compatibility; wbrun keeps no column types."""

    def __len__(self) -> int:
        return len(self.data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Table) and (self.columns, self.data) == (other.columns, other.data)

    __hash__ = None  # type: ignore[assignment]

    # --- storing --------------------------------------------------------------------------
    def to_json(self, files_dir: str | Path, key: str, step: int | str) -> dict:
        from wandb_cli.store import jsonio

        rows = [[cell_json(cell, files_dir, key, step) for cell in row] for row in self.data]
        content = jsonio.dumps({"columns": [_plain_cell(c) for c in self.columns], "data": rows})
        self._set_content(content, ".table.json")
        cached = self._bound.get(str(files_dir))
        if cached is not None and cached["sha256"] != self._sha256:
            del self._bound[str(files_dir)]  # changed since it was logged: store what it holds now
        return super().to_json(files_dir, key, step)

    def extra_json(self) -> dict:
        return {"ncols": len(self.columns), "nrows": len(self.data), "log_mode": self.log_mode}

    def __repr__(self) -> str:
        return f"<Table {len(self.data)} rows x {len(self.columns)} columns>"


def cell_json(cell: Any, files_dir: str | Path, key: str, step: int | str) -> Any:
    """A table cell as JSON: media become files (their reference in the cell)."""
    from wandb_cli.media.base import WBValue

    if isinstance(cell, WBValue):
        return cell.to_json(files_dir, key, step)
    if isinstance(cell, dict):
        return {str(k): cell_json(v, files_dir, key, step) for k, v in cell.items()}
    if isinstance(cell, (list, tuple)):
        return [cell_json(v, files_dir, key, step) for v in cell]
    return _plain_cell(cell)


def _plain_cell(cell: Any) -> Any:
    if cell is None or isinstance(cell, (bool, int, float, str)):
        return cell
    if hasattr(cell, "isoformat"):
        return cell.isoformat()
    if hasattr(cell, "tolist"):
        return cell.tolist()
    if hasattr(cell, "item"):
        return cell.item()
    return str(cell)
