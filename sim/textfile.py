"""Read a user's text file (a scene, a map) safely: a regular file, of bounded size, in UTF-8.

A scene path can name anything: a folder, a FIFO, a symlink to ``/dev/zero`` (which ``read_text``
would grow without end), a 2 GB file or a file saved as UTF-16 by an editor. `read_text_file`
refuses each with one sentence, before reading, so the caller can print it beside the file name.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

# Our largest shipped scene is 3 KB and a 2,000 x 2,000 ASCII map 4 MB: 16 MB is generous for a
# hand-written file and still reads in a moment.
MAX_TEXT_BYTES = 16 * 1024 * 1024

__all__ = ["MAX_TEXT_BYTES", "TextFileError", "read_text_file"]


class TextFileError(ValueError):
    """A file that cannot be read as text; the message says why (without the file name)."""


_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def read_text_file(path: str | Path, *, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The text of ``path`` (UTF-8, an optional UTF-8 byte-order mark dropped).

    Raises `FileNotFoundError` if nothing is there, `TextFileError` for anything that is not a
    regular file of at most ``max_bytes`` bytes in UTF-8 (the message names the problem: a folder,
    a device, too large, UTF-16, not text). The size is checked on the open file, so a file that
    grows between the check and the read is still cut off at ``max_bytes + 1`` bytes.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise TextFileError("is a folder, not a file") from None
    except OSError as exc:
        raise TextFileError(f"cannot read: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise TextFileError("is a folder, not a file")
        raise TextFileError("is not a regular file (a device, pipe or socket); give a file")
    with os.fdopen(fd, "rb") as f:
        if info.st_size > max_bytes:
            raise TextFileError(f"is {info.st_size:,} bytes; a text file here is at most {max_bytes:,}")
        try:
            data = f.read(max_bytes + 1)
        except OSError as exc:
            raise TextFileError(f"cannot read: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise TextFileError(f"is larger than {max_bytes:,} bytes")
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise TextFileError(f"is encoded as {name}; save it as UTF-8")
    if b"\x00" in data:
        raise TextFileError("holds NUL bytes: not a text file (UTF-16 without a byte-order mark?); use UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TextFileError(f"is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
