"""Walkthrough project for hydra_flyte: a small, real training pipeline.

The tasks mirror the shape used throughout the hydra_flyte guide
(preprocess -> train_model -> validation loss), but do cheap work so every
run finishes in a couple of seconds on a laptop:

* ``preprocess`` loads scikit-learn's bundled 8x8 digits images (no download),
  splits them into train/validation with the configured seed and writes the
  arrays to a directory.
* ``train_model`` fits a scikit-learn ``MLPClassifier``. The ``model`` config
  group picks the network shape, the ``optimizer`` group picks the solver
  (adam or sgd) and its settings, ``training.epochs`` is the number of solver
  passes over the data. It returns the fitted model and the validation
  log-loss, which is the objective a sweep minimises.

This module is import-safe: importing it only defines tasks and registers the
``structured_training`` config. scikit-learn and numpy are imported inside the
task bodies so that ``flyte hydra run`` and shell completion stay fast.
"""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import flyte
import flyte.io
import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from hydra_flyte import apply_task_env

logger = logging.getLogger(__name__)

env = flyte.TaskEnvironment(
    name="training",
    image="ghcr.io/example/hydra-flyte-example:latest",
)

SUPPORTED_DATASET = "digits"


# --------------------------------------------------------------------------------------
# Structured config: the same tree as conf/training.yaml with its default groups
# (optimizer=adam, model=resnet), so every task below also works without YAML:
#   flyte hydra run --local --config-name structured_training train.py pipeline --dataset digits
# Registered at import time on purpose: `flyte hydra run` imports this file before composing.
# --------------------------------------------------------------------------------------
@dataclass
class DataConf:
    path: str = "sklearn://datasets/load_digits"
    dataset: str = SUPPORTED_DATASET
    val_fraction: float = 0.2


@dataclass
class TrainingConf:
    epochs: int = 30
    batch_size: int = 64
    seed: int = 0


@dataclass
class ModelConf:
    name: str = "resnet"
    hidden_layers: list[int] = field(default_factory=lambda: [64, 32])
    activation: str = "relu"


@dataclass
class OptimizerConf:
    # Holds the settings of both solvers; the ones the chosen solver ignores are harmless.
    name: str = "adam"
    lr: float = 0.001
    weight_decay: float = 0.0001
    beta1: float = 0.9
    beta2: float = 0.999
    momentum: float = 0.9
    nesterov: bool = True


@dataclass
class RootConf:
    data: DataConf = field(default_factory=DataConf)
    training: TrainingConf = field(default_factory=TrainingConf)
    model: ModelConf = field(default_factory=ModelConf)
    optimizer: OptimizerConf = field(default_factory=OptimizerConf)


ConfigStore.instance().store(name="structured_training", node=RootConf)


# --------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------
@env.task
async def preprocess(cfg: DictConfig) -> flyte.io.Dir:
    """Split the digits dataset into train/validation arrays and write them to a directory."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    features = (digits.data / 16.0).astype(np.float32)  # pixel values are 0..16
    x_train, x_val, y_train, y_val = train_test_split(
        features,
        digits.target,
        test_size=float(cfg.data.get("val_fraction", 0.2)),
        random_state=int(cfg.training.get("seed", 0)),
        stratify=digits.target,
    )

    out = Path(tempfile.mkdtemp(prefix="digits-"))
    np.savez(out / "train.npz", x=x_train, y=y_train)
    np.savez(out / "val.npz", x=x_val, y=y_val)
    return await flyte.io.Dir.from_local(out)


def _build_classifier(cfg: DictConfig):
    from sklearn.neural_network import MLPClassifier

    opt = cfg.optimizer
    solver = str(opt.get("name", "adam"))
    if solver not in ("adam", "sgd"):
        raise ValueError(f"optimizer.name must be 'adam' or 'sgd', got {solver!r}")
    return MLPClassifier(
        hidden_layer_sizes=tuple(int(n) for n in cfg.model.hidden_layers),
        activation=str(cfg.model.get("activation", "relu")),
        solver=solver,
        learning_rate_init=float(opt.lr),
        alpha=float(opt.weight_decay),
        beta_1=float(opt.get("beta1", 0.9)),
        beta_2=float(opt.get("beta2", 0.999)),
        momentum=float(opt.get("momentum", 0.9)),
        nesterovs_momentum=bool(opt.get("nesterov", True)),
        batch_size=int(cfg.training.batch_size),
        max_iter=int(cfg.training.epochs),
        random_state=int(cfg.training.get("seed", 0)),
    )


@env.task
async def train_model(cfg: DictConfig, data: flyte.io.Dir) -> tuple[flyte.io.Dir, float]:
    """Fit the configured network and return (model directory, validation log-loss)."""
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, log_loss

    local = Path(await data.download())
    train = np.load(local / "train.npz")
    val = np.load(local / "val.npz")

    clf = _build_classifier(cfg)
    with warnings.catch_warnings():
        # A short epoch budget is the point of the example, not a problem.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(train["x"], train["y"])

    proba = clf.predict_proba(val["x"])
    val_loss = float(log_loss(val["y"], proba, labels=clf.classes_))
    metrics = {
        "val_loss": val_loss,
        "val_accuracy": float(accuracy_score(val["y"], clf.classes_[proba.argmax(axis=1)])),
        "epochs_run": int(clf.n_iter_),
        "model": str(cfg.model.name),
        "optimizer": str(cfg.optimizer.get("name", "adam")),
        "lr": float(cfg.optimizer.lr),
    }
    logger.info("train_model: %s", metrics)

    out = Path(tempfile.mkdtemp(prefix="model-"))
    with open(out / "model.pkl", "wb") as fh:
        pickle.dump(clf, fh)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return await flyte.io.Dir.from_local(out), val_loss


def _check_dataset(dataset: str) -> None:
    if dataset != SUPPORTED_DATASET:
        # The guide passes paths such as s3://my-bucket/imagenet; this small example
        # always trains on the bundled digits data, so say so instead of failing.
        logger.warning("dataset %r is not available here; training on %r instead", dataset, SUPPORTED_DATASET)


@env.task
async def pipeline(cfg: DictConfig, dataset: str) -> float:
    """Entry task: preprocess, then train (with any task_env override for train_model)."""
    _check_dataset(dataset)
    data = await preprocess(cfg)
    train_task = apply_task_env(train_model, cfg)
    _, val_loss = await train_task(cfg, data)
    return val_loss


@env.task
async def pipeline_with_config(config: DictConfig, dataset: str) -> float:
    """Same work as `pipeline`; its DictConfig parameter is named `config` (so the CLI flag is --config)."""
    _check_dataset(dataset)
    data = await preprocess(config)
    train_task = apply_task_env(train_model, config)
    _, val_loss = await train_task(config, data)
    return val_loss


# --------------------------------------------------------------------------------------
# @hydra.main entry point
#   python train.py hydra/launcher=flyte hydra.launcher.mode=local
# --------------------------------------------------------------------------------------
@hydra.main(version_base=None, config_path="conf", config_name="training")
def main(cfg: DictConfig):
    flyte.init_from_config()
    entry_task = apply_task_env(pipeline, cfg)
    return flyte.run(entry_task, cfg=cfg, dataset=cfg.data.dataset)


if __name__ == "__main__":
    main()
