"""Static files: a folder served under a path prefix, safely and with HTTP caching done right.

``app.static("/static", "public")`` or ``app.mount("/static", StaticFiles(directory="public"),
name="static")``; ``url_for("static", path="app.css")`` gives the file's URL (with a content hash
in it when ``hashed=True``). docs/static-files.md has the whole story; in short:

- validators and conditional requests, ranges, HEAD: :class:`~covet.core.responses.FileResponse`
  with the request, by the kernel's one copy of RFC 9110 (``covet.core.conditional``, ``.ranges``);
- every request path is checked segment by segment before the file system sees it (``..``,
  encoded slashes, backslashes, NUL and control characters, drive letters, invalid or overlong
  UTF-8, dotfiles, symlinks leaving the folder): each is a plain 404, the same as a missing file
  (starlette CVE-2023-29159, sanic CVE-2017-16762, aiohttp CVE-2024-23334);
- a file is opened once per request, its validators taken from that open file (``fstat``), and
  sent from it (zero-copy on covet's server over plain TCP).
"""
import asyncio
import hashlib
import mimetypes
import os
import re
import stat
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union
from urllib.parse import quote, unquote_to_bytes

from .core.errors import HTTPException
from .core.requests import Request
from .core.responses import FileResponse, RedirectResponse, Response

__all__ = ["StaticFiles", "safe_segments", "IMMUTABLE", "HASH_LENGTH", "MAX_HASHED_FILES", "MAX_PATH_SEGMENTS",
           "MAX_NAME_LENGTH", "media_type_for"]

#: Cache-Control of a URL with the file's content hash in it: its bytes can never change, so
#: browsers need not even revalidate (RFC 8246 ``immutable``); a year is the longest max-age
#: RFC 9111 §1.2.2 invites caches to honour.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Hex digits of the content hash in a hashed URL (48 bits: a collision between two versions of
#: one file is a one in 2**48 event; Django and webpack use 12 too).
HASH_LENGTH = 12
#: Content hashes remembered (per StaticFiles) by path, size and mtime; beyond it the memory is
#: cleared and rebuilt as URLs are asked for: a site has far fewer assets than this.
MAX_HASHED_FILES = 10000
#: A deeper path is refused (404) before any segment is looked at: nobody nests assets 64 folders
#: deep, and the bound keeps per-request work independent of the request line's length.
MAX_PATH_SEGMENTS = 64
#: A longer segment (decoded, in characters) is refused (404): NAME_MAX is 255 on Linux, macOS and
#: Windows, so no such file exists, and it bounds the hashed-name match on each segment.
MAX_NAME_LENGTH = 255

# Types the platform's mimetypes tables disagree on across systems and Python versions (.js was
# application/javascript before 3.12; /etc/mime.types may say anything): the web's own, fixed.
_WEB_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".css": "text/css", ".js": "text/javascript",
    ".mjs": "text/javascript",  # RFC 9239 §6
    ".json": "application/json", ".map": "application/json", ".webmanifest": "application/manifest+json",
    ".txt": "text/plain", ".xml": "application/xml", ".svg": "image/svg+xml", ".png": "image/png",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".avif": "image/avif", ".ico": "image/vnd.microsoft.icon", ".wasm": "application/wasm",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
    ".pdf": "application/pdf", ".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg",
}
# Textual types outside text/* that also get "; charset=utf-8".
_TEXT_TYPES = frozenset(("application/json", "application/manifest+json", "application/xml", "image/svg+xml",
                         "application/javascript"))
# A file stored compressed is served as what it is, never as its inner type without the
# Content-Encoding (app.css.gz asked for by name is a gzip file, not a stylesheet).
_ENCODED_TYPES = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz",
                  "br": "application/octet-stream", "compress": "application/x-compress"}

# Segments that name something else than a file of that name on some system: Windows device
# names (with any extension: "nul.txt" is the NUL device there).
_DEVICE = re.compile(r"(?i)(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?")
# A hashed file name: stem "." 12 hex digits, then the extension if any ("app.0123456789ab.css").
_HASHED = re.compile(r"(.+)\.([0-9a-f]{%d})(\.[^.]+)?" % HASH_LENGTH)


