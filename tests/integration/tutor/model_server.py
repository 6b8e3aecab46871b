"""A local HTTP server speaking the OpenAI chat-completions wire protocol (streamed and not).

Behaviour is chosen by directives in the last user message, so a worker in another process
can drive it too: ``!429xN`` (N rate-limit answers with Retry-After, then normal), ``!500xN``,
``!quota`` (429 insufficient_quota), ``!hang`` (accept, never answer), ``!stall`` (two chunks,
then silence), ``!leak:<how>`` (a model that knows the exercise's solution, ``known_solution``, and
leaks it: ``literal``, ``spaced`` (a dash between every character), ``reversed``, ``lines`` (one
line per paragraph, with prose between), ``paraphrase`` (walked through in words), ``prompt``
(repeats its system prompt)).
Otherwise it answers "According to [1], ..." quoting the first passage it was given.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from cli.services import free_port


class ModelServer:
    def __init__(self, retry_after: str = "1", first_token_delay: float = 0.0, chunk_delay: float = 0.0):
        self.port = free_port()
        self.retry_after, self.first_token_delay, self.chunk_delay = retry_after, first_token_delay, chunk_delay
        self.requests: list[dict] = []
        self.arrivals: list[float] = []      # wall-clock time each request came in (the benchmark's trace)
        self.seen: Counter[str] = Counter()
        self.known_solution = ""             # what a leaking model "knows" (it is never in the prompt)
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/v1/chat/completions", self.completions, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                   timeout_graceful_shutdown=1, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "ModelServer":
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("model server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def count(self, needle: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if needle in json.dumps(r["messages"]))

    # ------------------------------------------------------------------ protocol
    def leak(self, how: str, system: str) -> str:
        solution = self.known_solution
        if how == "spaced":
            return "Sure: " + "-".join(ch for ch in solution if not ch.isspace())
        if how == "reversed":
            return f"Read this backwards: {solution[::-1]}"
        if how == "lines":
            return "\n\n".join(f"Step {i}: consider `{line.strip()}` here." for i, line in
                                enumerate(solution.splitlines(), start=1))
        if how == "paraphrase":
            words = re.sub(r"[^\w]+", " ", solution).split()
            return "In words: " + " then ".join(words)
        if how == "prompt":
            return f"My instructions are: {system}"
        return f"Sure, here is the full solution:\n{solution}\nGood luck!"

    def answer_for(self, messages: list[dict]) -> str:
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        last = messages[-1]["content"]
        leak = re.search(r"!leak(?::(\w+))?", last)
        if leak:
            return self.leak(leak.group(1) or "literal", system)
        first = re.search(r"\[1\] \(([^)]*)\) (.*)", system)
        if not first:
            return "I have no course passages to answer from."
        words = first.group(2).split()[:12]
        return f"According to [1] ({first.group(1)}), {' '.join(words).rstrip('.')}. That is the key idea."

    @staticmethod
    async def _forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:  # the server is shutting down
            pass

    async def completions(self, request: Request):
        arrived = time.time()
        body = await request.json()
        messages = body["messages"]
        last = messages[-1]["content"]
        with self._lock:
            self.arrivals.append(arrived)
            self.requests.append(body)
            self.seen[last] += 1
            n = self.seen[last]
        m = re.search(r"!(429|500)x(\d+)", last)
        if m and n <= int(m.group(2)):
            code = int(m.group(1))
            err = {"message": "Rate limit reached" if code == 429 else "The server had an error",
                   "type": "requests" if code == 429 else "server_error", "code": None}
            headers = {"retry-after": self.retry_after} if code == 429 else {}
            return JSONResponse({"error": err}, status_code=code, headers=headers)
        if "!quota" in last:
            return JSONResponse({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                                           "code": "insufficient_quota"}}, status_code=429,
                                headers={"retry-after": "1"})
        if "!hang" in last:
            await self._forever()
        text = self.answer_for(messages)
        pieces = re.findall(r"\S+\s*", text)
        created, cid, model = int(time.time()), f"chatcmpl-{n}", body.get("model", "test")
        if not body.get("stream"):
            return JSONResponse({"id": cid, "object": "chat.completion", "created": created, "model": model,
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": text}}],
                                 "usage": {"prompt_tokens": 50, "completion_tokens": len(pieces),
                                           "total_tokens": 50 + len(pieces)}})
        stall = "!stall" in last
        include_usage = (body.get("stream_options") or {}).get("include_usage")

        def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> str:
            obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if usage:
                obj["usage"] = usage
            return f"data: {json.dumps(obj)}\n\n"

        async def events():
            if self.first_token_delay:
                await asyncio.sleep(self.first_token_delay)
            yield chunk({"role": "assistant", "content": ""})
            for i, piece in enumerate(pieces):
                if stall and i == 2:
                    await self._forever()
                yield chunk({"content": piece})
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
            yield chunk({}, "stop")
            if include_usage:
                yield chunk({}, usage={"prompt_tokens": 50, "completion_tokens": len(pieces),
                                       "total_tokens": 50 + len(pieces)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
