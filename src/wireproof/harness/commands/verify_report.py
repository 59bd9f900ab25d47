"""``wireproof verify-report DIR``: check a report directory against its manifest.

The manifest (``DIR/manifest.json``, schema ``wireproof.manifest/1``,
written last by every certification run: :mod:`wireproof.harness.report.bundle`)
lists each file with its size and SHA-256. This command recomputes both for
every listed file and prints one line per problem:

- a file modified (its size, or else its SHA-256, differs), missing, or not
  a regular file;
- an entry refused without being read: an absolute path, a ``..`` or empty
  component, a backslash or NUL, or a symbolic link anywhere on the way
  (wireproof writes none, and one could lead out of DIR); files are opened
  component by component relative to DIR without following links, so the
  check cannot be raced into reading elsewhere;
- an entry listed twice;
- a file at DIR's top level or under ``DIR/evidence/`` that the manifest does
  not list (a bundle holds one run, and nothing slipped in).

The last line is ``DIR: N files verified, manifest sha256 X`` (exit 0) or
``DIR: NOT VERIFIED: K problems, manifest sha256 X`` (exit 1, a verdict).
A DIR without a readable, valid manifest (not a directory, no manifest, not
JSON, another schema, an entry without its path, size or SHA-256) is a usage
error (exit 2) with one line saying what is wrong. Files are hashed in 1 MiB
chunks; a size that differs is reported without reading the file, so a
claim of any size costs nothing.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from wireproof.errors import FixtureError
from wireproof.harness.exitcodes import FAIL, OK, USAGE
from wireproof.harness.report.bundle import EVIDENCE_DIR, MANIFEST, MANIFEST_SCHEMA

__all__ = ["Verification", "add_arguments", "load_manifest", "run", "verify"]

MAX_MANIFEST: Final = 64 << 20  # far above any run's manifest (about 100 bytes a file)
_CHUNK: Final = 1 << 20
_SHA256: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
    path: str
    size: int
    sha256: str


@dataclass(slots=True, kw_only=True)
class Verification:
    """What :func:`verify` found: one (path, problem) per problem, the files verified, the manifest's hash."""

    manifest_sha256: str
    listed: int = 0
    verified: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.verified == self.listed > 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="a report directory (with manifest.json)")


def _printable(text: str) -> str:
    """Untrusted text (a path from the manifest) on one line: control characters escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def _read_manifest_bytes(directory: Path) -> bytes:
    if not directory.is_dir():
        raise FixtureError(f"{directory} is not a directory")
    path = directory / MANIFEST
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise FixtureError(f"{path} is a symbolic link; a manifest is a file wireproof wrote") from None
        raise FixtureError(f"{path} cannot be read ({err.strerror or err}): "
                           "not a wireproof report directory?") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MANIFEST:
        os.close(fd)  # unread: a directory cannot be read, a FIFO could block, a huge file fill memory
        if not stat.S_ISREG(st.st_mode):
            raise FixtureError(f"{path} is not a regular file")
        raise FixtureError(f"{path} is {st.st_size} bytes, more than a manifest can be ({MAX_MANIFEST})")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(MAX_MANIFEST + 1)
        except OSError as err:
            raise FixtureError(f"{path} cannot be read ({err.strerror or err})") from None
    if len(data) > MAX_MANIFEST:
        raise FixtureError(f"{path} grew past {MAX_MANIFEST} bytes while being read")
    return data


def load_manifest(directory: Path) -> tuple[list[_Entry], str]:
    """The manifest's entries and the SHA-256 of its bytes; :class:`FixtureError` when it is not valid."""
    data = _read_manifest_bytes(directory)
    where = directory / MANIFEST
    try:
        doc: Any = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise FixtureError(f"{where}: not UTF-8 (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise FixtureError(f"{where}: not JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    except (ValueError, RecursionError) as err:  # an integer of 5,000 digits, nesting 100,000 deep
        raise FixtureError(f"{where}: not a manifest JSON can hold ({type(err).__name__})") from None
    if not isinstance(doc, dict) or doc.get("schema") != MANIFEST_SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise FixtureError(f"{where}: not a {MANIFEST_SCHEMA} manifest (schema {_printable(repr(got))[:80]})")
    files = doc.get("files")
    if not isinstance(files, list):
        raise FixtureError(f"{where}: 'files' is not a list")
    entries = []
    for i, item in enumerate(files):
        if not isinstance(item, dict):
            raise FixtureError(f"{where}: files[{i}] is not an object")
        path, size, digest = item.get("path"), item.get("size"), item.get("sha256")
        if not isinstance(path, str):
            raise FixtureError(f"{where}: files[{i}].path is not a string")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise FixtureError(f"{where}: files[{i}].size is not a byte count")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise FixtureError(f"{where}: files[{i}].sha256 is not 64 lowercase hex digits")
        entries.append(_Entry(path=path, size=size, sha256=digest))
    return entries, hashlib.sha256(data).hexdigest()


def _refusal(path: str) -> str | None:
    """Why an entry's path is refused without being read (None: a plain relative path)."""
    if not path:
        return "an empty path: refused"
    if path.startswith("/") or re.match(r"[A-Za-z]:", path):
        return "an absolute path: refused, not read"
    if "\\" in path or "\x00" in path:
        return "a path with a backslash or NUL: refused, not read"
    parts = path.split("/")
    if ".." in parts:
        return "a path with '..': refused, not read (it could leave the directory)"
    if any(p in ("", ".") for p in parts):
        return "not a plain relative path (an empty or '.' component): refused"
    return None


def _open_inside(directory: Path, path: str) -> int:
    """A read descriptor for ``path`` under ``directory``, every component opened without following links.

    Raises ``OSError`` (ELOOP for a symbolic link on the way).
    """
    parts = path.split("/")
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)


