"""Run IDs and adjective-noun names.

A generated ID is 8 characters from [a-z0-9] drawn from a cryptographic source.  A user's ID
is accepted only if it can never leave the store or confuse a path, a shell or a URL.
"""
from __future__ import annotations

import re
import secrets

from wandb_cli.errors import UsageError

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
ID_LENGTH = 8
MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 128  # a run's display name: `-n`, init(name=), `runs rename`
# W&B's length rule for a run's tags, kept by `-t` and the SDK; `runs tag` is stricter
TAG_LENGTHS = "between 1 and 64 characters"
FORBIDDEN_ID_CHARS = "/\\#?%:;,'"
# Beyond the forbidden set: letters, digits, '-', '_' and '.', not starting with '.' or '-'.
_ID_SHAPE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")

ADJECTIVES = (
    "amber", "ancient", "autumn", "azure", "billowing", "bitter", "blooming", "bold",
    "brisk", "calm", "celestial", "charmed", "cosmic", "crimson", "curious", "dainty",
    "dashing", "desert", "divine", "dry", "eager", "earthy", "electric", "elegant",
    "ethereal", "fancy", "fearless", "fiery", "floral", "fluent", "fragrant", "frosty",
    "gentle", "gallant", "glad", "golden", "graceful", "hardy", "hearty", "helpful",
    "honest", "icy", "jolly", "kind", "laced", "lemon", "lilac", "lively", "lucky",
    "lunar", "major", "misty", "morning", "noble", "northern", "olive", "pious", "polar",
    "proud", "quiet", "radiant", "rare", "restful", "rosy", "royal", "rural", "sage",
    "scarlet", "serene", "sharp", "silver", "smooth", "snowy", "solar", "spring",
    "stellar", "stilted", "stoic", "summer", "sunny", "swift", "twilight", "vibrant",
    "vital", "wandering", "warm", "wild", "winter", "wise", "woven", "young", "zesty",
)
NOUNS = (
    "aardvark", "bird", "blaze", "bush", "butterfly", "cherry", "cloud", "comet", "cosmos",
    "darkness", "dawn", "deluge", "dew", "disco", "donkey", "dragon", "dream", "dust",
    "eon", "feather", "fire", "firebrand", "flower", "fog", "forest", "frog", "frost",
    "galaxy", "glade", "glitter", "grass", "haze", "hill", "lake", "leaf", "lion",
    "meadow", "monkey", "moon", "morning", "mountain", "night", "oath", "ocean", "pine",
    "planet", "plasma", "pond", "puddle", "rain", "resonance", "river", "salad", "sea",
    "serenity", "shadow", "shape", "silence", "sky", "smoke", "snow", "sound", "spaceship",
    "sponge", "star", "sun", "sunset", "surf", "terrain", "thunder", "totem", "tree",
    "universe", "valley", "violet", "voice", "water", "wave", "wildflower", "wind",
    "wood", "yogurt",
)


def new_id(rng: secrets.SystemRandom | None = None) -> str:
    rng = rng or secrets.SystemRandom()
    return "".join(rng.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def new_name(sequence: int, rng: secrets.SystemRandom | None = None) -> str:
    """W&B's adjective-noun-N, N being the run's sequence number in its project."""
    rng = rng or secrets.SystemRandom()
    return f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}-{sequence}"


def validate_id(run_id: str) -> str:
    """Return `run_id` if a user may choose it, else raise UsageError naming the problem."""
    if run_id is None or run_id == "":
        raise UsageError("bad run ID: it is empty")
    if any(ch.isspace() for ch in run_id):
        raise UsageError(f"bad run ID {run_id!r}: it contains whitespace")
    bad = sorted({ch for ch in run_id if ch in FORBIDDEN_ID_CHARS})
    if bad:
        raise UsageError(f"bad run ID {run_id!r}: it contains {' '.join(bad)!s}")
    if len(run_id) > MAX_ID_LENGTH:
        raise UsageError(f"bad run ID: longer than {MAX_ID_LENGTH} characters")
    if not _ID_SHAPE.match(run_id) or run_id in (".", ".."):
        raise UsageError(
            f"bad run ID {run_id!r}: use letters, digits, '-', '_' and '.', not starting with '.' or '-'"
        )
    return run_id


def validate_name(name: str, *, control_chars_ok: bool = False) -> str:
    """Return `name` if a run may carry it (1-128 characters, not only spaces; no control
    characters unless `control_chars_ok`), else raise UsageError naming the problem."""
    if not name or not name.strip():
        raise UsageError("a run name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"a run name is at most {MAX_NAME_LENGTH} characters "
                         f"(this one has {len(name):,})")
    if not control_chars_ok:
        from wandb_cli.textfmt import printable

        if printable(name) != name:
            raise UsageError(f"bad name '{printable(name)}': control characters are not allowed")
    return name


def tag_length_ok(tag: str) -> bool:
    return 1 <= len(tag) <= 64