def media_type_for(name: str) -> str:
    """The Content-Type for a file name: ``text/*`` and other textual types with ``charset=utf-8``.

    Example::

        media_type_for("app.css")       # 'text/css; charset=utf-8'
        media_type_for("logo.png")      # 'image/png'
        media_type_for("app.css.gz")    # 'application/gzip'
    """
    base, ext = os.path.splitext(name)
    media = _WEB_TYPES.get(ext.lower())
    if media is None:
        guessed, encoding = mimetypes.guess_type(name, strict=False)
        if encoding is not None:
            return _ENCODED_TYPES.get(encoding, "application/octet-stream")
        media = guessed or "application/octet-stream"
    if media.startswith("text/") or media in _TEXT_TYPES:
        return media + "; charset=utf-8"
    return media


def safe_segments(raw_path: str, allow_dotfiles: bool = False) -> Optional[List[str]]:
    """The decoded segments of a request path under the mount, or None when it must be refused.

    ``raw_path`` is still percent-encoded. It is split on its literal slashes first, and each
    segment decoded as strict UTF-8 (overlong forms such as ``%c0%ae`` and lone surrogates are
    not UTF-8). Refused: a segment that decodes to contain ``/``, ``\\``, ``:`` (drive letters,
    NTFS streams), NUL or another control character; ``.`` and ``..``; a segment ending in a dot
    or a space (Windows drops them, so ``secret.txt.`` would open ``secret.txt``); Windows
    device names; empty segments (``//``) except a final one (a directory); dotfiles unless
    ``allow_dotfiles``; more than ``MAX_PATH_SEGMENTS``; a name longer than ``MAX_NAME_LENGTH``. A trailing ``/`` leaves a last ``""``.

    Example::

        safe_segments("/css/app%20v2.css")   # ['css', 'app v2.css']
        safe_segments("/..%2fsecret")        # None
    """
    if not raw_path.startswith("/"):
        return None
    parts = raw_path[1:].split("/")
    if len(parts) > MAX_PATH_SEGMENTS:
        return None
    out = []
    last = len(parts) - 1
    for i, part in enumerate(parts):
        if not part:
            if i == last:
                out.append("")  # "/dir/": a directory's index
                continue
            return None
        try:
            name = unquote_to_bytes(part).decode("utf-8") if "%" in part else part
        except UnicodeDecodeError:
            return None
        if (len(name) > MAX_NAME_LENGTH or name in (".", "..") or name[-1] in ". " or (name[0] == "." and not allow_dotfiles)
                or any(c in name for c in "/\\:") or not name.isprintable() or _DEVICE.fullmatch(name)):
            return None
        out.append(name)
    return out


class _Found(NamedTuple):
    """What a lookup found: an open file, its stat, the name its type comes from, its encoding."""

    path: str
    file: Any
    stat: os.stat_result
    type_name: str
    encoding: Optional[str]


class _Redirect(NamedTuple):
    """A directory asked for without its trailing slash (html mode)."""


_REDIRECT = _Redirect()


