"""One description per run: the frozen dataclasses the results store hashes.

Every kind of stored run has one class here, composed of the :mod:`lth.hparams`
classes; its ``to_dict()`` is the run's config (what :func:`lth.store.config_hash`
hashes, every field with its default) and ``from_dict`` reads it back. Nothing else
builds a config dict: experiments build descriptions and hand them to the job runner
(:mod:`lth.jobs`), which stores each run under ``desc.kind`` and ``desc.to_dict()``.

* :class:`TrainRun` (``train``): a dense network.
* :class:`LotteryRun` (``lottery``): one level and variant of iterative magnitude pruning.
* :class:`SeedRun` (``seed_protocol``): one of the seed paper's four models at one density.
* :class:`SeedControlRun` (``seed_keras_fit``, ``seed_unpruned``): the seed chapter's controls.
* :class:`ScreenRun` (``seed_keras_driver``): the authors' procedure by plain Keras ``fit``
  in a chosen software environment (:mod:`lth.seed.screen`).
* :class:`SupermaskRun` (``supermask``): a dense run's untrained network under one mask criterion
  at several densities, the kept weights as initialised or changed (:mod:`lth.supermasks`).
* :class:`LearnedMaskRun` (``learned_mask``): a mask learned over frozen initial weights
  (:mod:`lth.learned_masks`).
* :class:`StructuredRun` (``structured``): a network built smaller by Li et al.'s filter pruning of a
  dense lottery network, trained as Liu et al.'s ticket, Scratch-E or Scratch-B (:mod:`lth.structured`).

:func:`derive_seed` turns any of their fields into a random seed, stable across machines.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass

from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams

SEED_MODEL = "lenet5"
SEED_ROLES = ("dense", "pruning", "ticket", "random", "random_mask")
SEED_CONTROLS = ("keras_fit", "unpruned")
LOTTERY_VARIANTS = ("ticket", "random_reinit", "oneshot", "random_mask", "oneshot_random_reinit")
SCREEN_ENVIRONMENTS = ("legacy", "main")
SCREEN_ROLES = ("dense", "pruning")
STRUCTURED_METHODS = ("ticket", "scratch_e", "scratch_b")


def derive_seed(*parts) -> int:
    """A seed in [0, 2**31) derived from any JSON-able parts (stable across runs and machines)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return int(digest[:8], 16) % (2**31)


