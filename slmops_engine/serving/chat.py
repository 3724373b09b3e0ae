"""Chat with a deployment through its real OpenAI-compatible endpoint (the `openai` client), streaming, with every
request logged (latency, time to first token, tokens, errors) for the monitoring chart."""

from __future__ import annotations

import time
from collections.abc import Iterator

from sqlalchemy import update as sql_update

from ..db import session_scope
from ..errors import EndpointError
from ..models import Deployment, DeploymentStatus, ServeEvent


class StreamedAnswer:
    """What every streamed answer reports once consumed: its text, tokens, time to first token and speed."""

    def __init__(self) -> None:
        self.text = ""
        self.tokens = 0
        self.ttft_ms: float | None = None
        self.latency_ms = 0.0

    @property
    def tokens_per_s(self) -> float | None:
        gen_ms = self.latency_ms - (self.ttft_ms or 0)
        return (self.tokens - 1) / (gen_ms / 1000) if self.tokens > 1 and gen_ms > 0 else None


class ChatStream(StreamedAnswer):
    """Iterate for the answer's text pieces; afterwards `ttft_ms`, `tokens`, `tokens_per_s`, `error` are set."""

    def __init__(self, dep: Deployment, messages: list[dict], **options) -> None:
        if dep.status != DeploymentStatus.running:
            raise EndpointError(
                f"{dep.name} is {dep.status.value}, not running", "Start it on the Deploy page, then chat."
            )
        self.dep, self.messages = dep, messages
        gen = dep.generation or {}
        self.options = {
            "temperature": gen.get("temperature", 0.2),
            "top_p": gen.get("top_p", 1.0),
            "max_tokens": 256,
        } | {k: v for k, v in options.items() if v is not None}
        super().__init__()
        self.error: str | None = None

    def __iter__(self) -> Iterator[str]:
        import openai

        client = openai.OpenAI(base_url=self.dep.endpoint, api_key="local", timeout=120, max_retries=0)
        t0 = time.perf_counter()
        try:
            stream = client.chat.completions.create(
                model=self.dep.model_id, messages=self.messages, stream=True, **self.options
            )
            for chunk in stream:
                piece = chunk.choices[0].delta.content if chunk.choices else None
                if piece:
                    if self.ttft_ms is None:
                        self.ttft_ms = (time.perf_counter() - t0) * 1000
                    self.tokens += 1
                    self.text += piece
                    yield piece
        except openai.APIConnectionError as exc:
            self.error = f"Cannot reach {self.dep.endpoint}: {exc}"
            raise EndpointError(
                f"The deployment does not answer at {self.dep.endpoint}",
                "The model server may have stopped: check the Deploy page and restart the deployment.",
            ) from exc
        except openai.APIStatusError as exc:
            self.error = f"HTTP {exc.status_code}: {exc.message}"
            raise EndpointError(f"The deployment refused the request ({self.error})", "Check the Deploy page.") from exc
        finally:
            self.latency_ms = (time.perf_counter() - t0) * 1000
            self._log()

    def _log(self) -> None:
        with session_scope() as s:
            s.add(
                ServeEvent(
                    deployment_id=self.dep.id,
                    kind="chat",
                    ok=self.error is None,
                    latency_ms=self.latency_ms,
                    ttft_ms=self.ttft_ms,
                    tokens=self.tokens,
                    error=self.error,
                )
            )
            s.exec(sql_update(Deployment).where(Deployment.id == self.dep.id).values(requests=Deployment.requests + 1))


def chat(dep: Deployment, messages: list[dict], **options) -> ChatStream:
    """A streaming answer: `for piece in chat(dep, messages): ...`."""
    return ChatStream(dep, messages, **options)
