"""The agent's data folder: every file and folder the agent keeps under ``data_dir``.

This module is the one place that names them. The agent opens its parts on these paths,
the read-only commands (``status``, ``outbox stats``, ``model status``) read them, and
``tests/service/test_datadir.py`` checks that a real run leaves nothing else behind. It
imports nothing from the project, so any module may use it without pulling in a CLI or
the service. The tree (``docs/architecture.md`` shows the same one)::

    <data_dir>/                  site config data_dir, relative to the config file's folder
      state.json                 the agent's saved state: baselines, samplers, open alerts
      uplink-status.json         the uploader's last status: link, degrade level, rate
      alerts.db                  alert deliveries per sink (alerts.db.lock: one agent only)
      outbox/                    the durable queue (SqliteOutbox)
        outbox.db                queued items, delivered keys, drops (SQLite, WAL)
        outbox.lock              one agent per outbox
        spool/                   payloads too big for the database
        quarantine/              corrupt outbox databases, set aside
        signals-journal.db       records not yet batched, images handled, camera checkpoints
      quarantine/                sources.quarantine_dir: rejected camera files and their
                                 reasons, <camera>/<stamp>-<name>[.reason.json]; a corrupt
                                 alerts.db is set aside in quarantine/ whatever that says
      snapshots/                 sources.snapshot_dir: fetched HTTP snapshots not yet analysed
      models/                    the model store (ModelStore)
        state.json               current, previous, trial, rejected versions, history
        slots/<version>/         installed, verified models
        staging/<random>/        a download in progress; removed at the next start

Beside a file, its writer may leave: ``-wal``/``-shm``/``-journal`` (SQLite), a hidden
``.<name>.tmp`` (an atomic write cut short) and ``<name>.corrupt[-<hex>]`` (an unreadable
file set aside at start). Each part creates its own folder when it opens; ``ensure``
creates the data folder itself.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from fieldagent.config.site import SiteConfig

Kind = Literal["folder", "tree", "file", "database"]
_SQLITE_SIDES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Entry:
    """One named thing in the data folder and what it is.

    ``kind``: ``folder`` is the folder alone (its contents are entries of their own);
    ``tree`` the folder and everything in it (names chosen by the part that owns it);
    ``file`` one file; ``database`` one SQLite file with its ``-wal``/``-shm``/``-journal``.
    ``asides``: name patterns next to it that belong to it (temp and set-aside copies).
    """

    path: Path
    what: str
    kind: Kind
    asides: tuple[str, ...] = ()

    def covers(self, path: Path) -> bool:
        """Whether ``path`` is this entry, one of its asides, or inside it (a tree)."""
        if path == self.path:
            return True
        if self.kind == "tree":
            return self.path in path.parents
        if self.kind == "folder" or path.parent != self.path.parent:
            return False
        sides = _SQLITE_SIDES if self.kind == "database" else ()
        return (any(path.name == self.path.name + s for s in sides)
                or any(fnmatch.fnmatchcase(path.name, p) for p in self.asides))


def _atomic(name: str, corrupt: str | None = None) -> tuple[str, ...]:
    """Asides of a file replaced atomically (``fsutil.write_atomic``) and, when given, the
    name pattern its reader sets an unreadable copy aside under."""
    return (f".{name}.tmp",) + ((corrupt,) if corrupt else ())


@dataclass(frozen=True)
class OutboxLayout:
    """Inside an outbox folder (``SqliteOutbox(directory)`` uses it for any directory)."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "outbox.db"

    @property
    def lock(self) -> Path:
        return self.root / "outbox.lock"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def journal(self) -> Path:
        """The signal batcher's ``RecordJournal``: kept beside the queue it feeds."""
        return self.root / "signals-journal.db"

    def entries(self) -> tuple[Entry, ...]:
        return (
            Entry(self.root, "the durable queue (SqliteOutbox)", "folder"),
            Entry(self.db, "queued items, delivered keys, drops", "database"),
            Entry(self.lock, "one agent per outbox", "file"),
            Entry(self.spool, "payloads too big for the database", "tree"),
            Entry(self.quarantine, "corrupt outbox databases, set aside", "tree"),
            Entry(self.journal, "records not yet batched, images handled, checkpoints",
                  "database", (f"{self.journal.name}.corrupt-*",)),
        )


