"""Experiments: dense training and lottery tickets, as jobs for :mod:`lth.jobs`.

* :func:`train_job`: a dense network (:class:`lth.runs.TrainRun`).
* :class:`Lottery` / :func:`run_lottery`: iterative magnitude pruning with reset to the
  original initialisation (Frankle & Carbin), its random re-initialisation control, and
  one-shot pruning; one run per level (:class:`lth.runs.LotteryRun`).
* :mod:`lth.seed`: the seed paper's own experiment.
"""
from __future__ import annotations

import numpy as np

from lth import models, pruning, training
from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams
from lth.jobs import Job, load_data, plain_result, run_jobs
from lth.runs import LotteryRun, TrainRun, derive_seed
from lth.store import ResultsStore


# ------------------------------------------------------------------ dense training


def train_job(data: DatasetHparams, model: ModelHparams, train: TrainingHparams, seed: int) -> Job:
    """A dense network of ``model`` trained from ``seed``."""
    desc = TrainRun(data, model, train, seed)

    def build():
        net = models.build(model.name, seed=seed, input_shape=load_data(data).input_shape, width=model.width)
        return training.Trainee(net, seed=derive_seed("data-order", seed), name="dense")

    return Job(desc, data, train, build, plain_result, seed)


# ------------------------------------------------------------------ lottery tickets


def _initial_network(model: ModelHparams, data: DatasetHparams, seed: int):
    net = models.build(model.name, seed=seed, input_shape=load_data(data).input_shape, width=model.width)
    return pruning.wrap(net, models.prunable_layers(model.name, net))


class Lottery:
    """Iterative magnitude pruning with reset (F&C), its controls, one run per level.

    Level 0 is the dense network; level L's ticket has the mask obtained by
    pruning ``prune.fraction`` of the weights left after level L-1's training,
    and the original initial weights. ``random_reinit`` keeps the level's mask
    with fresh weights; ``oneshot`` prunes level 0's trained weights straight
    to as many weights per layer as level L's ticket keeps; ``random_mask``
    keeps as many weights of each layer as the ticket, chosen at random, with
    the original initial weights;
    ``oneshot_random_reinit`` keeps the one-shot mask with fresh weights.
    """

    def __init__(self, data: DatasetHparams, model: ModelHparams, train: TrainingHparams,
                 prune: PruningHparams, seed: int, store: ResultsStore | None = None):
        self.data, self.model, self.train, self.prune, self.seed = data, model, train, prune, seed
        self.store = store or ResultsStore()

    def desc(self, level: int, variant: str) -> LotteryRun:
        return LotteryRun(self.data, self.model, self.train, self.prune, self.seed, level, variant)

    def stored(self, level: int, variant: str):
        """The stored run of ``level`` and ``variant``, or None."""
        desc = self.desc(level, variant)
        return self.store.load(desc.kind, desc.to_dict())

    def _factors(self):
        return models.spec(self.model.name).rate_factors if self.prune.rate_factors == "model" else {}

    def network(self, seed: int | None = None):
        """A fresh wrapped network drawn from this lottery's seed (or ``seed``)."""
        return _initial_network(self.model, self.data, self.seed if seed is None else seed)

    def dense_weights(self) -> tuple[dict, dict]:
        """(initial, trained) prunable kernels of the stored level-0 run."""
        run = self.stored(0, "ticket")
        if run is None:
            raise RuntimeError(f"level 0 of lottery seed {self.seed} is not stored yet; run it first")
        final = {k[len("final/"):]: v for k, v in run.arrays().items() if k.startswith("final/")}
        return pruning.kernels(self.network()), final

    def next_mask(self, final: dict, mask: dict, fraction: float, init_seed: int | None = None,
                  rounds: int = 1) -> dict:
        """Prune ``fraction`` of what ``mask`` keeps, ``rounds`` times over, by this lottery's criterion on the
        trained weights ``final``.

        Several rounds on the same scores keep the best-scored weights, as one cut would, but at the counts
        the iterative schedule reaches: each round rounds its own count and applies each layer's rate
        factor, so the factors compound. One cut to ``1 - (1 - fraction) ** rounds`` would not: F&C's
        output layer, pruned at half rate, keeps 0.9^18 = 15 % after 18 iterative rounds but
        1 - (1 - 0.8^18) / 2 = 51 % after one such cut.
        """
        if self.prune.criterion in pruning.STRUCTURED:
            for _ in range(rounds):
                hidden = {n: w * mask[n] for n, w in final.items() if n != "output"}
                mask = pruning.filter_masks(hidden, fraction, mask) | {n: mask[n] for n in final if n == "output"}
            return mask
        init = pruning.kernels(self.network(init_seed))
        scores = {n: pruning.score(self.prune.criterion, init[n], final[n], np.random.default_rng(self.seed))
                  for n in final}
        for _ in range(rounds):
            mask = pruning.prune_masks(scores, mask, fraction, rate_factors=self._factors(), scope=self.prune.scope)
        return mask

    def mask(self, level: int, variant: str) -> dict | None:
        """The mask of ``level`` for ``variant``; None if a run it depends on is not stored yet."""
        if level == 0:
            net = _initial_network(self.model, self.data, self.seed)
            return {n: np.ones(k.shape, dtype=bool) for n, k in pruning.kernels(net).items()}
        if variant in ("oneshot", "oneshot_random_reinit"):
            dense = self.stored(0, "ticket")
            if dense is None:
                return None
            arrays = dense.arrays()
            final = {k[len("final/"):]: v for k, v in arrays.items() if k.startswith("final/")}
            full = {n: np.ones(w.shape, dtype=bool) for n, w in final.items()}
            return self.next_mask(final, full, self.prune.fraction, rounds=level)  # the ticket's per-layer counts
        if variant == "random_mask":
            ticket = self.mask(level, "ticket")
            rng = np.random.default_rng(derive_seed("random-mask", self.seed, level))
            return None if ticket is None else pruning.random_masks_like(ticket, rng)
        previous = self.stored(level - 1, "ticket")
        if previous is None:
            return None
        return pruning.unpack_masks({k[len("next/"):]: v for k, v in previous.arrays().items()
                                     if k.startswith("next/")})

    def job(self, level: int, variant: str = "ticket") -> Job | None:
        """The job for one level and variant, or None while the runs it needs are missing."""
        desc = self.desc(level, variant)
        mask = self.mask(level, variant)
        if mask is None:
            return None
        reinit = variant in ("random_reinit", "oneshot_random_reinit")
        init_seed = derive_seed("reinit", self.seed, level) if reinit else self.seed

        def build():
            net = _initial_network(self.model, self.data, init_seed)
            pruning.set_masks(net, mask)
            return training.Trainee(net, seed=derive_seed("data-order", self.seed, level, variant),
                                    hold_masks=True, name=f"{variant}-L{level}")

        def finish(trainee, train_result):
            final = pruning.kernels(trainee.model)
            next_mask = self.next_mask(final, mask, self.prune.fraction, init_seed)
            arrays = {f"next/{k}": v for k, v in pruning.pack_masks(next_mask).items()}
            arrays |= {f"mask/{k}": v for k, v in pruning.pack_masks(mask).items()}
            if level == 0:
                arrays |= {f"final/{n}": w for n, w in final.items()}
            result = train_result | {"density": pruning.density(mask),
                                     "layer_density": {n: float(m.mean()) for n, m in mask.items()}}
            return result, arrays

        return Job(desc, self.data, self.train, build, finish, self.seed)


