"""The post-install hook: bring the store to the installed release, by itself.

A package's install step (npm ``postinstall``, a Debian ``postinst``, a
service's ``ExecStartPre``, an application at start) calls ``hook``. It is
non-interactive and idempotent, quiet when there is nothing to do, one line
when it changed something, and bounded in time: the wait for another run's
lock never exceeds ``timeout``, and each run retries a bounded number of times.

The common case is an install or a service start where the store is already
at the installed release. ``quick.verdicts.at_release`` answers that from the
ledger and the migration files with the standard library alone, so the hook
costs little more than the interpreter's start; anything it cannot vouch for
goes the full way through ``commands.sync``, which is imported only then.

Only stdlib-only modules at import: the quick path builds a ``HookResult``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from scopemigrate.config import Config
from scopemigrate.installed import InstalledVersion, resolve_installed
from scopemigrate.quick.verdicts import at_release
from scopemigrate.stores.layout import state_dir_of

if TYPE_CHECKING:
    from scopemigrate.commands import SyncResult
    from scopemigrate.findings import Finding

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "HookResult", "hook", "store_location"]

DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class HookResult:
    store: str
    installed: InstalledVersion
    heads: list[str]
    sync: SyncResult | None = None  # None: nothing to do, known without a full run
    findings: list[Finding] = field(default_factory=list)  # read on a full run only

    @property
    def changed(self) -> bool:
        return self.sync is not None and self.sync.changed

    def summary(self) -> str | None:
        """The one line printed when the hook changed the store, else None."""
        if self.sync is None or not self.sync.changed:
            return None
        before = ", ".join(self.sync.from_heads) or "base"
        after = ", ".join(self.sync.to_heads) or "base"
        return (
            f"scopemigrate: {self.store} brought to release {self.installed.version} "
            f"({before} -> {after}): {self.sync.devices_changed} device(s) changed"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "installed": {
                "version": self.installed.version,
                "source": self.installed.source,
                "warning": self.installed.warning,
            },
            "changed": self.changed,
            "heads": self.heads,
            "sync": None if self.sync is None else self.sync.to_json(),
            "findings": [asdict(finding) for finding in self.findings],
        }


def store_location(config: Config) -> str:
    """What a no-op hook's result names as the store: the state dir, else the spec."""
    state_dir = state_dir_of(config.store, config.env)
    return str(state_dir) if state_dir is not None else str(config.store)


def hook(
    config: Config,
    installed_version: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> HookResult:
    """Bring the store to the installed release; the Python face of ``scopemigrate hook``."""
    installed = resolve_installed(config, installed_version)
    synced, heads = at_release(config, installed.version)
    if synced:
        return HookResult(store_location(config), installed, heads)
    from scopemigrate import commands  # the full machinery, only when there is work

    bounded = config.replace(lock_timeout=min(config.lock_timeout, timeout))
    result = commands.sync(bounded, installed.version)
    found = commands.store_findings(bounded, installed.version) if result.store_exists else []
    return HookResult(result.store, installed, result.to_heads, result, found)
