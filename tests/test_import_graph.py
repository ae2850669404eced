"""The import graph points one way, and modules stay small (issue 13 item 5 and the module-size rule).

Every ``import`` / ``from … import`` under ``src/dasha`` — function-level, ``TYPE_CHECKING`` and relative ones
included — is read with :mod:`ast` and mapped to its top-level part of the package. A module may import its own
part or a lower-ranked one, never a higher-ranked one:

    jsonio, plotting, dasha/__init__ → camera → vision → envs → agents → baselines → runtime → bench → demo → cli

The root ``__init__`` and the two helpers import no dasha module at all (the root's Gymnasium hook names
``dasha.envs`` by string only), so ``import dasha.camera`` stays light. Lazy imports by string (``"dasha.x.y"`` or
``"dasha.x.y:Name"`` constants: lazy ``__getattr__`` tables, Gymnasium entry points) follow the same order, that
hook and the env-class allow-list of run and policy files (``dasha.agents.envclasses``) excepted.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "dasha"
MAX_LINES = 400

#: Rank of each top-level part of the package (``dasha`` = the root ``__init__``); imports go to lower ranks only.
RANKS = {
    "dasha": 0, "jsonio": 0, "plotting": 0,  # import no dasha module
    "camera": 1, "vision": 2, "envs": 3, "agents": 4, "baselines": 5, "runtime": 6, "bench": 7,
    "demo": 8,  # the contact sheets of ``dasha demo``
    "cli": 9,
}  # fmt: skip

MODULES = sorted(PACKAGE.rglob("*.py"))
#: (module, module it names by string) pairs allowed against the order: the root's post-import Gymnasium hook, and
#: the allow-list of env classes a run or policy file may name (the paper RL baselines' envs: imported only to run a
#: policy trained on them; issue 15, nothing a file names is imported unless it is on that list).
STRING_EXCEPTIONS = {("dasha", "dasha.envs"), ("dasha.agents.envclasses", "dasha.baselines.paper_rl")}
MODULE_STRING = re.compile(r"dasha(\.\w+)+(:\w+)?")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported(path: Path, name: str | None = None) -> set[str]:
    """The dasha modules ``path`` (module ``name``) imports (``from A import b`` counts ``A.b`` when that is a
    module)."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names if is_module(f"{target}.{a.name}"))
    return {m for m in out if m == "dasha" or m.startswith("dasha.")}


def named_by_string(path: Path) -> set[str]:
    """The dasha modules ``path`` names in a string constant that is nothing but a module (or ``module:object``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_STRING.fullmatch(node.value):
            if is_module(module := node.value.partition(":")[0]):
                out.add(module)
    return out


def upward(src: str, target: str) -> bool:
    return part(target) != part(src) and RANKS.get(part(target), 99) >= RANKS.get(part(src), -1)


def part(module: str) -> str:
    """Top-level part of a dasha module: ``dasha.envs.task`` → ``envs``; the root package → ``dasha``."""
    return module.split(".")[1] if "." in module else "dasha"


def test_every_part_of_the_package_has_a_rank() -> None:
    parts = {part(module_name(p)) for p in MODULES}
    assert parts <= set(RANKS), f"give these a rank in RANKS: {sorted(parts - set(RANKS))}"


def test_imports_point_one_way() -> None:
    wrong = [f"{module_name(p)} imports {t}" for p in MODULES for t in sorted(imported(p)) if upward(module_name(p), t)]
    assert not wrong, "imports against camera → vision → envs → agents → … → cli:\n" + "\n".join(wrong)


def test_lazy_imports_by_string_point_one_way_too() -> None:
    wrong = [f"{module_name(p)} names {t}" for p in MODULES for t in sorted(named_by_string(p))
             if upward(module_name(p), t) and (module_name(p), t) not in STRING_EXCEPTIONS]  # fmt: skip
    assert not wrong, "\n".join(wrong)
    assert named_by_string(PACKAGE / "__init__.py") == {"dasha.envs"}  # the hook's one name (see STRING_EXCEPTIONS)


@pytest.mark.parametrize("name", ["dasha", "dasha.jsonio", "dasha.plotting"])
def test_the_lowest_modules_import_no_dasha_module(name: str) -> None:
    path = PACKAGE / "__init__.py" if name == "dasha" else SRC.joinpath(*name.split(".")).with_suffix(".py")
    if not path.is_file():
        pytest.fail(f"{path} is missing")
    assert imported(path) <= {name}, sorted(imported(path))


def test_the_runtime_never_imports_the_simulator() -> None:
    found = [f"{module_name(p)} imports {t}" for p in sorted((PACKAGE / "runtime").rglob("*.py"))
             for t in sorted(imported(p)) if t == "dasha.camera.sim" or t.startswith("dasha.camera.sim.")]  # fmt: skip
    assert not found, found


def test_no_module_is_longer_than_400_lines() -> None:
    long = {str(p.relative_to(SRC)): n for p in MODULES if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these (> {MAX_LINES} lines): {long}"


def test_the_parser_sees_function_level_typing_and_relative_imports(tmp_path: Path) -> None:
    # the checks above are only as good as `imported`
    fake = tmp_path / "fake.py"
    fake.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import figures\n"
        "if TYPE_CHECKING:\n    from dasha.runtime import live\n"
        "def f():\n    from ..camera import sim\n    import dasha.vision.histogram\n    import numpy\n"
    )
    assert imported(fake, "dasha.bench.fake") == {
        "dasha.bench", "dasha.bench.figures", "dasha.runtime", "dasha.runtime.live", "dasha.camera",
        "dasha.camera.sim", "dasha.vision.histogram",
    }  # fmt: skip
