"""``cloudjobs train`` end to end on a small lake: a loadable model, its card, and the INT8 gate.

Kept small (a few dozen uploads, 4 epochs): these runs check the plumbing and the gate, not
the model's quality.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from packaging.version import Version  # noqa: E402

from cloudjobs.training import train_job  # noqa: E402
from cloudjobs.training.dataset import (  # noqa: E402
    Dataset,
    DatasetConfig,
    build_dataset,
    split_of,
)
from cloudjobs.training.labels import read_labels  # noqa: E402
from cloudjobs.training.lake import list_images  # noqa: E402
from fieldagent.inference.config import ModelConfig  # noqa: E402
from fieldagent.inference.errors import ModelError  # noqa: E402
from fieldagent.inference.manifest import read_manifest  # noqa: E402
from fieldagent.inference.session import StressModel  # noqa: E402
from fieldagent.synth import MODEL_CLASSES, labelled_crops  # noqa: E402
from fieldcontract.manifest import sha256_of  # noqa: E402
from tests.cloudjobs_train.lakes import START, upload_crops, write_image, write_labels  # noqa: E402

pytestmark = [pytest.mark.train, pytest.mark.slow]

NOW = datetime(2025, 6, 2, 9, 5, 3, tzinfo=UTC)
SYNTHETIC = 120


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def args(root: Path, out: str = "out", *extra: str) -> list[str]:
    return ["--lake", str(root / "lake"), "--labels", str(root / "labels.csv"),
            "--out", str(root / out), "--epochs", "4", "--batch-size", "16",
            "--synthetic", str(SYNTHETIC), *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake of 40 uploaded crops, all labelled, trained once for the module."""
    root = tmp_path_factory.mktemp("job")
    uploads = upload_crops(root / "lake", 40, seed=77)
    write_labels(root / "labels.csv", [(u.key, u.label) for u in uploads])
    # A generous margin: with 4 epochs and ~35 held-out crops one flipped prediction is 3 %.
    assert train_job.main(args(root, "out", "--int8-margin", "0.15"), clock=lambda: NOW) == 0
    return root


@pytest.fixture(scope="module")
def rebuilt(trained: Path) -> tuple[set[str], Dataset]:
    """The lake's image keys and the data set the job trained on, rebuilt from its inputs."""
    images = list_images(trained / "lake")
    known = {i.key for i in images}
    labels = read_labels(trained / "labels.csv", known, MODEL_CLASSES)
    return known, build_dataset(images, labels, DatasetConfig(synthetic=SYNTHETIC))


def test_the_model_folder_loads_in_the_agent_and_predicts(trained: Path) -> None:
    model = StressModel.load(ModelConfig(path=str(trained / "out")))
    assert model.variant == "int8" and model.classes == MODEL_CLASSES
    crops, _ = labelled_crops(3, seed=999)
    outputs = model.predict(crops)
    assert len(outputs) == 3
    for output in outputs:
        assert output.label in MODEL_CLASSES
        assert sum(output.probabilities.values()) == pytest.approx(1.0)
    fp32 = StressModel.load(ModelConfig(path=str(trained / "out"), variant="fp32"))
    assert fp32.version == model.version


def test_the_manifest_lists_both_files_with_their_sha256(trained: Path) -> None:
    out = trained / "out"
    manifest = read_manifest(out)
    assert set(manifest.files) == {"fp32", "int8"} and manifest.default_variant == "int8"
    for entry in manifest.files.values():
        data = (out / entry.file).read_bytes()
        assert sha256_of(data) == entry.sha256 and len(data) == entry.bytes
    assert not (out / train_job.REFUSED).exists()


def test_the_version_comes_from_the_clock_and_the_data(trained: Path) -> None:
    version = read_manifest(trained / "out").version
    assert str(Version(version)) == version  # already normalised: release tools compare strings
    assert Version(version) > Version("0.1.0+synth.a3a67ad9")  # newer than the shipped model
    assert version.startswith(f"{NOW.year}.{NOW.month}.{NOW.day}.90503+lake")


