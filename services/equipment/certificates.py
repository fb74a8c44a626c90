"""Sanitisation certificates rendered off the event loop, in worker processes, when they are issued.

Why rendered when issued, and not lazily on first download
-----------------------------------------------------------
A certificate is evidence, and the current guarantees all need its PDF when it is issued:

* its SHA-256 travels on the ``DeviceSanitised`` event that says the device became sanitised,
  written in the same transaction as the device's new state (and copied to the partner topic):
  the contracts define it as the "SHA-256 of the certificate PDF", so anybody shown a
  certificate can check it against what Passerelle published. A digest of the PDF cannot be
  known without the PDF;
* the PDF is kept append-only beside its digest (the database refuses ``UPDATE``, ``DELETE`` and
  ``TRUNCATE`` of ``certificates``): what a donor downloads is what was issued, byte for byte,
  even if the renderer changes later.

Rendering on first download would publish the event without its digest (or later, under an event
the contracts do not have), and a device could be allocated and delivered before the evidence of
its wipe exists. So certificates are rendered when they are issued, in the transaction that
issues them.

Why in worker processes
-----------------------
A certificate takes 4 to 8 ms of pure-Python CPU (segno's choice of the QR code's mask is about
half of it, the layout and pydyf the rest). A wiping station's log of 10,000 devices is then
close to a minute of CPU: on the event loop it would stall every other request of the process for
that long, and threads would hold the GIL just the same. A ``ProcessPoolExecutor`` renders on the
machine's cores while the event loop keeps serving, and while the transaction that issues them
writes the rest of the log (records, states, history): the renders start first, the rows they
need are written after (``handlers.refurbishing``). The documents are pure functions of their
data, so a PDF is the same bytes whichever process renders it (``documents``: deterministic).

The pool is started with ``forkserver``, not ``fork``: the service's process has threads and
open sockets (asyncpg, aiokafka) that a forked child must not inherit (and like ``spawn``, a
script that uses it needs the ``if __name__ == "__main__":`` idiom; ``python -m
services.equipment`` is a package's ``__main__``, which children do not run again). The service
installs it when it starts (``app.py``, ``PASSERELLE_EQUIPMENT_CERTIFICATE_WORKERS``), the
processes start at the first certificate (a few hundred milliseconds, once) and stop with the
service; a pool whose worker died is replaced at the next use. Without a pool (unit tests,
commands, ``certificate_workers = 0``) the renders run in threads: off the event loop still,
on one core.

Certificates go to the workers in chunks: fewer round trips than one each (to the workers and to
the database: each chunk is stored with one COPY), enough of them that every worker stays busy
and the first chunks are stored while later ones render.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from services.runtime.logs import get_logger

from .documents import CertificateData, certificate_pdf, sha256

log = get_logger(__name__)

CHUNK = 16  # certificates per task sent to a worker, at least
TASKS_PER_WORKER = 8  # a log's certificates in about this many tasks per worker: fewer for small ones


@dataclass(frozen=True)
class Rendered:
    """An issued certificate's PDF and its SHA-256."""

    certificate: CertificateData
    content: bytes
    sha256: str


def render_chunk(chunk: Sequence[CertificateData]) -> list[tuple[bytes, str]]:
    """What a worker does: each certificate's PDF and its digest (hashed there too)."""
    rendered = []
    for certificate in chunk:
        content = certificate_pdf(certificate)
        rendered.append((content, sha256(content)))
    return rendered


class Rendering:
    """Certificates being rendered: each chunk as it is done (``as_completed``), or all cancelled."""

    def __init__(self, tasks: Sequence[asyncio.Future[list[Rendered]]]) -> None:
        self._tasks = list(tasks)

    def as_completed(self) -> Iterator[Awaitable[list[Rendered]]]:
        return iter(asyncio.as_completed(self._tasks))

    def cancel(self) -> None:
        """Stop what has not started (a render already running finishes and is dropped); a
        render that failed is not reported again (the caller's own error is the one that counts)."""
        for task in self._tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: no "exception was never retrieved" at collection
            task.cancel()


class CertificateRenderer:
    """Renders certificates in ``workers`` processes (0: in threads of this process)."""

    def __init__(self, workers: int = 0, chunk: int = CHUNK) -> None:
        if workers < 0 or chunk < 1:
            raise ValueError("workers must be 0 or more and chunk at least 1")
        self.workers = workers
        self.chunk = chunk
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    def _executor(self) -> ProcessPoolExecutor | None:
        """The pool, started at the first render (a service that issues no certificate, or a test
        that does not, starts no process); none without workers or once closed."""
        if self.workers and self._pool is None and not self._closed:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._pool

    def start(self, certificates: Sequence[CertificateData]) -> Rendering:
        """Start rendering ``certificates`` in chunks (at least ``chunk`` each, about
        ``TASKS_PER_WORKER`` per worker for a long log: the workers stay busy and each chunk is
        stored in one statement); nothing is awaited yet."""
        size = max(self.chunk, -(-len(certificates) // (max(self.workers, 1) * TASKS_PER_WORKER)))
        chunks = [certificates[i : i + size] for i in range(0, len(certificates), size)]
        return Rendering([asyncio.ensure_future(self._render(chunk)) for chunk in chunks])

    async def _render(self, chunk: Sequence[CertificateData]) -> list[Rendered]:
        pool = self._executor()
        try:
            if pool is None:
                pairs = await asyncio.to_thread(render_chunk, chunk)
            else:
                pairs = await asyncio.get_running_loop().run_in_executor(pool, render_chunk, chunk)
        except BrokenProcessPool:
            log.error("a certificate worker died: the pool is replaced at the next use")
            self._discard(pool)
            raise
        return [Rendered(c, content, digest) for c, (content, digest) in zip(chunk, pairs, strict=True)]

    def _discard(self, pool: ProcessPoolExecutor | None) -> None:
        if pool is not None and self._pool is pool:
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (what is queued is cancelled); later renders run in threads."""
        self._closed = True
        self._discard(self._pool)


_renderer = CertificateRenderer()


def renderer() -> CertificateRenderer:
    """The process's renderer: the service's pool once ``use`` set it, threads until then."""
    return _renderer


def use(new: CertificateRenderer) -> CertificateRenderer:
    """Make ``new`` the process's renderer; returns the one it replaces (not closed)."""
    global _renderer  # one pool per process, as one database pool per process
    previous, _renderer = _renderer, new
    return previous