class RunDesc:
    """Shared behaviour: the stored kind, the config dict, and reading one back."""

    kind: typing.ClassVar[str]

    def to_dict(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if hasattr(value, "to_dict") else value
        return out

    @classmethod
    def from_dict(cls, values: dict):
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {unknown}; allowed: {sorted(names)}")
        kwargs = {}
        for name, value in values.items():
            hint = hints[name]
            kwargs[name] = hint.from_dict(value) if isinstance(hint, type) and hasattr(hint, "from_dict") else value
        return cls(**kwargs)


def _check_choice(cls, name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{cls.__name__}.{name} must be one of {list(allowed)}, got {value!r}")


def _check_protocol(cls, protocol):
    """A protocol's name; which names exist is :mod:`lth.seed.protocol`'s to say (a layer above this one)."""
    if not isinstance(protocol, str) or not protocol:
        raise ValueError(f"{cls.__name__}.protocol must be a protocol's name, got {protocol!r}")


def _check_trial(cls, trial):
    if not isinstance(trial, int) or isinstance(trial, bool) or trial < 0:
        raise ValueError(f"{cls.__name__}.trial must be an int >= 0, got {trial!r}")


def _check_density(cls, density, allow_none: bool):
    if density is None and allow_none:
        return
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0 < density < 1:
        raise ValueError(f"{cls.__name__}.density must be in (0, 1), got {density!r}")


@dataclass(frozen=True)
class TrainRun(RunDesc):
    """A dense network of ``model`` trained from ``seed``."""

    kind: typing.ClassVar[str] = "train"
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams
    seed: int


@dataclass(frozen=True)
class LotteryRun(RunDesc):
    """Level ``level`` of a lottery (iterative magnitude pruning with reset), as ``variant``:
    the ticket, its random re-initialisation, one-shot pruning to the same density, or a random
    mask with the ticket's per-layer density on the original initialisation; ``oneshot_random_reinit``:
    the one-shot mask with fresh weights (Liu et al.'s one-shot random re-initialisation)."""

    kind: typing.ClassVar[str] = "lottery"
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams
    pruning: PruningHparams
    seed: int
    level: int
    variant: str

    def __post_init__(self):
        _check_choice(type(self), "variant", self.variant, LOTTERY_VARIANTS)
        if not isinstance(self.level, int) or isinstance(self.level, bool) or self.level < 0:
            raise ValueError(f"level must be an int >= 0, got {self.level!r}")

    def at(self, level: int, variant: str | None = None) -> "LotteryRun":
        """The same lottery at another level (and variant)."""
        return dataclasses.replace(self, level=level, variant=variant or self.variant)


@dataclass(frozen=True)
class _ModelAtDensity(RunDesc):
    """A run of one of the seed paper's models (``role``, one of ``roles``) in trial ``trial``, at
    ``density`` (None for the dense model, which has none)."""

    roles: typing.ClassVar[tuple] = ()
    role: str
    trial: int
    density: typing.Optional[float]

    def __post_init__(self):
        cls = type(self)
        _check_choice(cls, "role", self.role, cls.roles)
        _check_trial(cls, self.trial)
        _check_density(cls, self.density, allow_none=self.role == "dense")
        if self.role == "dense" and self.density is not None:
            raise ValueError(f"the dense model has no density, got {self.density!r}")


@dataclass(frozen=True)
class SeedRun(_ModelAtDensity):
    """One of the seed paper's models (``role``) at one ``density`` (None: the dense model),
    under one ``protocol``; the epochs are ``training.iterations`` / 100 steps."""

    kind: typing.ClassVar[str] = "seed_protocol"
    roles: typing.ClassVar[tuple] = SEED_ROLES
    protocol: str
    dataset: DatasetHparams
    training: TrainingHparams
    model: str = SEED_MODEL

    def __post_init__(self):
        super().__post_init__()
        _check_protocol(type(self), self.protocol)

    @property
    def epochs(self) -> int:
        from lth.seed.schedule import STEPS_PER_EPOCH

        return self.training.iterations // STEPS_PER_EPOCH


@dataclass(frozen=True)
class SeedControlRun(RunDesc):
    """A control of the seed chapter for the pruning network of (``protocol``, ``trial``,
    ``density``): ``keras_fit``, the same network trained by plain Keras ``fit``; ``unpruned``,
    its twin trained the same way but never pruned. Stored as kind ``seed_<control>``."""

    control: str
    protocol: str
    trial: int
    density: float
    dataset: DatasetHparams
    training: TrainingHparams
    model: str = SEED_MODEL

    def __post_init__(self):
        _check_choice(type(self), "control", self.control, SEED_CONTROLS)
        _check_protocol(type(self), self.protocol)
        _check_trial(type(self), self.trial)
        _check_density(type(self), self.density, allow_none=False)

    @property
    def kind(self) -> str:  # one store folder per control, as before the descriptions existed
        return f"seed_{self.control}"

    @property
    def epochs(self) -> int:
        from lth.seed.schedule import STEPS_PER_EPOCH

        return self.training.iterations // STEPS_PER_EPOCH


@dataclass(frozen=True)
class ScreenRun(_ModelAtDensity):
    """The seed authors' procedure by plain Keras ``fit`` (:mod:`lth.seed.authors_driver`) in
    ``environment``: the dense model (authors' early stopping) or the pruning network on the
    ``epochs``-epoch schedule, stopped after ``train_epochs``. ``fit_batch_size`` None passes no
    batch size to ``fit``, as the authors (Keras infers 600). The procedure fixes the data:
    raw MNIST pixels, the test set as validation data."""

    kind: typing.ClassVar[str] = "seed_keras_driver"
    roles: typing.ClassVar[tuple] = SCREEN_ROLES
    environment: str
    epochs: int
    train_epochs: int
    learning_rate: float
    fit_batch_size: typing.Optional[int]
    procedure: str = "authors_keras_fit"
    model: str = SEED_MODEL

    def __post_init__(self):
        super().__post_init__()
        cls = type(self)
        _check_choice(cls, "environment", self.environment, SCREEN_ENVIRONMENTS)
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, float) or self.learning_rate <= 0:
            raise ValueError(f"ScreenRun.learning_rate must be a positive float, got {self.learning_rate!r}")
        if self.fit_batch_size is not None and (not isinstance(self.fit_batch_size, int) or self.fit_batch_size < 1):
            raise ValueError(f"ScreenRun.fit_batch_size must be None (Keras infers it) or a positive int, "
                             f"got {self.fit_batch_size!r}")
        if not isinstance(self.train_epochs, int) or not 1 <= self.train_epochs <= self.epochs:
            raise ValueError(f"ScreenRun.train_epochs must be in 1..{self.epochs}, got {self.train_epochs!r}")

    def to_dict(self) -> dict:
        return super().to_dict() | {"dataset": {"name": "mnist", "scale": "raw", "validation": "test"}}

    @classmethod
    def from_dict(cls, values: dict):
        return super().from_dict({k: v for k, v in values.items() if k != "dataset"})


SUPERMASK_WEIGHTS = ("init", "signed_constant", "reshuffle", "reinit")
LEARNED_MASK_WEIGHTS = ("init", "signed_constant")


@dataclass(frozen=True)
class SupermaskRun(RunDesc):
    """The untrained initial network of the dense run ``dense`` (level 0 of a lottery, which stores its trained
    weights) under ``criterion``'s mask at each of ``densities``, nothing trained; the kept weights as
    initialised, as signed constants, reshuffled within their layer, or re-initialised (``weights``)."""

    kind: typing.ClassVar[str] = "supermask"
    dense: LotteryRun
    criterion: str
    weights: str
    densities: tuple

    def __post_init__(self):
        from lth import pruning

        cls = type(self)
        object.__setattr__(self, "densities", tuple(self.densities))
        _check_choice(cls, "criterion", self.criterion, pruning.CRITERIA)
        _check_choice(cls, "weights", self.weights, SUPERMASK_WEIGHTS)
        if self.dense.level != 0 or self.dense.variant != "ticket":
            raise ValueError(f"SupermaskRun.dense must be a lottery's dense run (level 0, ticket), got level "
                             f"{self.dense.level} {self.dense.variant!r}")
        if not self.densities:
            raise ValueError("SupermaskRun.densities must name at least one density")
        for density in self.densities:
            if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0 < density <= 1:
                raise ValueError(f"SupermaskRun.densities must lie in (0, 1], got {density!r}")


@dataclass(frozen=True)
class LearnedMaskRun(RunDesc):
    """A mask learned for ``model`` as drawn from ``seed`` (the same initial weights as that seed's dense run),
    its weights frozen as initialised or as signed constants (``weights``): scores start at ``score_init``,
    ``training`` sets the optimiser and steps, and the test accuracy is the mean over ``eval_samples`` draws."""

    kind: typing.ClassVar[str] = "learned_mask"
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams
    seed: int
    weights: str = "init"
    score_init: float = 0.0
    eval_samples: int = 10

    def __post_init__(self):
        cls = type(self)
        _check_choice(cls, "weights", self.weights, LEARNED_MASK_WEIGHTS)
        for name, least in (("seed", 0), ("eval_samples", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"LearnedMaskRun.{name} must be an int >= {least}, got {value!r}")


@dataclass(frozen=True)
class StructuredRun(RunDesc):
    """Li et al.'s L1-norm filter pruning of ``parent``'s dense network (a level-0 lottery run): the network
    rebuilt with ``1 - fraction`` of the filters of each removable convolution, those with the largest
    sum of |w| after the parent's training, trained for ``training`` from ``method``'s weights: ``ticket``,
    the parent's initial weights of the kept filters; ``scratch_e`` and ``scratch_b``, fresh weights
    (Liu et al.'s Scratch-E, as many iterations as the parent; Scratch-B, iterations scaled by the
    FLOP reduction, at most 2x). ``training`` is stored whole, so the budget is part of the hash."""

    kind: typing.ClassVar[str] = "structured"
    parent: LotteryRun
    fraction: float
    method: str
    training: TrainingHparams

    def __post_init__(self):
        _check_choice(type(self), "method", self.method, STRUCTURED_METHODS)
        if self.parent.level != 0 or self.parent.variant != "ticket":
            raise ValueError(f"StructuredRun.parent must be a lottery's dense network (level 0, ticket), "
                             f"got level {self.parent.level} {self.parent.variant!r}")
        if isinstance(self.fraction, bool) or not isinstance(self.fraction, float) or not 0 < self.fraction < 1:
            raise ValueError(f"StructuredRun.fraction must be a float in (0, 1), got {self.fraction!r}")


KINDS = {"train": TrainRun, "lottery": LotteryRun, "seed_protocol": SeedRun, "seed_keras_driver": ScreenRun,
         "seed_keras_fit": SeedControlRun, "seed_unpruned": SeedControlRun, "supermask": SupermaskRun,
         "learned_mask": LearnedMaskRun, "structured": StructuredRun}


def from_stored(kind: str, config: dict) -> RunDesc:
    """The description of a stored run (its kind and config)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of run {kind!r}; known: {sorted(KINDS)}")
    desc = KINDS[kind].from_dict(config)
    if desc.kind != kind:
        raise ValueError(f"a {kind!r} run's config describes a {desc.kind!r} run")
    return desc
