"""scopemigrate: declarative, versioned scope migrations for device stores.

The Python API: the verbs (``upgrade``, ``downgrade``, ``sync``, ``stamp``,
``current``, ``history``, ``verify``; also as ``scopemigrate.commands``),
``load_config``, and the errors (``scopemigrate.errors``), each returning or
raising what the CLI renders. The post-install hook is ``scopemigrate.hook.hook``.

The names are loaded on first use (PEP 562): the console script's quick
answers import this package and must not pay for pydantic.
"""

from __future__ import annotations

__version__ = "0.1.0"

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from scopemigrate import commands, errors
    from scopemigrate.commands import (
        current,
        downgrade,
        history,
        stamp,
        sync,
        upgrade,
        verify,
    )
    from scopemigrate.config import Config, load_config
    from scopemigrate.errors import ScopemigrateError

__all__ = [
    "Config",
    "ScopemigrateError",
    "__version__",
    "commands",
    "current",
    "downgrade",
    "errors",
    "history",
    "load_config",
    "stamp",
    "sync",
    "upgrade",
    "verify",
]

# name -> the module that defines it (None: the name is that module)
_LAZY: dict[str, tuple[str, str | None]] = {
    "commands": ("scopemigrate.commands", None),
    "errors": ("scopemigrate.errors", None),
    "Config": ("scopemigrate.config", "Config"),
    "load_config": ("scopemigrate.config", "load_config"),
    "ScopemigrateError": ("scopemigrate.errors", "ScopemigrateError"),
    **{
        verb: ("scopemigrate.commands", verb)
        for verb in ("current", "downgrade", "history", "stamp", "sync", "upgrade", "verify")
    },
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'scopemigrate' has no attribute {name!r}")
    from importlib import import_module

    module_name, attribute = _LAZY[name]
    module = import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
