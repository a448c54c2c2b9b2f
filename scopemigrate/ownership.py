"""Whose rights a run uses: under root, the store owner's.

Install steps run as root (a Debian ``postinst``, ``sudo npm -g``, a system
unit's ``ExecStartPre``), while the store belongs to the user the gateway runs
as. A root run that wrote the store as root would leave files the gateway
cannot read, and would follow, as root, whatever links that user left in the
folder. So a run decides once, at its start, before any store file is opened:

- run by root on a store whose state dir another user owns: it gives up root
  for that user's rights (supplementary groups, group, user), irrevocably,
  for the rest of the process; every file it creates is then that user's;
- ``--as-user USER`` (or ``SCOPEMIGRATE_AS_USER``): the same, for a named
  user, whose home also decides which store OpenClaw's own rules find (a
  ``postinst`` runs with ``HOME=/root``); the store's state dir, if there is
  one, must be that user's;
- anything else: the caller's own rights.

Under root, a store file the owner does not own (left behind by a root run of
an older release, say) is refused before anything is read: the owner could
not read or replace it, and the run would fail half-way.

Standard library only, and only ``os`` and ``pwd`` at import (no
``dataclasses``, ``typing`` or ``pathlib``: tens of milliseconds on a cold
start): the quick answers call this before they answer.
"""

from __future__ import annotations

import os
import pwd

from scopemigrate.errors import ConfigError, StorePermissionError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pathlib import Path

    from scopemigrate.config import Config

AS_USER_ENV = "SCOPEMIGRATE_AS_USER"
ROOT_UID = 0
# The folders of a state dir whose entries a run may read, replace or create.
STORE_FOLDERS = ("devices", "state")


class User:
    """An account: ``name`` None for a uid without one (a container's, say)."""

    __slots__ = ("gid", "home", "name", "uid")

    def __init__(self, uid: int, gid: int, name: str | None, home: str | None):
        self.uid = uid
        self.gid = gid
        self.name = name
        self.home = home

    def __str__(self) -> str:
        return self.name if self.name is not None else f"uid {self.uid}"


def lookup_user(text: str, source: str = "--as-user") -> User:
    """A user by name or by number, as ``--as-user`` takes it; ``source`` names
    where the text came from (the option or its variable), for the error."""
    try:
        entry = pwd.getpwuid(int(text)) if text.isdigit() else pwd.getpwnam(text)
    except (KeyError, OverflowError):
        raise ConfigError(f"{source} {text}: no such user") from None
    return User(entry.pw_uid, entry.pw_gid, entry.pw_name, entry.pw_dir)


def owner_of(folder: str | Path) -> User | None:
    """The owner of ``folder`` (its group when the uid has no account); None if absent."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return None
    try:
        entry = pwd.getpwuid(st.st_uid)
    except KeyError:
        return User(st.st_uid, st.st_gid, None, None)
    return User(entry.pw_uid, entry.pw_gid, entry.pw_name, entry.pw_dir)


def store_folder(config: Config) -> str | None:
    """The local folder holding the store (the state dir), an ``os`` path; None for a
    database server."""
    from scopemigrate.stores.layout import parse_store_spec, sqlite_database, state_path_of

    folder = state_path_of(config.store, config.env)
    if folder is not None:
        return folder
    try:
        database = sqlite_database(parse_store_spec(config.store))
    except ConfigError:
        return None  # an unknown scheme: the run names it
    if database is None:
        return None
    from pathlib import Path

    path = Path(database)
    # <state>/state/openclaw.sqlite: the state dir is two levels up.
    return str(path.parent.parent if path.parent.name == "state" else path.parent)


def _foreign_files(folder: str, user: User) -> list[Path]:
    """Entries of the store's folders that ``user`` does not own."""
    from pathlib import Path

    found: list[Path] = []
    for name in ("", *STORE_FOLDERS):
        directory = Path(folder, name)
        try:
            entries = [directory, *directory.iterdir()] if name else [directory]
        except (FileNotFoundError, NotADirectoryError):
            continue
        found.extend(p for p in entries if os.lstat(p).st_uid != user.uid)
    return found


def _load_the_full_run(config: Config) -> None:
    """Import what a run may need while root can still read it, for an owner who
    cannot read the Python installation (an interpreter under /root, say)."""
    import importlib

    modules = ["scopemigrate.cli", "scopemigrate.stores.openclaw_json"]
    modules += ["scopemigrate.stores.openclaw_sqlite", "subprocess", "shutil"]  # installed.py
    modules.append("difflib")  # click builds its "no such option" error, even for -q, with it
    if (config.store or "").startswith(("postgresql:", "postgres:")):
        modules.append("scopemigrate.stores.postgres")
    for module in modules:
        importlib.import_module(module)


