"""A run's identity (what a sweep matches runs by): the config keys that differ from the defaults and
the data's content, not the absolute path of the data, nor keys written out at their default value.
Runs written before identities (the format-1 fixture) still match their sweep point. No TensorFlow."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from expkit.config import load_config
from expkit.runstore import data_fingerprint, identify
from expkit.sweep.points import Point, attach_existing, validate_points
from helpers import config_dict, write_config

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "runs" / "20261204-181656-format1-xor-91b8"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def csv_config(folder: Path, rows: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.csv").write_text(rows)
    data = config_dict([{"type": "Dense", "units": 1}], dataset={"name": "csv", "path": "data.csv", "target": "y"})
    return write_config(folder, data)


def test_a_key_written_at_its_default_does_not_change_the_identity(tmp_path):
    path = write_config(tmp_path, config_dict([{"type": "Dense", "units": 1}]))
    plain = identify(load_config(path).config)[0]
    assert identify(load_config(path, ["training.batch_size=32"]).config)[0] == plain  # 32 is the default
    assert identify(load_config(path, ["training.batch_size=16"]).config)[0] != plain


def test_moved_data_keeps_the_identity_and_changed_data_changes_it(tmp_path, cache_dir):
    rows = "a,b,y\n1,2,0\n3,4,1\n"
    first, fingerprint = identify(load_config(csv_config(tmp_path / "here", rows)).config)
    moved, _ = identify(load_config(csv_config(tmp_path / "elsewhere" / "deeper", rows)).config)
    changed, other = identify(load_config(csv_config(tmp_path / "changed", rows + "5,6,0\n")).config)
    assert first == moved != changed
    assert fingerprint["files"] == 1 and fingerprint["bytes"] == len(rows) and fingerprint != other
    assert len(json.loads((cache_dir / "fingerprints.json").read_text())) == 3  # one entry per file seen


def test_a_folder_fingerprint_covers_every_file_by_relative_path(tmp_path):
    for name in ("a/1.png", "b/2.png"):
        (tmp_path / "set" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "set" / name).write_bytes(b"x" * 10)
    before = data_fingerprint(tmp_path / "set")
    shutil.move(tmp_path / "set" / "b" / "2.png", tmp_path / "set" / "a" / "2.png")  # a label changed
    assert before["files"] == 2 and data_fingerprint(tmp_path / "set")["sha256"] != before["sha256"]


def test_a_run_from_before_identities_still_matches_its_sweep_point(tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(FIXTURE, sweep / FIXTURE.name)
    info = json.loads((sweep / FIXTURE.name / "run.json").read_text())
    assert "identity" not in info and "format_version" not in info
    points = [Point(1, ["training.epochs=3", "experiment.name=format1-xor"], {"training.epochs": 3}),
              Point(2, ["training.epochs=4", "experiment.name=format1-xor"], {"training.epochs": 4})]
    validate_points(ROOT / "configs" / "xor_mlp.yaml", points, [])
    attach_existing(points, sweep)
    assert [p.done for p in points] == [True, False]
