"""``fieldagent model predict IMAGE... [--zones CONFIG] [--json]``: the model on your photos.

Before trusting the stress model on a crop, an agronomist runs it on their own photos and
sees, for the whole image or for each zone of a site config's camera, what the model says
(class probabilities, confidence, out-of-distribution score, the label or ``unknown``) beside
what the colour signals say (yellow and brown fractions inside the agent's plant mask), and
whether this model is allowed to override those signals at all.

A region where the agent's segmentation finds no plant gets ``unknown`` without asking the
model (as the agent does with an empty zone). A bad image is reported and the rest go on;
the exit code is 1 when any image could not be read, 2 for a bad config or model.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fieldagent.config.site import CameraConfig, SiteConfig, load_site_config
from fieldagent.decode import Frame, decode
from fieldagent.errors import ConfigError, FieldAgentError, ImageRejected
from fieldagent.inference.abstain import UNKNOWN
from fieldagent.inference.config import ModelConfig
from fieldagent.inference.errors import ModelError
from fieldagent.inference.session import StressModel
from fieldagent.modelupdate.predict_args import add_arguments
from fieldagent.roi.extract import crop, extract_rois
from fieldagent.roi.segment import segment_plants
from fieldagent.signals.compute import compute_signals

MIN_PLANT_PX = 50  # fewer plant pixels than this in a region: nothing for the model to judge


@dataclass(frozen=True)
class Region:
    """One part of an image to judge: its id, RGB crop and plant mask."""

    id: str
    rgb: np.ndarray
    plant: np.ndarray


def model_predict_main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command (see ``run``)."""
    return run(_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Judge every image; 0 all done, 1 some unreadable, 2 bad config or model."""
    try:
        site = load_site_config(args.zones) if args.zones else None
        camera = site.camera(args.camera) if site else None
        model = StressModel.load(_model_config(args, site))
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"{args.zones}: cameras: {exc.args[0]}", file=sys.stderr)
        return 2
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for image in args.images:
        try:
            frame = decode(image, max_side=site.analysis.max_side if site else 1024)
            record = judge_image(model, frame, camera, site)
        except (ImageRejected, FieldAgentError) as exc:
            failed += 1
            print(f"error: {exc}; skipped", file=sys.stderr)
            if args.json:
                print(json.dumps({"image": image, "error": str(exc)}), flush=True)
            continue
        record = {"image": image, **record}
        print(json.dumps(record, separators=(",", ":")) if args.json else as_text(record),
              flush=True)
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fieldagent model predict",
                                description="The stress model's verdict on your own photos, "
                                            "beside the colour signals.")
    add_arguments(p)
    return p


def _model_config(args: argparse.Namespace, site: SiteConfig | None) -> ModelConfig:
    base = site.model if site else ModelConfig()
    return base.model_copy(update={"path": args.model}) if args.model else base


def regions(frame: Frame, camera: CameraConfig | None,
            site: SiteConfig | None) -> list[Region]:
    """The whole image, or each zone of ``camera`` (the agent's own ROI extraction)."""
    seg = site.analysis.segmentation if site else None
    plant = segment_plants(frame.rgb, config=seg)
    if camera is None or seg is None:
        return [Region("image", frame.rgb, plant)]
    rois = extract_rois(frame.rgb, camera.zones, config=seg, plant_mask=plant)
    return [Region(r.id, crop(frame.rgb, r), r.plant_mask) for r in rois]


def judge_image(model: StressModel, frame: Frame, camera: CameraConfig | None,
                site: SiteConfig | None) -> dict[str, Any]:
    """The model's and the colour signals' view of every region of one decoded image."""
    parts = regions(frame, camera, site)
    judged = [r for r in parts if int(np.count_nonzero(r.plant)) >= MIN_PLANT_PX]
    outputs = dict(zip([r.id for r in judged], model.predict([r.rgb for r in judged]),
                       strict=True))
    zones = []
    for r in parts:
        out = outputs.get(r.id)
        zones.append({
            "zone": r.id,
            "model": out.to_dict() if out else {"label": UNKNOWN, "reason": "no plant found"},
            "colour": colour_view(r),
        })
    return {"model_version": model.version,
            "model_may_override_colour_signals": model.overrides_colour_signals,
            "zones": zones}


def colour_view(region: Region) -> dict[str, float | None]:
    """What the colour signals say: plant cover, green / yellow / brown shares, their score."""
    s = compute_signals(region.rgb, region.plant)
    score = s["yellow_fraction"] + s["brown_fraction"]
    keys = ("canopy_cover", "green_fraction", "yellow_fraction", "brown_fraction")
    view: dict[str, float | None] = {k: _num(s[k]) for k in keys}
    view["colour_score"] = _num(score)
    return view


def as_text(record: dict[str, Any]) -> str:
    """One line per zone, for people."""
    lines = [f"{record['image']}  (model {record['model_version']}; may override colour "
             f"signals: {'yes' if record['model_may_override_colour_signals'] else 'no'})"]
    for z in record["zones"]:
        m, c = z["model"], z["colour"]
        if "probabilities" in m:
            probs = " ".join(f"{k} {v:.2f}" for k, v in m["probabilities"].items())
            ood = "-" if m["ood_score"] is None else f"{m['ood_score']:.2f}"
            said = (f"{m['label']} (top {m['top_class']} {m['confidence']:.0%}; {probs}; "
                    f"ood {ood})")
        else:
            said = f"{m['label']} ({m['reason']})"
        colour = ("no plant" if c["colour_score"] is None else
                  f"yellow {c['yellow_fraction']:.0%} brown {c['brown_fraction']:.0%} "
                  f"green {c['green_fraction']:.0%} cover {c['canopy_cover']:.0%}")
        lines.append(f"  {z['zone']}: model {said} | colour {colour}")
    return "\n".join(lines)


def _num(value: float) -> float | None:
    return round(float(value), 4) if np.isfinite(value) else None
