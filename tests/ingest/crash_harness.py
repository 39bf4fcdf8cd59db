"""Randomized crash test: ``kill -9`` of ``kura ingest`` and ``kura reindex --full`` at random points.

    python tests/ingest/crash_harness.py --kills 50 --seed 1 [--workdir DIR]

prints one JSON line: kills per command, completed runs, states seen, and the
problems found (empty when every invariant held). tests/ingest/test_crash_kills.py
runs a handful of kills in the default suite, and the full count behind
``KURA_CRASH_KILLS``.

Each run is the real CLI (``bots.cli.main.main()`` with its argv) in a child
forked from this process, which imported Kura and its libraries once (a fresh
interpreter costs 10-80 s of imports on a shared 2-core machine; that is all the
fork saves). Between runs the corpus changes (edits, new and removed files), and
now and then the index is wiped, so kills land while a store is created, while
changed documents are replaced, while a build is checked and switched.

Invariants, checked by a reader:
- after every kill (the writer is dead, so the reader can open any store) and,
  during ``reindex --full`` runs, continuously while the writer runs (it builds a
  new generation; the serving one is free to read): every document visible in
  the serving index has exactly the chunks of one version of its file (one
  document hash, ordinals 0..n-1 with n the chunk count of that version);
- every run that ends on its own, after any number of kills, exits 0, without
  ``--clean``;
- after the last kill, one complete ``kura reindex --full`` and ``kura ingest``
  leave an index equal to the corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["TOKENIZERS_PARALLELISM"] = "false"  # the tokenizer's threads do not survive a fork

WORDS = ("badge vpn printer expense approval reception contract laptop office policy travel hotel receipt "
         "manager payroll calendar leave parental oncall incident page security password rotation").split()


class Corpus:
    """A folder of Markdown files whose every version is remembered (the reader checks against them)."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder, self.rng = folder, rng
        self.on_write = lambda path: None  # the reader learns each version as it is written
        folder.mkdir(parents=True, exist_ok=True)

    def fill(self) -> None:
        for i in range(8):
            self.write(f"page-{i}.md")

    def text(self, name: str) -> str:
        paragraphs = self.rng.randint(1, 12)  # 1..~8 chunks: many span several embedding batches of 4
        body = "\n\n".join(" ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(20, 70))) + "."
                           for _ in range(paragraphs))
        return f"# {name}\n\n{body}\n"

    def write(self, name: str) -> None:
        (self.folder / name).write_text(self.text(name), encoding="utf-8")
        self.on_write(self.folder / name)

    def mutate(self) -> None:
        names = sorted(p.name for p in self.folder.glob("*.md"))
        for name in self.rng.sample(names, k=min(len(names), self.rng.randint(1, 3))):
            self.write(name)
        if self.rng.random() < 0.3 and len(names) > 4:
            (self.folder / self.rng.choice(names)).unlink()
        if self.rng.random() < 0.3:
            self.write(f"page-{self.rng.randint(8, 14)}.md")


class Reader:
    """Checks what the serving index shows against the corpus's versions."""

    def __init__(self, settings, corpus: Corpus) -> None:
        from bots.app import KuraApp
        from ingest.connectors.files import FilesConnector

        self.settings, self.corpus = settings, corpus
        self.app = KuraApp(settings)
        self.pipeline = self.app.pipeline(store=_NoStore())  # its chunker and hashing, as the CLI builds them
        self.files = FilesConnector(corpus.folder)
        self.expected: dict[tuple[str, str], int] = {}  # (document id, document hash) -> chunk count
        self.states: dict[str, int] = {}
        corpus.on_write = self.learn

    def learn(self, path: Path) -> None:
        """Remember the chunk count of the version just written (the index may show any version ever written)."""
        doc = self.files.read(path)
        self.expected[(doc.id, self.pipeline.document_hash(doc))] = len(self.pipeline.chunker.split(doc))

    def check(self) -> list[str]:
        """Problems in the serving index now ([] when none); a store another process holds is skipped."""
        from core.store import HybridQuery
        from core.store_edge import EdgeStore
        from core.store_factory import current_index_dir

        path = current_index_dir(self.settings.index_dir)
        store = EdgeStore(path)
        if not store.exists():
            self._saw("unfinished store" if store.unfinished() else "no index")
            return []
        try:
            hits = store.query(HybridQuery(dense=[1.0] + [0.0] * 383, sparse=None, principals=("public",),
                                           limit=10_000))
        except Exception as exc:  # noqa: BLE001 - held by a writer, or removed by a switch while opening
            if current_index_dir(self.settings.index_dir) != path or "WouldBlock" in str(exc) or not path.exists():
                self._saw("busy or switched")
                return []
            return [f"reading {path.name} failed: {exc}"]
        finally:
            store.close()
        by_doc: dict[str, list] = {}
        for h in hits:
            by_doc.setdefault(h.chunk.document_id, []).append(h.chunk)
        problems = []
        for doc_id, chunks in by_doc.items():
            hashes = {c.document_hash for c in chunks}
            if len(hashes) != 1:
                problems.append(f"{doc_id}: chunks of {len(hashes)} versions visible together")
                continue
            want = self.expected.get((doc_id, hashes.pop()))
            ordinals = sorted(c.ordinal for c in chunks)
            if want is None:
                problems.append(f"{doc_id}: a version that never existed")
            elif ordinals != list(range(want)):
                problems.append(f"{doc_id}: {len(chunks)} of {want} chunks visible (half-indexed)")
        self._saw("checked")
        return problems

    def _saw(self, state: str) -> None:
        self.states[state] = self.states.get(state, 0) + 1