def _unreadable_by(user: User, paths: list[Path]) -> list[bool]:
    """For each path, whether ``user`` cannot read it (a missing path: False, the run
    names it). Asked in a child that takes the user's rights: only the kernel knows."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's result is read by the parent
        code = 1
        try:
            os.close(read_end)
            drop_privileges(user)
            answer = "".join("1" if _blocked(path) else "0" for path in paths)
            os.write(write_end, answer.encode("ascii"))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read().decode("ascii")
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0 or len(answer) != len(paths):
        raise StorePermissionError(f"cannot take the rights of {user}, who owns the store")
    return [flag == "1" for flag in answer]


def _blocked(path: Path) -> bool:
    try:
        os.stat(path)
    except FileNotFoundError:
        return False
    except PermissionError:
        return True
    return not os.access(path, os.R_OK | os.X_OK)


def drop_privileges(user: User) -> None:
    """Give up root for ``user``'s rights, for good (groups first: they need root)."""
    if user.name is not None:
        os.initgroups(user.name, user.gid)
    else:
        os.setgroups([])
    os.setgid(user.gid)
    os.setuid(user.uid)


def gives_up_root(config: Config, as_user: str | None = None) -> bool:
    """Whether ``act_for_store`` would take another user's rights.

    The quick answers then decide in a child that takes them (quick/__init__.py),
    so that the process which may go on to the full run keeps root, and the full
    run settles the rights once, with what it needs loaded first.
    """
    if os.geteuid() != ROOT_UID:
        return False
    if as_user or config.env.get(AS_USER_ENV):
        return True
    folder = store_folder(config)
    owner = owner_of(folder) if folder is not None else None
    return owner is not None and owner.uid != ROOT_UID


def act_for_store(config: Config, as_user: str | None = None, *, load_all: bool = True) -> Config:
    """Settle whose rights this run uses (see the module's docstring).

    Call once, after the configuration is read and before any store file is
    opened. ``load_all`` False: the caller has loaded what it needs (a quick
    answer in a child process) and nothing else is loaded. Returns the
    configuration to use: with ``--as-user``, its environment carries that
    user's home, so OpenClaw's rules find their store.
    """
    name = as_user or config.env.get(AS_USER_ENV) or None
    source = "--as-user" if as_user else AS_USER_ENV
    user = lookup_user(name, source) if name else None
    euid = os.geteuid()
    if user is not None:
        if euid not in (ROOT_UID, user.uid):
            raise StorePermissionError(
                f"{source} {name}: only root can act as another user (this run is uid {euid})"
            )
        env = dict(config.env)
        if user.home:
            env["HOME"] = user.home
        if user.name:
            env["USER"] = env["LOGNAME"] = user.name
        config = config.replace(env=env)
    if euid != ROOT_UID:
        return config
    folder = store_folder(config)
    owner = owner_of(folder) if folder is not None else None
    if user is not None and owner is not None and owner.uid != user.uid:
        raise StorePermissionError(
            f"{folder}: owned by {owner}, not by --as-user {user}; name the user who owns "
            "the store, or the store that user owns"
        )
    target = user or owner
    if target is None or target.uid == ROOT_UID:
        return config
    if folder is not None:
        foreign = _foreign_files(folder, target)
        if foreign:
            raise StorePermissionError(
                f"{foreign[0]}: not owned by {target}, who owns the store; nothing was "
                f"changed (give it back: chown -R {target.name or target.uid} {folder})"
            )
    from pathlib import Path

    installation = [Path(os.__file__).parent, Path(__file__).parent.parent]  # stdlib, ours
    locations = list(config.locations)
    blocked = _unreadable_by(target, [*installation, *locations])
    for location, unreadable in zip(locations, blocked[len(installation) :], strict=True):
        if unreadable:
            raise StorePermissionError(
                f"{location}: {target}, who owns the store, cannot read these migration "
                "files, and a run as root acts with the owner's rights; make them readable "
                "(install scopemigrate with pipx install --global, or under /usr/local); "
                "nothing was changed"
            )
    if load_all and any(blocked[: len(installation)]):
        _load_the_full_run(config)
    drop_privileges(target)
    return config
