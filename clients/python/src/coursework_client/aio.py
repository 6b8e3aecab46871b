"""The asyncio client: the same methods as ``Client``, to ``await`` (iterators are async)."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Optional, Union

import httpx

from coursework_client import _calls, models
from coursework_client._base import MAX_BATCH, TERMINAL_EVENTS, Base
from coursework_client._calls import Call, Sleep
from coursework_client._sse import KEEPALIVE, Decoder
from coursework_client.errors import ApiError


class AsyncClient(Base):
    def __init__(self, base_url: str, api_key: str, *, transport: Optional[httpx.AsyncBaseTransport] = None,
                 **options):
        super().__init__(base_url, api_key, **options)
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, transport=transport,
                                      headers=self.auth_headers)
        self.external = httpx.AsyncClient(timeout=self.timeout, transport=transport)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.external.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------ driving calls

    async def _send(self, call: Call) -> httpx.Response:
        headers = self.headers_for(call)
        http = self.external if call.external else self.http
        attempt = 0
        while True:
            try:
                r = await http.request(call.method, call.path, params=call.params, json=call.json,
                                       content=call.content, headers=headers)
            except httpx.TransportError:
                delay = self.retry.delay(attempt, None)
                if delay is None:
                    raise
            else:
                if r.status_code < 400:
                    return r
                delay = self.retry.delay(attempt, r)
                if delay is None:
                    raise self.error(r)
            await asyncio.sleep(delay)
            attempt += 1

    async def _run(self, flow) -> Any:
        step = next(flow)
        while True:
            try:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(await self._send(step))
            except StopIteration as done:
                return done.value

    async def _stream(self, path: str, params: Optional[dict] = None, last_event_id: Optional[str] = None):
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = str(last_event_id)
        attempt = 0
        while True:
            async with self.http.stream("GET", path, params=params, headers=headers,
                                        timeout=self.stream_timeout) as r:
                if r.status_code >= 400:
                    await r.aread()
                    delay = self.retry.delay(attempt, r)
                    if delay is None:
                        raise self.error(r)
                else:
                    decoder = Decoder()
                    async for line in r.aiter_lines():
                        item = decoder.feed(line)
                        if item is not None:
                            yield item
                    return
            await asyncio.sleep(delay)
            attempt += 1

    async def _follow(self, path: str, params: Optional[dict] = None, last_event_id=None):
        """The stream's items (keep-alives too) until the server ends it, resumed after a dropped
        connection from the last id seen (``Last-Event-ID``), with the retry policy's backoff."""
        last, drops = last_event_id, 0
        while True:
            try:
                async for item in self._stream(path, params, last):
                    if item is not KEEPALIVE:
                        last, drops = item.id or last, 0
                    yield item
                return
            except httpx.TransportError:
                delay = self.retry.delay(drops, None)
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                drops += 1

    # ------------------------------------------------------------------------------ jobs

    async def enqueue(self, kind: str, payload: Optional[dict] = None, *, run_at: Optional[datetime] = None,
                      idempotency_key: Optional[str] = None) -> models.JobAccepted:
        return await self._run(_calls.enqueue(kind, payload, run_at, idempotency_key))

    async def enqueue_batch(self, jobs: list[dict]) -> models.BatchAccepted:
        return await self._run(_calls.enqueue_batch(self.batch_items(jobs)))

    async def enqueue_many(self, jobs: list[dict]) -> list[models.BatchItem]:
        out: list[models.BatchItem] = []
        for start in range(0, len(jobs), MAX_BATCH):
            for item in (await self.enqueue_batch(jobs[start:start + MAX_BATCH])).items:
                out.append(item.model_copy(update={"index": item.index + start}))
        return out

    async def get_job(self, job_id: str) -> models.Job:
        return await self._run(_calls.get_job(job_id))

    async def list_jobs(self, *, kind: Optional[str] = None, state: Optional[str] = None, limit: int = 50,
                        cursor: Optional[str] = None) -> models.JobPage:
        return await self._run(_calls.list_jobs(kind=kind, state=state, limit=limit, cursor=cursor))

    async def iter_jobs(self, *, kind: Optional[str] = None, state: Optional[str] = None,
                        page_size: int = 100) -> AsyncIterator[models.Job]:
        cursor = None
        while True:
            page = await self.list_jobs(kind=kind, state=state, limit=page_size, cursor=cursor)
            for job in page.jobs:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def cancel(self, job_id: str) -> models.Job:
        return await self._run(_calls.job_action(job_id, "cancel"))

    async def retry_job(self, job_id: str) -> models.Job:
        return await self._run(_calls.job_action(job_id, "retry"))

    async def kinds(self) -> list[models.KindInfo]:
        return await self._run(_calls.kinds())

    async def events(self, job_id: str, *, last_event_id: Optional[int] = None,
                     timeout: Optional[float] = None) -> AsyncIterator[models.JobEvent]:
        deadline = None if timeout is None else time.monotonic() + timeout
        async for item in self._follow(f"/v1/jobs/{job_id}/events", last_event_id=last_event_id):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"no end of job {job_id} within {timeout}s")
            if item is KEEPALIVE:
                continue
            event = self.job_event(item.data)
            yield event
            if event.type in TERMINAL_EVENTS:
                return

    async def wait(self, job_id: str, *, timeout: float = 600.0, raise_on_failure: bool = False) -> models.Job:
        deadline = time.monotonic() + timeout
        try:
            async for _ in self.events(job_id, timeout=timeout):
                pass
        except (httpx.TransportError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status in (401, 403, 404):
                raise
        interval = self.poll_interval
        while True:
            job = await self.get_job(job_id)
            if job.done:
                return self.finished(job, raise_on_failure)
            if time.monotonic() + interval > deadline:
                raise TimeoutError(f"job {job_id} still {job.state} after {timeout}s")
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, self.max_poll_interval)

    # ------------------------------------------------------------------------------ video

    async def upload_video(self, lesson_id: str, source: Union[bytes, str, Path], *, filename: Optional[str] = None,
                           content_type: str = "video/mp4") -> models.VideoAsset:
        data = source if isinstance(source, bytes) else await asyncio.to_thread(Path(source).read_bytes)
        name = filename or (Path(source).name if not isinstance(source, bytes) else "video.mp4")
        return await self._run(_calls.upload_video(lesson_id, data, name, content_type))

    async def transcode(self, asset_id: str, *, idempotency_key: Optional[str] = None,
                        **options) -> models.JobAccepted:
        return await self._run(_calls.transcode(asset_id, options, idempotency_key))

    async def upload_and_transcode(self, lesson_id: str, source: Union[bytes, str, Path], *, wait: bool = False,
                                   timeout: float = 1800.0, **kwargs) -> tuple[models.VideoAsset, models.Job]:
        options = {k: kwargs.pop(k) for k in ("ladder", "segment_seconds", "thumbnail_interval") if k in kwargs}
        asset = await self.upload_video(lesson_id, source, **kwargs)
        job = (await self.transcode(asset.id, **options)).job
        if wait:
            job = await self.wait(job.id, timeout=timeout)
        return asset, job

    async def get_video(self, asset_id: str) -> models.VideoView:
        return await self._run(_calls.get_video(asset_id))

    async def playback(self, asset_id: str, learner_id: str, *,
                 lesson_id: Optional[str] = None) -> models.VideoPlayback:
        """Signed, expiring HLS/DASH/poster/thumbnail URLs of a ready video for one learner."""
        return await self._run(_calls.playback(asset_id, learner_id, lesson_id))

    # ------------------------------------------------------------------------------ code

    async def submit_code(self, exercise_id: str, user_id: str, language: str, code: str, *,
                          idempotency_key: Optional[str] = None) -> models.SubmissionAccepted:
        return await self._run(_calls.submit_code(exercise_id, user_id, language, code, idempotency_key))

    async def get_submission(self, submission_id: str) -> models.Submission:
        return await self._run(_calls.get_submission(submission_id))

    async def submit_and_wait(self, exercise_id: str, user_id: str, language: str, code: str, *,
                              timeout: float = 300.0, idempotency_key: Optional[str] = None) -> models.Submission:
        accepted = await self.submit_code(exercise_id, user_id, language, code, idempotency_key=idempotency_key)
        await self.wait(accepted.job.id, timeout=timeout)
        return await self.get_submission(accepted.submission.id)

    # ------------------------------------------------------------------------------ tutor

    async def start_tutor_session(self, user_id: str, course_id: str, *, lesson_id: Optional[str] = None,
                                  exercise_id: Optional[str] = None, mode: str = "explain",
                                  topic: str = "") -> models.TutorSession:
        return await self._run(_calls.start_tutor_session(user_id, course_id, {
            "lesson_id": lesson_id, "exercise_id": exercise_id, "mode": mode, "topic": topic}))

    async def ask_tutor(self, session_id: str, content: str, *,
                        idempotency_key: Optional[str] = None) -> models.TutorMessageAccepted:
        return await self._run(_calls.ask_tutor(session_id, content, idempotency_key))

    async def stream_token(self, session_id: str) -> models.StreamToken:
        return await self._run(_calls.stream_token(session_id))

    async def stream_reply(self, session_id: str, reply_id: Optional[str] = None) -> AsyncIterator[str]:
        token = (await self.stream_token(session_id)).token
        params = {"token": token, **({"reply_id": reply_id} if reply_id else {})}
        async for item in self._follow(f"/v1/tutor/sessions/{session_id}/stream", params):
            if item is KEEPALIVE:
                continue
            kind, value = self.tutor_event(item.event, item.data)
            if kind == "token":
                yield value
            elif kind == "done":
                return

    async def ask_and_stream(self, session_id: str, content: str) -> AsyncIterator[str]:
        accepted = await self.ask_tutor(session_id, content)
        async for text in self.stream_reply(session_id, accepted.reply.id):
            yield text

    # ------------------------------------------------------------------------------ notifications

    async def iter_notifications(self, user_id: str, *, unread: bool = False,
                                 page_size: int = 50) -> AsyncIterator[models.InboxItem]:
        before = None
        while True:
            items, before = await self._run(_calls.notifications(user_id, unread, page_size, before))
            for item in items:
                yield item
            if not before:
                return