def _is_link_on_the_way(directory: Path, path: str) -> bool:
    current = directory
    for part in path.split("/"):
        current = current / part
        if current.is_symlink():
            return True
    return False


def _check(directory: Path, entry: _Entry) -> str | None:
    """The problem with one listed file, or None when its size and SHA-256 match."""
    try:
        fd = _open_inside(directory, entry.path)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link_on_the_way(directory, entry.path):
            return "a symbolic link on its path: refused, not read (wireproof writes none)"
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return "missing"
        return f"cannot be read ({err.strerror or err})"
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
        os.close(fd)  # nothing read: a directory or FIFO is not a file, and a size that differs is enough
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            return f"{kind}, where the manifest lists a file"
        return f"modified: {st.st_size} bytes, the manifest says {entry.size}"
    with os.fdopen(fd, "rb") as f:
        h = hashlib.sha256()
        try:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        except OSError as err:
            return f"cannot be read ({err.strerror or err})"
    if h.hexdigest() != entry.sha256:
        return f"modified: SHA-256 {h.hexdigest()}, the manifest says {entry.sha256}"
    return None


def _present(directory: Path) -> list[str]:
    """The files at the top level and under evidence/ (relative, '/'-separated), links not followed."""
    found = []
    with os.scandir(directory) as it:
        for item in it:
            if item.name != MANIFEST and not item.is_dir(follow_symlinks=False):
                found.append(item.name)
    evidence = directory / EVIDENCE_DIR
    if evidence.is_symlink():
        found.append(EVIDENCE_DIR)
    elif evidence.is_dir():
        for root, dirs, files in os.walk(evidence):
            rel = Path(root).relative_to(directory).as_posix()
            found += [f"{rel}/{name}" for name in files]
            found += [f"{rel}/{name}" for name in dirs if (Path(root) / name).is_symlink()]
    return found


def verify(directory: Path) -> Verification:
    """Check ``directory`` against its manifest (module docstring); :class:`FixtureError` for no valid one."""
    entries, digest = load_manifest(directory)
    result = Verification(manifest_sha256=digest, listed=len(entries))
    if not entries:
        result.problems.append((MANIFEST, "lists no file"))
    seen: set[str] = set()
    for entry in entries:
        if entry.path in seen:
            result.problems.append((entry.path, "listed twice in the manifest"))
            continue
        seen.add(entry.path)
        problem = _refusal(entry.path) or _check(directory, entry)
        if problem is None:
            result.verified += 1
        else:
            result.problems.append((entry.path, problem))
    for path in sorted(_present(directory)):
        if path not in seen:
            result.problems.append((path, "not listed in the manifest"))
    return result


def run(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    shown = _printable(str(directory))
    try:
        result = verify(directory)
    except FixtureError as err:
        print(f"wireproof verify-report: error: {_printable(str(err))}", file=sys.stderr)
        return USAGE
    except OSError as err:  # the directory itself vanished or cannot be listed
        print(f"wireproof verify-report: error: {shown}: {err.strerror or err}", file=sys.stderr)
        return USAGE
    for path, problem in result.problems:
        print(f"{shown}/{_printable(path)}: {problem}")
    if result.ok:
        print(f"{shown}: {result.verified} files verified, manifest sha256 {result.manifest_sha256}")
        return OK
    n = len(result.problems)
    print(f"{shown}: NOT VERIFIED: {n} problem{'s' if n != 1 else ''}, "
          f"manifest sha256 {result.manifest_sha256}")
    return FAIL
