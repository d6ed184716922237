"""Writing an export to a path the way users of ``cp`` and ``curl -o`` expect.

``open_output`` is what every "write to FILE" option uses:

* a path that is a symlink is written through to its target (the link stays a link);
* a path that is not a regular file (``/dev/null``, a FIFO, a terminal) is written to
  directly: replacing it with a regular file would be wrong, and as root it would work;
* a regular file is written to a temporary file beside it and renamed over it only when
  the whole export succeeded, so a failure never leaves half a file, and the file keeps
  its permissions;
* an existing regular file is overwritten only when the caller says so (``overwrite``),
  so nobody loses a hand-edited ``refs.bib`` to a mistyped ``-o``;
* a missing folder, a full disk or a denied permission is an ``OutputError`` with a
  one-line message, never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import TextIO

from ._errors import OutputError

__all__ = ["open_output", "output_exists"]


def output_exists(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names an existing regular file (through symlinks) that writing would replace."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _describe(exc: OSError, path: str) -> str:
    if exc.errno == errno.ENOENT:
        return f"cannot write {path}: folder {os.path.dirname(os.path.abspath(path))} does not exist"
    if exc.errno == errno.ENOSPC:
        return f"cannot write {path}: no space left on the device"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {path}: permission denied"
    if exc.errno == errno.EISDIR:
        return f"cannot write {path}: it is a folder"
    return f"cannot write {path}: {exc.strerror or exc}"


@contextlib.contextmanager
def open_output(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[TextIO]:
    """A text file to write an export to; see the module docstring for the rules.

    Raises ``OutputError`` (exit 2) when ``path`` is an existing regular file and
    ``overwrite`` is false, and for every OS error while opening, writing or renaming.
    """
    shown = os.fspath(path)
    target = os.path.realpath(shown)  # write through symlinks to what they point at
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(_describe(exc, shown)) from None

    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {shown}: it is a folder")
    if mode is not None and not stat.S_ISREG(mode):
        # A device, FIFO or socket: write straight into it, as `cp x /dev/null` does.
        try:
            fh = open(target, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise OutputError(_describe(exc, shown)) from None
        try:
            yield fh
            fh.flush()
        except OSError as exc:
            raise OutputError(_describe(exc, shown)) from None
        finally:
            with contextlib.suppress(OSError):
                fh.close()
        return

    if mode is not None and not overwrite:
        raise OutputError(f"{shown} exists: pass --force to overwrite it")

    folder = os.path.dirname(target) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(target) + ".", suffix=".part", dir=folder)
    except OSError as exc:
        raise OutputError(_describe(exc, shown)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
        # mkstemp makes the file 0600; keep the replaced file's mode, or the usual one.
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise OutputError(_describe(exc, shown)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _umask() -> int:
    # The only portable way to read the umask is to set it; done once per export.
    current = os.umask(0o022)
    os.umask(current)
    return current
