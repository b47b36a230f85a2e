"""The whole update path on a local channel with the real packaged model.

The "new" model is a copy of the packaged one with a bumped version, published with
``cloudjobs.release.publish``; the device side runs the real onnxruntime session.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudjobs.release.publish import publish_release, write_manifest
from fieldagent.inference.manifest import read_manifest
from fieldagent.inference.session import packaged_model_dir
from fieldagent.modelupdate.channel import ChannelReader, open_channel
from fieldagent.modelupdate.golden import make_golden
from fieldagent.modelupdate.store import ModelStore, Trial, read_state
from fieldagent.modelupdate.updater import ModelUpdater
from fieldcontract.manifest import MANIFEST_KEY, SIGNATURE_KEY, sha256_of
from tests.modelupdate.conftest import LIMITS, Setup, release_options

PACKAGED = read_manifest(packaged_model_dir()).version


def _run_healthy(updater: ModelUpdater, runs: int = 10, latency_ms: float = 3.0) -> None:
    for _ in range(runs):
        updater.record(latency_ms, ok=True)


def _trial(updater: ModelUpdater) -> Trial:
    trial = updater.store.state.trial
    assert trial is not None
    return trial


def _slots(setup: Setup) -> list[str]:
    return sorted(p.name for p in (setup.store_root / "slots").iterdir())


def test_full_update_installs_on_trial_then_commits_after_a_healthy_window(setup: Setup) -> None:
    setup.publish("0.2.0")
    updater = setup.updater()
    assert updater.load_active().version == PACKAGED

    result = updater.poll()
    assert (result.status, result.version, result.changed) == ("installed", "0.2.0", True)
    (installed,) = setup.events("installed")
    assert installed["from_version"] == PACKAGED and installed["variant"] == "int8"
    assert installed["golden_max_abs_diff"] <= 1e-6  # same model, same machine
    assert installed["kind"] == "model_report" and installed["device"] == "dev-1"
    assert updater.store.active_dir() == setup.store_root / "slots" / "0.2.0"
    assert updater.load_active().version == "0.2.0"
    assert not list((setup.store_root / "staging").iterdir())

    assert updater.poll().status == "trial_running"
    _run_healthy(updater)
    assert updater.tick().decision == "wait"  # window (600 s) not over yet
    setup.clock.advance(599)
    assert not updater.tick().changed
    setup.clock.advance(1)
    tick = updater.tick()
    assert tick.changed and tick.decision == "commit"
    (committed,) = setup.events("committed")
    assert committed["samples"] == 10 and committed["error_rate"] == 0.0
    state = read_state(setup.store_root)
    assert (state.current, state.previous, state.trial) == ("0.2.0", None, None)
    assert updater.poll().status == "up_to_date"
    assert [r["event"] for r in setup.reports] == ["installed", "committed"]


def test_a_second_release_keeps_the_first_as_previous(setup: Setup) -> None:
    setup.publish("0.2.0")
    updater = setup.updater()
    updater.poll()
    _run_healthy(updater)
    setup.clock.advance(600)
    updater.tick()
    setup.publish("0.3.0")
    assert updater.poll().status == "installed"
    _run_healthy(updater)
    setup.clock.advance(600)
    assert updater.tick().decision == "commit"
    state = read_state(setup.store_root)
    assert (state.current, state.previous) == ("0.3.0", "0.2.0")
    assert _slots(setup) == ["0.2.0", "0.3.0"]


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_corrupted_artifact_is_refused_and_the_current_model_keeps_running(
    setup: Setup, damage: str
) -> None:
    setup.publish("0.2.0")
    onnx = setup.channel_dir / "models/stress/0.2.0/stress.int8.onnx"
    data = bytearray(onnx.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        del data[-100:]
    onnx.write_bytes(bytes(data))
    updater = setup.updater()
    result = updater.poll()
    assert (result.status, result.reason) == ("refused", "artifact_corrupt")
    assert "stress.int8.onnx" in result.message
    assert updater.store.active_dir() is None
    assert updater.load_active().version == PACKAGED
    assert _slots(setup) == [] and not list((setup.store_root / "staging").iterdir())
    # reported once; later polls do not download it again nor report it again
    assert updater.poll().reason == "rejected_before"
    assert [(r["event"], r["reason"]) for r in setup.reports] \
        == [("refused", "artifact_corrupt")]


def test_golden_outputs_of_another_model_are_refused(setup: Setup) -> None:
    # a model exported with another class order: same file, different meaning
    other = setup.model("0.2.0", classes=["wilting", "necrosis", "chlorosis", "healthy"])
    setup.publish("0.2.0", golden=make_golden(other))
    updater = setup.updater()
    result = updater.poll()
    assert (result.status, result.reason) == ("refused", "golden_mismatch")
    assert "tolerance" in result.message
    assert updater.store.active_dir() is None and _slots(setup) == []
    assert read_state(setup.store_root).rejected == {"0.2.0": "golden_mismatch"}


def test_a_model_slower_than_its_budget_is_refused(setup: Setup) -> None:
    setup.publish("0.2.0", latency_budget_ms=0.0001)
    result = setup.updater().poll()
    assert (result.status, result.reason) == ("refused", "too_slow")


def test_a_model_folder_that_does_not_match_the_release_is_refused(setup: Setup) -> None:
    # a publisher bug: the release says 0.3.0 but its manifest.json artifact is 0.2.0's
    release = setup.publish("0.3.0")
    wrong = (setup.model("0.2.0") / "manifest.json").read_bytes()
    writer = setup.writer()
    writer.put_immutable("models/stress/0.3.0/other/manifest.json", wrong)
    artifacts = [a.model_copy(update={"key": "models/stress/0.3.0/other/manifest.json",
                                      "size": len(wrong), "sha256": sha256_of(wrong)})
                 if a.file == "manifest.json" else a for a in release.artifacts]
    write_manifest(writer, release.model_copy(update={"artifacts": artifacts}), setup.key)
    result = setup.updater().poll()
    assert (result.status, result.reason) == ("refused", "inconsistent")
    assert "0.2.0" in result.message and "0.3.0" in result.message


def test_rollback_when_the_trial_records_errors(setup: Setup) -> None:
    setup.publish("0.2.0")
    updater = setup.updater()
    updater.poll()
    for i in range(10):
        updater.record(3.0, ok=i % 3 != 0)  # 4 errors in 10 runs, limit 10 %
    tick = updater.tick()  # judged before the window ends: enough runs already
    assert tick.changed and (tick.decision, tick.reason) \
        == ("rollback", "error_rate")
    (rolled,) = setup.events("rolled_back")
    assert rolled["reason"] == "error_rate" and rolled["error_rate"] == pytest.approx(0.4)
    assert rolled["running_version"] == PACKAGED
    assert updater.store.active_dir() is None
    assert updater.load_active().version == PACKAGED
    assert _slots(setup) == []
    assert updater.poll().reason == "rejected_before"  # not installed again and again
    assert len(setup.reports) == 2


def test_rollback_when_the_trial_is_slow(setup: Setup) -> None:
    setup.publish("0.2.0")
    updater = setup.updater()
    updater.poll()
    for _ in range(20):
        updater.record(80.0, ok=True)  # p95 limit 50 ms
    assert updater.tick().reason == "latency"


def test_rollback_after_repeated_boots_in_trial(setup: Setup) -> None:
    setup.publish("0.2.0")
    setup.updater().poll()
    for boots in (1, 2):  # max_boots is 2: these starts keep the trial
        store = ModelStore.open(setup.store_root)
        assert store.state.trial is not None and store.state.trial.boots == boots
        setup.updater(store)
        assert not setup.events("rolled_back")
    store = ModelStore.open(setup.store_root)  # the third start after install: crash loop
    updater = setup.updater(store)
    (rolled,) = setup.events("rolled_back")
    assert (rolled["reason"], rolled["boots"]) == ("crash_loop", 3)
    assert updater.store.active_dir() is None
    assert read_state(setup.store_root).rejected == {"0.2.0": "crash_loop"}


def test_counts_survive_a_restart_and_the_window_still_commits(setup: Setup) -> None:
    setup.publish("0.2.0")
    updater = setup.updater()
    updater.poll()
    _run_healthy(updater, runs=3)
    updater.tick()
    restarted = setup.updater()
    assert _trial(restarted).samples == 3
    _run_healthy(restarted, runs=2)
    setup.clock.advance(600)
    assert restarted.tick().decision == "commit"


def test_the_window_waits_for_enough_runs(setup: Setup) -> None:
    setup.publish("0.2.0")
    updater = setup.updater()
    updater.poll()
    _run_healthy(updater, runs=4)  # min_samples is 5
    setup.clock.advance(3600)
    assert updater.tick().decision == "wait"
    updater.record(3.0, ok=True)
    assert updater.tick().decision == "commit"


def test_a_trial_that_does_not_load_is_rolled_back(setup: Setup) -> None:
    setup.publish("0.2.0")
    updater = setup.updater()
    updater.poll()
    onnx = setup.store_root / "slots/0.2.0/stress.int8.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-10])
    model = updater.load_active()
    assert model.version == PACKAGED
    (rolled,) = setup.events("rolled_back")
    assert rolled["reason"] == "load_failed" and "sha256" in rolled["message"]


@pytest.mark.parametrize(("publish", "device", "reason"), [
    ({"version": "0.0.9"}, {}, "older"),
    ({"version": "0.2.0", "min_agent_version": "9.0"}, {}, "agent_too_old"),
    ({"version": "0.2.0", "percent": 0.0}, {}, "not_in_rollout"),
    ({"version": "0.2.0", "key": Ed25519PrivateKey.generate()}, {}, "unknown_key"),
    ({"version": "0.2.0", "name": "leaf"}, {}, "wrong_model"),
])
def test_refusals_are_reported_once_with_their_reason(
    setup: Setup, publish: dict, device: dict, reason: str
) -> None:
    version = publish.pop("version")
    name = publish.pop("name", None)
    if name:
        publish_release(setup.writer(), setup.key, setup.model(version, name=name),
                        release_options(), setup.clock())
    else:
        setup.publish(version, **publish)
    updater = setup.updater(**device)
    for _ in range(3):
        result = updater.poll()
        assert (result.status, result.reason) == ("refused", reason)
    (refused,) = setup.reports
    assert (refused["event"], refused["reason"]) == ("refused", reason)
    assert refused["message"] == result.message
    assert updater.store.active_dir() is None
    assert not read_state(setup.store_root).rejected  # cheap checks: nothing remembered


def test_an_expired_manifest_is_refused(setup: Setup) -> None:
    manifest = setup.publish("0.2.0")
    setup.clock.now = manifest.expires_at
    result = setup.updater().poll()
    assert (result.status, result.reason) == ("refused", "expired")
    assert "device clock" in result.message


@pytest.mark.parametrize(("damage", "reason"), [("tamper", "bad_signature"),
                                                ("unsign", "unsigned")])
def test_a_tampered_or_unsigned_manifest_is_refused(setup: Setup, damage: str,
                                                    reason: str) -> None:
    setup.publish("0.2.0")
    path = setup.channel_dir / MANIFEST_KEY
    if damage == "tamper":
        path.write_bytes(path.read_bytes().replace(b'"percent":100.0', b'"percent":100.1'))
    else:
        (setup.channel_dir / SIGNATURE_KEY).unlink()
    updater = setup.updater()
    assert updater.poll().reason == reason
    assert updater.poll().reason == reason
    assert [r["reason"] for r in setup.reports] == [reason]


class StaleSignatureOnce:
    """A reader that returns the signature of the previous publish once: a poll that ran
    between the publisher's write of manifest.json and of manifest.json.sig."""

    def __init__(self, inner: ChannelReader, stale: bytes) -> None:
        self.inner, self.stale, self.name = inner, stale, inner.name

    def get(self, key: str) -> bytes:
        if key == SIGNATURE_KEY and self.stale:
            stale, self.stale = self.stale, b""
            return stale
        return self.inner.get(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)


