"""Vault files: paths, atomic writes, and merging RefNet's text with what the user added.

A note is front matter, RefNet's body, the line `%% refnet:end %%`, then the user's part. On
regeneration the user's part is kept byte for byte, and front-matter keys RefNet does not own
are kept (verbatim, in their order, after RefNet's keys). A file RefNet never wrote is never
read into a merge, let alone replaced.

The user may save a note in Obsidian while RefNet merges it (in place, or through a temp file
renamed over it). A merge remembers the hash of what it read; just before the rename the file
is read again, and if it changed RefNet merges again (`write_merged`), a few times at most,
then leaves the note as the user saved it for the next run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from refnet.core.errors import PermanentError

MARKER = "%% refnet:end %%"
NOTES_DIR = "papers"
MAPS_DIR = "maps"
INDEX_NAME = "RefNet Index"
INDEX_PATH = f"{INDEX_NAME}.md"
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's safe dumper when built
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPENING_FENCE = re.compile(r"---[ \t]*(?:\r?\n|$)")
_CLOSING_FENCE = re.compile(r"^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.MULTILINE)
_MARKER_LINE = re.compile(rf"^[ \t]*{re.escape(MARKER)}[ \t]*(?:\r?\n|\Z)", re.MULTILINE)
_TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"\.refnet-[0-9a-f]{12}\.tmp$")
_PLAIN_KEY = re.compile(r"([A-Za-z_][\w-]*):(?:\s|$)")

# `edited`: the file changed after it was read for the merge; nothing was written.
Status = Literal["changed", "written", "unchanged", "failed", "edited"]
ABSENT = "absent"  # `FileResult.base` of a file that did not exist when it was read
WRITE_ATTEMPTS = 3  # merges of a file the user keeps saving, before it is left for the next run
EDITED_ERROR = (
    "the file kept changing while RefNet merged it; it is left as it is until the next run"
)
REMOVED_KEY = "refnet_removed"  # marks a note kept after its paper left the database


def note_path(citekey: str) -> str:
    return f"{NOTES_DIR}/{citekey}.md"


def map_name(citekey: str) -> str:
    return f"{citekey} map"


def map_path(citekey: str) -> str:
    return f"{MAPS_DIR}/{map_name(citekey)}.md"


def canvas_path(citekey: str) -> str:
    return f"{MAPS_DIR}/{citekey}.canvas"


class NoteConflict(Exception):
    """The file cannot be merged safely; the message tells the user what to fix."""


class FileEdited(Exception):
    """The file is no longer what the merge read: written in between, renamed over or deleted."""


@dataclass(frozen=True, slots=True)
class FileResult:
    status: Status
    content_hash: str | None = None
    error: str | None = None
    data: bytes | None = None  # what to write, while `changed`
    # The hash of the file the merge read (ABSENT when there was none): the write goes ahead
    # only if the file is still that. None: not checked.
    base: str | None = None


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def describe(exc: BaseException) -> str:
    """A reason a person can read: `EROFS: Read-only file system`."""
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, "")
        text = exc.strerror or str(exc)
        return f"{name}: {text}" if name else text
    return str(exc) or type(exc).__name__


def dump_front_matter(values: dict[str, Any]) -> str:
    """YAML that `yaml.safe_load` reads back as `values`: safe dumper, no line wrapping."""
    if not values:
        return ""
    text: str = yaml.dump(
        values, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=1 << 20
    )
    return text


def current_base(path: Path) -> str:
    """What `FileResult.base` would say of the file now: its content hash, or ABSENT."""
    existing = read_file(path)
    return ABSENT if existing is None else content_hash(existing)


def atomic_write(path: Path, data: bytes, *, base: str | None = None) -> None:
    """Write via a temp file in the same directory, fsync, then rename over `path`.

    With `base`, the file is read again just before the rename and `FileEdited` is raised if it
    is no longer what the merge read: checking by content rather than by mtime and size sees a
    save within one timestamp tick, and lets a file saved unchanged through. What is left is
    the time between that read and the rename, microseconds against the whole merge before.
    On any error the temp file is removed, so a full or read-only disk leaves `path` as it was.
    """
    temp = os.path.join(path.parent, f".refnet-{secrets.token_hex(6)}{_TEMP_SUFFIX}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if base is not None and current_base(path) != base:
            raise FileEdited(str(path))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def split_note(text: str) -> tuple[str | None, str]:
    """(front matter YAML or None, everything after it)."""
    text = text.removeprefix("\ufeff")
    opening = _OPENING_FENCE.match(text)
    if opening is None:
        return None, text
    closing = _CLOSING_FENCE.search(text, opening.end())
    if closing is None:
        raise NoteConflict("the front matter has no closing `---` line")
    return text[opening.end() : closing.start()], text[closing.end() :]


def user_part(body: str) -> str:
    """Everything after the marker line, verbatim."""
    found = _MARKER_LINE.search(body)
    if found is None:
        raise NoteConflict(
            f"the line `{MARKER}` is missing, so RefNet cannot tell your text from its own"
        )
    return body[found.end() :]


def _key_blocks(front: str) -> list[tuple[Any, str]] | None:
    """Top-level keys with their raw text (comments stay with the key above); None if unclear."""
    blocks: list[list[str]] = []
    for line in _lines(front):
        starts_key = line[:1] not in ("", " ", "\t", "-", "#", "\r", "\n")
        if starts_key or not blocks:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    keyed: list[tuple[Any, str]] = []
    for block in blocks:
        text = "".join(block)
        try:
            value = yaml.load(text, Loader=_LOADER)
        except yaml.YAMLError:
            return None
        if value is None and not keyed:
            continue  # leading comments or blank lines
        if not isinstance(value, dict) or len(value) != 1:
            return None
        keyed.append((next(iter(value)), text if text.endswith("\n") else text + "\n"))
    return keyed


def _only_owned(front: str, owned: set[str]) -> bool:
    """True when every top-level key is RefNet's: then nothing of the user's is in there.

    The common case, decided without parsing YAML; anything unusual takes the careful path.
    """
    seen_key = False
    for line in front.splitlines():
        if line[:1] in ("", "#"):
            continue  # a blank line or a comment
        if line[:1] in (" ", "\t", "-"):
            if not seen_key:
                return False  # not a mapping of properties: let YAML say what it is
            continue  # a value's continuation or a list item
        match = _PLAIN_KEY.match(line)
        if match is None or match.group(1) not in owned:
            return False
        seen_key = True
    return True


def foreign_front_matter(front: str | None, owned: set[str]) -> str:
    """The YAML of the keys RefNet does not own, as the user wrote it."""
    if not front or not front.strip() or _only_owned(front, owned):
        return ""
    try:
        values = yaml.load(front, Loader=_LOADER)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "unreadable"
        raise NoteConflict(f"the front matter is not valid YAML ({problem})") from exc
    if values is None:
        return ""
    if not isinstance(values, dict):
        raise NoteConflict("the front matter is not a set of `key: value` properties")
    keep = [key for key in values if key not in owned]
    blocks = _key_blocks(front)
    if blocks is not None and [k for k, _ in blocks] == list(values):
        return "".join(text for key, text in blocks if key not in owned)
    return dump_front_matter({key: values[key] for key in keep})


def compose_note(front_matter: dict[str, Any], body: str, existing: str | None) -> str:
    """RefNet's front matter and body, merged with the user's parts of `existing`."""
    own_front, mine = "", ""
    if existing is not None:
        old_front, old_body = split_note(existing)
        mine = user_part(old_body)
        own_front = foreign_front_matter(old_front, {*front_matter, REMOVED_KEY})
    front = dump_front_matter(front_matter) + own_front
    head = f"---\n{front}---\n" if front else ""
    return f"{head}{body.rstrip()}\n\n{MARKER}\n{mine}"


def read_file(path: Path) -> bytes | None:
    """The file's bytes; None when there is none."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def merge_note(path: Path, front_matter: dict[str, Any], body: str, *, owned: bool) -> FileResult:
    """The note's new bytes (status `changed`), or `unchanged`, or `failed` with a reason."""
    try:
        existing = read_file(path)
        if existing is not None and not owned:
            raise NoteConflict("a file RefNet did not write is at this path; it is left alone")
        try:
            text = None if existing is None else existing.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteConflict("the file is not UTF-8 text") from exc
        data = compose_note(front_matter, body, text).encode("utf-8", "replace")
        return _compare(data, existing)
    except (OSError, NoteConflict) as exc:
        return FileResult("failed", error=describe(exc))


