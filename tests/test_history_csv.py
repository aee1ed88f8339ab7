"""The history CSV's fast path (plain blocks turned into CSV without parsing) writes what
parsing every line writes, for the shapes it takes and falls back on every other."""
from __future__ import annotations

import io
import json
import random

import orjson
import pytest

from wandb_cli.store import jsonio
from wandb_cli.store.digest import parse_block
from wandb_cli.store.history import CsvWriter, write_csv_rows

KEYS = ["loss", "val_loss", "lr", "_step", "_runtime", "_timestamp", "layer1/grad", "top-5",
        "a,b", 'q"uote', "é", "0", "x.y", "\x01odd", "loss2"]
PLAIN_VALUES = [0, 1, -3, 12, 0.5, -0.25, 2.0, 1234.5678, 2**62, -0.0, 0.0001, 123456789.125,
                1e-05, -1e-07, 5e-05, 1.5e-300, 1e16, 1e20, -1.5e300, 0.00009999]
ODD_VALUES = [10**25, "7", "12.5", "n/a", "", True, False, None, [1, 2],
              {"a": 1}, float("nan"), float("inf")]


def _slow(writer: CsvWriter, block: bytes) -> str:
    out = io.StringIO()
    write_csv_rows(out, writer.columns, parse_block(block)[0])
    return out.getvalue()


def _line(row: dict, rng: random.Random, plain: bool) -> bytes:
    """A line as the recorder writes it (jsonio), or for odd blocks now and then as
    json.dumps writes it (ASCII escapes, NaN tokens)."""
    if plain or rng.random() < 0.7:
        return jsonio.dumps(row)
    return json.dumps(row, separators=(",", ":")).encode()


def _block(keys: list[str], rng: random.Random, rows: int, odd: float) -> bytes:
    lines = []
    for i in range(rows):
        row = {k: rng.choice(ODD_VALUES if rng.random() < odd else PLAIN_VALUES) for k in keys}
        row["_step"] = i
        lines.append(_line(row, rng, plain=odd == 0.0))
    return b"\n".join(lines) + b"\n"


def test_plain_blocks_take_the_fast_path_and_equal_parsing_them():
    rng = random.Random(7)
    for _ in range(300):
        keys = rng.sample(KEYS, rng.randint(1, 8))
        if "_step" not in keys:
            keys.append("_step")
        rng.shuffle(keys)
        writer = CsvWriter(keys)
        block = _block(keys, rng, rng.randint(1, 40), odd=0.0)
        fast = writer._plain_csv(block)
        assert fast is not None, block[:200]
        assert fast.decode("ascii") == _slow(writer, block)
        assert writer.block_text(block) == _slow(writer, block)


def test_blocks_of_any_other_shape_write_what_parsing_writes():
    rng = random.Random(11)
    for _ in range(400):
        keys = rng.sample(KEYS, rng.randint(1, 6))
        writer = CsvWriter(keys)
        block = _block(keys, rng, rng.randint(1, 30), odd=rng.choice([0.01, 0.05, 0.5]))
        lines = block.split(b"\n")[:-1]
        change = rng.randrange(9)
        at = rng.randrange(len(lines))
        if change == 0:  # a key missing from one line
            row = json.loads(lines[at])
            row.pop(rng.choice(list(row)))
            lines[at] = json.dumps(row, separators=(",", ":")).encode()
        elif change == 1:  # an extra key
            lines[at] = lines[at][:-1] + b',"extra":1}'
        elif change == 2:  # keys in another order
            row = json.loads(lines[at])
            lines[at] = json.dumps(dict(reversed(list(row.items()))), separators=(",", ":")).encode()
        elif change == 3:  # a torn line followed by a whole one
            lines[at] = lines[at][:rng.randrange(1, len(lines[at]))] + lines[at]
        elif change == 4:  # two lines on one
            lines[at] = lines[at] + lines[at]
        elif change == 5:  # a blank line, a CRLF line
            lines[at] = rng.choice([b"", b"   ", lines[at] + b"\r"])
        elif change == 6:  # an empty value, a doubled key (hand-written JSON)
            key = jsonio.dumps(rng.choice(keys)) + b":"
            start = lines[at].find(key) + len(key)
            end = min(i for i in (lines[at].find(b",", start), lines[at].find(b"}", start)) if i >= 0)
            value = rng.choice([b"", lines[at][start:end] + b"," + key + b"1"])
            lines[at] = lines[at][:start] + value + lines[at][end:]
        elif change == 7:  # spaces, as json.dumps writes by default
            lines[at] = json.dumps(json.loads(lines[at])).encode()
        elif writer._renames:  # a key's stand-in written raw in its place
            token, stand_in = rng.choice(writer._renames)
            lines[at] = lines[at].replace(token, stand_in)
        else:
            lines[at] = lines[at][:-1] + b',"\x02":1}'
        block = b"\n".join(lines) + b"\n"
        assert writer.block_text(block) == _slow(writer, block), (change, block)


