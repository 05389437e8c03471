"""How a run spreads over devices: one device, TensorFlow's MirroredStrategy, or Keras' DataParallel on JAX.

The model is built and compiled inside `scope()` (variables are mirrored, or laid out on the JAX mesh, as
they are created) and fit runs inside `placement()`. training.batch_size stays the global batch: each
replica gets batch_size / replicas samples per step.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from expkit.errors import ExpkitError
from expkit.model.device import DevicePlan


@dataclass
class Distribution:
    kind: str                       # none | mirrored | data_parallel
    replicas: int
    devices: list[str]
    global_batch: int
    strategy: object = None         # tf.distribute.MirroredStrategy or keras.distribution.DataParallel
    device: str = "/CPU:0"          # where kind none places its ops
    processes: dict | None = None   # {"num_processes", "process_id", "coordinator"} across machines

    @property
    def per_replica_batch(self) -> int:
        return self.global_batch // self.replicas

    def scope(self):
        """Where the model is built and compiled."""
        if self.kind == "mirrored":
            return self.strategy.scope()
        if self.kind == "data_parallel":
            return self.strategy.scope()
        return contextlib.nullcontext()

    def placement(self):
        """Where fit and evaluate run: MirroredStrategy places its own replicas; DataParallel's scope makes
        fit shard each batch over the mesh; one device is pinned with tf.device."""
        if self.kind == "none":
            import tensorflow as tf
            return tf.device(self.device)
        return self.scope() if self.kind == "data_parallel" else contextlib.nullcontext()

    def describe(self, device_name: str) -> str:
        """The printed device line."""
        if self.kind == "none":
            return device_name
        name = "MirroredStrategy" if self.kind == "mirrored" else "DataParallel"
        across = (f" in {self.processes['num_processes']} processes (this is process {self.processes['process_id']})"
                  if self.processes else "")
        return (f"{device_name}; {name} over {self.replicas} replicas{across} ({', '.join(self.devices)}), "
                f"{self.per_replica_batch} samples per replica of the global batch of {self.global_batch}")

    def record(self, backend: str) -> dict:
        """What run.json keeps about the devices."""
        data = {"backend": backend, "distribution": self.kind, "replicas": self.replicas,
                "per_replica_batch": self.per_replica_batch, "global_batch": self.global_batch}
        if self.kind != "none":
            data["replica_devices"] = self.devices
        if self.processes:
            data["processes"] = self.processes
        if "CUDA_VISIBLE_DEVICES" in os.environ:  # a sweep gives each child its GPUs this way
            data["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
        return data

    def even_batches(self, datasets, sizes):
        """JAX shards every batch over the devices, and a batch that does not split evenly is an error
        (IndivisibleError), so a last batch of 21 samples on 2 devices keeps 20 (one too small to split is
        left out). At most replicas - 1 samples per split are left out of each epoch; the number of batches
        stays known to Keras. MirroredStrategy splits uneven batches itself. Across processes, only full
        global batches (a split smaller than one batch is an error)."""
        if self.kind != "data_parallel" or self.replicas == 1:
            return datasets
        import tensorflow as tf
        n = self.replicas

        def trim(*batch):
            size = tf.shape(tf.nest.flatten(batch)[0])[0] // n * n
            return tf.nest.map_structure(lambda t: t[:size], batch)

        out = []
        for ds, size in zip(datasets, sizes):
            if ds is not None and size and self.processes:
                # Keras rebatches each global batch into one per process and deals them out in turn: a
                # partial last batch would give one process a step more than the other, which then waits
                # for it forever in the collective. Across processes only full global batches are kept.
                if size < self.global_batch:
                    raise ExpkitError(f"a split of {size} samples is smaller than one global batch "
                                      f"({self.global_batch}): across processes every split needs at least one full "
                                      "batch; lower training.batch_size or use more data")
                out.append(ds.take(size // self.global_batch))
                continue
            if ds is None or not size or size % self.global_batch % n == 0:
                out.append(ds)
                continue
            batches = -(-size // self.global_batch)
            if size % self.global_batch < n:  # the last batch would be empty
                ds = ds.take(batches - 1)
            out.append(ds.map(trim))
        return tuple(out)


# Keras' own variables for keras.distribution.initialize (cluster launchers set them; so do `expkit train
# --coordinator/--num-processes/--process-id`).
CLUSTER_ENV = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID")


def cluster_settings(training) -> dict | None:
    """The multi-process settings from the environment, checked against the config before Keras loads."""
    addresses, count, index = (os.environ.get(k) for k in CLUSTER_ENV)
    if not count:
        return None
    if training.backend != "jax" or training.distribution != "data_parallel":
        # Keras 3's fit under TensorFlow's MultiWorkerMirroredStrategy fails upstream (keras issue 20585).
        raise ExpkitError("training across processes (--num-processes, KERAS_DISTRIBUTION_NUM_PROCESSES) is JAX's "
                          f"keras.distribution.initialize, but the config has backend: {training.backend}, distribution: "
                          f"{training.distribution}: set training.backend: jax and training.distribution: data_parallel")
    try:
        count_n, index_n = int(count), int(index if index is not None else -1)
    except ValueError:
        count_n, index_n = 0, -1
    if count_n < 1 or not 0 <= index_n < count_n or not addresses:
        raise ExpkitError(f"training across processes needs a coordinator HOST:PORT, a number of processes N >= 1 and "
                          f"this process's id in 0..N-1; got coordinator {addresses!r}, {count!r} processes, id {index!r}: "
                          "pass --coordinator, --num-processes and --process-id (or set " + ", ".join(CLUSTER_ENV) + ")")
    return {"coordinator": addresses.split(",")[0], "num_processes": count_n, "process_id": index_n}


def initialize_processes(cluster: dict | None, keras) -> None:
    """Join the other processes (JAX's coordinator service and its CPU/GPU collectives) before any JAX
    computation: Keras reads the same variables."""
    if cluster:
        keras.distribution.initialize()


def make_distribution(training, plan: DevicePlan, keras, locate=lambda path: None,
                      cluster: dict | None = None) -> Distribution:
    """The distribution `training.distribution` asks for, over the devices the backend sees."""
    batch = training.batch_size
    if training.distribution == "mirrored":
        import tensorflow as tf
        strategy = tf.distribute.MirroredStrategy(devices=training.devices)
        # '/job:localhost/replica:0/task:0/device:CPU:1' -> 'CPU:1'
        devices = [d.rsplit("device:", 1)[-1] for d in strategy.extended.worker_devices]
        dist = Distribution("mirrored", strategy.num_replicas_in_sync, devices, batch, strategy)
    elif training.distribution == "data_parallel":
        import jax
        devices = jax.devices()
        strategy = keras.distribution.DataParallel(devices=devices)
        dist = Distribution("data_parallel", len(devices), [str(d) for d in devices], batch, strategy,
                            processes=cluster)
    else:
        return Distribution("none", 1, [plan.device], batch, device=plan.device)
    if batch % dist.replicas:
        where = locate(("training", "batch_size"))
        raise ExpkitError(f"{where or 'config'}: training.batch_size {batch} does not split evenly over "
                          f"{dist.replicas} replicas ({', '.join(dist.devices)}): it is the global batch, so "
                          f"use a multiple of {dist.replicas}, e.g. {batch // dist.replicas * dist.replicas or dist.replicas}")
    return dist
