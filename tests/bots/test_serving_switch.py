"""The serving process after a re-index switch: the old generation is let go once its queries are done."""

from __future__ import annotations

import shutil
from pathlib import Path

from bots.app import KuraApp
from core.settings import Settings
from core.store_edge import EdgeStore
from core.store_factory import point_current_index


def _generation(index_root: Path, name: str) -> None:
    store = EdgeStore(index_root / name)
    store.ensure_collection(4)
    store.close()


def _mapped_deleted(under: Path) -> int:
    """Mappings of this process of files under ``under`` that were deleted (they keep their disk space)."""
    maps = Path("/proc/self/maps").read_text().splitlines()
    return sum(1 for line in maps if str(under) in line and line.endswith("(deleted)"))


def _switch(tmp_path: Path) -> tuple[KuraApp, Path]:
    """An app serving gen-a, then a re-index switching to gen-b and removing gen-a, as the job does."""
    settings = Settings(data_dir=tmp_path / "data")
    root = settings.index_dir
    _generation(root, "gen-a")
    _generation(root, "gen-b")
    point_current_index(root, "gen-a")
    app = KuraApp(settings)
    app.store.count()  # the shard is open: its files are mapped
    assert _mapped_deleted(root / "gen-a") == 0
    point_current_index(root, "gen-b")
    shutil.rmtree(root / "gen-a")
    assert app.store.count() == 0  # follows the switch
    return app, root / "gen-a"


def test_the_old_generation_stays_open_for_queries_that_started_on_it(tmp_path):
    app, old = _switch(tmp_path)
    with app:
        assert _mapped_deleted(old) > 0  # a query holding the old store can finish on it
        app.store.count()
        assert _mapped_deleted(old) > 0


def test_the_old_generation_is_closed_after_the_grace_period(tmp_path):
    app, old = _switch(tmp_path)
    with app:
        assert _mapped_deleted(old) > 0
        app.retired_grace_s = 0.0  # as if the grace period had passed
        app.store.count()
        # Closed without waiting for the next switch: its memory and its deleted files' disk space are freed.
        assert _mapped_deleted(old) == 0
