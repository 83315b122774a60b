"""``UploadFile``: one file part of a multipart form, spooled in memory, then to a temporary file.

Example::

    upload = UploadFile("report.pdf", "application/pdf")
    await upload.write(data)
    await upload.seek(0)
"""
import asyncio
import functools
import tempfile
from typing import List, Optional, Tuple

from .multipart_parser import SPOOL_MAX_SIZE

__all__ = ["UploadFile"]


async def _in_thread(func, *args):  # type: ignore[no-untyped-def]
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(func, *args))


class UploadFile:
    """A file part: ``filename``, ``content_type``, ``headers``, ``size`` and async file methods.

    Data lives in ``file``, a ``SpooledTemporaryFile`` kept in memory up to
    ``spool_max_size`` bytes; once on disk, every call runs in the default executor
    so disk I/O never blocks the event loop (Starlette CVE-2025-54121).

    Example::

        data = await upload.read()
        await upload.save("/srv/uploads/report.pdf")
    """

    __slots__ = ("filename", "content_type", "headers", "size", "file", "_spool_max")

    def __init__(self, filename: Optional[str], content_type: Optional[str] = None,
                 headers: Optional[List[Tuple[str, str]]] = None,
                 spool_max_size: int = SPOOL_MAX_SIZE) -> None:
        self.filename = filename
        self.content_type = content_type
        self.headers = list(headers or ())
        self.size = 0
        self.file = tempfile.SpooledTemporaryFile(max_size=spool_max_size)
        self._spool_max = spool_max_size

    @property
    def in_memory(self) -> bool:
        """True while the data has not rolled over to a temporary file on disk."""
        return not getattr(self.file, "_rolled", True)

    async def write(self, data: bytes) -> None:
        """Append-or-overwrite at the current position; rolls over to disk in a thread."""
        if self.in_memory and self.file.tell() + len(data) <= self._spool_max:
            self.file.write(data)
        else:
            await _in_thread(self.file.write, data)
        self.size += len(data)

    def write_sync(self, data: bytes) -> None:
        """Append ``data`` without the event loop, for a body parsed synchronously
        (``parse_multipart_bytes``); async code uses ``write``."""
        self.file.write(data)
        self.size += len(data)

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all with -1) from the current position."""
        if self.in_memory:
            return self.file.read(size)
        return await _in_thread(self.file.read, size)

    async def seek(self, offset: int) -> int:
        """Move to ``offset`` from the start; returns the new position."""
        if self.in_memory:
            return self.file.seek(offset)
        return await _in_thread(self.file.seek, offset)

    async def close(self) -> None:
        """Release the memory or temporary file."""
        if self.in_memory:
            self.file.close()
        else:
            await _in_thread(self.file.close)

    async def save(self, path: str) -> int:
        """Copy the whole content to ``path`` (in a thread); returns the bytes written."""
        return await _in_thread(self._save_sync, path)

    def _save_sync(self, path: str) -> int:
        position, total = self.file.tell(), 0
        self.file.seek(0)
        try:
            with open(path, "wb") as out:
                for chunk in iter(functools.partial(self.file.read, 65536), b""):
                    total += out.write(chunk)
        finally:
            self.file.seek(position)
        return total

    def __repr__(self) -> str:
        return "UploadFile(filename=%r, content_type=%r, size=%d)" % (
            self.filename, self.content_type, self.size)