class _NoStore:
    """The reader's pipeline only chunks and hashes; it must never touch a store."""

    def __getattr__(self, name):
        raise AssertionError(f"the reader's pipeline used the store ({name})")


def spawn(argv: list[str], env: dict[str, str]) -> int:
    """Fork a child that runs the CLI as the console script does; its pid."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.environ.update(env)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            sys.argv = ["kura", *argv]
            from bots.cli.main import main

            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os._exit(code)
    return pid


def finish(pid: int, started: float, kill_after: float | None) -> tuple[str, int | None, float]:
    """Wait for the child, or kill -9 it ``kill_after`` s after start: ("killed"|"exited", exit code, seconds)."""
    deadline = None if kill_after is None else started + kill_after
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "exited", os.waitstatus_to_exitcode(status), time.monotonic() - started
        if deadline is not None and time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "killed", None, time.monotonic() - started
        time.sleep(0.005)


def run_kura(argv: list[str], env: dict[str, str], kill_after: float | None = None) -> tuple[str, int | None, float]:
    started = time.monotonic()
    return finish(spawn(argv, env), started, kill_after)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kura-crash-"))
    corpus = Corpus(work / "docs", rng)
    data = work / "data"
    env = {"KURA_DATA_DIR": str(data), "KURA_INGEST_PATHS": json.dumps([str(corpus.folder)]),
           "KURA_INDEX_EMBED_BATCH": "4", "KURA_PROGRESS_INTERVAL_S": "3600"}
    for key in [k for k in os.environ if k.startswith("KURA_")]:
        del os.environ[key]
    os.environ.update(env)
    from core.settings import load_settings

    reader = Reader(load_settings(), corpus)  # imports Kura and its libraries once, before any fork
    corpus.fill()
    commands = {"ingest": ["ingest", "--path", str(corpus.folder)], "reindex-full": ["reindex", "--full"]}
    durations: dict[str, float] = {}
    report = {"kills": {c: 0 for c in commands}, "completed": {c: 0 for c in commands}, "wiped": 0,
              "problems": [], "failed_runs": []}

    def completed(name: str, code: int | None, seconds: float) -> None:
        report["completed"][name] += 1
        durations[name] = 0.5 * durations.get(name, seconds) + 0.5 * seconds
        if code != 0:
            report["failed_runs"].append(f"{name} exited {code}")

    for name in ("ingest", "reindex-full"):  # calibration: how long a whole run takes here, now
        completed(name, *run_kura(commands[name], env)[1:])

    kills = 0
    while kills < args.kills:
        corpus.mutate()
        if rng.random() < 0.15:
            shutil.rmtree(data / "index", ignore_errors=True)  # a first run again: kills hit store creation
            report["wiped"] += 1
        name = rng.choice(sorted(commands))
        # Anywhere from start-up to just past a typical run's end, weighted to the part that writes.
        kill_after = durations[name] * (rng.uniform(0.05, 1.1) if rng.random() < 0.3 else rng.uniform(0.45, 1.1))
        problems: list[str] = []
        stop = threading.Event()

        def watch() -> None:  # a reader beside the writer: only a full rebuild leaves the serving store free
            while not stop.wait(0.2):
                problems.extend(reader.check())

        started = time.monotonic()
        pid = spawn(commands[name], env)  # fork before the watcher thread starts: a fork copies no threads' locks
        watcher = threading.Thread(target=watch) if name == "reindex-full" else None
        if watcher:
            watcher.start()
        outcome, code, seconds = finish(pid, started, kill_after)
        if watcher:
            stop.set()
            watcher.join()
        problems.extend(reader.check())
        if outcome == "killed":
            kills += 1
            report["kills"][name] += 1
        else:
            completed(name, code, seconds)
        report["problems"].extend(f"after {name} ({outcome} at {seconds:.1f}s): {p}" for p in problems)
    # The end: every command runs to completion from whatever the last kill left, and the index is the corpus.
    for name in ("reindex-full", "ingest"):
        completed(name, *run_kura(commands[name], env)[1:])
    problems = reader.check()
    report["problems"].extend(f"final: {p}" for p in problems)
    from core.store_edge import EdgeStore
    from core.store_factory import current_index_dir

    final = EdgeStore(current_index_dir(reader.settings.index_dir))
    indexed = set(final.document_hashes())
    final.close()
    listed = {f"files:{p}" for p in corpus.folder.glob("*.md")}
    if indexed != listed:
        report["problems"].append(f"final index differs from the corpus: {sorted(indexed ^ listed)[:3]}")
    report.update(total_kills=kills, reader_states=reader.states, seed=args.seed,
                  ok=not report["problems"] and not report["failed_runs"])
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
