"""One index, several processes: the serving process owns the embedded index and answers the CLI on a Unix socket.

Qdrant Edge lets one process open an index directory. While `kura serve` or
`kura slack` runs, it listens on ``<data dir>/kura.sock`` (mode 0600, and the
peer's uid is checked: only the same user, who could open the index anyway)
and runs `kura ask`, `kura stats` and `kura ingest` for the CLI on its own,
already loaded KuraApp. The CLI tries the socket first and opens the index
itself when nobody answers.

Protocol: the client sends one JSON line ``{"op": ..., ...}``; the server
sends zero or more ``{"progress": {...}}`` lines, then one final line:
``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": "...", "kind": "..."}``.
Permissions are resolved by the server with the same ``principals_for`` the
CLI uses, from the ``--as`` email the CLI sends.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from core.errors import KuraError, StoreError, StoreNotFoundError

logger = logging.getLogger(__name__)

SOCKET_NAME = "kura.sock"
HOLDER_NAME = "index-holder.json"
_MAX_REQUEST = 1 << 20


def socket_path(data_dir: Path) -> Path:
    return Path(data_dir).resolve() / SOCKET_NAME


# --- who holds the index -----------------------------------------------------------------------
def describe_holder(data_dir: Path) -> str | None:
    """``kura serve (pid 123)`` when a live process recorded that it holds the index, else None."""
    path = Path(data_dir) / HOLDER_NAME
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(holder["pid"]), 0)  # still alive?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return f"`{holder.get('command', 'kura')}` (pid {holder['pid']})"


def held_index_message(data_dir: Path, what: str) -> str:
    """The one-line error for a command that cannot run while another process holds the index."""
    holder = describe_holder(data_dir) or "another process"
    return (f"the index in {data_dir} is held by {holder}; {what} cannot run beside it: "
            "stop that process and run this again")


# --- the server ------------------------------------------------------------------------------
class LocalServer:
    """Serves CLI requests for a running KuraApp on ``<data dir>/kura.sock`` until closed."""

    def __init__(self, kura, *, command: str) -> None:
        self.kura = kura
        self.command = command
        self.data_dir = Path(kura.settings.data_dir).resolve()
        self.path = socket_path(self.data_dir)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._jobs = threading.Lock()  # ingests run one at a time; asks do not wait for them

    def start(self) -> "LocalServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            if _answers(self.path):
                raise KuraError(f"another Kura server already answers on {self.path} "
                                f"({describe_holder(self.data_dir) or 'unknown process'})")
            self.path.unlink()  # left by a process that died
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket is born 0600: no window where others could connect
        try:
            sock.bind(str(self.path))
        except OSError as exc:
            sock.close()
            raise KuraError(f"could not listen on {self.path}: {exc}") from exc
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        sock.listen(16)
        self._sock = sock
        holder = {"command": self.command, "pid": os.getpid(), "socket": str(self.path)}
        _write_private(self.data_dir / HOLDER_NAME, json.dumps(holder))
        self._thread = threading.Thread(target=self._accept, name="kura-local-socket", daemon=True)
        self._thread.start()
        logger.info("CLI requests on %s", self.path)
        return self

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            for path in (self.path, self.data_dir / HOLDER_NAME):
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            def send(message: dict) -> None:
                stream.write(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")
                stream.flush()

            try:
                if not _same_user(conn):
                    send({"ok": False, "kind": "KuraError", "error": "refused: the socket serves its owner only"})
                    return
                line = stream.readline(_MAX_REQUEST)
                request = json.loads(line)
                result = self._dispatch(request, lambda progress: send({"progress": progress}))
                send({"ok": True, "result": result})
            except Exception as exc:  # every failure goes back to the CLI as its one-line error
                if not isinstance(exc, (KuraError, ValueError, FileNotFoundError)):
                    logger.exception("local request failed")
                try:
                    send({"ok": False, "kind": type(exc).__name__, "error": str(exc)})
                except OSError:
                    pass  # the CLI went away

    def _dispatch(self, request: dict, progress: Callable[[dict], None]) -> dict:
        op = request.get("op")
        kura = self.kura
        if op == "ask":
            principals = kura.principals_for(request.get("as_user"))
            answer = kura.ask(request["question"], principals=principals, mode=request.get("mode"),
                              answerer=request.get("answerer"))
            return answer.to_dict()
        if op == "stats":
            return index_stats(kura)
        if op == "ingest":
            from bots.app import files_connector, sample_connector

            path = request.get("path")
            # The re-index job's lock too: both write the index, and the job clears what an unfinished run left.
            with self._jobs, kura.reindex_lock():
                if path is not None:
                    connector = files_connector(Path(path), max_mb=kura.settings.max_document_mb)
                else:
                    connector = sample_connector()
                    kura.record_identities("sample", connector.identities(), connector.slack_aliases())
                stats = kura.ingest(connector, strategy=request.get("strategy"),
                                    on_progress=lambda s: progress(s.to_dict()))
                return {"stats": stats.to_dict(), "chunks": kura.store.count()}
        raise ValueError(f"unknown request {op!r}")


def index_stats(kura) -> dict:
    """What `kura stats` prints, as data (the same whether the CLI or the server opens the index)."""
    store = kura.store
    if not store.exists():
        if getattr(store, "unfinished", lambda: False)():
            raise StoreNotFoundError("the index is unfinished: a first `kura ingest` died while creating it; "
                                     "run `kura ingest` (or `kura reindex`) again")
        raise StoreNotFoundError("no index yet: run `kura ingest` first")
    hashes = store.document_hashes()
    unfinished = sum(1 for h in hashes.values() if h == "")  # staged chunks never published: invisible
    by_source: dict[str, int] = {}
    for doc_id, h in hashes.items():
        if h:
            source = doc_id.split(":", 1)[0]
            by_source[source] = by_source.get(source, 0) + 1
    meta = store.get_meta()
    return {"documents": len(hashes) - unfinished, "chunks": store.count(), "by_source": by_source,
            "unfinished": unfinished,
            "reindex_pending": (kura.settings.state_dir / "reindex-pending.json").exists(),
            "embedding_model": meta.get("embedding_model", "?"), "chunker": meta.get("chunker", "?")}


# --- the client ----------------------------------------------------------------------------------
class ServerRefused(KuraError):
    """The serving process answered with an error; ``kind`` is its exception's class name."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def ask_server(data_dir: Path, request: dict, *, on_progress: Callable[[dict], None] | None = None,
               timeout_s: float | None = None) -> dict | None:
    """Hand ``request`` to the process serving ``data_dir``; None when no server answers (open the index yourself)."""
    path = socket_path(data_dir)
    if not path.exists():
        return None
    try:
        conn = _connect(path, timeout_s)
    except OSError:
        return None  # a socket file left by a process that died
    with conn, conn.makefile("rwb") as stream:
        stream.write(json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n")
        stream.flush()
        for message in _messages(stream):
            if "progress" in message:
                if on_progress is not None:
                    on_progress(message["progress"])
                continue
            if message.get("ok"):
                return message["result"]
            raise _as_error(message)
    raise KuraError(f"the Kura server on {path} closed the connection without an answer")


def _messages(stream) -> Iterator[dict]:
    for line in stream:
        yield json.loads(line)


def _as_error(message: dict) -> Exception:
    """The server's error as the CLI's own exception type, so exit codes stay the same."""
    from core import errors

    kind, text = message.get("kind", ""), message.get("error", "error")
    if kind in ("ValueError", "FileNotFoundError"):
        return ValueError(text)
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, KuraError):
        try:
            return cls(text)
        except TypeError:
            pass
    return ServerRefused(text, kind)


def _connect(path: Path, timeout_s: float | None) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(2.0)
        conn.connect(str(path))
        conn.settimeout(timeout_s)
    except OSError:
        conn.close()
        raise
    return conn


def _answers(path: Path) -> bool:
    try:
        _connect(path, 1.0).close()
        return True
    except OSError:
        return False


def _same_user(conn: socket.socket) -> bool:
    """The connecting process runs as our user (Linux SO_PEERCRED; the 0600 file mode guards elsewhere)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def held_index_error(exc: StoreError, data_dir: Path, what: str) -> StoreError | None:
    """A clearer error when opening the index failed because another process holds it (Edge's WAL lock)."""
    text = str(exc)
    if "WouldBlock" in text or "WAL" in text:
        return StoreError(held_index_message(data_dir, what))
    return None


def command_name() -> str:
    """``kura serve``, ``kura slack``...: how the holder file names this process."""
    args = [a for a in sys.argv[1:2] if not a.startswith("-")]
    return " ".join(["kura", *args])
