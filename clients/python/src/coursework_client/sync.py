"""The blocking client."""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import httpx

from coursework_client import _calls, models
from coursework_client._base import MAX_BATCH, TERMINAL_EVENTS, Base
from coursework_client._calls import Call, Sleep
from coursework_client._sse import KEEPALIVE, Decoder
from coursework_client.errors import ApiError


class Client(Base):
    def __init__(self, base_url: str, api_key: str, *, transport: Optional[httpx.BaseTransport] = None, **options):
        super().__init__(base_url, api_key, **options)
        self.http = httpx.Client(base_url=self.base_url, timeout=self.timeout, transport=transport,
                                 headers=self.auth_headers)
        self.external = httpx.Client(timeout=self.timeout, transport=transport)   # presigned URLs: no API key

    def close(self) -> None:
        self.http.close()
        self.external.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------ driving calls

    def _send(self, call: Call) -> httpx.Response:
        headers = self.headers_for(call)
        http = self.external if call.external else self.http
        attempt = 0
        while True:
            try:
                r = http.request(call.method, call.path, params=call.params, json=call.json, content=call.content,
                                 headers=headers)
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
            time.sleep(delay)
            attempt += 1

    def _run(self, flow) -> Any:
        step = next(flow)
        while True:
            try:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(self._send(step))
            except StopIteration as done:
                return done.value

    def _stream(self, path: str, params: Optional[dict] = None, last_event_id: Optional[str] = None):
        """The events (and keep-alives) of one server-sent stream; 429/503 on opening are retried."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = str(last_event_id)
        attempt = 0
        while True:
            with self.http.stream("GET", path, params=params, headers=headers, timeout=self.stream_timeout) as r:
                if r.status_code >= 400:
                    r.read()
                    delay = self.retry.delay(attempt, r)
                    if delay is None:
                        raise self.error(r)
                else:
                    decoder = Decoder()
                    for line in r.iter_lines():
                        item = decoder.feed(line)
                        if item is not None:
                            yield item
                    return
            time.sleep(delay)
            attempt += 1

    def _follow(self, path: str, params: Optional[dict] = None, last_event_id=None):
        """The stream's items (keep-alives too) until the server ends it, resumed after a dropped
        connection from the last id seen (``Last-Event-ID``), with the retry policy's backoff."""
        last, drops = last_event_id, 0
        while True:
            try:
                for item in self._stream(path, params, last):
                    if item is not KEEPALIVE:
                        last, drops = item.id or last, 0
                    yield item
                return
            except httpx.TransportError:
                delay = self.retry.delay(drops, None)
                if delay is None:
                    raise
                time.sleep(delay)
                drops += 1

    # ------------------------------------------------------------------------------ jobs

    def enqueue(self, kind: str, payload: Optional[dict] = None, *, run_at: Optional[datetime] = None,
                idempotency_key: Optional[str] = None) -> models.JobAccepted:
        """Enqueue a job (202). Without ``idempotency_key`` one is made, so retries never duplicate it."""
        return self._run(_calls.enqueue(kind, payload, run_at, idempotency_key))

    def enqueue_batch(self, jobs: list[dict]) -> models.BatchAccepted:
        """Up to 500 jobs (``{"kind", "payload", "run_at"?, "idempotency_key"?}``) in one request and one
        transaction, with one outcome per job."""
        return self._run(_calls.enqueue_batch(self.batch_items(jobs)))

    def enqueue_many(self, jobs: list[dict]) -> list[models.BatchItem]:
        """Any number of jobs, in batches of 500; outcomes in order (``index`` is over ``jobs``)."""
        out: list[models.BatchItem] = []
        for start in range(0, len(jobs), MAX_BATCH):
            for item in self.enqueue_batch(jobs[start:start + MAX_BATCH]).items:
                out.append(item.model_copy(update={"index": item.index + start}))
        return out

    def get_job(self, job_id: str) -> models.Job:
        return self._run(_calls.get_job(job_id))

    def list_jobs(self, *, kind: Optional[str] = None, state: Optional[str] = None, limit: int = 50,
                  cursor: Optional[str] = None) -> models.JobPage:
        return self._run(_calls.list_jobs(kind=kind, state=state, limit=limit, cursor=cursor))

    def iter_jobs(self, *, kind: Optional[str] = None, state: Optional[str] = None,
                  page_size: int = 100) -> Iterator[models.Job]:
        """Every job matching the filters, newest first, one page request at a time."""
        cursor = None
        while True:
            page = self.list_jobs(kind=kind, state=state, limit=page_size, cursor=cursor)
            yield from page.jobs
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def cancel(self, job_id: str) -> models.Job:
        return self._run(_calls.job_action(job_id, "cancel"))

    def retry_job(self, job_id: str) -> models.Job:
        """Requeue a failed or dead-lettered job; publish a stuck queued or retrying one again (operators)."""
        return self._run(_calls.job_action(job_id, "retry"))

    def kinds(self) -> list[models.KindInfo]:
        return self._run(_calls.kinds())

    def events(self, job_id: str, *, last_event_id: Optional[int] = None,
               timeout: Optional[float] = None) -> Iterator[models.JobEvent]:
        """A job's events until it ends, reconnecting (with Last-Event-ID) if the connection drops."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for item in self._follow(f"/v1/jobs/{job_id}/events", last_event_id=last_event_id):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"no end of job {job_id} within {timeout}s")
            if item is KEEPALIVE:
                continue
            event = self.job_event(item.data)
            yield event
            if event.type in TERMINAL_EVENTS:
                return

    def wait(self, job_id: str, *, timeout: float = 600.0, raise_on_failure: bool = False) -> models.Job:
        """The job once it has ended: followed on its event stream (one request), then read once.
        If the stream cannot be had, polls at ``poll_interval`` growing to ``max_poll_interval``
        (a few requests a minute, well within the rate limit; a 429 waits its Retry-After)."""
        deadline = time.monotonic() + timeout
        try:
            for _ in self.events(job_id, timeout=timeout):
                pass
        except (httpx.TransportError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status in (401, 403, 404):
                raise
        interval = self.poll_interval
        while True:
            job = self.get_job(job_id)
            if job.done:
                return self.finished(job, raise_on_failure)
            if time.monotonic() + interval > deadline:
                raise TimeoutError(f"job {job_id} still {job.state} after {timeout}s")
            time.sleep(interval)
            interval = min(interval * 1.5, self.max_poll_interval)

    # ------------------------------------------------------------------------------ video

    def upload_video(self, lesson_id: str, source: Union[bytes, str, Path], *, filename: Optional[str] = None,
                     content_type: str = "video/mp4") -> models.VideoAsset:
        """Create a video asset and upload the file (bytes or a path) to its presigned URL."""
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        name = filename or (Path(source).name if not isinstance(source, bytes) else "video.mp4")
        return self._run(_calls.upload_video(lesson_id, data, name, content_type))

    def transcode(self, asset_id: str, *, idempotency_key: Optional[str] = None, **options) -> models.JobAccepted:
        """Start the transcode of an uploaded asset (options: ladder, segment_seconds, thumbnail_interval, force)."""
        return self._run(_calls.transcode(asset_id, options, idempotency_key))

    def upload_and_transcode(self, lesson_id: str, source: Union[bytes, str, Path], *, wait: bool = False,
                             timeout: float = 1800.0, **kwargs) -> tuple[models.VideoAsset, models.Job]:
        """Upload a video and start its transcode; with ``wait``, return once the transcode ended."""
        options = {k: kwargs.pop(k) for k in ("ladder", "segment_seconds", "thumbnail_interval") if k in kwargs}
        asset = self.upload_video(lesson_id, source, **kwargs)
        job = self.transcode(asset.id, **options).job
        if wait:
            job = self.wait(job.id, timeout=timeout)
        return asset, job

    def get_video(self, asset_id: str) -> models.VideoView:
        return self._run(_calls.get_video(asset_id))

    def playback(self, asset_id: str, learner_id: str, *,
                 lesson_id: Optional[str] = None) -> models.VideoPlayback:
        """Signed, expiring HLS/DASH/poster/thumbnail URLs of a ready video for one learner."""
        return self._run(_calls.playback(asset_id, learner_id, lesson_id))

    # ------------------------------------------------------------------------------ code

    def submit_code(self, exercise_id: str, user_id: str, language: str, code: str, *,
                    idempotency_key: Optional[str] = None) -> models.SubmissionAccepted:
        return self._run(_calls.submit_code(exercise_id, user_id, language, code, idempotency_key))

    def get_submission(self, submission_id: str) -> models.Submission:
        return self._run(_calls.get_submission(submission_id))

    def submit_and_wait(self, exercise_id: str, user_id: str, language: str, code: str, *,
                        timeout: float = 300.0, idempotency_key: Optional[str] = None) -> models.Submission:
        """Submit code and return the graded submission (verdict, score, per-case results)."""
        accepted = self.submit_code(exercise_id, user_id, language, code, idempotency_key=idempotency_key)
        self.wait(accepted.job.id, timeout=timeout)
        return self.get_submission(accepted.submission.id)

    # ------------------------------------------------------------------------------ tutor

    def start_tutor_session(self, user_id: str, course_id: str, *, lesson_id: Optional[str] = None,
                            exercise_id: Optional[str] = None, mode: str = "explain",
                            topic: str = "") -> models.TutorSession:
        return self._run(_calls.start_tutor_session(user_id, course_id, {
            "lesson_id": lesson_id, "exercise_id": exercise_id, "mode": mode, "topic": topic}))

    def ask_tutor(self, session_id: str, content: str, *,
                  idempotency_key: Optional[str] = None) -> models.TutorMessageAccepted:
        return self._run(_calls.ask_tutor(session_id, content, idempotency_key))

    def stream_token(self, session_id: str) -> models.StreamToken:
        """A short-lived token a browser can follow the session's replies with (no API key)."""
        return self._run(_calls.stream_token(session_id))

    def stream_reply(self, session_id: str, reply_id: Optional[str] = None) -> Iterator[str]:
        """The reply's text as it is written (resumes after a dropped connection); raises
        ``StreamError`` if the reply failed."""
        token = self.stream_token(session_id).token
        params = {"token": token, **({"reply_id": reply_id} if reply_id else {})}
        for item in self._follow(f"/v1/tutor/sessions/{session_id}/stream", params):
            if item is KEEPALIVE:
                continue
            kind, value = self.tutor_event(item.event, item.data)
            if kind == "token":
                yield value
            elif kind == "done":
                return

    def ask_and_stream(self, session_id: str, content: str) -> Iterator[str]:
        """Post the learner's message and stream the tutor's reply."""
        accepted = self.ask_tutor(session_id, content)
        yield from self.stream_reply(session_id, accepted.reply.id)

    # ------------------------------------------------------------------------------ notifications

    def iter_notifications(self, user_id: str, *, unread: bool = False,
                           page_size: int = 50) -> Iterator[models.InboxItem]:
        before = None
        while True:
            items, before = self._run(_calls.notifications(user_id, unread, page_size, before))
            yield from items
            if not before:
                return
