"""Reading W&B's `.wandb` transaction log: the LevelDB-log framing W&B writes, each record a
`wandb.proto.wandb_internal_pb2.Record` (W&B's own record class, shipped with the package).

Layout (as W&B's writer makes it): a 7-byte header (b":W&B", magic 0xBEE1, version 0), then
32 KiB blocks of chunks, each `crc32c:u32 length:u16 type:u8` + data; type 1 is a whole
record, 2/3/4 the first/middle/last piece of one spanning blocks; fewer than 7 bytes left in
a block are zero padding.  Invariant: a torn tail (a writer killed mid-record) ends the scan
quietly, with every whole record before it returned.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Iterator

from wandb_cli.errors import UsageError

HEADER = struct.Struct("<4sHB")
IDENT, MAGIC = b":W&B", 0xBEE1
BLOCK = 32768
CHUNK = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def iter_payloads(data: bytes) -> Iterator[bytes]:
    """Each whole record's bytes, in order."""
    if len(data) < HEADER.size:
        return
    ident, magic, _version = HEADER.unpack_from(data)
    if ident != IDENT or magic != MAGIC:
        raise ValueError("not a W&B transaction log (.wandb): bad header")
    pos, pending = HEADER.size, b""
    while pos + CHUNK.size <= len(data):
        left = BLOCK - pos % BLOCK
        if left < CHUNK.size:
            pos += left  # zero padding at the end of a block
            continue
        _crc, length, kind = CHUNK.unpack_from(data, pos)
        start = pos + CHUNK.size
        if kind == 0 and length == 0 or start + length > len(data):
            return  # padding or a torn tail
        piece = data[start:start + length]
        pos = start + length
        if kind == FULL:
            yield piece
        elif kind == FIRST:
            pending = piece
        elif kind == MIDDLE:
            pending += piece
        elif kind == LAST:
            yield pending + piece
            pending = b""
        else:
            return


def read_records(path: Path) -> Iterator[Any]:
    """The `Record`s of a `.wandb` file (needs the `wandb` package: the `wandb` extra)."""
    from wandb_cli.sync.source import need

    need("wandb", "wandb")
    from wandb.proto import wandb_internal_pb2

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        for payload in iter_payloads(data):
            record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
            record.ParseFromString(payload)
            yield record
    except ValueError as exc:
        raise UsageError(f"{path}: {exc}") from None
