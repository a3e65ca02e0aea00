"""Atomic file output: write to a temporary name in the same folder, then rename.

A path that cannot be written is the user's error, named as they gave it: `OutputError`
("<path>: cannot write: permission denied"), never the temporary name."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path

from sernet_edge.errors import OutputError

_REASONS = {errno.ENOENT: "its folder cannot hold files", errno.ENOTDIR: "a part of the path is a file",
            errno.EEXIST: "a part of the path is a file", errno.EISDIR: "it is a folder",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on the device"}


def output_error(path, e: OSError) -> OutputError:
    reason = _REASONS.get(e.errno) or (e.strerror or type(e).__name__).lower()
    return OutputError(f"{path}: cannot write: {reason}")


def make_dirs(path, named=None) -> Path:
    """`path` as a folder (created with its parents), or OutputError naming `named` (the
    path the user gave, default `path`)."""
    path = Path(path)
    named = path if named is None else named
    if path.exists() and not path.is_dir():
        raise OutputError(f"{named}: cannot write: {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise output_error(named, e) from None
    if not path.is_dir():
        raise OutputError(f"{named}: cannot write: {path} is a file, not a folder")
    return path


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    `suffix` keeps an extension that a writer insists on (Keras wants `.keras`)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: cannot write: it is a folder")
    make_dirs(path.parent, named=path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix or ''}",
                                   dir=path.parent)
        os.close(fd)
        os.unlink(tmp)  # writers such as Keras refuse to overwrite; they create it afresh
    except OSError as e:
        raise output_error(path, e) from None
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise output_error(path, e) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        try:
            tmp.write_bytes(data)
        except OSError as e:
            raise output_error(path, e) from None


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
