"""Reading a submission folder without trusting it: regular files only, no symbolic links, within bounds.

Everything under ``submitted/`` was put there by students. A name may not be valid UTF-8, a
"notebook" may be a symbolic link into ``solutions/``, a FIFO that blocks whoever opens it,
or a file of gigabytes. The judge reads only regular files reached without following a
link, at most a fixed number of bytes of each, and turns everything else into a note on
that submission's grade.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import stat
from pathlib import Path
from typing import Callable

from course_lib.grading.autograde.plaintext import printable_name

__all__ = [
    "MAX_NOTEBOOK_BYTES",
    "MAX_FILE_BYTES",
    "MAX_FILES_BYTES",
    "MAX_FILES",
    "read_regular",
    "folder_problem",
    "other_files",
    "read_timestamp",
    "name_problem",
]

MAX_NOTEBOOK_BYTES = 32 << 20
"""Largest submitted notebook the judge reads (images in its outputs included)."""
MAX_FILE_BYTES = 16 << 20
MAX_FILES_BYTES = 64 << 20
MAX_FILES = 500
"""Other files of a submission copied into the sandbox: each, in total, and how many."""
_MAX_TIMESTAMP_BYTES = 1024


def name_problem(name: str) -> str | None:
    """Why a file or folder name cannot be used as it is (not valid UTF-8, control characters), or None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return f"the name {printable_name(name)!r} is not valid UTF-8"
    if not name.isprintable():
        return f"the name {printable_name(name)!r} holds control characters"
    return None


def read_regular(path: Path, limit: int) -> tuple[bytes | None, str | None]:
    """The bytes of ``path`` if it is a regular file (not a link) of at most ``limit`` bytes, else a reason."""
    shown = printable_name(path.name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        if err.errno == errno.ELOOP:
            return None, f"{shown} is a symbolic link; only regular files are graded"
        if err.errno == errno.ENOENT:
            return None, None
        return None, f"{shown} cannot be read ({os.strerror(err.errno or 0)})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, f"{shown} is not a regular file"
        if info.st_size > limit:
            return None, f"{shown} is {info.st_size / 2**20:.1f} MiB, more than the limit of {limit / 2**20:g} MiB"
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                return None, f"{shown} is more than the limit of {limit / 2**20:g} MiB"
        return b"".join(chunks), None
    except OSError as err:
        return None, f"{shown} cannot be read ({os.strerror(err.errno or 0)})"
    finally:
        os.close(fd)


def folder_problem(folder: Path, submitted: Path) -> str | None:
    """Why ``submitted/<student>/<assignment>`` is not a real folder of ``submitted/`` (a link, a file), or None."""
    try:
        relative = folder.relative_to(submitted)
    except ValueError:
        return "the submission is not inside the submitted folder"
    current = submitted
    for part in relative.parts:
        current = current / part
        try:
            info = os.lstat(current)
        except OSError:
            return f"{printable_name(part)} cannot be read"
        if stat.S_ISLNK(info.st_mode):
            return f"{printable_name(part)} is a symbolic link; only real folders are graded"
        if not stat.S_ISDIR(info.st_mode):
            return f"{printable_name(part)} is not a folder"
    return None


def other_files(folder: Path, ignore: Callable[[Path], bool]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The submission's other files (not notebooks), as ``(relative name, bytes)``, and notes on what was left out."""
    files: list[tuple[str, bytes]] = []
    notes: list[str] = []
    total = 0
    for current, dirs, names in os.walk(folder, followlinks=False):
        base = Path(current)
        depth = len(base.relative_to(folder).parts)
        kept_dirs = []
        for name in sorted(dirs):
            problem = name_problem(name)
            if problem or depth >= 8 or os.path.islink(base / name):
                notes.append(f"folder {printable_name(name)} was not copied into the sandbox "
                             f"({problem or ('a symbolic link' if os.path.islink(base / name) else 'nested too deeply')})")
                continue
            kept_dirs.append(name)
        dirs[:] = kept_dirs
        for name in sorted(names):
            rel = (base / name).relative_to(folder)
            problem = name_problem(name)
            if problem:
                notes.append(f"a file was not copied into the sandbox: {problem}")
                continue
            if name.endswith(".ipynb") or ignore(rel):
                continue
            if len(files) >= MAX_FILES:
                notes.append(f"only the first {MAX_FILES} files were copied into the sandbox")
                return files, notes
            data, reason = read_regular(base / name, min(MAX_FILE_BYTES, MAX_FILES_BYTES - total))
            if data is None:
                notes.append(f"file {rel} was not copied into the sandbox ({reason or 'it disappeared'})")
                continue
            files.append((str(rel), data))
            total += len(data)
    return files, notes


def read_timestamp(folder: Path) -> tuple[dt.datetime | None, str | None]:
    """The submission's ``timestamp.txt``, as nbgrader reads it, or a note on why it was ignored."""
    data, problem = read_regular(folder / "timestamp.txt", _MAX_TIMESTAMP_BYTES)
    if data is None:
        return None, problem
    try:
        from nbgrader.utils import parse_utc

        return parse_utc(data.decode("utf-8").strip()), None
    except Exception:
        return None, "timestamp.txt is not a date and time; it was ignored"
