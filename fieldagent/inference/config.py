"""The ``model`` section of the site config: which stress model to run and how."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fieldagent.config.base import Section


class ModelConfig(Section):
    """Which model files to load and how much of the device's CPU the session may use."""

    path: str | None = Field(
        None,
        description="folder with manifest.json and the model files; empty = the packaged model",
    )
    variant: Literal["int8", "fp32", "auto"] = Field(
        "auto", description="which file to run; auto = INT8 when the manifest lists it"
    )
    threads: int = Field(
        1, ge=1, le=16,
        description="intra-op threads (the agent shares few cores with decoding and analysis)",
    )
    warmup_runs: int = Field(
        2, ge=0, le=50, description="inference runs at load time, so the first image is not slow"
    )
    uncertain_margin: float = Field(
        0.6, ge=0.0, le=1.0,
        description="a top-class probability below this marks the output as uncertain",
    )
