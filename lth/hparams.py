"""Frozen hyperparameter dataclasses: every experiment is described by these.

Each field carries its help text. ``to_dict`` gives every field, defaults
included, so that the results store's hash changes whenever any value does.
``from_dict`` refuses unknown keys and wrong types with a message naming them.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field


def _help(text, default=dataclasses.MISSING, **kwargs):
    return field(default=default, metadata={"help": text}, **kwargs)


class Hparams:
    """Shared behaviour: validation on construction, dict round-trip."""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            expected = hints[f.name]
            if not _matches(value, expected):
                raise TypeError(f"{type(self).__name__}.{f.name} must be {_type_name(expected)}, got {value!r}")
            if isinstance(value, list):  # keep frozen instances hashable
                object.__setattr__(self, f.name, tuple(value))
        self.validate()

    def validate(self):
        pass

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: dict):
        if not isinstance(values, dict):
            raise TypeError(f"{cls.__name__} needs a mapping of field values, got {values!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {unknown}; allowed: {sorted(names)}")
        return cls(**values)

    @classmethod
    def help(cls) -> dict:
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def _type_name(expected) -> str:
    return getattr(expected, "__name__", str(expected))


def _matches(value, expected) -> bool:
    origin = typing.get_origin(expected)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return any(_matches(value, arg) for arg in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if origin in (tuple, list):
        (item,) = typing.get_args(expected)[:1]
        return isinstance(value, (tuple, list)) and all(_matches(v, item) for v in value)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _choice(obj, name, allowed):
    value = getattr(obj, name)
    if value not in allowed:
        raise ValueError(f"{type(obj).__name__}.{name} must be one of {list(allowed)}, got {value!r}")


def _positive(obj, *names, allow_zero=False):
    for name in names:
        value = getattr(obj, name)
        if value < 0 or (value == 0 and not allow_zero):
            raise ValueError(f"{type(obj).__name__}.{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


@dataclass(frozen=True)
class DatasetHparams(Hparams):
    name: str = _help("Data set: mnist, fashion_mnist or cifar10.", "mnist")
    scale: str = _help("Pixels as 'unit' ([0, 1]) or 'raw' (0..255, as the seed's authors).", "unit")
    validation: str = _help("'holdout': validation images held out of training; "
                            "'test': the test set doubles as validation (the seed's flaw).", "holdout")
    n_validation: int = _help("Training images held out for validation when validation='holdout'.", 5000)
    split_seed: int = _help("Seed choosing the held-out images.", 0)
    subset: typing.Optional[int] = _help("Keep only the first N images of each split (quick tests).", None)

    def validate(self):
        from lth import data

        _choice(self, "name", data.DATASETS)
        _choice(self, "scale", data.SCALES)
        _choice(self, "validation", data.VALIDATIONS)
        _positive(self, "n_validation")
        if self.subset is not None:
            _positive(self, "subset")


@dataclass(frozen=True)
class ModelHparams(Hparams):
    name: str = _help("Registered model name (python -m lth models lists them).", "lenet300")
    width: typing.Optional[int] = _help("Hidden units of 'mlp'; the first convolution's filters of conv2/4/6 and "
                                        "vgg16/19 (published 64; the other layers in proportion); the first "
                                        "stage's filters of resnet20 (published 16). None: published.",
                                        None)

    def validate(self):
        from lth import models

        models.spec(self.name)
        if self.width is not None and (self.name not in models.WIDTH_SCALED or self.width < 1):
            raise ValueError(f"ModelHparams.width must be a positive int for models {sorted(models.WIDTH_SCALED)} "
                             f"only, got width={self.width} for {self.name!r}")


OPTIMIZERS = ("adam", "sgd")
MONITORS = ("none", "train_accuracy", "val_accuracy", "val_loss")


@dataclass(frozen=True)
class TrainingHparams(Hparams):
    optimizer: str = _help("adam or sgd (with momentum).", "adam")
    learning_rate: float = _help("Peak learning rate.", 1.2e-3)
    momentum: float = _help("SGD momentum (ignored by Adam).", 0.9)
    batch_size: int = _help("Images per step.", 60)
    iterations: int = _help("Training steps in all (an upper bound when early stopping).", 50_000)
    eval_every: int = _help("Steps between evaluations (the seed's 'epoch' is 100 steps).", 100)
    warmup_iterations: int = _help("Steps of linear learning-rate warm-up from 0.", 0)
    lr_milestones: tuple[int, ...] = _help("Steps at which the learning rate is multiplied by lr_gamma.", ())
    lr_gamma: float = _help("Learning-rate decay factor at each milestone.", 0.1)
    stop_monitor: str = _help("Metric whose stagnation for `patience` evaluations stops training: "
                              "none, train_accuracy, val_accuracy or val_loss.", "none")
    patience: int = _help("Evaluations without improvement before stopping.", 20)
    best_monitor: str = _help("Report the test metrics of the weights at the best value of this metric "
                              "(F&C: val_loss, the 'early-stop iteration'); none: the final weights.", "val_loss")
    eval_test_each: bool = _help("Record test metrics at every evaluation (curves); "
                                 "otherwise the test set is touched once, at the end.", False)

    def validate(self):
        _choice(self, "optimizer", OPTIMIZERS)
        _choice(self, "stop_monitor", MONITORS)
        _choice(self, "best_monitor", MONITORS)
        _positive(self, "learning_rate", "batch_size", "iterations", "eval_every", "patience")
        _positive(self, "warmup_iterations", "momentum", allow_zero=True)


@dataclass(frozen=True)
class PruningHparams(Hparams):
    criterion: str = _help("Mask criterion: large_final is magnitude pruning; Zhou et al.'s criteria; "
                           "l1_filter is Li et al.'s structured pruning of whole filters / hidden units "
                           "(the output layer is never pruned structurally).", "large_final")
    fraction: float = _help("Fraction of the remaining weights pruned per round (hidden layers).", 0.2)
    scope: str = _help("layerwise (per-layer rates, F&C) or global (one ranking, VGG-19).", "layerwise")
    rate_factors: str = _help("'model': the model's own per-layer factors (F&C: output at half rate); "
                              "'none': the same rate everywhere.", "model")

    def validate(self):
        from lth import pruning

        _choice(self, "criterion", pruning.CRITERIA + pruning.STRUCTURED)
        _choice(self, "scope", pruning.SCOPES)
        _choice(self, "rate_factors", ("model", "none"))
        if not 0 < self.fraction < 1:
            raise ValueError(f"PruningHparams.fraction must be in (0, 1), got {self.fraction}")
