"""Conversion settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..stage_api import StageConfig

Precision = Literal["fp32", "int8", "int4", "fp16", "bf16"]
GPU_ONLY = {"fp16", "bf16"}  # they build on a CPU but do not generate there


class ConvertConfig(StageConfig):
    """Convert one Hugging Face model variant to an ONNX model that onnxruntime-genai runs."""

    variant_id: int = Field(description="The model variant to convert (base student or fine-tuned, merged).")
    adapter_ids: list[int] = Field(
        default_factory=list,
        max_length=16,
        description="LoRA adapters trained on this base to serve from one ONNX base: one small adapter file each, "
        "switched at generation time. Empty: convert the model on its own.",
    )
    precision: Precision = Field(
        "int4",
        description="int4 is smallest and fastest on a CPU; int8 keeps a little "
        "more quality; fp32 is the reference. fp16/bf16 need a GPU.",
    )
    int4_block_size: Literal[16, 32, 64, 128, 256] = Field(
        32, description="Weights per quantization block: smaller blocks keep more quality, larger are smaller."
    )
    int4_accuracy_level: Literal[0, 1, 2, 3, 4] = Field(
        4, description="Precision of the int4 matrix products on the CPU (4 = int8 activations, fastest)."
    )
    int4_symmetric: bool = Field(
        True,
        description="Symmetric quantization (no zero point): smaller. Asymmetric keeps the input embedding table "
        "apart from the output layer, so the file grows.",
    )
    int4_method: Literal["rtn", "k_quant", "grid", "auto"] = Field(
        "rtn",
        description="How int4 weights are rounded: rtn (round to nearest), k_quant (llama.cpp's search for each "
        "block's best scale), grid (each block of the model's layers on its own grid, offset kept: for a model "
        "that was 4-bit already, such as a GGUF Q4_1, or a LoRA fine-tune of one) or auto (grid where it fits, "
        "else rtn).",
    )
    int4_output_layer: Literal["auto", "int4", "int8", "int8_likely"] = Field(
        "auto",
        description="The output layer (shared with the input embedding) is the most sensitive weight: int8 keeps "
        "more quality for a few MB more (14 MB on SmolLM2); int8_likely keeps it in int4 and the rows of the 4,096 "
        "likeliest tokens (those your examples use first) in int8 as well (3 MB); auto: int8_likely with grid "
        "rounding, else int4.",
    )
    int4_sensitive_layers: Literal["int4", "int8"] = Field(
        "int4", description="The layers most sensitive to quantization (llama.cpp's mixed strategy) in int8."
    )
    execution_provider: Literal["cpu", "cuda"] = Field("cpu", description="Where the model will run.")
    verify_prompt: str = Field(
        "Hello, how can you help me?",
        min_length=1,
        max_length=500,
        description="A prompt the converted model must answer before it is recorded.",
    )
    check_dataset_id: int | None = Field(
        None,
        description="After converting, compare with the PyTorch source on "
        "this dataset's validation rows (perplexity, ROUGE-L).",
    )
    check_rows: int = Field(16, ge=1, le=1000, description="Rows used by the quick quality check.")
    output_name: str | None = Field(None, max_length=200, description="Name of the new model variant.")

    def resolved(self, grid_fits: bool) -> ConvertConfig:
        """'auto' made concrete: grid for a model it fits (and the plain layout), else round to nearest; an 'auto'
        output layer keeps the likeliest rows in int8 with grid, and is int4 with the others."""
        method = self.int4_method
        if method == "auto":
            plain_layout = self.int4_block_size == 32 and self.int4_symmetric and not self.adapter_ids
            method = "grid" if grid_fits and plain_layout else "rtn"
        output = self.int4_output_layer
        if output == "auto":
            output = "int8_likely" if method == "grid" else "int4"
        return self.model_copy(update={"int4_method": method, "int4_output_layer": output})

    @model_validator(mode="after")
    def _grid_needs_the_plain_layout(self) -> ConvertConfig:
        if self.int4_method == "grid" and (self.int4_block_size != 32 or not self.int4_symmetric):
            raise ValueError("the grid route stores blocks of 32 from the symmetric build: keep those two defaults")
        if self.int4_method == "grid" and self.adapter_ids:
            raise ValueError("the grid route converts one model: serve switchable adapters with round to nearest")
        return self
