"""Metrics shared by pre-forked workers: one file per process and type, summed at scrape time.

The model is prometheus_client's multiprocess mode: ``python -m covet run --workers N`` sets
``COVET_METRICS_DIR`` to a fresh folder before forking; each worker writes its values into
``<type>_<pid>.db`` there through ``mmap`` (every increment lands in the shared page cache, so a worker
killed with SIGKILL has lost nothing), and whichever worker answers ``/metrics`` reads every file:
counters, histograms and summaries are summed over all files, those of exited workers included;
gauges follow their ``multiprocess_mode``.

File layout (little-endian): bytes 0-3 the used length, 4-7 zero; then entries of a 4-byte key
length, the UTF-8 JSON key padded to 8 bytes, an 8-byte double. A writer fills an entry before
moving the used length past it, so a reader never sees half an entry.
"""
import json
import logging
import mmap
import os
import struct
import sys
import tempfile
import threading
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .exposition import MetricFamily, Sample

__all__ = [
    "METRICS_DIR_ENV", "GAUGE_MODES", "directory", "FileCells", "collect", "mark_process_dead",
    "prepare_directory", "forget_files",
]

logger = logging.getLogger("covet.monitoring")

METRICS_DIR_ENV = "COVET_METRICS_DIR"
#: all: one series per process (a ``pid`` label); liveall: the same, live processes only;
#: sum / livesum: added up; max / min: the extreme over processes.
GAUGE_MODES = ("all", "liveall", "sum", "livesum", "max", "min")
_LIVE_MODES = ("liveall", "livesum")

# A file starts small and doubles: a worker with a few hundred series writes a few pages.
INITIAL_FILE_SIZE = 1 << 16
_HEADER = 8
_U32 = struct.Struct("<I")
_DOUBLE = struct.Struct("<d")


def directory() -> Optional[str]:
    """The shared folder of this process's metrics, or None for single-process metrics."""
    return os.environ.get(METRICS_DIR_ENV) or None


class _File:
    """One process's file for one metric type: key -> offset of its double."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        size = os.fstat(self._fd).st_size
        if size < INITIAL_FILE_SIZE:
            os.ftruncate(self._fd, INITIAL_FILE_SIZE)
            size = INITIAL_FILE_SIZE
        self.size = size
        self.mm = mmap.mmap(self._fd, size)
        self.view = _doubles(self.mm)
        self._old_maps: List[mmap.mmap] = []
        self.used = _U32.unpack_from(self.mm, 0)[0] or _HEADER
        if self.used == _HEADER:
            _U32.pack_into(self.mm, 0, _HEADER)
        # A worker restarted under the pid of one that exited carries on from its file's values.
        self.offsets: Dict[str, int] = {key: offset for key, offset, _ in _entries(self.mm, self.used)}

    def slot(self, key: str) -> Tuple[int, float]:
        """The offset of ``key``'s value (appended at 0.0 the first time) and its current value."""
        with self.lock:
            offset = self.offsets.get(key)
            if offset is None:
                raw = key.encode("utf-8")
                padded = raw + b" " * (-(len(raw) + 4) % 8)
                need = self.used + 4 + len(padded) + 8
                while need > self.size:
                    self._grow()
                _U32.pack_into(self.mm, self.used, len(padded))
                self.mm[self.used + 4:self.used + 4 + len(padded)] = padded
                offset = self.used + 4 + len(padded)
                _DOUBLE.pack_into(self.mm, offset, 0.0)
                self.used = need
                _U32.pack_into(self.mm, 0, need)
                self.offsets[key] = offset
            return offset, _DOUBLE.unpack_from(self.mm, offset)[0]

    def _grow(self) -> None:
        # The old mapping stays open: a writer that fetched it just before may still store into
        # it, and its pages are the file's first pages, so nothing written there is lost.
        self.size *= 2
        os.ftruncate(self._fd, self.size)
        self._old_maps.append(self.mm)
        self.mm = mmap.mmap(self._fd, self.size)
        self.view = _doubles(self.mm)


