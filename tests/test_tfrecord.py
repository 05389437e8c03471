"""dataset.name: tfrecord: records of tf.train.Example written in the test (tf.io.TFRecordWriter), read
by tf.data: seeded hash splits, shapes and labels, named inputs and outputs, sample weights, bad
records (an error naming the file and record, or skipped and counted), and a training run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from expkit.config.experiment import ExperimentConfig
from expkit.data import make_pipelines
from expkit.data.multi import load_for_model
from expkit.errors import DataError
from tests.helpers import config_dict, write_config

SPEC = {"features": {"x": {"dtype": "float32", "shape": [4]}, "label": {"dtype": "int64"},
                     "w": {"dtype": "float32"}}, "label": "label"}
DENSE = [{"type": "Dense", "units": 8, "activation": "relu"}, {"type": "Dense", "units": 3, "activation": "softmax"}]


def float_feature(values):
    import tensorflow as tf
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(values)))


def int_feature(values):
    import tensorflow as tf
    return tf.train.Feature(int64_list=tf.train.Int64List(value=np.ravel(values)))


def example(**features) -> bytes:
    import tensorflow as tf
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_records(path: Path, records) -> Path:
    import tensorflow as tf
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return path


def simple_records(rng, count, start=0):
    """x[0] is the record's number (to tell records apart); the label depends on x[1]."""
    for i in range(start, start + count):
        x = np.array([i, *rng.normal(size=3)], np.float32)
        label = int(np.digitize(x[1], [-0.5, 0.5]))
        yield example(x=float_feature(x), label=int_feature(label), w=float_feature(1.0 + (label == 2)))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """3 files of 100 records each, in data/."""
    root = tmp_path_factory.mktemp("tfrecord")
    rng = np.random.default_rng(0)
    for shard in range(3):
        write_records(root / "data" / f"train-{shard}.tfrecord", simple_records(rng, 100, 100 * shard))
    return root


def experiment(root: Path, layers=DENSE, seed=5, **dataset) -> ExperimentConfig:
    data = {"name": "tfrecord", "path": str(root / "data" / "*.tfrecord"), "tfrecord": SPEC,
            "sample_weight": "w", **dataset}
    return ExperimentConfig.model_validate(config_dict(layers, dataset=data, experiment={"name": "t", "seed": seed},
                                                       compile={"loss": "sparse_categorical_crossentropy",
                                                                "optimizer": "adam"}))


def elements(dataset):
    """Every batch's parts concatenated: (x, y) or (x, y, weight)."""
    parts = list(zip(*(tuple(np.asarray(p) for p in batch) for batch in dataset)))
    return tuple(np.concatenate(p) for p in parts)


def test_splits_are_seeded_disjoint_and_cover_every_record(shards):
    splits = load_for_model(experiment(shards, scale="none"), "Dense")
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (206, 32, 62)  # by hash: near 0.72/0.08/0.2
    ids = {}
    for name, dataset in zip(("train", "val", "test"), make_pipelines(splits, 64, 5)):
        x, y, w = elements(dataset)
        ids[name] = sorted(x[:, 0].astype(int))
        assert len(ids[name]) == len(getattr(splits, f"x_{name}"))
    assert sorted(ids["train"] + ids["val"] + ids["test"]) == list(range(300))
    again = load_for_model(experiment(shards, scale="none"), "Dense")
    assert sorted(elements(make_pipelines(again, 64, 5)[2])[0][:, 0].astype(int)) == ids["test"]
    other = load_for_model(experiment(shards, seed=6, scale="none"), "Dense")
    assert sorted(elements(make_pipelines(other, 64, 6)[2])[0][:, 0].astype(int)) != ids["test"]


def test_shapes_labels_limit_and_one_hot(shards):
    splits = load_for_model(experiment(shards, limit=50, labels="one_hot", test_split=0.5, validation_split=0.0), "Dense")
    assert splits.input_shape == (4,) and splits.num_classes == 3 and splits.task == "classification"
    assert len(splits.x_train) == 50 and splits.x_val is None and splits.preprocessor.in_model
    x, y, w = elements(make_pipelines(splits, 16, 0)[0])
    assert x.shape == (50, 4) and y.shape == (50, 3) and set(y.sum(axis=1)) == {1.0}
    assert np.array_equal(np.argmax(y, axis=1), np.digitize(x[:, 1], [-0.5, 0.5]))  # labels stay with their inputs
    assert np.array_equal(w, 1.0 + (np.argmax(y, axis=1) == 2))