class StaticFiles:
    """Serve the files of ``directory``: mount it (``app.mount("/static", StaticFiles(...),
    name="static")``) or use ``app.static("/static", "public")``.

    :param directory: the folder; resolved (symlinks included) once, here.
    :param html: serve ``index`` for a folder (``/docs/`` -> ``docs/index.html``, ``/docs`` is
        redirected to ``/docs/``) and ``404.html``, when it exists, for a missing file.
    :param follow_symlinks: follow symlinks that lead outside ``directory``; off, a path with a
        symlink anywhere in it that resolves outside the folder is a 404.
    :param index: the file served for a folder in html mode.
    :param max_age: ``Cache-Control: public, max-age=N`` on every file; None sends no
        Cache-Control (caches revalidate with the ETag and Last-Modified).
    :param allow_dotfiles: serve names starting with ``.`` (``.well-known``); off, they are 404.
    :param hashed: ``url_for("static", path=...)`` puts the file's content hash in its name
        (``app.0123456789ab.css``), and such URLs are served with ``Cache-Control: public,
        max-age=31536000, immutable``. An old hash (the file changed since) is still served, the
        current content, with ``Cache-Control: no-cache``, so pages cached across a deploy work.
    :param precompressed: serve ``name.gz`` instead of ``name`` (``Content-Encoding: gzip``) to a
        client that accepts gzip, when it exists and is not older than ``name``; every answer
        then says ``Vary: Accept-Encoding``.
    :param check_dir: raise at once if ``directory`` is not a folder.

    Example::

        app.mount("/static", StaticFiles(directory="public", hashed=True, max_age=3600), name="static")
        app.url_for("static", path="css/app.css")   # '/static/css/app.3f2a9c1b0e4d.css'
    """

    def __init__(self, directory: Union[str, "os.PathLike[str]"], html: bool = False, follow_symlinks: bool = False,
                 index: str = "index.html", max_age: Optional[int] = None, allow_dotfiles: bool = False,
                 hashed: bool = False, precompressed: bool = True, check_dir: bool = True) -> None:
        self.directory = os.path.realpath(os.fspath(directory))
        if check_dir and not os.path.isdir(self.directory):
            raise ValueError("StaticFiles: %r is not a directory" % (os.fspath(directory),))
        self.html = html
        self.follow_symlinks = follow_symlinks
        self.index = index
        if max_age is not None and (not isinstance(max_age, int) or max_age < 0):
            raise ValueError("max_age must be a number of seconds (an int >= 0) or None")
        self.max_age = max_age
        self.allow_dotfiles = allow_dotfiles
        self.hashed = hashed
        self.precompressed = precompressed
        self._cache_control = "public, max-age=%d" % max_age if max_age is not None else None
        self._hashes: Dict[str, Tuple[int, int, int, str]] = {}

    # -- URLs ---------------------------------------------------------------------------------
    def url_path(self, path: str) -> str:
        """The URL path of the file ``path`` under the mount (``/css/app.css``), with its content
        hash in the name when ``hashed`` (``/css/app.3f2a9c1b0e4d.css``). The router calls this for
        ``url_for(name_of_the_mount, path=...)``; a file that does not exist gets its plain URL.
        """
        path = "/" + str(path).lstrip("/")
        if self.hashed:
            segments = safe_segments(quote(path), self.allow_dotfiles)
            if segments and segments[-1]:
                digest = self.content_hash(os.path.join(self.directory, *segments))
                if digest is not None:
                    stem, ext = os.path.splitext(segments[-1])
                    if not stem:
                        stem, ext = ext, ""
                    path = path[:path.rfind("/") + 1] + "%s.%s%s" % (stem, digest, ext)
        return quote(path)

    def content_hash(self, full_path: str) -> Optional[str]:
        """The first ``HASH_LENGTH`` hex digits of the SHA-256 of a file's bytes, read in chunks and
        remembered by size, mtime and inode until the file changes; None when it is no file."""
        try:
            st = os.stat(full_path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        known = self._hashes.get(full_path)
        if known is not None and known[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
            return known[3]
        digest = hashlib.sha256()
        try:
            with open(full_path, "rb") as f:
                for block in iter(lambda: f.read(65536), b""):
                    digest.update(block)
        except OSError:
            return None
        hexdigest = digest.hexdigest()[:HASH_LENGTH]
        if len(self._hashes) >= MAX_HASHED_FILES:
            self._hashes.clear()
        self._hashes[full_path] = (st.st_size, st.st_mtime_ns, st.st_ino, hexdigest)
        return hexdigest

    # -- serving --------------------------------------------------------------------------------
    async def dispatch(self, request: Request) -> Response:
        """Answer a request for a file (the mount calls this with the path under its prefix)."""
        if request.method not in ("GET", "HEAD"):
            raise HTTPException(405, "static files answer GET and HEAD", {"Allow": "GET, HEAD"})
        segments = safe_segments(request.raw_path, self.allow_dotfiles)
        if segments is None:
            raise HTTPException(404, "not found")
        gzip_ok = self.precompressed and _accepts_gzip(request.headers.get("accept-encoding"))
        loop = asyncio.get_running_loop()
        found, cache_control = await loop.run_in_executor(None, self._lookup, segments, gzip_ok)
        if found is _REDIRECT:
            location = request.root_path + request.raw_path + "/"
            if request.query_string:
                location += "?" + request.query_string
            return RedirectResponse(location, 307)
        status = 200
        if found is None:
            if self.html:
                found = await loop.run_in_executor(None, self._open_under, ["404.html"])
            if found is None:
                raise HTTPException(404, "not found")
            status = 404
        headers = {"x-content-type-options": "nosniff"}
        if cache_control is not None and status == 200:
            headers["cache-control"] = cache_control
        if self.precompressed:
            headers["vary"] = "Accept-Encoding"
        if found.encoding is not None:
            headers["content-encoding"] = found.encoding
        return FileResponse(found.path, status, headers, media_type_for(found.type_name), file=found.file,
                            stat_result=found.stat, request=request if status == 200 else None)

    def _lookup(self, segments: List[str], gzip_ok: bool) -> Tuple[Any, Optional[str]]:
        # In the thread pool: every file-system call of a request, in one hop.
        cache_control = self._cache_control
        if self.hashed and segments[-1]:
            m = _HASHED.fullmatch(segments[-1])
            if m is not None:
                plain = segments[:-1] + [m.group(1) + (m.group(3) or "")]
                current = self.content_hash(os.path.join(self.directory, *plain))
                if current is not None:
                    found = self._open_file(plain, gzip_ok)
                    if found is not None:
                        return found, IMMUTABLE if current == m.group(2) else "no-cache"
        if segments[-1] == "":  # a folder, by its trailing slash
            if not self.html:
                return None, cache_control
            return self._open_file(segments[:-1] + [self.index], gzip_ok), cache_control
        found = self._open_file(segments, gzip_ok)
        if found is None and self.html and self._is_dir(segments):
            return _REDIRECT, None
        return found, cache_control

    def _open_file(self, segments: List[str], gzip_ok: bool) -> Optional[_Found]:
        found = self._open_under(segments)
        if found is None or not gzip_ok:
            return found
        # RFC 9110 §8.4: the .gz sibling is the same resource in the gzip coding; a stale one
        # (older than the file) is not served.
        gz = self._open_under(segments[:-1] + [segments[-1] + ".gz"])
        if gz is None:
            return found
        if gz.stat.st_mtime_ns < found.stat.st_mtime_ns:
            gz.file.close()
            return found
        found.file.close()
        return _Found(gz.path, gz.file, gz.stat, found.type_name, "gzip")

    def _resolve(self, segments: List[str]) -> Optional[str]:
        # The path the system will open. ".." never reaches here (safe_segments), so only a
        # symlink can lead out of the folder: allowed with follow_symlinks, else the resolved
        # path must still be inside (aiohttp CVE-2024-23334 followed one out).
        full = os.path.join(self.directory, *segments)
        real = os.path.realpath(full)
        if real == full or self.follow_symlinks or real.startswith(self.directory.rstrip(os.sep) + os.sep):
            return real
        return None

    def _is_dir(self, segments: List[str]) -> bool:
        real = self._resolve(segments)
        return real is not None and os.path.isdir(real)

    def _open_under(self, segments: List[str]) -> Optional[_Found]:
        real = self._resolve(segments)
        if real is None:
            return None
        # O_NONBLOCK: opening a FIFO for reading would wait for a writer (a thread held forever);
        # it changes nothing for a regular file. O_NOFOLLOW: a symlink swapped in after the
        # check above fails to open (ELOOP) instead of being followed.
        flags = (os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_NONBLOCK", 0))
        if not self.follow_symlinks:
            flags |= getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(real, flags)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # a folder, a FIFO, a device
                os.close(fd)
                return None
            f = os.fdopen(fd, "rb")
        except OSError:
            os.close(fd)
            return None
        return _Found(real, f, st, segments[-1], None)

    def __repr__(self) -> str:
        return "StaticFiles(%r)" % self.directory


def _accepts_gzip(accept_encoding: Optional[str]) -> bool:
    # RFC 9110 §12.5.3: "gzip" (or "x-gzip", §8.4.1.3) or "*" with a q-value above 0; an explicit
    # gzip;q=0 wins over "*".
    if not accept_encoding:
        return False
    star = None
    for member in accept_encoding.split(",")[:32]:
        coding, _, params = member.partition(";")
        coding = coding.strip(" \t").lower()
        q = 1.0
        for param in params.split(";"):
            k, _, v = param.partition("=")
            if k.strip(" \t").lower() == "q":
                v = v.strip(" \t")
                q = float(v) if re.fullmatch(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)", v) else 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return bool(star)
