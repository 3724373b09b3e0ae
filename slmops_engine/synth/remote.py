"""Ask an OpenAI-compatible teacher: bounded concurrency, a requests-per-minute limit, retries with exponential
backoff and jitter on 429 / 5xx / timeouts / dropped connections / malformed replies (honouring Retry-After),
and an immediate stop on errors that retrying cannot fix (401, 403, 404, 400)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..errors import EndpointError
from ..teachers import TeacherConfig, endpoint_error, make_client

MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 120.0


@dataclass
class Reply:
    text: str
    reasoning_field: str | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float


class GaveUp(Exception):  # noqa: N818 - an outcome, reported per prompt
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class RateLimiter:
    """Spaces requests evenly to stay under ``per_minute`` (0 = no limit)."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            await asyncio.sleep(wait)


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def classify(exc: Exception) -> str | None:
    """The retryable kind of a failure, or None when retrying cannot help."""
    import openai

    if isinstance(exc, openai.RateLimitError):
        return "429"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        return "5xx" if exc.status_code >= 500 else ("429" if exc.status_code == 429 else None)
    if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError | MalformedReply):
        return "malformed"
    return None


class MalformedReply(ValueError):
    pass


def backoff(attempt: int) -> float:
    return min(MAX_BACKOFF, 0.5 * 2**attempt) * random.uniform(0.5, 1.5)


def label_schema(labels: list[str]) -> dict:
    schema = {
        "type": "object",
        "properties": {"label": {"type": "string", "enum": list(labels)}},
        "required": ["label"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "label", "schema": schema, "strict": True}}


def _refuses_structured(exc: Exception) -> bool:
    import openai

    return isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError)


def read_label(reply: Reply, labels: list[str]) -> Reply:
    """The label in a structured ({"label": ...}) or plain answer; the text unchanged when it names none."""
    from ..teaching import predicted_label

    text = reply.text.strip()
    try:
        value = json.loads(text).get("label") if text.startswith("{") else None
    except (ValueError, AttributeError):
        value = None
    found = value if value in labels else predicted_label(str(value or text), labels)
    if found is not None or isinstance(value, str):
        reply.text = found if found is not None else value
    return reply


class RemoteTeacher:
    def __init__(
        self,
        teacher: TeacherConfig,
        *,
        temperature: float,
        max_tokens: int,
        timeout: float,
        max_retries: int,
        requests_per_minute: int,
        on_retry: Callable[[str], None] = lambda kind: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.cfg = teacher
        self.client = make_client(teacher, timeout=timeout, max_retries=0, use_async=True)
        self.temperature, self.max_tokens, self.max_retries = temperature, max_tokens, max_retries
        self.limiter = RateLimiter(requests_per_minute)
        self.on_retry = on_retry
        self.sleep = sleep
        self.structured = True  # until the endpoint refuses structured output
        self.reached = False  # until a first answer arrives

    async def ask(self, messages: list[dict[str, str]], labels: list[str] | None = None) -> Reply:
        """One answer; raises GaveUp(kind) after the retries, EndpointError at once for non-retryable errors.

        With ``labels``, the answer is asked for as structured output (a JSON schema whose only field is one of
        the labels); an endpoint that refuses structured output is asked plainly from then on, and its answer is
        read for a label (one it does not name stays as it is, and is flagged later)."""
        for attempt in range(self.max_retries + 1):
            await self.limiter.acquire()
            t0 = time.perf_counter()
            extra = {"response_format": label_schema(labels)} if labels and self.structured else {}
            try:
                resp = await self.client.chat.completions.create(
                    model=self.cfg.model,
                    messages=messages,
                    temperature=self.temperature,
                    max_tokens=self.max_tokens,
                    **extra,
                )
                reply = self._reply(resp, (time.perf_counter() - t0) * 1000)
                self.reached = True
                return read_label(reply, labels) if labels else reply
            except EndpointError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below; unknown errors are not retried
                if extra and _refuses_structured(exc):
                    self.structured = False  # this endpoint has no structured output: ask plainly
                    return await self.ask(messages, labels)
                kind = classify(exc)
                if kind is None or (kind == "connection" and not self.reached and attempt >= 1):
                    # a server that refuses connections from the start is not there: say so now, not after the
                    # whole run's retries (once answers have arrived, a dropped connection is retried as usual)
                    raise endpoint_error(exc, self.cfg) from exc
                self.on_retry(kind)
                if attempt == self.max_retries:
                    raise GaveUp(kind) from exc
                await self.sleep(_retry_after(exc) or backoff(attempt))
        raise GaveUp("retries")  # pragma: no cover - the loop always returns or raises

    @staticmethod
    def _reply(resp, latency_ms: float) -> Reply:
        choices = getattr(resp, "choices", None)
        if not choices or choices[0].message is None:
            raise MalformedReply("no choices in the reply")
        msg = choices[0].message
        text = msg.content if isinstance(msg.content, str) else ""
        reasoning = getattr(msg, "reasoning_content", None) or getattr(msg, "reasoning", None)
        usage = getattr(resp, "usage", None)
        return Reply(
            text=text,
            reasoning_field=reasoning if isinstance(reasoning, str) else None,
            finish_reason=choices[0].finish_reason or "",
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_ms=latency_ms,
        )

    async def close(self) -> None:
        await self.client.close()
