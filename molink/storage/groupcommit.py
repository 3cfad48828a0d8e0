"""Group commit: concurrent write transactions share one COMMIT (one fsync).

SQLite has one writer at a time, and with ``synchronous=FULL`` every COMMIT waits
for the disk (about a millisecond here). Writers that arrive while another writer's
transaction is open therefore *join* it instead of queueing for their own: each
member's work runs in a SAVEPOINT of the shared transaction, and the last member
(the one that finds nobody else waiting, or the one that fills the group) commits
for all. Every member returns only after that COMMIT, so "the API answered" still
means "durable", exactly as with one transaction per writer.

* A member whose body raises has its SAVEPOINT rolled back: its own changes are
  gone, the others' stay, and it re-raises its own exception.
* If the COMMIT itself fails (disk full, I/O error), or a SAVEPOINT cannot be rolled
  back, the whole group is rolled back and every member raises ``StorageError``.
* Members run one after another on the group's connection (never concurrently), so
  each sees the changes of the members before it, as it would after their commits.

The first member of a group needs no SAVEPOINT (if it fails, nobody else's work is in
the transaction yet), so a lone writer costs what it did before; under load the fsync
and the BEGIN/COMMIT are shared by up to ``max_group`` members.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from molink.errors import StorageError

__all__ = ["GroupCommit"]


@dataclass(slots=True)
class _Group:
    """One open transaction and the members that joined it."""

    conn: Connection
    number: int
    members: int = 0
    error: BaseException | None = None
    done: bool = False


class GroupCommit:
    """Write transactions on one engine, joined into groups that commit together."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_group: int = 64,
        on_open: Callable[[Connection], None] | None = None,
    ) -> None:
        self.engine = engine
        self._max_group = max_group
        self._on_open = on_open
        self._cond = threading.Condition()
        self._busy = False  # a member's body, or the commit, is using the connection
        self._waiting = 0
        self._group: _Group | None = None
        self._count = 0
        self.commits = 0  # how many groups committed (for the benchmarks)
        self.members = 0  # how many members they held

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A member of the current group; returns once the group has committed."""
        group = self._enter()
        if group.members == 1:  # alone so far: its failure may roll back everything
            try:
                yield group.conn
            except BaseException as exc:
                self._leave(group, fatal=exc)
                raise
            self._leave(group)
            return
        try:
            savepoint = group.conn.begin_nested()
        except BaseException as exc:
            self._leave(group, fatal=exc)
            raise
        try:
            yield group.conn
        except BaseException as exc:
            try:
                savepoint.rollback()
            except BaseException as rollback_error:  # the transaction is unusable
                self._leave(group, fatal=rollback_error)
                raise exc from rollback_error
            self._leave(group)
            raise
        try:
            savepoint.commit()
        except BaseException as exc:
            self._leave(group, fatal=exc)
            raise
        self._leave(group)

    # -- the protocol --------------------------------------------------------------------

    def _enter(self) -> _Group:
        with self._cond:
            self._waiting += 1
            while self._busy:
                self._cond.wait()
            self._waiting -= 1
            self._busy = True
            group = self._group
        if group is None:
            try:
                group = self._open()
            except BaseException:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
                raise
        group.members += 1
        return group

    def _open(self) -> _Group:
        conn = self.engine.connect()
        try:
            if self._on_open is not None:
                self._on_open(conn)
            conn.begin()
        except BaseException:
            conn.close()
            raise
        self._count += 1
        group = _Group(conn=conn, number=self._count)
        self._group = group
        return group

    def _leave(self, group: _Group, fatal: BaseException | None = None) -> None:
        """End this member's turn: commit the group if last, else wait for whoever is."""
        with self._cond:
            last = fatal is not None or self._waiting == 0 or group.members >= self._max_group
            if not last:
                self._busy = False
                self._cond.notify_all()
                while not group.done:
                    self._cond.wait()
        if last:
            self._finish(group, fatal)
        if group.error is not None and group.error is not fatal:
            raise StorageError(f"the shared transaction failed: {group.error!s}"[:500]) from (
                group.error
            )

    def _finish(self, group: _Group, fatal: BaseException | None) -> None:
        error = fatal
        try:
            if error is None:
                group.conn.commit()
            else:
                group.conn.rollback()
        except BaseException as exc:
            error = error or exc
            try:
                group.conn.rollback()
            except BaseException:  # nothing more can be done with this connection
                group.conn.invalidate()
        finally:
            group.conn.close()
            with self._cond:
                group.error = error
                group.done = True
                self._group = None
                self._busy = False
                if error is None:
                    self.commits += 1
                    self.members += group.members
                self._cond.notify_all()
