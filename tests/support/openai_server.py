"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks, with faults on demand.

Behaviour is set per server (``server.behaviour``) or queued per request (``server.script``): latency, status
codes with Retry-After, hangs, requests held until the test lets them through, dropped connections and malformed
JSON. Every request that gets a response (or a dropped connection) is recorded; a hung or held request is recorded
only if and when it is answered, so a test can stop a client at an exact point: serve k answers from the script,
hang the rest, wait until the client's requests are all held (``wait_held``), and count exactly."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Behaviour:
    latency: float = 0.0
    status: int = 200
    retry_after: float | None = None
    hang: bool = False  # never answer, never record (the request is held until the server stops)
    gate: threading.Event | None = None  # hold the request until the event is set, then answer as configured
    drop: bool = False  # close the connection without a response
    malformed: bool = False  # 200 with a body that is not JSON
    api_key: str | None = None  # when set, other keys get 401
    models: tuple[str, ...] = ("teacher-model",)
    structured: bool = True  # answers response_format json_schema requests in JSON; False: refuses them (400)
    echo_key: bool = False  # error messages repeat the key the request carried (as some endpoints do)


def default_answer(messages: list[dict[str, Any]]) -> str:
    last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return f"Answer to: {last}"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    status: int
    answered: bool = False  # a well-formed answer was sent
    ts: float = field(default_factory=time.time)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 refuses connections at high concurrency


class OpenAIServer:
    def __init__(self, answer: Callable[[list[dict[str, Any]]], str] = default_answer) -> None:
        self.behaviour = Behaviour()
        self.script: deque[Behaviour] = deque()
        self.answer = answer
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._held = 0  # requests waiting now on ``hang`` or a closed ``gate``
        self._held_changed = threading.Condition(self._lock)
        self.httpd = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            return self.script.popleft() if self.script else self.behaviour

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    @property
    def held(self) -> int:
        """Requests held now by ``hang`` or a closed ``gate`` (one whose client has gone away still counts)."""
        with self._lock:
            return self._held

    def wait_held(self, n: int, timeout: float = 60.0) -> None:
        """Block until at least ``n`` requests are held: the client has sent them and waits for their answers."""
        with self._held_changed:
            if not self._held_changed.wait_for(lambda: self._held >= n, timeout):
                raise TimeoutError(f"{self._held} request(s) held after {timeout:g} s, expected {n}")

    def _hold(self, gate: threading.Event | None) -> bool:
        """Wait on ``gate`` (None: until the server stops). True: let through; False: the server is stopping."""
        with self._held_changed:
            self._held += 1
            self._held_changed.notify_all()
        try:
            if gate is None:
                self._stop.wait()
                return False
            while not gate.wait(0.05):
                if self._stop.is_set():
                    return False
            return True
        finally:
            with self._held_changed:
                self._held -= 1
                self._held_changed.notify_all()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

            def log_message(self, *_args) -> None:
                pass

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None, raw: bytes | None = None):
                body = raw if raw is not None else json.dumps(payload).encode()
                pending = getattr(self, "_pending", None)
                if pending is not None:  # record before answering: a client that got its answer sees the record
                    path, req_headers, req_body, malformed = pending
                    answered = status == 200 and not malformed
                    server._record(Recorded(path, req_headers, req_body, status, answered))
                    self._pending = None
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _auth_ok(self, b: Behaviour) -> bool:
                if b.api_key is None:
                    return True
                got = self.headers.get("Authorization", "").removeprefix("Bearer ") or self.headers.get("api-key")
                return got == b.api_key

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                b = server.behaviour
                if not self._auth_ok(b):
                    return self._send(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "owned_by": "test"} for m in b.models]
                    return self._send(200, {"object": "list", "data": data})
                return self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = None
                b = server._next_behaviour()
                headers = {k.lower(): v for k, v in self.headers.items()}
                if b.latency:
                    time.sleep(b.latency)
                if (b.hang or b.gate is not None) and not server._hold(None if b.hang else b.gate):
                    self.close_connection = True  # the server stops: end this thread without an answer
                    return
                if b.drop:
                    server._record(Recorded(self.path, headers, body, 0))
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._pending = (self.path, headers, body, b.malformed)
                self._respond(b, body)

            def _respond(self, b: Behaviour, body: dict | None) -> int:
                if not self._auth_ok(b):
                    self._send(
                        401,
                        {
                            "error": {
                                "message": "Incorrect API key provided",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                    return 401
                if not self.path.split("?")[0].endswith("/chat/completions") or body is None:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return 404
                model = body.get("model") or self.path.split("/deployments/")[-1].split("/")[0]
                if "/deployments/" not in self.path and model not in b.models:
                    self._send(
                        404, {"error": {"message": f"The model `{model}` does not exist", "code": "model_not_found"}}
                    )
                    return 404
                if b.status != 200:
                    headers = {"Retry-After": f"{b.retry_after:g}"} if b.retry_after is not None else {}
                    message = f"status {b.status}"
                    if b.echo_key:
                        message += f": this key is not allowed here: {self.headers.get('authorization', '')[7:]}"
                    self._send(b.status, {"error": {"message": message}}, headers)
                    return b.status
                if b.malformed:
                    self._send(200, None, raw=b"{not json")
                    return 200
                messages = body.get("messages", [])
                text = server.answer(messages)
                if body.get("response_format"):
                    if not b.structured:
                        self._send(400, {"error": {"message": "response_format is not supported by this model"}})
                        return 400
                    field = next(iter(body["response_format"]["json_schema"]["schema"]["properties"]))
                    text = json.dumps({field: text})
                max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
                words = text.split()
                finish = "stop"
                if max_tokens is not None and len(words) > max_tokens:
                    words, finish = words[:max_tokens], "length"
                prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
                if body.get("stream"):
                    self._stream(model, words, finish)
                    return 200
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(server.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": " ".join(words)},
                                "finish_reason": finish,
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": len(words),
                            "total_tokens": prompt_tokens + len(words),
                        },
                    },
                )
                return 200

            def _stream(self, model: str, words: list[str], finish: str) -> None:
                """Server-sent events, one word a chunk, as OpenAI streams a chat completion."""
                pending = getattr(self, "_pending", None)
                if pending is not None:
                    server._record(Recorded(pending[0], pending[1], pending[2], 200, True))
                    self._pending = None
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                base = {"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": int(time.time())}
                pieces = [(w if i == 0 else " " + w, None) for i, w in enumerate(words)] + [("", finish)]
                for text, reason in pieces:
                    delta = {"content": text} if text else {}
                    chunk = {**base, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler


def main() -> None:
    """Serve on 127.0.0.1 in its own process (benchmarks: the client under test keeps its CPU to itself)."""
    import argparse
    import signal

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.0)
    args = ap.parse_args()
    srv = OpenAIServer()
    srv.behaviour = Behaviour(latency=args.latency)
    srv.start()
    print(srv.url, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    srv.stop()


if __name__ == "__main__":
    main()
