"""Overlap for the batch loop: read ahead while a chunk encodes, write behind while the next one does.

    prefetched(source, depth)   the items of `source`, produced by a background thread at most
                                `depth` items ahead of the consumer (reading, segmenting and
                                tokenising the next chunk while the current one encodes)
    WriteBehind                 runs one write at a time on a background thread, in the order
                                submitted; `submit` first waits for the previous write, so at most
                                one write is in flight while the caller codes the next chunk

Invariants: items come out in the order the source yields them, and writes run in the order they
are submitted, so the outputs are byte-identical to a run without overlap. An exception in the
background thread is raised in the caller at the next item or write; an exception (or Ctrl-C) in
the caller stops the reader and lets the write in flight finish (so the checkpoint it records
stays true) before it propagates. The encoder itself (torch) releases the GIL, so the Python work
of the other two threads runs while it computes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar, cast

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetched(source: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """The items of `source` in order, read by a daemon thread at most `depth` items ahead.

    depth <= 0 reads inline (no thread). Closing the iterator (or leaving a for loop over it
    early) stops the reader at its next item.
    """
    if depth <= 0:
        yield from source
        return
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))
            return
        put(_DONE)

    reader = threading.Thread(target=read, name="loupe-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield cast(T, item)  # everything else in the queue is a T
    finally:
        stop.set()
        reader.join(timeout=5)


class WriteBehind:
    """One background writer: `submit(write)` waits for the previous write, then starts this one.

    Use as a context manager; leaving it waits for the write in flight (and raises its error).
    """

    def __init__(self, enabled: bool = True) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loupe-write") if enabled else None
        self._pending: Future[None] | None = None

    def wait(self) -> None:
        """Wait for the write in flight, if any; raises its exception."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def submit(self, write: Callable[[], None]) -> None:
        self.wait()
        if self._pool is None:
            write()
        else:
            self._pending = self._pool.submit(write)

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.wait()
            elif self._pending is not None:
                self._pending.exception()  # let it finish; the caller's exception wins
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
