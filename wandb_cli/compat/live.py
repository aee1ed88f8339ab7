"""Live stand-ins for `run`, `config` and `summary` handed out by `from wandb_cli import *`.

A star-import copies names once; W&B's `run`, `config` and `summary` change with every
`init()`. So a star-import gets these proxies, which forward every use to the current run
(its config, its summary), while plain attribute access (`wandb_cli.run`) keeps giving the
real object or None, so `wandb.run is None` keeps its meaning. A proxy with no run behind it
is falsy and equal to None (`if not run:` works; `run is None` cannot).
"""
from __future__ import annotations

import dis
import sys
from typing import Any


def star_importing(depth: int = 2) -> bool:
    """True when the frame `depth` levels up is executing `from ... import *`."""
    try:
        frame = sys._getframe(depth)
        code, at = frame.f_code.co_code, frame.f_lasti
        op = dis.opname[code[at]]
        # 3.11: IMPORT_STAR; 3.12+: CALL_INTRINSIC_1 with INTRINSIC_IMPORT_STAR (2)
        return op == "IMPORT_STAR" or (op == "CALL_INTRINSIC_1" and code[at + 1] == 2)
    except (ValueError, IndexError, AttributeError):
        return False


class LiveProxy:
    """Forwards to `wandb_cli.<name>` as it is at each use."""

    __slots__ = ("_name",)

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def _target(self) -> Any:
        from wandb_cli.compat import resolve

        return resolve(object.__getattribute__(self, "_name"))

    def __getattr__(self, key: str) -> Any:
        target = self._target()
        if target is None:
            raise AttributeError(f"wandb.{self._name}.{key}: no run yet (call wandb.init() first)")
        return getattr(target, key)

    def __setattr__(self, key: str, value: Any) -> None:
        setattr(self._target(), key, value)

    def __getitem__(self, key: Any) -> Any:
        return self._target()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._target()[key] = value

    def __contains__(self, key: Any) -> bool:
        target = self._target()
        return target is not None and key in target

    def __iter__(self):
        target = self._target()
        return iter(()) if target is None else iter(target)

    def __len__(self) -> int:
        target = self._target()
        return 0 if target is None else len(target)

    def __bool__(self) -> bool:
        return self._target() is not None

    def __eq__(self, other: Any) -> bool:
        target = self._target()
        return target is other if other is None or target is None else target == other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<live wandb.{self._name}: {self._target()!r}>"