class _LittleEndianDoubles:
    """``view[i] = x`` stores the little-endian double at byte ``8 * i``: the file format's order
    on a big-endian host, where a native memoryview would write the other one."""

    __slots__ = ("_mm",)

    def __init__(self, mm: mmap.mmap) -> None:
        self._mm = mm

    def __setitem__(self, index: int, value: float) -> None:
        _DOUBLE.pack_into(self._mm, 8 * index, value)


def _doubles(mm: mmap.mmap) -> Any:
    # PERF: a store through a memoryview of doubles costs half a struct.pack_into (no format
    # parsing, no buffer request per call); values sit at multiples of 8, so the cast lines up.
    if sys.byteorder == "little":
        return memoryview(mm).cast("d")
    return _LittleEndianDoubles(mm)


_files: Dict[Tuple[str, str], _File] = {}
_files_lock = threading.Lock()


def _file_for(kind: str, folder: str) -> _File:
    key = (kind, folder)
    found = _files.get(key)
    if found is None:
        with _files_lock:
            found = _files.get(key)
            if found is None:
                found = _files[key] = _File(os.path.join(folder, "%s_%d.db" % (kind, os.getpid())))
    return found


def forget_files() -> None:
    """Drop the open files without touching them: called in a forked child, whose pid owns none of them."""
    global _files_lock
    _files.clear()
    _files_lock = threading.Lock()  # another thread of the parent may have held it at the fork


