"""Certificates rendered off the event loop (``services.equipment.certificates``): in worker
processes, byte for byte what the renderer gives in this process, chunk by chunk, a dead worker
replaced, and in threads without a pool."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest

from services.equipment import certificates
from services.equipment.app import certificate_workers
from services.equipment.certificates import CertificateRenderer, Rendered
from services.equipment.documents import CertificateData, certificate_pdf, sha256
from tests.unit.equipment.test_documents import a_certificate, a_record


def some_certificates(n: int) -> list[CertificateData]:
    return [
        dataclasses.replace(a_certificate(a_record("m1"), a_record("m2")), certificate_id=f"CERT-{i:04}")
        for i in range(n)
    ]


async def render(renderer: CertificateRenderer, batch: list[CertificateData]) -> list[list[Rendered]]:
    rendering = renderer.start(batch)
    try:
        return [await done for done in rendering.as_completed()]
    finally:
        rendering.cancel()


@pytest.mark.parametrize("workers", [0, 1])
async def test_a_certificate_rendered_off_the_event_loop_is_the_pdf_rendered_here_with_its_digest(
    workers: int,
) -> None:
    renderer = CertificateRenderer(workers, chunk=2)
    try:
        chunks = await render(renderer, some_certificates(5))
    finally:
        renderer.close()
    assert sorted(len(chunk) for chunk in chunks) == [1, 2, 2], "in chunks, each certificate once"
    rendered = sorted((r for chunk in chunks for r in chunk), key=lambda r: r.certificate.certificate_id)
    assert [r.certificate.certificate_id for r in rendered] == [f"CERT-{i:04}" for i in range(5)]
    for r in rendered:
        assert r.content == certificate_pdf(r.certificate), "the same bytes, whichever process renders them"
        assert r.sha256 == sha256(r.content)


async def test_a_pool_whose_worker_died_fails_that_render_and_is_replaced_at_the_next() -> None:
    renderer = CertificateRenderer(1)
    try:
        await render(renderer, some_certificates(1))  # the worker is up
        pool = renderer._pool
        assert pool is not None
        for pid in list(pool._processes):  # the executor's own record of its workers
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.2)
        with pytest.raises(BrokenProcessPool):
            await render(renderer, some_certificates(1))
        [[again]] = await render(renderer, some_certificates(1))
        assert again.content == certificate_pdf(again.certificate)
        assert renderer._pool is not pool
    finally:
        renderer.close()


async def test_a_closed_renderer_renders_in_threads_and_starts_no_process() -> None:
    renderer = CertificateRenderer(2)
    renderer.close()
    [[rendered]] = await render(renderer, some_certificates(1))
    assert rendered.content == certificate_pdf(rendered.certificate)
    assert renderer._pool is None


async def test_nothing_to_render_starts_no_process() -> None:
    renderer = CertificateRenderer(2)
    assert await render(renderer, []) == []
    assert renderer._pool is None


def test_a_renderer_needs_a_chunk_and_no_negative_number_of_workers() -> None:
    with pytest.raises(ValueError, match="workers"):
        CertificateRenderer(-1)
    with pytest.raises(ValueError, match="chunk"):
        CertificateRenderer(1, chunk=0)


async def test_the_service_renders_in_its_workers_while_it_runs_and_gives_the_previous_renderer_back() -> None:
    before = certificates.renderer()
    task = asyncio.create_task(certificate_workers(3)())
    await asyncio.sleep(0)
    during = certificates.renderer()
    assert during is not before and during.workers == 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert certificates.renderer() is before
    assert during._closed, "its processes stop with the service"