def merge_file(path: Path, data: bytes, *, owned: bool, last_hash: str | None) -> FileResult:
    """The same for a whole-file artifact (a canvas).

    If the user changed it since RefNet wrote it (say, moved the cards), their version stays:
    delete the file to get RefNet's layout back.
    """
    try:
        existing = read_file(path)
        if existing is not None and not owned:
            raise NoteConflict("a file RefNet did not write is at this path; it is left alone")
        if existing is not None and last_hash and content_hash(existing) != last_hash:
            return FileResult("unchanged", content_hash=last_hash)
        return _compare(data, existing)
    except (OSError, NoteConflict) as exc:
        return FileResult("failed", error=describe(exc))


def _compare(data: bytes, existing: bytes | None) -> FileResult:
    digest = content_hash(data)
    if existing == data:
        return FileResult("unchanged", content_hash=digest)
    base = ABSENT if existing is None else content_hash(existing)
    return FileResult("changed", content_hash=digest, data=data, base=base)


def write_result(path: Path, result: FileResult) -> FileResult:
    """Write a `changed` result atomically (`written`, or `failed`); pass others through.

    Only system calls: safe and worthwhile to run in threads while nothing else wants the GIL.
    """
    if result.status != "changed" or result.data is None:
        return result
    try:
        if not os.path.isdir(path.parent):
            path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, result.data, base=result.base)
    except FileEdited:
        return FileResult("edited")
    except OSError as exc:
        return FileResult("failed", error=describe(exc))
    return FileResult("written", content_hash=result.content_hash)


