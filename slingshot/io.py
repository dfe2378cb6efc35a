"""Small file helpers: atomic writes, hashes and JSONL."""
import hashlib
import json
import os
import stat
import tempfile
import unicodedata
from pathlib import Path

from slingshot.errors import DataError, UserError


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_hash(obj, length=12):
    """Hash of a JSON-serialisable object that does not depend on key order."""
    return sha256_text(json.dumps(obj, sort_keys=True, ensure_ascii=False))[:length]


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a plain open() would honour the umask
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path, rows):
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path):
    """Rows of a JSONL file; a malformed line raises DataError naming file and line."""
    rows = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{lineno}: not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})") from None
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
    return rows


def writable_folder(folder, what):
    """Make `folder` (and its parents) or find it there, and check a file can be written in it; a UserError
    naming it otherwise (a file in its place, no permission, a read-only disk)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: {what} is a file, not a folder; name a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as e:
        raise UserError(f"{folder}: cannot write {what} there ({e.strerror or e})") from None
    return folder


def count_lines(path):
    """Rows of a JSONL file (its non-blank lines), read a line at a time: a large file costs no memory."""
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def checked_file(path, what, max_bytes, folder=None):
    """The size of `path` when it is a regular file of at most max_bytes (inside `folder`, when given,
    after following links); UserError naming it otherwise. Nothing is opened."""
    path = Path(path)
    if folder is not None and path.is_symlink() and not path.resolve().is_relative_to(Path(folder).resolve()):
        raise UserError(f"{path}: {what} is a link out of {folder} (to {path.resolve()}); a store's files are "
                        f"its own: copy the file in, or delete the store's folder and run it again")
    try:
        info = os.stat(path)
    except OSError as e:
        raise UserError(f"{path}: cannot read {what} ({e.strerror or e})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in KINDS if test(info.st_mode)), "not a regular file")
        raise UserError(f"{path}: {what} is {kind}, not a regular file; refusing to read it")
    if info.st_size > max_bytes:
        raise UserError(f"{path}: {what} is {info.st_size:,} bytes, more than the {max_bytes:,} it can be; "
                        f"refusing to read it (restore the file, or delete it and produce it again)")
    return info.st_size


def has_control_characters(text):
    """Whether `text` holds a control, format or unassigned character (a line break in a file name, say)."""
    return any(unicodedata.category(c)[0] == "C" for c in text)