def test_the_card_holds_the_data_hash_and_both_variants_metrics(
        trained: Path, rebuilt: tuple[set[str], Dataset]) -> None:
    card = json.loads((trained / "out/model_card.json").read_text())
    data = rebuilt[1]
    assert card["data"]["snapshot_sha256"] == data.snapshot_sha256()
    assert card["status"] == "accepted" and card["created"] == NOW.isoformat()
    assert card["classes"] == list(MODEL_CLASSES)
    metrics = card["metrics"]["held_out"]
    for variant in ("fp32", "int8"):
        m = metrics[variant]
        assert m["n"] == len(data.test.items)
        assert set(m["recall"]) == set(MODEL_CLASSES)
        assert {"accuracy", "ece_10_bins", "latency_ms_batch1", "bytes"} <= set(m)
        assert set(m["by_source"]) == {"uploaded", "synthetic"}
    counts = card["data"]["counts"]
    uploaded = sum(sum(part["uploaded"].values()) for part in counts.values())
    assert uploaded == 40 and sum(card["data"]["uploads_by_site"].values()) == 40
    assert card["gate"]["passed"] and card["code_version"]
    text = (trained / "out/model_card.md").read_text()
    assert data.snapshot_sha256() in text and "| accuracy |" in text


def test_the_data_hash_changes_when_one_label_changes(
        trained: Path, rebuilt: tuple[set[str], Dataset]) -> None:
    known, before = rebuilt
    labels = read_labels(trained / "labels.csv", known, MODEL_CLASSES)
    train_keys = {i.key for i in before.train.items}
    row = next(r for r in labels if r.key in train_keys)
    other = "necrosis" if row.label != "necrosis" else "healthy"
    edited = trained / "edited.csv"
    write_labels(edited, [(r.key, other if r is row else r.label) for r in labels])
    images = list_images(trained / "lake")
    after = build_dataset(images, read_labels(edited, known, MODEL_CLASSES),
                          DatasetConfig(synthetic=SYNTHETIC))
    assert after.snapshot_sha256() != before.snapshot_sha256()


def test_int8_calibrated_on_night_frames_is_refused(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # The labelled crops are alert evidence; the only sampled images are dark night frames,
    # so INT8 calibrates its input range on near-black pixels and saturates on daylight crops.
    uploads = upload_crops(tmp_path / "lake", 40, seed=77, kind="evidence")
    rng = np.random.default_rng(3)
    for i in range(60):
        night = rng.integers(0, 5, (96, 96, 3), dtype=np.uint8)
        write_image(tmp_path / "lake", night, START + timedelta(hours=12, minutes=i))
    write_labels(tmp_path / "labels.csv", [(u.key, u.label) for u in uploads])
    assert train_job.main(args(tmp_path), clock=lambda: NOW) == train_job.EXIT_REFUSED
    out = tmp_path / "out"
    err = capsys.readouterr().err
    assert "INT8 model refused" in err and "--int8-margin" in err
    assert "INT8 model refused" in (out / train_job.REFUSED).read_text()
    assert not (out / "manifest.json").exists()
    with pytest.raises(ModelError, match="manifest not found"):
        StressModel.load(ModelConfig(path=str(out)))
    card = json.loads((out / "model_card.json").read_text())
    assert card["status"] == "refused" and not card["gate"]["passed"]
    nights_in_train = [i for i in list_images(tmp_path / "lake")
                       if i.kind == "image" and split_of(i.key) == "train"]
    assert card["data"]["calibration"] == {"uploaded": len(nights_in_train), "synthetic": 0}
    assert card["gate"]["drop"] > card["gate"]["margin"]


def test_bad_labels_stop_before_training_with_line_numbers(
        trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = list_images(trained / "lake")[0].key
    (tmp_path / "labels.csv").write_text(f"key,label\n{key},healthy\n{key},chlorosys\n")
    argv = ["--lake", str(trained / "lake"), "--labels", str(tmp_path / "labels.csv"),
            "--out", str(tmp_path / "out")]
    assert train_job.main(argv) == train_job.EXIT_ERROR
    assert f"{tmp_path / 'labels.csv'}:3: label 'chlorosys'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_out_folder_that_holds_files_is_refused(trained: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert train_job.main(args(trained)) == train_job.EXIT_ERROR  # "out" holds the model
    assert "not an empty folder" in capsys.readouterr().err


def test_out_of_range_options_are_refused(trained: Path) -> None:
    with pytest.raises(SystemExit):
        train_job.parse_args(args(trained, "x", "--int8-margin", "-1"))
    with pytest.raises(SystemExit):
        train_job.parse_args(args(trained, "x", "--epochs", "0"))
