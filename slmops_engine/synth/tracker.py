"""Counts what a teacher run did — answers, cache hits, retries and failures by kind, tokens and cost — and
publishes it as progress, metric points and the live state the Distill page shows."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field

from ..stage_api import Reporter
from .config import SynthConfig
from .remote import Reply


@dataclass
class Tracker:
    cfg: SynthConfig
    reporter: Reporter
    total: int
    cached: int = 0
    answered: int = 0
    failed: Counter = field(default_factory=Counter)  # prompts given up on, by the last failure's kind
    retries: Counter = field(default_factory=Counter)  # every retried failure, by kind
    prompt_tokens: int = 0
    completion_tokens: int = 0
    recent: deque = field(default_factory=lambda: deque(maxlen=5))
    started: float = field(default_factory=time.monotonic)
    loading: bool = False  # a teacher on this machine is loading its weights: no answer can arrive yet
    _last_publish: float = 0.0

    @property
    def done(self) -> int:
        """Prompts finished one way or the other (answered, from the cache, or given up on)."""
        return self.cached + self.answered + sum(self.failed.values())

    @property
    def arrived(self) -> int:
        """Answers in hand: the run's progress counts these, never attempts."""
        return self.cached + self.answered

    @property
    def cost(self) -> float:
        return (
            self.prompt_tokens * self.cfg.price_input_per_1k + self.completion_tokens * self.cfg.price_output_per_1k
        ) / 1000

    def rate_per_min(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.answered / elapsed * 60 if elapsed > 0 else 0.0

    def add(self, prompt: str, reply: Reply, answer: str) -> None:
        self.answered += 1
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.recent.append({"prompt": prompt[:300], "answer": answer[:500]})
        self.publish()

    def fail(self, kind: str) -> None:
        self.failed[kind] += 1
        self.publish()

    def retry(self, kind: str) -> None:
        self.retries[kind] += 1

    def snapshot(self) -> dict:
        return {
            "total": self.total,
            "done": self.done,
            "cached": self.cached,
            "answered": self.answered,
            "failed": dict(self.failed),
            "retries": dict(self.retries),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": round(self.cost, 6),
            "answers_per_min": round(self.rate_per_min(), 2),
            "recent": list(self.recent),
            "loading": self.loading,
        }

    def publish(self, force: bool = False) -> None:
        """Progress on every call (the reporter throttles its writes); state and metrics at most once a second."""
        frac = self.arrived / self.total if self.total else 1.0
        left = self.total - self.done
        rate = self.rate_per_min()
        eta = left / rate * 60 if rate > 0 else None
        failed = sum(self.failed.values())
        msg = f"{self.arrived}/{self.total} answered" + (f" · {failed} given up" if failed else "")
        msg += f" · {rate:.1f}/min"
        if self.cost:
            msg += f" · ${self.cost:.4f}"
        if self.loading:
            msg = "Loading the teacher model on this machine"
        now = time.monotonic()
        self.reporter.progress(frac, msg, eta_seconds=eta)
        if force or now - self._last_publish >= 1.0:
            # The live counters and the job's progress are written together: every view of the run agrees.
            self._last_publish = now
            self.reporter.state(self.snapshot())
            step = int(now - self.started)
            self.reporter.metric("answered", self.answered + self.cached, step)
            self.reporter.metric("failed", sum(self.failed.values()), step)
            self.reporter.metric("retries", sum(self.retries.values()), step)
            if self.cost:
                self.reporter.metric("cost", self.cost, step)
            self.reporter.flush()
