"""The seed authors' time units and pruning schedule, defined once for the package, plots and chapter.

Their script counts training in "epochs" of ``STEPS_PER_EPOCH`` steps and prunes with
TF-MOT's polynomial decay from ``PRUNING_BEGIN`` to ``PRUNING_END`` of the steps, every
``PRUNING_EVERY`` of them (``lth/seed/authors_driver.py`` repeats these numbers because it
must run without ``lth``; ``tests/test_seed_screen.py`` checks that they agree).
"""
from __future__ import annotations

import numpy as np

from lth import pruning

STEPS_PER_EPOCH = 100
PRUNING_BEGIN, PRUNING_END, PRUNING_EVERY = 0.2, 0.6, 0.02  # fractions of all training steps


def _steps(total_steps: int) -> tuple:
    return (np.floor(PRUNING_BEGIN * total_steps), np.floor(PRUNING_END * total_steps),
            max(1, int(np.floor(PRUNING_EVERY * total_steps))))


def pruning_schedule(final_density: float, total_steps: int, initial_density: float = 1.0):
    """The TF-MOT schedule of the authors' pruning network over ``total_steps`` steps."""
    begin, end, every = _steps(total_steps)
    return pruning.polynomial_decay(final_density, initial_density=initial_density, begin_step=begin,
                                    end_step=end, frequency=every)


def pruning_epochs(epochs: int) -> list:
    """The epochs (fractional where a step falls inside one) at which that schedule prunes."""
    begin, end, every = _steps(epochs * STEPS_PER_EPOCH)
    return [step / STEPS_PER_EPOCH for step in np.arange(begin, end + 1, every)]
