"""The ways an int4 model can be built ("routes"), named in plain words, and the ones worth comparing for a source.

bench/int4_routes.py measures each route on the bundled SmolLM2-135M and on a fine-tune of it; the routes offered
here are the ones that won somewhere in those measurements."""

from __future__ import annotations

METHOD_NAMES = {
    "rtn": "round to nearest",
    "k_quant": "k-quant",
    "grid": "block offsets kept",
    "auto": "block offsets kept where they fit",
}

# Routes offered side by side ("Compare the int4 routes" on the Optimize page): plain round to nearest (smallest,
# fastest; kept 0.99 of a fine-tune's task accuracy), k-quant with the output and sensitive layers in int8 (the
# best of the builder's own settings: 0.90 of the bundled model's perplexity at 0.22 of its size), and, for a model
# that is 4-bit already, the grid route with the likeliest output rows in int8 (0.96 at 0.18).
PLAIN = {"int4_method": "rtn", "int4_output_layer": "int4", "int4_sensitive_layers": "int4"}
MIXED = {"int4_method": "k_quant", "int4_output_layer": "int8", "int4_sensitive_layers": "int8"}
GRID = {"int4_method": "grid", "int4_output_layer": "int8_likely", "int4_sensitive_layers": "int4"}


def route_name(config: dict) -> str:
    """'round to nearest', 'k-quant, output and sensitive layers int8', 'block offsets kept, block 16' …"""
    parts = [METHOD_NAMES.get(config.get("int4_method") or "rtn", str(config.get("int4_method")))]
    if (config.get("int4_block_size") or 32) != 32:
        parts.append(f"block {config['int4_block_size']}")
    if config.get("int4_symmetric") is False:
        parts.append("asymmetric")
    layers = (("output", "int4_output_layer"), ("sensitive", "int4_sensitive_layers"))
    int8 = [name for name, key in layers if config.get(key) == "int8"]
    if int8:
        parts.append(f"{' and '.join(int8)} layer{'s' if len(int8) > 1 else ''} int8")
    if config.get("int4_output_layer") == "int8_likely":
        parts.append("likely output rows int8")
    return ", ".join(parts)


def is_plain(config: dict) -> bool:
    return route_name(config) == METHOD_NAMES["rtn"]


def routes_to_compare(four_bit: bool) -> list[dict]:
    """The int4 settings converted side by side for one source: the grid route only for a model that is 4-bit."""
    return [PLAIN, MIXED, *([GRID] if four_bit else [])]
