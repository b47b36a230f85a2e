"""Deterministic synthetic greenhouse scenes with exact ground truth.

Used by the tests (quality metrics, segmentation IoU), the demo, and to train the stress
classifier. Everything is a pure function of its arguments: the same `SceneSpec` gives the
same bytes; every random choice derives from `spec.seed` (and the sensor noise also from
`spec.frame_seed`, which `series` advances per frame so that only "frozen" frames repeat).

* `render(spec)` -> `Scene`: uint8 RGB image, exact `plant_mask` (all leaf tissue, stressed
  or not), one `PlantTruth` per plant (row-major index), and `grid_box`, the fractions of
  the frame enclosing the rows x cols cells exactly (each cell is one plant's `pot_box`).
* Faults (`blur`, `haze`, `darken`, `overexpose`, `shift`): uint8 RGB in, same shape out.
* `series(...)` -> `SeriesFrame`s: growth, stress ramps, daylight and planned faults over time.
* `labelled_crops(n)`: balanced single-pot crops with int64 labels, for the stress model.
* `save_jpeg(img, path, timestamp=...)`: JPEG with EXIF DateTimeOriginal (UTC).

Internally the renderer works on planar float32 (3, H, W) images; see `scene.py`.
"""

from fieldagent.synth.crops import labelled_crops
from fieldagent.synth.faults import blur, darken, haze, overexpose, shift
from fieldagent.synth.jpeg import save_jpeg
from fieldagent.synth.scene import render
from fieldagent.synth.spec import CONDITIONS, MODEL_CLASSES, PlantTruth, Scene, SceneSpec
from fieldagent.synth.timeseries import SeriesFrame, series

__all__ = [
    "CONDITIONS",
    "MODEL_CLASSES",
    "PlantTruth",
    "Scene",
    "SceneSpec",
    "SeriesFrame",
    "blur",
    "darken",
    "haze",
    "labelled_crops",
    "overexpose",
    "render",
    "save_jpeg",
    "series",
    "shift",
]