def run_lottery(lotteries: list[Lottery], levels: int, variants=("ticket",), store=None, group_size=4,
                progress=None, client=None) -> list:
    """Run levels 0..``levels`` of several lotteries (e.g. trials), level by level, grouped.

    ``variants``: the variants every lottery runs at levels 1.. (level 0 is the dense ticket), or a
    mapping ``{variant: n}`` under which only the first ``n`` lotteries run that variant (fewer
    trials of a costly control). Stored runs are never retrained, so running again resumes.
    """
    store = store or ResultsStore()
    for lottery in lotteries:
        lottery.store = store
    planned = _planned_variants(lotteries, variants)
    for level in range(levels + 1):
        jobs = []
        for lottery in lotteries:
            for variant in (("ticket",) if level == 0 else planned[id(lottery)]):
                job = lottery.job(level, variant)
                if job is None:
                    raise RuntimeError(f"level {level} {variant} cannot start: level {level - 1} is not stored")
                jobs.append(job)
        run_jobs(jobs, store, group_size=group_size, progress=progress, client=client)
    return [lot.stored(level, variant) for lot in lotteries
            for level in range(levels + 1) for variant in (("ticket",) if level == 0 else planned[id(lot)])]


def _planned_variants(lotteries: list[Lottery], variants) -> dict:
    """Each lottery's variants (by ``id``) from :func:`run_lottery`'s ``variants``."""
    if not isinstance(variants, dict):
        return {id(lot): tuple(variants) for lot in lotteries}
    for variant, n in variants.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"the number of lotteries running {variant!r} must be an int >= 0, got {n!r}")
    return {id(lot): tuple(v for v, n in variants.items() if i < n) for i, lot in enumerate(lotteries)}


def job(desc: TrainRun | LotteryRun, store: ResultsStore | None = None) -> Job | None:
    """The job of a dense or lottery run; None while a run it depends on is not stored in ``store``."""
    if isinstance(desc, TrainRun):
        return train_job(desc.dataset, desc.model, desc.training, desc.seed)
    lottery = Lottery(desc.dataset, desc.model, desc.training, desc.pruning, desc.seed, store)
    return lottery.job(desc.level, desc.variant)
