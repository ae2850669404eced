"""dasha — cameras that tune themselves.

Exposure (high-level agent) and liquid-lens focus (low-level agent) control after the DASHA paper
(Anikina, Rogov, Dylov), with a physically based simulated camera, classical baselines and benchmarks.

Layout, in the direction imports flow (``tests/test_import_graph.py`` checks it): ``jsonio`` / ``plotting`` →
``camera`` → ``vision`` → ``envs`` → ``agents`` → ``baselines`` → ``runtime`` → ``bench`` → ``demo`` → ``cli``.

``import dasha`` (or ``import dasha.camera``) imports no RL stack — no Gymnasium, torch or Ray. The Gymnasium ids
``dasha/Exposure-v0`` and ``dasha/Focus-v0`` are registered all the same (:func:`dasha.envs.register_envs`):
at once when Gymnasium is already imported, otherwise right after Gymnasium finishes importing
(:class:`_RegisterWhenGymnasiumLoads`), so ``gymnasium.make("dasha/Focus-v0")`` works whichever came first.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Sequence
from importlib import metadata as _metadata
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

try:
    __version__ = _metadata.version("dasha")  # one source: pyproject.toml's [project] version
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

#: The module whose ``register_envs()`` registers the Gymnasium ids. Named by string: the root package imports no
#: subpackage (``import dasha`` stays light; ``tests/test_import_graph.py`` ranks this module lowest).
_ENVS = "dasha.envs"


def _register_envs() -> None:
    """Register the Gymnasium ids (string entry points: the environment modules load on ``gym.make``)."""
    importlib.import_module(_ENVS).register_envs()


class _RegisterWhenGymnasiumLoads(MetaPathFinder):
    """A post-import hook: registers dasha's Gymnasium ids right after ``gymnasium`` finishes importing.

    Gymnasium 1.2 loads no plugin entry points, so a package that wants its ids registered without importing
    Gymnasium itself has to notice the import. This finder sits first on :data:`sys.meta_path` and answers only for
    ``gymnasium``: it asks the finders after it for the real spec and wraps the spec's loader in
    :class:`_RegisteringLoader`, which runs the real ``exec_module``, puts the real loader back on the module,
    removes this finder and registers the ids. Every other import passes straight through (``find_spec`` returns
    None). If Gymnasium's import fails, the finder stays, so a later successful import still registers.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "gymnasium":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None  # Gymnasium is not installed: the import fails as it would without us
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # not a loader we can wrap (a namespace package?): leave the import alone
        spec.loader = _RegisteringLoader(spec.loader, self)
        return spec

    def remove(self) -> None:
        """Take this finder off :data:`sys.meta_path` (idempotent)."""
        while self in sys.meta_path:
            sys.meta_path.remove(self)


class _RegisteringLoader(Loader):
    """Gymnasium's own loader, plus the registration after its ``exec_module`` (see the finder above)."""

    def __init__(self, loader: Any, finder: _RegisterWhenGymnasiumLoads) -> None:
        self.loader, self.finder = loader, finder

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        if getattr(module, "__loader__", None) is self:  # the module keeps Gymnasium's loader, not this wrapper
            module.__loader__ = self.loader
        if getattr(module.__spec__, "loader", None) is self:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)  # Gymnasium is fully imported after this line
        self.finder.remove()
        try:
            _register_envs()
        except Exception as exc:  # never break `import gymnasium`; say why the ids are missing
            warnings.warn(f"dasha could not register its Gymnasium ids: {exc!r}", RuntimeWarning, stacklevel=2)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, get_code, …: Gymnasium's loader's
        if name == "loader":
            raise AttributeError(name)
        return getattr(self.loader, name)


def _register_now_or_when_gymnasium_loads() -> None:
    if "gymnasium" in sys.modules:
        _register_envs()
    elif not any(type(f).__qualname__ == _RegisterWhenGymnasiumLoads.__qualname__ for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterWhenGymnasiumLoads())  # (by name: a reloaded dasha installs no second one)


_register_now_or_when_gymnasium_loads()