def test_a_poll_racing_a_publish_reads_again_instead_of_refusing(setup: Setup) -> None:
    setup.publish("0.2.0", percent=0.0)
    stale = (setup.channel_dir / SIGNATURE_KEY).read_bytes()
    setup.publish("0.2.0", percent=100.0)
    reader = StaleSignatureOnce(open_channel(setup.channel_url), stale)
    assert setup.updater(reader=reader).poll().status == "installed"
    assert not setup.events("refused")


def test_an_empty_channel_is_no_release_and_a_missing_one_is_unavailable(setup: Setup) -> None:
    assert setup.updater().poll().status == "no_release"
    gone = setup.updater(reader=open_channel(f"file://{setup.tmp / 'unmounted'}"))
    result = gone.poll()
    assert result.status == "unavailable" and "mounted" in result.message
    assert setup.reports == []


def test_a_missing_artifact_is_refused_but_not_remembered(setup: Setup) -> None:
    setup.publish("0.2.0")
    golden = setup.channel_dir / "models/stress/0.2.0/golden.npz"
    kept = golden.read_bytes()
    golden.unlink()
    updater = setup.updater()
    assert updater.poll().reason == "artifact_missing"
    golden.write_bytes(kept)  # e.g. a sync that had not finished yet
    assert updater.poll().status == "installed"


def test_the_device_limits_are_the_stricter_ones(setup: Setup) -> None:
    setup.publish("0.2.0")
    updater = setup.updater()
    updater.poll()
    limits = _trial(updater).limits
    assert limits.window_seconds == LIMITS.window_seconds  # 600 > the release's 60
    assert limits.max_error_rate == LIMITS.max_error_rate  # 0.1 < the release's 0.2
    assert limits.min_samples == 5 and limits.max_boots == 2


def test_a_refused_release_never_touches_a_committed_model(setup: Setup) -> None:
    setup.publish("0.2.0")
    updater = setup.updater()
    updater.poll()
    _run_healthy(updater)
    setup.clock.advance(600)
    updater.tick()
    setup.publish("0.3.0", latency_budget_ms=0.0001)
    assert updater.poll().reason == "too_slow"
    assert updater.load_active().version == "0.2.0"
    assert Path(updater.store.active_dir() or "").name == "0.2.0"