def test_standardize_statistics_come_from_the_training_split(shards):
    splits = load_for_model(experiment(shards, scale="standardize", validation_split=0.0), "Dense")
    x = elements(make_pipelines(splits, 64, 0)[0])[0]
    np.testing.assert_allclose(splits.preprocessor.mean, x.mean(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(splits.preprocessor.std, x.std(axis=0), rtol=1e-3)


def test_sample_weight_changes_the_loss_as_keras_documents(shards):
    """Keras: the loss is the mean over the batch of sample_weight * per-sample loss."""
    import keras
    splits = load_for_model(experiment(shards, scale="none"), "Dense")
    _, _, test = make_pipelines(splits, 1000, 0)
    x, y, w = elements(test)
    assert set(w.tolist()) == {1.0, 2.0}
    # Small weights: Keras computes a softmax output's loss from its logits inside a model and clips the
    # probabilities outside; the two agree while no probability is near 0.
    small = keras.initializers.RandomNormal(stddev=0.001, seed=0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax", kernel_initializer=small)])
    model.compile(loss="sparse_categorical_crossentropy")
    per_sample = keras.losses.sparse_categorical_crossentropy(y, model.predict(x, verbose=0)).numpy()
    weighted = model.evaluate(test, verbose=0)
    assert weighted == pytest.approx(float(np.mean(w * per_sample)), rel=1e-5)
    assert weighted != pytest.approx(float(np.mean(per_sample)), rel=1e-3)


def test_named_inputs_and_outputs_match_the_model(tmp_path):
    rng = np.random.default_rng(1)
    records = (example(title=float_feature(rng.normal(size=3)), body=float_feature(rng.normal(size=(2, 2))),
                       priority=float_feature(rng.random()), department=int_feature(i % 4)) for i in range(120))
    write_records(tmp_path / "data" / "tickets.tfrecord", records)
    spec = {"features": {"title": {"dtype": "float32", "shape": [3]}, "body": {"dtype": "float32", "shape": [2, 2]},
                         "priority": {"dtype": "float32"}, "department": {"dtype": "int64", "shape": [1]}},
            "label": ["priority", "department"]}
    model = {"inputs": [{"name": "title"}, {"name": "body"}],
             "layers": [{"type": "Flatten", "name": "flat", "inputs": "body"},
                        {"type": "Concatenate", "name": "both", "inputs": ["title", "flat"]},
                        {"type": "Dense", "name": "priority", "units": 1, "inputs": "both"},
                        {"type": "Dense", "name": "department", "units": 4, "activation": "softmax", "inputs": "both"}],
             "outputs": ["priority", "department"]}
    data = config_dict([], dataset={"name": "tfrecord", "path": str(tmp_path / "data" / "*.tfrecord"), "tfrecord": spec},
                       model=model, compile={"loss": {"priority": "mse", "department": "sparse_categorical_crossentropy"},
                                             "optimizer": "adam"})
    cfg = ExperimentConfig.model_validate(data)
    splits = load_for_model(cfg, None)
    assert splits.input_shape == {"title": (3,), "body": (2, 2)} and splits.preprocessor is None
    x, y = next(iter(make_pipelines(splits, 8, 0)[0]))
    assert {k: tuple(v.shape) for k, v in x.items()} == {"title": (8, 3), "body": (8, 2, 2)}
    assert {k: tuple(v.shape) for k, v in y.items()} == {"priority": (8,), "department": (8, 1)}
    model["inputs"][1]["name"] = "text"
    model["layers"][0]["inputs"] = "text"
    with pytest.raises(DataError, match=r"input features \(title, body\) must be the model's inputs "
                                        r"\(model.inputs: title, text\)"):
        load_for_model(ExperimentConfig.model_validate(data), None)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """good.tfrecord (40 records); bad.tfrecord: 20 good, then garbage, a short x, a missing label, an int64 x,
    then 20 good; cut.tfrecord: 30 records cut short inside the last one."""
    root = tmp_path_factory.mktemp("damaged")
    rng = np.random.default_rng(2)
    write_records(root / "data" / "good.tfrecord", simple_records(rng, 40))
    bad = [*simple_records(rng, 20, 100), b"not an example", example(x=float_feature([1, 2, 3]), label=int_feature(0),
                                                                        w=float_feature(1.0)),
           example(x=float_feature([1, 2, 3, 4]), w=float_feature(1.0)),
           example(x=int_feature([1, 2, 3, 4]), label=int_feature(0), w=float_feature(1.0)),
           *simple_records(rng, 20, 200)]
    write_records(root / "data" / "bad.tfrecord", bad)
    cut = write_records(root / "data" / "cut.tfrecord", simple_records(rng, 30, 300))
    cut.write_bytes(cut.read_bytes()[:-9])
    return root


@pytest.mark.parametrize("glob, message", [
    ("bad.tfrecord", "bad.tfrecord: record 20: not a tf.train.Example (the bytes do not parse). Fix the file"),
    ("cut.tfrecord", "cut.tfrecord: record 29: cannot be read from here on (truncated record at"),
], ids=["garbage", "truncated"])
def test_a_bad_record_is_an_error_naming_file_and_record(damaged, glob, message):
    with pytest.raises(DataError, match="dataset.skip_corrupt: true") as excinfo:
        load_for_model(experiment(damaged).model_copy(update={"dataset": experiment(damaged).dataset.model_copy(
            update={"path": str(damaged / "data" / glob)})}), "Dense")
    assert message in str(excinfo.value)


def test_skip_corrupt_counts_and_leaves_out_every_bad_record(damaged, capsys):
    splits = load_for_model(experiment(damaged, skip_corrupt=True, scale="none"), "Dense")
    assert "5 bad record(s) skipped" in splits.source  # 4 records of bad.tfrecord, the end of cut.tfrecord
    out = capsys.readouterr().out
    assert "note: skipped 5 bad record(s)" in out
    ids = np.concatenate([elements(d)[0][:, 0] for d in make_pipelines(splits, 64, 0) if d is not None])
    assert sorted(ids.astype(int)) == [*range(40), *range(100, 120), *range(200, 220), *range(300, 329)]


@pytest.mark.parametrize("record, problem", [
    (example(x=float_feature([1, 2, 3]), label=int_feature(0), w=float_feature(1.0)),
     "feature 'x' holds 3 values, but its shape [4] needs 4"),
    (example(x=float_feature([1, 2, 3, 4]), w=float_feature(1.0)), "no feature 'label' (it has w, x)"),
    (example(x=int_feature([1, 2, 3, 4]), label=int_feature(0), w=float_feature(1.0)),
     "feature 'x' holds a int64_list, but the spec says float32 (float_list)"),
    (example(x=float_feature([1, 2, 3, 4]), label=int_feature(-1), w=float_feature(1.0)),
     "label 'label' is -1, a class index must be 0 or more"),
    (example(x=float_feature([1, 2, 3, 4]), label=int_feature(0), w=float_feature(-2.0)),
     "sample weight 'w' is -2.0; weights must be finite and 0 or more"),
], ids=["short", "missing", "dtype", "label", "weight"])
def test_each_kind_of_bad_record_is_named(tmp_path, record, problem):
    rng = np.random.default_rng(3)
    write_records(tmp_path / "data" / "one.tfrecord", [*simple_records(rng, 3), record])
    with pytest.raises(DataError) as excinfo:
        load_for_model(experiment(tmp_path), "Dense")
    assert f"one.tfrecord: record 3: {problem}" in str(excinfo.value)


def test_a_glob_matching_nothing_names_the_glob_and_folder(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError) as excinfo:
        load_for_model(experiment(tmp_path), "Dense")
    assert f"dataset.path '{tmp_path}/data/*.tfrecord': no file matches this glob in the folder " \
           f"{tmp_path}/data" in str(excinfo.value)


@pytest.mark.parametrize("dataset, message", [
    ({"tfrecord": None}, "dataset 'tfrecord' needs its feature spec"),
    ({"sample_weight": "lable"}, "dataset.sample_weight 'lable' is not one of the features (did you mean 'label'?)"),
    ({"sample_weight": "label"}, "dataset.sample_weight 'label' is also the label"),
    ({"validation_size": 10}, "use validation_split instead"),
    ({"tfrecord": {**SPEC, "label": "labels"}}, "dataset.tfrecord.label 'labels' is not one of the features "
                                                "(did you mean 'label'?)"),
    ({"tfrecord": {**SPEC, "features": {**SPEC["features"], "x": {"dtype": "string"}}}}, "dtype: must be one of 'float32', 'int64' or 'image', got 'string'"),
    ({"tfrecord": {**SPEC, "features": {**SPEC["features"], "x": {"dtype": "image", "shape": [8, 8, 2]}}}},
     "an image feature's shape is [height, width] (grayscale) or [height, width, 3] (rgb), got [8, 8, 2]"),
    ({"tfrecord": {**SPEC, "features": {**SPEC["features"], "label": {"dtype": "image", "shape": [8, 8]}}}},
     "dataset.tfrecord.label names an image feature"),
])
def test_bad_specs_are_refused_when_the_config_loads(tmp_path, dataset, message):
    from expkit.config import load_config
    from expkit.errors import ConfigError
    data = config_dict(DENSE, dataset={"name": "tfrecord", "path": "data/*.tfrecord", "tfrecord": SPEC, **dataset})
    with pytest.raises(ConfigError) as excinfo:
        load_config(write_config(tmp_path, data))
    assert message in str(excinfo.value) and "exp.yaml:" in str(excinfo.value)


def test_train_one_epoch_end_to_end(shards, tmp_path, capsys):
    from expkit.cli.app import main
    data = config_dict(DENSE, dataset={"name": "tfrecord", "path": "data/train-*.tfrecord", "tfrecord": SPEC,
                                       "sample_weight": "w", "cache": "disk", "cache_dir": str(tmp_path / "cache")},
                       compile={"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"], "optimizer": "adam"},
                       training={"epochs": 1, "batch_size": 32})
    config = write_config(shards, data, name=f"{tmp_path.name}.yaml")  # beside data/: the glob is relative to it
    assert main(["train", str(config), "--runs-dir", str(tmp_path / "runs")]) == 0
    run = Path(capsys.readouterr().out.strip().splitlines()[-1])
    results = json.loads((run / "results.json").read_text())
    assert results["samples"] == {"train": 199, "val": 38, "test": 63}
    assert "3 TFRecord file(s), streamed" in results["data_source"] and "accuracy" in results["test"]
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "cache").glob("*.index")) == ["test", "train", "val"]


