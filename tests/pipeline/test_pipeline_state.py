"""A restart must not forget: a pipeline restored from ``state()`` continues exactly as the
one that kept running (same signals, baselines, quality verdicts and alert episodes)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fieldagent.config.loader import validate
from fieldagent.config.site import SiteConfig
from fieldagent.demo import START, plans, site_config
from fieldagent.inference.session import StressModel
from fieldagent.pipeline import CameraPipeline
from fieldagent.synth import save_jpeg, series


def test_a_restored_pipeline_continues_like_the_one_that_kept_running(tmp_path: Path) -> None:
    plan = plans(640, 5)[0]
    site = validate(SiteConfig, site_config([plan]), "test")
    model = StressModel.load(site.model)
    kept = CameraPipeline(site, site.cameras[0], model)
    stress = {i: (c, 3) for i, (c, _) in plan.stress.items()}
    frames = list(series(plan.spec, frames=12, start=START, interval=timedelta(minutes=15),
                         stress_plan=stress))
    paths = []
    for f in frames:
        p = tmp_path / f"{f.timestamp:%H%M}.jpg"
        save_jpeg(f.image, p, timestamp=f.timestamp)
        paths.append(p)
    raised = []
    for p, f in zip(paths[:8], frames[:8], strict=True):
        raised += [a for a in kept.process(p, captured_at=f.timestamp).alerts
                   if a.state == "raised"]
    assert raised, "the stress episode should have raised an alert before the restart"
    state = json.loads(json.dumps(kept.state()))  # what goes through the state file
    restored = CameraPipeline(site, site.cameras[0], model)
    restored.restore(state)
    fresh = CameraPipeline(site, site.cameras[0], model)
    for p, f in zip(paths[8:], frames[8:], strict=True):
        a = kept.process(p, captured_at=f.timestamp)
        b = restored.process(p, captured_at=f.timestamp)
        c = fresh.process(p, captured_at=f.timestamp)
        assert [r.signals for r in a.results] == [r.signals for r in b.results]
        assert [x.to_dict() for x in a.alerts] == [x.to_dict() for x in b.alerts]
        assert not any(x.state == "raised" and (x.rule, x.zone) == (raised[0].rule, raised[0].zone)
                       for x in b.alerts)  # an open episode is not raised a second time
        # A pipeline without the state would not know its baselines: signals differ.
        assert [r.signals for r in a.results] != [r.signals for r in c.results]


def test_an_unreadable_state_starts_the_camera_fresh() -> None:
    """Relearning a baseline beats an agent that will not start."""
    site = SiteConfig()
    pipe = CameraPipeline(site, site.cameras[0], None)
    pipe.restore({"quality": {"version": -1}, "zones": {"z": {"bad": 1}},
                  "alerts": {"rule|zone": {"active": True}}})
    assert pipe.histories == {}
    out = pipe.process(Path(__file__))  # not an image: rejected, and the camera goes on
    assert out.status == "rejected"
