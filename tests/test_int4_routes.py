"""The int4 routes in plain words: the names the Optimize page, the variants and the recommendation use, the routes
compared side by side, and 'auto' made concrete."""

from __future__ import annotations

from slmops_engine.models import ModelVariant
from slmops_engine.optimize.config import ConvertConfig
from slmops_engine.optimize.quality import recommend
from slmops_engine.optimize.routes import GRID, MIXED, PLAIN, route_name, routes_to_compare
from slmops_engine.optimize.views import conversion_labels


def test_each_route_has_a_plain_name():
    assert route_name({}) == route_name(PLAIN) == "round to nearest"
    assert route_name(MIXED) == "k-quant, output and sensitive layers int8"
    assert route_name(GRID) == "block offsets kept, likely output rows int8"
    assert route_name({"int4_method": "grid"}) == "block offsets kept"
    assert route_name({"int4_block_size": 16, "int4_symmetric": False, "int4_output_layer": "int8"}) == (
        "round to nearest, block 16, asymmetric, output layer int8"
    )


def test_the_grid_route_is_compared_only_for_a_model_it_fits():
    assert routes_to_compare(four_bit=False) == [PLAIN, MIXED]
    assert routes_to_compare(four_bit=True) == [PLAIN, MIXED, GRID]


def test_auto_is_grid_where_it_fits_and_the_layout_is_plain():
    cfg = ConvertConfig(variant_id=1, int4_method="auto")
    grid = cfg.resolved(grid_fits=True)
    assert (grid.int4_method, grid.int4_output_layer) == ("grid", "int8_likely")  # the likeliest output rows too
    plain = cfg.resolved(grid_fits=False)
    assert (plain.int4_method, plain.int4_output_layer) == ("rtn", "int4")
    for layer in ("int4", "int8"):  # an output layer asked for is kept
        asked = ConvertConfig(variant_id=1, int4_method="auto", int4_output_layer=layer).resolved(grid_fits=True)
        assert asked.int4_output_layer == layer
    blocks_of_16 = ConvertConfig(variant_id=1, int4_method="auto", int4_block_size=16)
    assert blocks_of_16.resolved(grid_fits=True).int4_method == "rtn"  # grid stores blocks of 32
    assert ConvertConfig(variant_id=1, int4_method="k_quant").resolved(grid_fits=True).int4_method == "k_quant"


def _conversion(i: int, precision: str, **config) -> ModelVariant:
    return ModelVariant(id=i, name=f"v{i}", stage="convert", format="onnx", precision=precision, config=config)


def test_conversions_are_labelled_by_route_then_by_id():
    one = conversion_labels([_conversion(1, "int4", **PLAIN), _conversion(2, "int8")])
    assert one == {1: "ONNX int4", 2: "ONNX int8"}  # a single plain int4 needs no route name
    grid = {"int4_method": "grid"}
    routes = [_conversion(1, "int4", **PLAIN), _conversion(2, "int4", **grid), _conversion(3, "int4", **grid)]
    assert conversion_labels(routes) == {
        1: "ONNX int4 (round to nearest)",
        2: "ONNX int4 (block offsets kept) · #2",
        3: "ONNX int4 (block offsets kept) · #3",
    }


def test_the_recommendation_names_the_route():
    rows = [
        {"precision": "int4", "label": "ONNX int4 (round to nearest)", "size_ratio": 0.17, "kept": 0.91},
        {"precision": "int4", "label": "ONNX int4 (block offsets kept)", "size_ratio": 0.19, "kept": 0.985},
        {"precision": "int8", "label": "ONNX int8", "size_ratio": 0.3, "kept": 0.99},
    ]
    assert recommend(rows) == (
        "ONNX int4 (block offsets kept) keeps 98% of quality at 19% of the size — recommended for this machine."
    )
    assert recommend(rows[:1]).startswith("No conversion keeps 97% of the quality; ONNX int4 (round to nearest)")


def test_switchable_adapters_are_served_with_round_to_nearest():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="grid route converts one model"):
        ConvertConfig(variant_id=1, int4_method="grid", adapter_ids=[2])
    auto = ConvertConfig(variant_id=1, int4_method="auto", adapter_ids=[2])
    assert auto.resolved(grid_fits=True).int4_method == "rtn"