def test_validation_and_test_globs_hold_their_splits(shards, tmp_path):
    """A test glob's files are the test split; validation is hashed out of dataset.path's records."""
    from expkit.config import load_config
    data = config_dict(DENSE, dataset={"name": "tfrecord", "path": "data/train-[01].tfrecord",
                                       "tfrecord": {**SPEC, "test": "data/train-2.tfrecord"}, "sample_weight": "w",
                                       "scale": "none"})
    cfg = load_config(write_config(shards, data, name=f"{tmp_path.name}.yaml")).config
    assert cfg.dataset.tfrecord.test == str(shards / "data" / "train-2.tfrecord")  # relative to the config file
    splits = load_for_model(cfg, "Dense")
    assert len(splits.x_test) == 100 and len(splits.x_train) + len(splits.x_val) == 200
    assert 10 <= len(splits.x_val) <= 30  # validation_split 0.1, by hash
    ids = sorted(elements(make_pipelines(splits, 64, 0)[2])[0][:, 0].astype(int))
    assert ids == list(range(200, 300))
    both = cfg.dataset.model_copy(update={"path": str(shards / "data" / "*.tfrecord")})
    with pytest.raises(DataError, match="train-2.tfrecord matches both dataset.tfrecord.test and an earlier glob"):
        load_for_model(cfg.model_copy(update={"dataset": both}), "Dense")


