"""One image whose analysis breaks is skipped with a reason; the camera's sequence goes on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fieldagent.config.site import SiteConfig
from fieldagent.inference.session import ModelOutput, StressModel
from fieldagent.pipeline import CameraPipeline
from fieldagent.synth import SceneSpec, render, save_jpeg


class _BrokenOnce:
    """Our own model seam, failing on its first call as a bug would (not a mock of onnxruntime)."""

    def __init__(self, real: StressModel) -> None:
        self.real, self.calls = real, 0

    def predict(self, crops: Sequence[np.ndarray]) -> list[ModelOutput]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("simulated bug")
        return self.real.predict(crops)


def test_a_failing_stage_rejects_that_image_only(tmp_path: Path) -> None:
    site = SiteConfig()
    model = _BrokenOnce(StressModel.load(site.model))
    pipe = CameraPipeline(site, site.cameras[0], model)  # type: ignore[arg-type]
    paths = []
    for i in range(2):
        p = tmp_path / f"f{i}.jpg"
        save_jpeg(render(SceneSpec(width=640, height=480, seed=2, frame_seed=i)).image, p)
        paths.append(p)
    first, second = (pipe.process(p) for p in paths)
    assert first.status == "rejected" and first.reason == "analysis_failed"
    assert first.message is not None and "simulated bug" in first.message
    assert second.status == "ok" and second.results[0].model is not None
