"""A small resumable sweep, run as a subprocess by the reliability tests."""
import sys

from lth import experiments
from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams
from lth.store import ResultsStore

DATA = DatasetHparams(subset=1000, n_validation=1000)
TRAIN = TrainingHparams(iterations=200, eval_every=50, batch_size=32)

if __name__ == "__main__":
    store = ResultsStore(sys.argv[1])
    lotteries = [experiments.Lottery(DATA, ModelHparams("lenet300"), TRAIN, PruningHparams(fraction=0.5), seed)
                 for seed in (0, 1)]
    experiments.run_lottery(lotteries, 2, variants=("ticket", "random_reinit"), store=store, group_size=1)
    print("sweep complete", flush=True)
