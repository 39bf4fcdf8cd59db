"""Shipped data tables, parsed once per machine: a new process loads the parsed form instead of parsing again.

The term tables (SudachiDict's synonym groups, the bilingual term table) ship as
gzipped text: that is the source, under its licence, and what the build scripts
write. Turning the text into lookup dicts took 0.15-0.25 s per table in every
process, which every cold ``kura ask`` paid. ``load_table`` keeps the parsed
form as JSON (flat string maps load in tens of milliseconds, and JSON is safe
to read back) in the user cache, named by the table, the parser's version and a
hash of the source file's bytes: an edited source or a changed parser gets a
new file and the old one is never read. A cache file that cannot be read or
does not hold what its name says is parsed again and rewritten, never fatal; a
cache folder that cannot be written only costs the parse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def table_cache_dir() -> Path:
    """Per user and machine, beside the compiled embedding models (core.settings: ``embedder_cache_dir``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kura" / "tables"


def load_table(source: Path | Sequence[Path], name: str, version: int, parse: Callable[[Any], Any], *,
               cache_dir: Path | None = None) -> Any:
    """``parse(source)``, from the cache when a file for this exact source and parser version is there.

    ``source`` is one file or several, in order (one table built from them all). ``parse`` must return
    JSON-able data (dicts, lists, strings, numbers) that needs no further work to use; bump ``version``
    whenever what it returns changes.
    """
    files = [source] if isinstance(source, Path) else list(source)
    hashes = hashlib.sha256()
    for file in files:  # FileNotFoundError for a missing source, as parsing it would raise
        hashes.update(hashlib.sha256(file.read_bytes()).digest())
    digest = hashes.hexdigest()[:20]
    folder = cache_dir or table_cache_dir()
    cached = folder / f"{name}-v{version}-{digest}.json"
    try:
        with cached.open(encoding="utf-8") as handle:
            kept = json.load(handle)
        if isinstance(kept, dict) and kept.get("source_sha256") == digest and kept.get("version") == version:
            return kept["table"]
        logger.warning("%s does not hold the %s table it is named for: parsing it again", cached, name)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError) as exc:  # truncated, not JSON, unreadable
        logger.warning("%s is unreadable (%s): parsing the %s table again", cached, exc, name)
    table = parse(source)
    _write_atomically(cached, {"source_sha256": digest, "version": version, "table": table})
    return table


def _write_atomically(path: Path, content: dict) -> None:
    """Readers see the old file or the whole new one, never a half-written one (two processes may race here)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(content, handle, ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        logger.info("could not keep the parsed table at %s (%s): it is parsed in each process", path, exc)


class SplitValues(Mapping[str, set[str]]):
    """A read-only ``{key: set of words}`` view over ``{key: "word<TAB>word..."}``: each set is built when read.

    Building 27k sets costs as much as parsing the source; a question reads a few dozen of them.
    """

    def __init__(self, joined: Mapping[str, str]) -> None:
        self._joined = joined

    def __getitem__(self, key: str) -> set[str]:
        return set(self._joined[key].split("\t"))

    def __contains__(self, key: object) -> bool:
        return key in self._joined

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)