def test_an_adapted_first_layer_learns_from_one_pass_of_the_training_records(shards, tmp_path):
    """Normalization without statistics in the config: adapt() reads the streamed training split."""
    from expkit.config import load_config
    from expkit.training.run import prepare
    layers = [{"type": "Normalization"}, *DENSE]
    data = config_dict(layers, dataset={"name": "tfrecord", "path": "data/*.tfrecord", "tfrecord": SPEC,
                                        "sample_weight": "w", "scale": "none"},
                       compile={"loss": "sparse_categorical_crossentropy", "optimizer": "adam"})
    ready = prepare(load_config(write_config(shards, data, name=f"{tmp_path.name}.yaml")))
    x = elements(make_pipelines(ready.splits, 64, 0, shuffle=False)[0])[0]
    layer = next(layer for layer in ready.model.layers if type(layer).__name__ == "Normalization")
    np.testing.assert_allclose(np.ravel(layer.mean), x.mean(axis=0), rtol=1e-4, atol=1e-4)


def test_a_bad_record_stops_train_with_exit_2_before_the_run_folder(damaged, tmp_path, capsys):
    from expkit.cli.app import main
    data = config_dict(DENSE, dataset={"name": "tfrecord", "path": "data/bad.tfrecord", "tfrecord": SPEC,
                                       "sample_weight": "w"},
                       compile={"loss": "sparse_categorical_crossentropy", "optimizer": "adam"})
    config = write_config(damaged, data, name=f"{tmp_path.name}.yaml")
    assert main(["train", str(config), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert f"{config}:" in err and "dataset.path: " in err and "bad.tfrecord: record 20: not a tf.train.Example" in err
    assert not list((tmp_path / "runs").glob("*/*"))  # no run folder, nothing in one


def test_the_run_identity_fingerprints_the_files_of_the_glob(tmp_path, monkeypatch):
    """Sweeps match runs by data content: a changed record file changes the fingerprint; moving the folder does not."""
    from expkit.runstore import identify
    monkeypatch.setenv("EXPKIT_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(4)
    for shard in range(2):
        write_records(tmp_path / "a" / "data" / f"train-{shard}.tfrecord", simple_records(rng, 5))
    first = identify(experiment(tmp_path / "a"))[1]
    assert first["files"] == 2
    (tmp_path / "a").rename(tmp_path / "b")
    assert identify(experiment(tmp_path / "b"))[1] == first
    write_records(tmp_path / "b" / "data" / "train-1.tfrecord", simple_records(rng, 5))
    assert identify(experiment(tmp_path / "b"))[1]["sha256"] != first["sha256"]


def bytes_feature(value: bytes):
    import tensorflow as tf
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def test_encoded_images_are_decoded_resized_and_scaled_like_an_image_folder(tmp_path, capsys):
    """dtype: image: PNG bytes -> uint8 [H, W] (resized when stored at another size), scale auto = unit; bytes that
    are no image are a bad record."""
    import tensorflow as tf
    rng = np.random.default_rng(5)
    records = []
    for i in range(60):
        size = (8, 6) if i % 2 else (10, 7)
        pixels = rng.integers(0, 256, (*size, 1), dtype=np.uint8)
        records.append(example(image=bytes_feature(tf.io.encode_png(pixels).numpy()), label=int_feature(i % 2),
                               size=float_feature(size[0])))
    records.append(example(image=bytes_feature(b"not a png"), label=int_feature(0)))
    write_records(tmp_path / "data" / "images.tfrecord", records)
    spec = {"features": {"image": {"dtype": "image", "shape": [8, 6]}, "label": {"dtype": "int64"}}, "label": "label"}
    layers = [{"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "Flatten"},
              {"type": "Dense", "units": 2, "activation": "softmax"}]
    data = {"tfrecord": spec, "sample_weight": None, "validation_split": 0.0}
    with pytest.raises(DataError, match="images.tfrecord: record 60: feature 'image' is not an image TensorFlow can decode"):
        load_for_model(experiment(tmp_path, layers, **data), "Conv2D")
    splits = load_for_model(experiment(tmp_path, layers, skip_corrupt=True, **data), "Conv2D")
    assert "1 bad record(s) skipped" in splits.source
    assert splits.preprocessor.scale == "unit" and splits.preprocessor.raw_shape == (8, 6)
    assert splits.input_shape == (8, 6, 1)  # the model's front adds the channel axis for Conv2D
    x, y = elements(make_pipelines(splits, 16, 0)[0])
    assert x.dtype == np.uint8 and x.shape == (len(splits.x_train), 8, 6)
    # Several inputs go in as stored, images divided by 255 (as an .npz's uint8 arrays).
    spec["features"]["size"] = {"dtype": "float32"}
    model = {"inputs": [{"name": "image"}, {"name": "size"}],
             "layers": [{"type": "Flatten", "name": "flat", "inputs": "image"},
                        {"type": "Concatenate", "name": "both", "inputs": ["flat", "size"]},
                        {"type": "Dense", "name": "out", "units": 2, "activation": "softmax", "inputs": "both"}]}
    cfg = experiment(tmp_path, skip_corrupt=True, **data)
    cfg = cfg.model_copy(update={"model": type(cfg.model).model_validate(model)})
    x, y = next(iter(make_pipelines(load_for_model(cfg, None), 64, 0)[0]))
    assert x["image"].dtype == "float32" and 0 <= float(np.min(x["image"])) and float(np.max(x["image"])) <= 1
    assert set(np.asarray(x["size"]).ravel()) == {8.0, 10.0} and tuple(x["size"].shape[1:]) == (1,)
