"""Files pir reads and writes: all of the new content or none of it, and a file error is one line.

Every command that writes a file or a folder goes through ``write_atomic`` or ``output_folder``, and every
reader of a user's input file through ``input_file``; what the operating system refuses becomes a
``PirError`` that names the path and the fix (``os_error``), never a traceback.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pirlib.errors import InputError, PirError

# What to do about an OSError, by errno: the second half of the one line a user sees.
_FULL = "free some space (or raise the file size limit) and run the command again"
_FIXES = {
    errno.EACCES: "no permission; fix the permissions, or choose a path you may use",
    errno.EPERM: "not permitted; fix the permissions, or choose a path you may use",
    errno.EROFS: "a read-only file system; choose a place you can write",
    errno.ENOSPC: f"the disk is full; {_FULL}",
    errno.EDQUOT: f"the disk quota is used up; {_FULL}",
    errno.EFBIG: f"the file grew past the size limit; {_FULL}",
    errno.EISDIR: "it is a folder; give a file name instead (or move the folder away)",
    errno.ENOTDIR: "part of the path is a file, not a folder; give a path whose folders are folders",
    errno.EEXIST: "a file of that name is in the way; give a folder, or move the file away",
    errno.ENOENT: "the place does not exist or does not take new files; choose a folder you can write",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
}


def os_error(exc: OSError, path: Path | str | None = None, doing: str = "cannot write") -> PirError:
    """The one-line PirError for ``exc``: what failed on ``path`` (default the error's own), and what to do."""
    where = path if path is not None else exc.filename
    fix = _FIXES.get(exc.errno or 0) or f"{exc.strerror or exc}; check the path and run the command again"
    return PirError(f"{doing} {where}: {fix}")


def fix_for_message(text: str) -> str | None:
    """The fix for an OS error quoted in another library's message (DuckDB's "File too large"), if any."""
    for number, fix in _FIXES.items():
        if os.strerror(number) in text:
            return fix
    return None


def write_atomic(path: Path | str, content: str | bytes) -> Path:
    """Write ``content`` to a temporary file beside ``path`` and rename it over ``path``; return the path.

    The missing folders above ``path`` are created. A failure (no permission, a full disk, a folder where
    the file should be) leaves no temporary file and the previous ``path`` as it was, and is a PirError.
    """
    return write_all({Path(path): content})[0]


def write_all(contents: Mapping[Path, str | bytes]) -> list[Path]:
    """``write_atomic`` for several files that belong together: all are written, or none is changed.

    Every file is written to its temporary first; the renames come only when all of them are on disk, so a
    full disk halfway leaves the previous files, not a new one beside an old one.
    """
    targets = {
        Path(path): content.encode("utf-8") if isinstance(content, str) else content
        for path, content in contents.items()
    }
    for target in targets:
        if target.is_dir():
            # os.replace would only say "Is a directory" after the data was written to a temporary file.
            raise os_error(IsADirectoryError(errno.EISDIR, "Is a directory", str(target)))
    for folder in dict.fromkeys(target.parent for target in targets):
        output_folder(folder)
    temporaries: list[str] = []
    target = next(iter(targets), Path("."))
    try:
        for target, data in targets.items():
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            temporaries.append(temporary)
            os.chmod(temporary, 0o644)  # mkstemp makes 0600; a published file is for others to read
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
        for target, temporary in zip(targets, temporaries, strict=True):
            os.replace(temporary, target)
    except BaseException as exc:
        for temporary in temporaries:
            Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise os_error(exc, target) from None
        raise
    return list(targets)


def output_folder(path: Path | str, *, create: bool = True) -> Path:
    """Make sure files can be written into the folder ``path``; return it.

    ``create`` makes it and its parents; without, nothing is created and the nearest existing folder above
    is checked instead (for work that must fail before it publishes or sends anything, and then writes).
    """
    folder = Path(path)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "it is" if existing == folder else f"{existing} is"
        raise PirError(
            f"cannot write into {folder}: {what} a file, not a folder; give a folder (or move the file away)"
        )
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
            existing = folder
        # Creating a file is the only test that holds for root, read-only mounts and ACLs alike.
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise os_error(exc, folder, "cannot write into") from None
    return folder


def input_file(path: Path | str, what: str = "file", *, folder_ok: bool = False) -> Path:
    """``path`` if it is a regular file pir can read (or a folder, with ``folder_ok``); else an InputError.

    A FIFO, a socket or a device (``/dev/zero``) is refused before it is opened: reading one would block
    or never end.
    """
    file = Path(path)
    try:
        mode = file.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{file}: no such {what}; check the path") from None
    except OSError as exc:
        raise InputError(str(os_error(exc, file, "cannot read"))) from None
    if stat.S_ISDIR(mode):
        if folder_ok:
            return file
        raise InputError(f"{file} is a folder; give the {what} itself")
    if not stat.S_ISREG(mode):
        raise InputError(f"{file} is not a regular file (a pipe, socket or device); give a saved {what}")
    if not os.access(file, os.R_OK):
        raise InputError(f"cannot read {file}: no permission; fix its permissions or copy it somewhere readable")
    return file


def project_input(home: Path | None, typed: str, what: str = "file", *, folder_ok: bool = False) -> Path:
    """A path a person typed, as ``input_file`` checks it: a relative one is resolved against the project folder
    ``home`` (never a kernel's working directory); a missing one is refused naming the folder it was looked for in."""
    text = (typed or "").strip()
    if not text:
        raise InputError(f"no {what} given; type its path (absolute, or relative to the project folder)")
    path = Path(text).expanduser()
    if not path.is_absolute():
        folder = home or Path.cwd()
        path = folder / path
        if not path.exists():
            raise InputError(
                f"{text}: no such {what} in the project folder {folder}; give a path relative to that "
                "folder, or an absolute path"
            )
    return input_file(path, what, folder_ok=folder_ok)


def read_text(path: Path | str, what: str = "file") -> str:
    """The UTF-8 text of a user's file (a byte-order mark is dropped); binary or other encodings are refused."""
    file = input_file(path, what)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(str(os_error(exc, file, "cannot read"))) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{file}: UTF-16 text; save the {what} as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not UTF-8 text (byte {exc.start}); save the {what} as UTF-8") from None
    if "\x00" in text:
        raise InputError(f"{file}: a binary file (it holds NUL bytes), not a text {what}; give the {what} itself")
    return text