@dataclass(frozen=True)
class ModelStoreLayout:
    """Inside the model store folder (``ModelStore`` uses it for any root)."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def slots(self) -> Path:
        return self.root / "slots"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    def entries(self) -> tuple[Entry, ...]:
        name = self.state.name
        return (
            Entry(self.root, "the model store (ModelStore)", "folder"),
            Entry(self.state, "current, previous, trial, rejected, history", "file",
                  _atomic(name, f"{name}.corrupt-*")),
            Entry(self.slots, "installed, verified models, one folder per version", "tree"),
            Entry(self.staging, "downloads in progress", "tree"),
        )


def lock_beside(path: Path) -> Path:
    """The lock file that keeps a second agent off the store in ``path``."""
    return path.with_name(path.name + ".lock")


def quarantine_beside(path: Path) -> Path:
    """Where a corrupt store in ``path`` is set aside (the folder next to it)."""
    return path.parent / "quarantine"


@dataclass(frozen=True)
class DataDir:
    """The data folder under ``root`` (module docstring draws the tree).

    ``quarantine_dir`` and ``snapshot_dir`` are the site config's ``sources`` settings,
    relative to ``root`` (or absolute, and then outside it).
    """

    root: Path
    quarantine_dir: str = "quarantine"
    snapshot_dir: str = "snapshots"

    @classmethod
    def of_site(cls, site: SiteConfig, base: Path) -> DataDir:
        """The site's data folder: ``data_dir`` taken relative to ``base`` (the folder of
        the config file, as the agent and every command resolve it)."""
        root = Path(site.data_dir).expanduser()
        return cls(root if root.is_absolute() else base / root,
                   site.sources.quarantine_dir, site.sources.snapshot_dir)

    def ensure(self) -> DataDir:
        """Create the data folder (each part creates its own folder inside when it opens,
        so a folder appears only once something lives there)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def state(self) -> Path:
        """The agent's saved state (``StateFile``)."""
        return self.root / "state.json"

    @property
    def uplink_status(self) -> Path:
        """The uploader's last status (``UploaderSettings.status_path``)."""
        return self.root / "uplink-status.json"

    @property
    def alerts_db(self) -> Path:
        """Alert deliveries per sink (the ``AlertDispatcher``'s store)."""
        return self.root / "alerts.db"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def outbox_files(self) -> OutboxLayout:
        return OutboxLayout(self.outbox)

    @property
    def journal(self) -> Path:
        return self.outbox_files.journal

    @property
    def quarantine(self) -> Path:
        """Rejected camera files, one folder per camera (``sources.quarantine_dir``)."""
        return self.root / self.quarantine_dir

    @property
    def snapshots(self) -> Path:
        """Fetched HTTP snapshots not yet analysed (``sources.snapshot_dir``)."""
        return self.root / self.snapshot_dir

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def model_files(self) -> ModelStoreLayout:
        return ModelStoreLayout(self.models)

    def entries(self) -> tuple[Entry, ...]:
        """Everything the tree names, for readers and for the layout test."""
        status = self.uplink_status.name
        return (
            Entry(self.root, "the agent's data folder", "folder"),
            Entry(self.state, "the agent's saved state", "file",
                  _atomic(self.state.name, f"{self.state.name}.corrupt")),
            Entry(self.uplink_status, "the uploader's last status", "file", _atomic(status)),
            Entry(self.alerts_db, "alert deliveries per sink", "database"),
            Entry(lock_beside(self.alerts_db), "one agent per alert store", "file"),
            Entry(quarantine_beside(self.alerts_db), "a corrupt alerts.db, set aside", "tree"),
            *self.outbox_files.entries(),
            Entry(self.quarantine, "rejected camera files and their reasons", "tree"),
            Entry(self.snapshots, "fetched HTTP snapshots not yet analysed", "tree"),
            *self.model_files.entries(),
        )

    def owner_of(self, path: Path) -> Entry | None:
        """The entry ``path`` belongs to, or None when the layout does not name it."""
        return next((e for e in self.entries() if e.covers(path)), None)
