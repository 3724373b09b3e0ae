"""The Foundry Local runtime in this process (foundry-local-sdk): its OpenAI-compatible web service on a local
port (0: one the system picks), reading models from this home's cache and ids from the local catalog."""

from __future__ import annotations

from ..errors import ModelLoadError, SlmopsError
from ..settings import get_settings
from .catalog import LocalCatalog
from .placement import cache_dir


class PortInUse(SlmopsError):
    """The web service could not bind its port (another program holds it, or no port can be had)."""


class FoundryRuntime:
    def __init__(self, port: int, catalog: LocalCatalog) -> None:
        from foundry_local_sdk import Configuration, FoundryLocalManager, LogLevel
        from foundry_local_sdk.exception import FoundryLocalException

        root = get_settings().serving_dir
        cfg = Configuration(
            app_name="slmops",
            model_cache_dir=str(cache_dir()),
            app_data_dir=str(root / "appdata"),
            logs_dir=str(root / "logs"),
            log_level=LogLevel.WARNING,
            web=Configuration.WebService(urls=f"http://127.0.0.1:{port}"),
            catalog_urls=[(catalog.url, None)],
            catalog_region="local",
            disable_nonessential_telemetry=True,
        )
        FoundryLocalManager.initialize(cfg)
        self.mgr = FoundryLocalManager.instance
        try:
            self.mgr.start_web_service()
        except FoundryLocalException as exc:
            self.mgr.close()
            if not port:
                raise PortInUse(
                    "Foundry Local could not listen on any port of 127.0.0.1",
                    f"The system gave it no free port ({exc}). Close programs that hold many connections.",
                ) from exc
            raise PortInUse(
                f"Foundry Local could not listen on 127.0.0.1:{port}",
                f"Another program uses that port ({exc}). Stop it, or set SLMOPS_SERVE_PORT to a free port, or unset "
                "SLMOPS_SERVE_PORT_FIXED so that the model server chooses one.",
            ) from exc
        self.url = self.mgr.urls[0].rstrip("/")  # the address it is bound to: the actual port when it was 0

    def _variant(self, model_id: str):
        v = self.mgr.catalog.get_model_variant(model_id)  # by id: also finds models added after start
        if v is None:
            raise ModelLoadError(f"Foundry Local does not find {model_id}", "Check the model folder in its cache.")
        return v

    def load(self, model_id: str) -> None:
        """Load (or reload, after its files changed) a model."""
        v = self._variant(model_id)
        if v.is_loaded:
            v.unload()
        try:
            v.load()
        except Exception as exc:  # noqa: BLE001 - the runtime raises its own exception types
            raise ModelLoadError(
                f"Foundry Local could not load {model_id}: {str(exc)[:300]}",
                "Check that the conversion generates text on the Optimize page; an out-of-memory needs a smaller "
                "model or precision.",
            ) from exc

    def unload(self, model_id: str) -> None:
        v = self.mgr.catalog.get_model_variant(model_id)
        if v is not None and v.is_loaded:
            v.unload()

    def loaded(self) -> set[str]:
        return {m.id for m in self.mgr.catalog.get_loaded_models()}

    def close(self) -> None:
        try:
            self.mgr.stop_web_service()
        finally:
            self.mgr.close()