@pytest.mark.parametrize("count", [31, 40])
def test_more_keys_needing_stand_ins_than_there_are_fall_back(count):
    keys = [f"k{i}" for i in range(count)]
    writer = CsvWriter(keys)
    block = orjson.dumps({k: i for i, k in enumerate(keys)}) + b"\n"
    assert writer._plain_csv(block) is None or count <= 30
    assert writer.block_text(block) == _slow(writer, block)


@pytest.mark.parametrize(("keys", "block"), [
    (["a"], b'{"a":1e+400}\n'), (["a"], b'{"a":-1e+309}\n'),  # JSON numbers beyond a float
    (["a"], b'{"a":1e-5}\n{"a":00}\n'), (["b"], b'{"e+b":1}\n'),  # not JSON: no crash
    (["a"], b'{"a":}\n'), (["a"], b'{"a":1}\n{"a":}\n'), (["a", "b"], b'{"a":1,"b":}\n'),
    (["a"], b'{"a":+1}\n'), (["a"], b'{"a":1\x1e5}\n'), (["a"], b'{"a":1e-7}\n{"a":-9999999999999999999}\n'),
    (["a", "b"], b'{"b":1,"a":2}\n{"a":3,"b":-9223372036854775809}\n'),
])
def test_numbers_beyond_json_and_broken_lines_write_what_parsing_writes(keys, block):
    """Found by review: an overflowing or malformed number crashed the respelling; an empty
    value of a single column, a raw stand-in byte and a + outside an exponent passed."""
    writer = CsvWriter(keys)
    assert writer.block_text(block) == _slow(writer, block)


@pytest.mark.parametrize("edge", [False, True])
def test_columns_respelt_in_place_equal_parsing(edge, monkeypatch):
    """Lines in the columns' own order take the in-place respelling (a comma split, each
    inner column respelt once per distinct cell); a first or last cell that needs it falls
    back to cutting rows.  Both write what parsing writes."""
    from wandb_cli.store import history

    taken = []
    in_place = history._respelt_interior
    monkeypatch.setattr(history, "_respelt_interior",
                        lambda *args: taken.append(in_place(*args) is not None) or in_place(*args))
    as_spelt = [v for v in PLAIN_VALUES if b"e" not in jsonio.dumps(v) and b"0.0000" not in jsonio.dumps(v)]
    small = [v for v in PLAIN_VALUES if v not in as_spelt]  # 1e-05, 1e+16: spelt again
    rng = random.Random(5)
    for _ in range(60):
        keys = history.order_columns(rng.sample(["_step", "loss", "lr", "acc", "grad", "w"],
                                                rng.randint(3, 6)))
        writer = CsvWriter(keys)
        assert writer._order is None
        lines = []
        for step in range(rng.randint(1, 300)):
            row = {k: rng.choice(as_spelt) for k in keys}
            inner = keys[1 + rng.randrange(len(keys) - 2)]
            row[inner] = small[step // 50 % len(small)]  # repeated, as a schedule holds a value
            if edge and rng.random() < 0.1:
                row[rng.choice([keys[0], keys[-1]])] = rng.choice(small)
            lines.append(jsonio.dumps(row))
        block = b"\n".join(lines) + b"\n"
        fast = writer.plain_rows(block)
        assert fast is not None
        assert fast.decode("ascii") == _slow(writer, block)
    assert taken and all(taken) != edge
