"""A cold `kura ask` loads the embedding model on a second thread from its first moments.

The ask needs the model almost at once (the question's embedding), and loading it costs as much as everything
else the process loads: the tokenizer, the OpenVINO import and the cached compile. Most of the compile runs in
native code without the GIL, so it overlaps the asking thread's own imports (the app, the store, the answerer)
only if it starts before them: the thread starts right after the settings are read, builds the embedder itself
and hands it over (``embedder()``), then loads the model. bench/cold_ask.py measures the effect.

Without an index to search the thread stops before loading anything (the ask then stops at once, exit 3).
A failure is left for the ask to meet and report: it builds or loads the embedder again and gets the same error.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)

THREAD_NAME = "kura-load-ahead"


class ModelLoadAhead:
    """Builds the configured embedder and loads its model in a daemon thread; always ``join`` it before exiting."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._embedder = None
        self._built = threading.Event()  # set once the embedder exists, or once it is known it will not
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)

    @classmethod
    def start(cls, settings) -> "ModelLoadAhead":
        ahead = cls(settings)
        ahead._thread.start()
        return ahead

    def embedder(self):
        """The embedder the thread built (its model possibly still loading: using it waits for the load), or None
        when there is no index or building it failed (the caller then builds its own and meets the error)."""
        self._built.wait()
        return self._embedder

    def join(self) -> None:
        """Wait for the thread: never leave it inside the model's runtime while Python shuts down."""
        self._thread.join()

    def _run(self) -> None:
        try:
            if not _has_index(self.settings):
                return
            from retrieval.embedder_factory import embedder_from_settings

            self._embedder = embedder_from_settings(self.settings)
        except Exception as exc:  # noqa: BLE001 - the ask meets the same error and reports it
            logger.debug("building the embedder ahead failed: %s", exc)
            return
        finally:
            self._built.set()
        try:
            self._embedder.load()  # the tokenizer first, then the model
        except Exception as exc:  # noqa: BLE001 - as above
            logger.debug("loading the model ahead failed: %s", exc)


def _has_index(settings) -> bool:
    """Whether the ask will search (a server's collection is assumed to exist: the ask finds out)."""
    if settings.qdrant_url:
        return True
    from core.store_factory import open_store

    return open_store(settings).exists()  # the embedded store's constructor opens nothing
