"""Atomic writes: a file or a folder is written complete under a temporary name beside its
target, flushed to disk and then renamed over the target, so a killed run never leaves a
partial output; what it replaces stays until the new one is in place."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from thermochip.errors import ThermochipError


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to ``path``; on success rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        fsync(Path(tmp))
        os.chmod(tmp, file_mode())  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_output(path: str | Path, *, force: bool = True, folder: bool = False) -> Path:
    """Before any work: ``path`` can be written (its folder exists or can be made, and takes a
    file), is not the wrong kind (a folder for a file, or the other way), and exists only if
    ``force`` allows replacing it. Leftover temporary files of killed writes to ``path`` are
    removed. Returns ``path``; raises a one-line :class:`ThermochipError`."""
    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        raise ThermochipError(f"cannot write {path}: it exists and is "
                              f"{'not a folder' if folder else 'a folder'}")
    if path.exists() and not force:
        raise ThermochipError(f"{path} exists; give --force to replace it, or another --out")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ThermochipError(f"cannot write {path}: {err.strerror or err} ({parent})") from None
    for stale in parent.glob(f".{path.name}.*.tmp"):  # a killed write's leftovers
        with contextlib.suppress(OSError):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    return path


def file_mode(folder: bool = False) -> int:
    """Permissions a plain ``open`` / ``mkdir`` would give (temporary names are private)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


def fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system syncs folders
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    return renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0


@contextlib.contextmanager
def atomic_folder(path: str | Path, replaceable: Callable[[Path], bool], what: str):
    """Yield a new empty folder beside ``path``; on success it replaces ``path`` (an older
    folder there, which ``replaceable`` must accept, is removed only after the new folder is
    in place). On failure the new folder is removed and ``path`` is left as it was."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ThermochipError(f"cannot write {path}: it exists and is not a folder")
    if path.is_dir() and not replaceable(path):
        raise ThermochipError(f"cannot write {path}: the folder exists and is not a {what}; "
                              "choose another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, file_mode(folder=True))
        yield tmp
        for p in tmp.iterdir():
            fsync(p)
        fsync_dir(tmp)
        if not path.exists():
            os.replace(tmp, path)
        elif _exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old",
                                        dir=path.parent))
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
            shutil.rmtree(old, ignore_errors=True)
        fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
