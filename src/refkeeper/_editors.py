"""Editor accounts for the web desk: names and argon2 password hashes (the ``editors`` table).

``refkeeper editor add NAME`` creates one; the desk's sign-in checks one. A name is what
history records for every change the editor makes. Passwords are never stored, only their
argon2id hashes (argon2-cffi's defaults, re-hashed on sign-in when those defaults change).
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ._errors import UsageError
from ._store import Store, now

__all__ = ["Editor", "add_editor", "check_password", "count_editors", "editors"]

MIN_PASSWORD = 8
_hasher = PasswordHasher()


@dataclass
class Editor:
    id: int
    name: str
    added_at: str


def _name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise UsageError("an editor's name must be 1 to 100 characters")
    return name


def add_editor(store: Store, name: str, password: str) -> Editor:
    """Create an editor account; ``UsageError`` if the name is taken or the password too short."""
    name = _name(name)
    if len(password or "") < MIN_PASSWORD:
        raise UsageError(f"a password needs at least {MIN_PASSWORD} characters")
    hashed = _hasher.hash(password)  # slow on purpose: not inside the write lock
    stamp = now()
    with store.write() as db:
        if db.execute("SELECT 1 FROM editors WHERE name = ?", [name]).fetchone():
            raise UsageError(f"there is already an editor named {name!r}")
        cur = db.execute(
            "INSERT INTO editors (name, password_hash, added_at) VALUES (?, ?, ?)",
            [name, hashed, stamp],
        )
    return Editor(cur.lastrowid, name, stamp)


def check_password(store: Store, name: str, password: str) -> Editor | None:
    """The editor if ``password`` is theirs, else None (an unknown name costs a hash too,
    so the answer's timing does not tell which names exist)."""
    row = store.db.execute(
        "SELECT id, name, password_hash, added_at FROM editors WHERE name = ?",
        [" ".join((name or "").split())],
    ).fetchone()
    if row is None:
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            pass
        return None
    ed_id, ed_name, stored, added = row
    try:
        _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(stored) and store.writable:
        rehashed = _hasher.hash(password)
        with store.write() as db:
            db.execute("UPDATE editors SET password_hash = ? WHERE id = ?", [rehashed, ed_id])
    return Editor(ed_id, ed_name, added)


def count_editors(store: Store) -> int:
    """How many editor accounts exist (none: the desk may only listen on 127.0.0.1)."""
    return store.db.execute("SELECT COUNT(*) FROM editors").fetchone()[0]


def editors(store: Store) -> list[Editor]:
    return [Editor(*r) for r in store.db.execute("SELECT id, name, added_at FROM editors ORDER BY name")]


_DUMMY_HASH = _hasher.hash("refkeeper: no such editor")
