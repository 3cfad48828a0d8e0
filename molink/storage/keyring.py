"""A node's key files across rotations (``molink keys rotate``, docs/operations.md).

Files in the node's ``keys/`` folder, each a passphrase-encrypted ``molink-keyfile/1``:

* ``party.key``: the party's first key. The log key and the witness key derive from
  it (``services/logkeys``), so the log keeps one identity across rotations. Until
  the first rotation it is also the message key.
* ``message.key``: the current message key (signing and sealing), after a rotation.
* ``retired/<sig_kid>.key``: earlier message keys, kept to open envelopes peers
  sealed before they learned the new key (``party.key`` counts as retired too, once
  ``message.key`` exists).
* ``pending.key``: the next message key while a rotation is under way. It becomes
  ``message.key`` only once the database says the rotation committed (setting
  ``message_key``); a leftover from a rotation that never committed is removed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from molink.core.keys import PartyKeys
from molink.storage.db import Database
from molink.storage.files import load_keys, save_keys
from molink.storage.settings import get_setting

__all__ = [
    "MESSAGE_KEY_SETTING",
    "KeyRing",
    "current_message_keys",
    "load_key_ring",
    "stage_rotation",
]

MESSAGE_KEY_SETTING = "message_key"


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The keys of one node: current message keys, retired ones, and the log root."""

    current: PartyKeys
    retired: tuple[PartyKeys, ...]
    log_root: PartyKeys


@dataclass(frozen=True, slots=True)
class _Paths:
    root: Path
    message: Path
    pending: Path
    retired: Path

    @classmethod
    def of(cls, root: Path) -> _Paths:
        return cls(
            root=root,
            message=root.with_name("message.key"),
            pending=root.with_name("pending.key"),
            retired=root.with_name("retired"),
        )


def load_key_ring(root_file: Path, passphrase: str, db: Database) -> KeyRing:
    """Read every key of the node (``root_file`` is ``party.key``), finishing or
    discarding a rotation under way."""
    paths = _Paths.of(root_file)
    root = load_keys(paths.root, passphrase)
    if paths.pending.exists():
        pending = load_keys(paths.pending, passphrase)
        with db.read() as conn:
            committed = get_setting(conn, MESSAGE_KEY_SETTING) == pending.public.sig_kid
        if committed:
            os.replace(paths.pending, paths.message)
        else:
            paths.pending.unlink()
    current = load_keys(paths.message, passphrase) if paths.message.exists() else root
    retired = [load_keys(p, passphrase) for p in sorted(paths.retired.glob("*.key"))]
    if current is not root:
        retired.append(root)
    kids = {current.public.sig_kid}
    unique = []
    for keys in retired:
        if keys.public.sig_kid not in kids:
            kids.add(keys.public.sig_kid)
            unique.append(keys)
    return KeyRing(current=current, retired=tuple(unique), log_root=root)


def current_message_keys(root_file: Path, passphrase: str) -> PartyKeys | None:
    """The message keys a rotation installed (None: the party's first keys are current)."""
    path = _Paths.of(root_file).message
    return load_keys(path, passphrase) if path.exists() else None


def stage_rotation(
    root_file: Path, passphrase: str, ring: KeyRing, new: PartyKeys, *, scrypt_n: int = 2**15
) -> None:
    """Write ``new`` as ``pending.key`` and keep the current message key as retired.

    Call before committing the rotation to the database; :func:`load_key_ring` then
    promotes the pending key (at once if called right after the commit).
    """
    paths = _Paths.of(root_file)
    if ring.current is not ring.log_root:
        retired = paths.retired / f"{ring.current.public.sig_kid}.key"
        save_keys(retired, ring.current, passphrase, scrypt_n=scrypt_n)
    save_keys(paths.pending, new, passphrase, scrypt_n=scrypt_n)