class FileCells:
    """A child metric's values in this process's file: the same methods as the in-process cells.

    Each change is written through to the mapping under ``lock`` (the process-wide value lock);
    the value is mirrored in ``values`` so that nothing is read back from the mapping on the hot
    path. The ``*_locked`` methods are for a caller that holds ``lock`` already.
    """
    __slots__ = ("values", "_file", "_index", "_lock")

    def __init__(self, kind: str, keys: Sequence[str], folder: str, lock: Any) -> None:
        self._file = _file_for(kind, folder)
        self._lock = lock
        self._index: List[int] = []  # each value's place in the file, in doubles (offset // 8)
        self.values: List[float] = []
        for key in keys:
            offset, value = self._file.slot(key)
            self._index.append(offset // 8)
            self.values.append(value)

    def add_locked(self, i: int, amount: float) -> None:
        v = self.values[i] = self.values[i] + amount
        self._file.view[self._index[i]] = v

    def add2_locked(self, i: int, a: float, j: int, b: float) -> None:
        values, index, view = self.values, self._index, self._file.view
        v = values[i] = values[i] + a
        view[index[i]] = v
        v = values[j] = values[j] + b
        view[index[j]] = v

    def add(self, i: int, amount: float) -> None:
        with self._lock:
            self.add_locked(i, amount)

    def add2(self, i: int, a: float, j: int, b: float) -> None:
        with self._lock:
            self.add2_locked(i, a, j, b)

    def set(self, i: int, value: float) -> None:
        with self._lock:
            self.values[i] = value
            self._file.view[self._index[i]] = value

    def snapshot(self) -> List[float]:
        with self._lock:
            return list(self.values)


def make_key(family: str, sample: str, labelnames: Sequence[str], labelvalues: Sequence[str], help: str) -> str:
    """The key of one sample in a process file (self-describing: a scrape needs no registry)."""
    return json.dumps([family, sample, list(labelnames), list(labelvalues), help], separators=(",", ":"))


def _entries(data, used: int) -> Iterator[Tuple[str, int, float]]:
    pos = _HEADER
    used = min(used, len(data))
    while pos + 4 <= used:
        length = _U32.unpack_from(data, pos)[0]
        offset = pos + 4 + length
        if offset + 8 > used:
            break  # a length no writer produced: the file is damaged from here on
        key = bytes(data[pos + 4:offset]).decode("utf-8", "replace").rstrip(" ")
        yield key, offset, _DOUBLE.unpack_from(data, offset)[0]
        pos = offset + 8


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parse_name(filename: str) -> Optional[Tuple[str, str, int]]:
    """``counter_12.db`` -> ("counter", "", 12); ``gauge_livesum_12.db`` -> ("gauge", "livesum", 12)."""
    if not filename.endswith(".db"):
        return None
    parts = filename[:-3].split("_")
    try:
        pid = int(parts[-1])
    except ValueError:
        return None
    if len(parts) == 2 and parts[0] in ("counter", "histogram", "summary"):
        return parts[0], "", pid
    if len(parts) == 3 and parts[0] == "gauge" and parts[1] in GAUGE_MODES:
        return "gauge", parts[1], pid
    return None


def collect(folder: str) -> List[MetricFamily]:
    """Every metric written in ``folder``, merged over processes, as exposition families.

    Example::

        families = collect(os.environ["COVET_METRICS_DIR"])
    """
    # family -> (type, help, {(sample, labels): value}); insertion order is first-seen order.
    merged: Dict[str, Tuple[str, str, Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]]] = {}
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    for filename in names:
        parsed = _parse_name(filename)
        if parsed is None:
            continue
        kind, mode, pid = parsed
        if mode in _LIVE_MODES and not _alive(pid):
            continue
        try:
            with open(os.path.join(folder, filename), "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            continue  # removed by mark_process_dead meanwhile
        if len(data) < _HEADER:
            continue
        for key, _, value in _entries(data, _U32.unpack_from(data, 0)[0]):
            try:
                family, sample, labelnames, labelvalues, help = json.loads(key)
            except ValueError:
                logger.warning("skipped a damaged entry in %s", filename)
                continue
            labels = tuple(zip(labelnames, labelvalues))
            if mode in ("all", "liveall"):
                labels = labels + (("pid", str(pid)),)
            series = merged.setdefault(family, (kind, help, {}))[2]
            skey = (sample, labels)
            if skey not in series:
                series[skey] = value
            elif mode == "max":
                series[skey] = max(series[skey], value)
            elif mode == "min":
                series[skey] = min(series[skey], value)
            else:
                series[skey] += value
    families = []
    for family, (kind, help, series) in merged.items():
        if kind == "histogram":
            samples = _cumulate(family, series)
        else:
            samples = [(name, labels, value) for (name, labels), value in series.items()]
        families.append(MetricFamily(family, kind, help, samples))
    return families


def _cumulate(family: str, series: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]) -> List[Sample]:
    # Buckets are stored per bucket, not cumulatively: one observation writes one bucket.
    buckets: Dict[Tuple[Tuple[str, str], ...], List[Tuple[float, str, float]]] = {}
    sums: Dict[Tuple[Tuple[str, str], ...], float] = {}
    for (name, labels), value in series.items():
        if name.endswith("_bucket"):
            le = labels[-1][1]
            buckets.setdefault(labels[:-1], []).append((float(le), le, value))
        else:
            sums[labels] = value
    samples: List[Sample] = []
    for labels, bounds in buckets.items():
        total = 0.0
        for _, le, value in sorted(bounds):
            total += value
            samples.append((family + "_bucket", labels + (("le", le),), total))
        samples.append((family + "_count", labels, total))
        samples.append((family + "_sum", labels, sums.get(labels, 0.0)))
    return samples


def mark_process_dead(pid: int, folder: Optional[str] = None) -> None:
    """Forget the live gauges of exited worker ``pid`` (its counters stay: they are still counted).

    Example::

        mark_process_dead(12345)   # the worker manager calls this when it reaps a worker
    """
    folder = folder or directory()
    if not folder:
        return
    for mode in _LIVE_MODES:
        try:
            os.remove(os.path.join(folder, "gauge_%s_%d.db" % (mode, pid)))
        except FileNotFoundError:
            pass


def prepare_directory() -> Tuple[str, bool]:
    """The folder for the workers about to be forked, set in ``COVET_METRICS_DIR``: the one the
    environment names, emptied of an earlier run's files, or a new temporary one. Returns
    ``(folder, created)``; a created folder is for the caller to remove when the workers are gone.
    """
    folder = directory()
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if _parse_name(name) is not None:
                os.remove(os.path.join(folder, name))
        return folder, False
    folder = tempfile.mkdtemp(prefix="covet-metrics-")
    os.environ[METRICS_DIR_ENV] = folder
    return folder, True