def write_merged(
    path: Path,
    merge: Callable[[], FileResult],
    result: FileResult | None = None,
    *,
    attempts: int = WRITE_ATTEMPTS,
) -> FileResult:
    """Merge (unless `result` is that merge) and write, merging again while the file keeps
    changing under the write; after `attempts` writes it is left as it is, `failed`.

    A file deleted meanwhile is merged as a new one: what the user deleted does not come back.
    """
    for _ in range(attempts):
        result = write_result(path, merge() if result is None else result)
        if result.status != "edited":
            return result
        result = None
    return FileResult("failed", error=EDITED_ERROR)


def remove_stale_temp_files(vault_dir: Path, *, older_than: float = 3600.0) -> int:
    """Delete temp files a killed run left behind (only RefNet's own `.refnet-*.tmp` names).

    Younger ones may belong to a run still writing, so they stay.
    """
    removed, cutoff = 0, time.time() - older_than
    for folder in (vault_dir, vault_dir / NOTES_DIR, vault_dir / MAPS_DIR):
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if _TEMP_NAME.match(entry.name) and entry.stat().st_mtime < cutoff:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                        removed += 1
    return removed


def note_stems(vault_dir: Path) -> set[str]:
    """Lower-cased names (without `.md`) of every note in the vault, hidden folders skipped.

    Obsidian resolves `[[name]]` by file name anywhere in the vault, so a new citekey must not
    repeat any of them.
    """
    stems: set[str] = set()
    for root, dirs, files in os.walk(vault_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        stems.update(name[:-3].lower() for name in files if name.lower().endswith(".md"))
        stems.update(d[:-3].lower() for d in dirs if d.lower().endswith(".md"))
        del root
    return stems


LOCK_NAME = ".refnet.lock"


@contextmanager
def exclusive(vault_dir: Path) -> Iterator[None]:
    """One generation at a time per vault, across processes (an advisory lock file that
    Obsidian ignores). PermanentError when the vault directory cannot be made; a vault where only
    the lock cannot be created is generated unlocked (its writes are reported note by note)."""
    try:
        vault_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "not a directory" if vault_dir.exists() else exc.strerror or type(exc).__name__
        raise PermanentError(
            f"VAULT_DIR {vault_dir} cannot be used as the vault ({reason}); point it at a "
            "directory RefNet may write"
        ) from None
    try:
        handle = (vault_dir / LOCK_NAME).open("a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
