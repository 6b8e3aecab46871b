"""Video, code submissions and the tutor: what their routes answer."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from intake.schemas import F
from intake.schemas.jobs import Job

JOB_ID = "0c1f7a3e9b2d4c55a1e2f3a4b5c6d7e8"


class Rendition(BaseModel):
    name: str = F("rendition name", "720p")
    kind: str = F("video or audio", "video")
    width: int | None = F("pixels", 1280)
    height: int | None = F("pixels", 720)
    bandwidth: int = F("peak bits per second (HLS BANDWIDTH)", 2_800_000)
    average_bandwidth: int | None = F("average bits per second", 2_400_000)
    codecs: str | None = F("RFC 6381 codecs string", "avc1.64001f,mp4a.40.2")
    playlist_key: str | None = F("storage key of its media playlist", "videos/a1/v1/720p/index.m3u8")
    segments: int | None = F("number of media segments", 42)


class VideoAsset(BaseModel):
    id: str = F("the asset's id", "9b2d4c55a1e2f3a4")
    lesson_id: str = F("the lesson it belongs to", "lesson-1")
    filename: str = F("the uploaded file's name", "intro.mp4")
    content_type: str = F("the upload's MIME type", "video/mp4")
    size_bytes: int = F("the declared source size", 10_485_760)
    source_key: str = F("storage key of the uploaded source", "videos/9b2d/source.mp4")
    status: str = F("uploading, processing, ready or failed", "ready")
    duration_seconds: float | None = F("probed duration", 125.4)
    width: int | None = F("source width", 1920)
    height: int | None = F("source height", 1080)
    version: int | None = F("the output version served (each transcode makes a new one)", 1)
    master_key: str | None = F("storage key of the HLS master playlist", "videos/9b2d/v/1/cmaf/master.m3u8")
    mpd_key: str | None = F("storage key of the DASH MPD", "videos/9b2d/v/1/cmaf/manifest.mpd")
    poster_key: str | None = F("storage key of the poster image", "videos/9b2d/v1/poster.jpg")
    sprite_key: str | None = F("storage key of the thumbnail sprite", "videos/9b2d/v1/sprite.jpg")
    thumbnails_vtt_key: str | None = F("storage key of the thumbnails WebVTT", "videos/9b2d/v1/thumbs.vtt")
    error: dict[str, Any] | None = F("why the last transcode failed: {code, message}", None)
    created_at: str | None = F("ISO 8601", "2026-01-05T10:00:00+00:00")
    ready_at: str | None = F("ISO 8601 time the last transcode finished", None)
    renditions: list[Rendition] = F("renditions, highest bandwidth first", [])


class UploadTarget(BaseModel):
    method: Literal["PUT"] = F("HTTP method for the upload", "PUT")
    url: str = F("presigned URL to PUT the file to", "https://s3.example/bucket/videos/9b2d/source.mp4?X-Amz-...")
    headers: dict[str, str] = F("headers the PUT must carry", {"Content-Type": "video/mp4"})
    expires_in: int = F("seconds the URL stays valid", 3600)


class VideoLinks(BaseModel):
    self: str = F("the asset", "/v1/videos/9b2d4c55a1e2f3a4")
    transcode: str = F("POST here once uploaded", "/v1/videos/9b2d4c55a1e2f3a4/transcode")
    playback: str | None = F("POST here for a learner's signed playback URLs, once ready", None)


class VideoCreated(BaseModel):
    asset: VideoAsset = F("the new asset, status uploading")
    upload: UploadTarget = F("where and how to upload the file")
    links: VideoLinks = F("what to call next")


class VideoView(BaseModel):
    asset: VideoAsset = F("the asset")
    links: VideoLinks = F("what to call next")


class VideoPlayback(BaseModel):
    hls_url: str = F("HLS master playlist under the learner's token path",
                     "https://api.example/v1/play/eyJh.c2ln/cmaf/master.m3u8")
    dash_url: str = F("DASH MPD under the same token path", "https://api.example/v1/play/eyJh.c2ln/cmaf/manifest.mpd")
    poster_url: str = F("poster image", "https://api.example/v1/play/eyJh.c2ln/thumbs/poster.jpg")
    thumbnails_vtt_url: str = F("sprite thumbnails WebVTT (its cues name sheets beside it)",
                                "https://api.example/v1/play/eyJh.c2ln/thumbs/thumbnails.vtt")
    version: int = F("the output version the token is bound to", 1)
    expires_at: int = F("Unix time the URLs stop working", 1767225600)
    expires_in: int = F("seconds the URLs stay valid", 3600)


class Submission(BaseModel):
    id: str = F("the submission's id", "5c6d7e8f9a0b1c2d")
    exercise_id: str = F("the exercise", "ex-fizzbuzz")
    user_id: str = F("the learner", "u-1")
    language: str = F("the language", "python")
    status: str = F("queued, running, graded, or an ended state", "graded")
    verdict: str | None = F("AC (accepted), WA, CE, RE, TLE, MLE, OLE ...: the worst case's verdict", "AC")
    score: int | None = F("0-100", 100)
    attempt: int | None = F("the learner's attempt number, once graded", 1)
    results: list[dict[str, Any]] = F("per test case: verdict, time, memory (never hidden cases' data)", [])
    feedback: str = F("feedback for the learner", "")
    compile_output: str = F("compiler messages", "")
    job_id: str | None = F("its evaluate job", JOB_ID)
    created_at: str = F("ISO 8601", "2026-01-05T10:00:00+00:00")
    graded_at: str | None = F("ISO 8601", None)


class SubmissionLinks(BaseModel):
    self: str = F("the submission", "/v1/submissions/5c6d7e8f9a0b1c2d")
    job: str = F("its evaluate job", f"/v1/jobs/{JOB_ID}")
    events: str = F("its job's event stream", f"/v1/jobs/{JOB_ID}/events")


class SubmissionAccepted(BaseModel):
    submission: Submission = F("the submission, queued")
    job: Job = F("its evaluate job")
    links: SubmissionLinks = F("where to follow it")


class SubmissionView(BaseModel):
    submission: Submission = F("the submission")
    links: SubmissionLinks = F("related resources")


class ExerciseExample(BaseModel):
    position: int = F("case number", 1)
    stdin: str = F("the case's input", "3\n")
    expected_stdout: str = F("the expected output", "Fizz\n")


class Exercise(BaseModel):
    id: str = F("the exercise", "ex-fizzbuzz")
    title: str = F("title", "FizzBuzz")
    description: str = F("statement (Markdown)", "Print ...")
    difficulty: str = F("easy, medium or hard", "easy")
    topic: str | None = F("leaderboard topic", "loops")
    languages: list[str] = F("languages accepted", ["python", "c"])
    starter_code: Any = F("starter code per language", {"python": "n = int(input())\n"})
    hints: list[Any] = F("hints", [])
    time_limit_ms: int = F("CPU time limit per case", 2000)
    memory_limit_mb: int = F("memory limit per case", 256)
    lesson_id: str | None = F("the lesson it belongs to", None)
    examples: list[ExerciseExample] = F("the visible test cases")
    hidden_cases: int = F("how many cases are hidden", 3)


class ExerciseView(BaseModel):
    exercise: Exercise = F("the exercise as a learner sees it")


class TutorSession(BaseModel):
    id: str = F("the session", "7e8f9a0b1c2d3e4f")
    user_id: str = F("the learner", "u-1")
    course_id: str = F("the course", "c-1")
    lesson_id: str | None = F("the lesson, if any", None)
    exercise_id: str | None = F("the exercise, if any", None)
    topic: str = F("what the learner asked about", "")
    mode: str = F("explain or hint", "explain")
    status: str = F("active or ended", "active")
    created_at: str | None = F("ISO 8601", "2026-01-05T10:00:00+00:00")
    ended_at: str | None = F("ISO 8601", None)


class TutorMessage(BaseModel):
    id: str = F("the message", "8f9a0b1c2d3e4f5a")
    session_id: str = F("its session", "7e8f9a0b1c2d3e4f")
    role: str = F("user or assistant", "assistant")
    content: str = F("the text (an assistant reply grows while streamed)", "Recursion is ...")
    status: str = F("pending, streaming, complete or failed", "complete")
    prompt_tokens: int = F("tokens sent to the model", 412)
    completion_tokens: int = F("tokens the model produced", 96)
    citations: list[Any] = F("course passages the reply cites", [])
    provider: str = F("the model provider that answered", "openai")
    blocked: bool = F("the hint guard rewrote the reply", False)
    error: str | None = F("why the reply failed", None)
    job_id: str | None = F("the tutor_reply job", JOB_ID)
    created_at: str | None = F("ISO 8601", "2026-01-05T10:00:00+00:00")
    completed_at: str | None = F("ISO 8601", None)


class TutorLinks(BaseModel):
    self: str = F("the session", "/v1/tutor/sessions/7e8f9a0b1c2d3e4f")
    messages: str = F("POST a message here", "/v1/tutor/sessions/7e8f9a0b1c2d3e4f/messages")
    stream_token: str = F("POST here for a stream token", "/v1/tutor/sessions/7e8f9a0b1c2d3e4f/stream-token")
    stream: str = F("the reply stream (needs ?token=)", "/v1/tutor/sessions/7e8f9a0b1c2d3e4f/stream")


class TutorSessionCreated(BaseModel):
    session: TutorSession = F("the new session")
    links: TutorLinks = F("what to call next")


class TutorSessionView(BaseModel):
    session: TutorSession = F("the session")
    messages: list[TutorMessage] = F("its messages, oldest first")
    links: TutorLinks = F("related resources")


class TutorSessionEnded(BaseModel):
    session: TutorSession = F("the session, ended")


class TutorMessageLinks(TutorLinks):
    job: str = F("the reply's job", f"/v1/jobs/{JOB_ID}")


class TutorMessageAccepted(BaseModel):
    message: TutorMessage | None = F("the learner's message (absent on a replay)", None)
    reply: TutorMessage = F("the assistant reply being written (status pending)")
    job: Job = F("its tutor_reply job")
    links: TutorMessageLinks = F("where to follow the reply")


class StreamToken(BaseModel):
    token: str = F("short-lived token for the browser", "eyJ...")
    expires_at: int = F("Unix time it expires", 1767607200)
    stream_url: str = F("the stream URL with the token", "/v1/tutor/sessions/7e8f/stream?token=eyJ...")
