"""Configuration of the vLLM simulator: what it serves, how fast, and which faults it injects."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.versions import VersionError, parse_version

SimMode = Literal["hybrid", "thinking", "instruct"]


class FaultSettings(BaseModel):
    """Fault injection knobs; replaceable at runtime through `POST /sim/faults`.

    The three rates are probabilities per generation request and are mutually exclusive
    (one uniform draw per request decides), so their sum must not exceed 1.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    hang_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    drop_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    slow_first_byte_ms: float = Field(default=0.0, ge=0.0)

    @model_validator(mode="after")
    def _rates_fit(self) -> FaultSettings:
        if self.error_rate + self.hang_rate + self.drop_rate > 1.0 + 1e-9:
            raise ValueError("error_rate + hang_rate + drop_rate must not exceed 1")
        return self


class SimConfig(BaseModel):
    """Everything one simulated vLLM server needs (immutable).

    * `vllm_version`: the release whose request/response behaviour is simulated (see `versions`).
    * `mode`: `hybrid` (Qwen3: thinks unless `enable_thinking` is false), `thinking`
      (Qwen3-Thinking-2507: prompt ends in `<think>\\n`, always thinks), `instruct` (never thinks).
    * Latency: TTFT = `slow_first_byte_ms` (fault) + queueing + `ttft_ms` + prefill, then one token
      every `1/tokens_per_s` seconds per request. Every latency knob may be 0 (= as fast as possible).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(default="sim-qwen3", min_length=1)
    mode: SimMode = "hybrid"
    seed: int = 0
    vllm_version: str = "0.32.0"
    max_model_len: int = Field(default=4096, ge=16)
    reasoning_words: int = Field(default=48, ge=0)
    answer_words: int = Field(default=24, ge=1)
    ttft_ms: float = Field(default=0.0, ge=0.0)
    prefill_ms_per_1k_tokens: float = Field(default=0.0, ge=0.0)
    tokens_per_s: float = Field(default=0.0, ge=0.0, description="per-request decode speed; 0 = unlimited")
    max_num_seqs: int = Field(default=256, ge=1)
    kv_capacity_tokens: int = Field(default=262_144, ge=1)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    hang_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    drop_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    slow_first_byte_ms: float = Field(default=0.0, ge=0.0)

    @field_validator("vllm_version")
    @classmethod
    def _version_parses(cls, value: str) -> str:
        try:
            parse_version(value)
        except VersionError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _faults_valid(self) -> SimConfig:
        self.faults()
        return self

    def faults(self) -> FaultSettings:
        """The initial fault settings carried by this config."""
        return FaultSettings(
            error_rate=self.error_rate,
            hang_rate=self.hang_rate,
            drop_rate=self.drop_rate,
            slow_first_byte_ms=self.slow_first_byte_ms,
        )
