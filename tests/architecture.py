"""The import contract of wandb_cli, checked from the source (ast): no cycles, imports run one way.

`check(package_dir)` returns the broken rules as lines (empty: the contract holds).  It reads
every import, at module level and inside functions (a lazy import is still a dependency), and
leaves out only those under `if TYPE_CHECKING:` (never executed).  Used by tests/test_architecture.py;
`python tests/architecture.py [PACKAGE_DIR]` prints the report and the wing map.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = "wandb_cli"
LEAVES = {"errors", "textfmt", "_version", "nogc"}

# wing -> the wings it may import (besides itself and the leaves).  Read top to bottom:
# cli/ui -> views/charts -> core wings -> store -> leaves.
ALLOWED: dict[str, set[str]] = {
    "leaves": set(),
    "store": set(),
    "query": {"store"},
    "sysmetrics": set(),
    "artifacts": {"store"},
    "media": {"store"},
    "runner": {"store", "artifacts", "sysmetrics"},
    "sdk": {"store", "artifacts", "sysmetrics", "runner", "media"},
    "api": {"store", "query", "artifacts"},
    "compat": {"store", "query", "artifacts", "sysmetrics", "runner", "media", "sdk", "api"},
    "sync": {"store", "query", "artifacts", "api"},
    "charts": {"store", "query"},
    "views": {"store", "query", "artifacts", "charts"},
    "ui": {"store", "query", "artifacts", "charts", "views", "api", "media"},
    "cli": {"*"},
    # wandb_cli/__init__.py: the SDK's names and W&B's (`import wandb_cli as wandb`), on first use
    "root": {"sdk", "api", "compat"},
    "main": {"cli"},  # wandb_cli/__main__.py
}
# third-party packages only these wings may import (None: nowhere else)
RESTRICTED = {
    "typer": {"cli"},
    "click": {"cli"},
    "rich": {"views/render", "cli"},
    "starlette": {"ui"},
    "uvicorn": {"ui"},
}


def wing_of(module: str) -> str:
    """`wandb_cli.store.layout` -> `store`; the leaves and the package files by name."""
    parts = module.split(".")[1:]
    if not parts:
        return "root"
    if parts[0] in LEAVES:
        return "leaves"
    if parts[0] == "__main__":
        return "main"
    return parts[0]


def modules(package_dir: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir.parent).with_suffix("")
        name = ".".join(rel.parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str, path: Path, known: dict[str, Path]) -> tuple[set[str], set[str]]:
    """(wandb_cli modules, top-level third-party names) that module `name` imports."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inner, outer = set(), set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                while target not in known and "." in target:
                    target = target.rpartition(".")[0]
                if target != name:
                    inner.add(target)
            else:
                outer.add(target.split(".")[0])
    return inner, outer


def graph(package_dir: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    known = modules(package_dir)
    inner, outer = {}, {}
    for name, path in known.items():
        inner[name], outer[name] = imports_of(name, path, known)
    return inner, outer


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def depth(edges: dict[str, set[str]]) -> int:
    """The longest import chain (modules on it), for a graph without cycles."""
    memo: dict[str, int] = {}

    def longest(node: str) -> int:
        if node not in memo:
            memo[node] = 0
            memo[node] = 1 + max((longest(n) for n in edges.get(node, ())), default=0)
        return memo[node]

    return max((longest(n) for n in edges), default=0)


def _restricted_ok(module: str, allowed: set[str]) -> bool:
    path = module.removeprefix(PACKAGE + ".").replace(".", "/")
    return any(path == a or path.startswith(a + "/") for a in allowed)


def check(package_dir: Path) -> list[str]:
    inner, outer = graph(package_dir)
    problems = [f"import cycle: {' <-> '.join(c)}" for c in cycles(inner)]
    for module, targets in sorted(inner.items()):
        wing = wing_of(module)
        allowed = ALLOWED.get(wing)
        if allowed is None:
            problems.append(f"{module}: wing {wing!r} is not in the contract (tests/architecture.py)")
            continue
        for target in sorted(targets):
            other = wing_of(target)
            if other in (wing, "leaves") or "*" in allowed or other in allowed:
                continue
            problems.append(f"{module} imports {target}: {wing} may not import {other}")
    for module, names in sorted(outer.items()):
        for name in sorted(names & RESTRICTED.keys()):
            if not _restricted_ok(module, RESTRICTED[name]):
                problems.append(f"{module} imports {name}: only {sorted(RESTRICTED[name])} may")
    return problems


def main(argv: list[str]) -> int:
    package_dir = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / PACKAGE
    inner, _ = graph(package_dir)
    wings: dict[str, list[str]] = defaultdict(list)
    for module in inner:
        wings[wing_of(module)].append(module)
    for wing, members in sorted(wings.items()):
        longest = max(members, key=lambda m: len(modules(package_dir)[m].read_text().splitlines()))
        print(f"{wing:12} {len(members):3} modules  longest: {longest}")
    problems = check(package_dir)
    print(f"modules: {len(inner)}  import depth: {depth(inner) if not cycles(inner) else 'n/a'}  "
          f"cycles: {len(cycles(inner))}")
    print("\n".join(problems) or "contract holds")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
