"""The model catalog Foundry Local reads: this home's deployments, served on 127.0.0.1 by the model server.

Foundry Local 2.x serves a model from its cache only when its catalog has an entry with the same id; its default
catalog is Microsoft's online one, which does not know locally built models (and is unreachable offline, which
costs seconds of retries). The runtime is pointed here instead (`catalog_urls`): same answer online and offline,
no network calls. The reply is the asset-gallery format the runtime parses (`{"value": [entries]}`)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .placement import PUBLISHER, VERSION


def entry(name: str, display: str) -> dict:
    asset = f"azureml://registries/{PUBLISHER}/models/{name}/versions/{VERSION}"
    return {
        "assetId": asset,
        "entityId": f"{name}-{VERSION}",
        "annotations": {
            "tags": {"alias": name, "task": "chat-completion"},
            "systemCatalogData": {"publisher": PUBLISHER, "displayName": display},
        },
        "properties": {
            "name": name,
            "version": VERSION,
            "variantInfo": {
                "parents": [{"assetId": asset}],
                "variantMetadata": {"device": "cpu", "executionProvider": "CPUExecutionProvider", "modelType": "ONNX"},
            },
        },
    }


class LocalCatalog:
    """A tiny HTTP catalog on a free local port; `entries` is read on every request."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}
        catalog = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the runtime POSTs its query
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps({"value": list(catalog.entries.values())}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/asset-gallery/v1.0/models"

    def add(self, name: str, display: str) -> None:
        self.entries[name] = entry(name, display)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
