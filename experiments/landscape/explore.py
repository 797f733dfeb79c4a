"""Where does Lion win, and where do its neighbours beat it? (issue 8)

    python experiments/landscape/explore.py TASKS PROGRAMS [--seeds 3] [--json PATH]

Ranks programs on registered tasks and on ad-hoc variants of the wide-student task (``x/...``,
defined below: batch size, label noise, depth, data, steps; ``c/wide*`` and ``e/wide*`` score
``wide/m`` by temperature-calibrated cross-entropy and by error rate; ``x/online*`` see each
example once; ``t/...`` the transformer at larger batches), of the sparse bag-of-words task
(``sp/...``) and a class-imbalance task (``z/...``), with the default suite's stage-m lr policy
(coarse-to-fine, walked past the grid's edge, tuned on 2 separate seeds), paired seeds.
Prints one line per task (loss / AdamW's per program) and writes the full result as JSON.
The search of issue 8 converged to programs that beat Lion on the suite; this is how the
alternatives were compared task by task (results: experiments/landscape/README.md).
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from proxy_tasks.models import cross_entropy, mlp_apply, mlp_init
from proxy_tasks.rank import load_programs, rank
from proxy_tasks.registry import register
from proxy_tasks.suites import suite_spec
from proxy_tasks.task import Budget
from proxy_tasks.tasks.sparse import SparseTask
from proxy_tasks.tasks.teacher import WIDE_SIZES, WIDE_VARIANTS, TeacherTask
from proxy_tasks.tasks.transformer import SIZES as TRANSFORMER_SIZES
from proxy_tasks.tasks.transformer import TransformerTask

M_LR_SCALE = WIDE_SIZES["m"]["lr_scale"]  # AdamW's measured lr scale on wide/m and wide/l
L_LR_SCALE = WIDE_SIZES["l"]["lr_scale"]

VARIANTS = {
    # wide/m is TeacherTask(0.2, (256,), Budget(400, 128), n_train=1024)
    "x/b16": (0.2, (256,), Budget(400, 16), 1024, M_LR_SCALE),
    "x/b32": (0.2, (256,), Budget(400, 32), 1024, M_LR_SCALE),
    "x/b512": (0.2, (256,), Budget(400, 512), 1024, M_LR_SCALE),
    "x/b1024": (0.2, (256,), Budget(400, 1024), 1024, M_LR_SCALE),
    "x/n0": (0.0, (256,), Budget(400, 128), 1024, M_LR_SCALE),
    "x/b32s800": (0.2, (256,), Budget(800, 32), 1024, M_LR_SCALE),
    "x/b32n10": (0.1, (256,), Budget(400, 32), 1024, M_LR_SCALE),
    "x/b32d2k": (0.2, (256,), Budget(400, 32), 2048, M_LR_SCALE),
    "x/b32deep": (0.2, (128, 128), Budget(400, 32), 1024, M_LR_SCALE),
    # l-sized: wide/l is TeacherTask(0.2, (512,), Budget(800, 256), n_train=2048)
    "x/L1": (0.2, (512,), Budget(800, 64), 2048, L_LR_SCALE),
    "x/L1n10": (0.1, (512,), Budget(800, 64), 2048, L_LR_SCALE),
    "x/L2": (0.2, (512,), Budget(1600, 32), 2048, L_LR_SCALE),
    "x/L3": (0.2, (512,), Budget(800, 32), 2048, L_LR_SCALE),
    "x/Lfull": (0.2, (512,), Budget(800, 2048), 2048, L_LR_SCALE),  # full batch
    "x/Lfull10": (0.1, (512,), Budget(800, 2048), 2048, L_LR_SCALE),
    "x/b1024n10": (0.1, (256,), Budget(400, 1024), 1024, M_LR_SCALE),
    # online: every example seen once (400 x 128), so label noise is gradient noise only
    "x/online": (0.2, (256,), Budget(400, 128), 51200, M_LR_SCALE),
    "x/online10": (0.1, (256,), Budget(400, 128), 51200, M_LR_SCALE),
    "x/online40": (0.4, (256,), Budget(400, 128), 51200, M_LR_SCALE),
}
"""Name -> (label noise, hidden widths, budget, training examples, lr scale)."""


class ZeroReadoutTeacher(TeacherTask):
    """The teacher task with its last layer initialized to zero (common in large models): a
    test of optimizers whose step depends on the weights' own magnitude."""

    def init_tensors(self, rng):
        return mlp_init(rng, "", self.widths, last_scale=0.0)


ZERO_READOUT = {"x/zero": 0.2, "x/zero10": 0.1}
"""wide/m and wide10/m with a zero-initialized readout: name -> label noise."""

TEMPERATURES = 2.0 ** np.linspace(-4.0, 4.0, 33)
"""Logit scales tried by the calibrated metric: 1/16 .. 16 in quarter-octave steps."""


class CalibratedTeacher(TeacherTask):
    """The teacher task scored by its clean validation cross-entropy *after the best single
    temperature* (logits times one scalar from :data:`TEMPERATURES`): an optimizer gains
    nothing from only bounding or shrinking the logits, which is how the programs found on the
    default suite beat Lion there (a hard, lr-coupled weight cap)."""

    def val_loss(self, params, data):
        logits = mlp_apply(params, "", len(self.widths) - 1, data["val_x"])
        losses = jnp.stack([cross_entropy(logits * t, data["val_y"]) for t in TEMPERATURES])
        return jnp.min(losses)


class ErrorTeacher(TeacherTask):
    """The teacher task scored by its clean validation error rate (0-1 loss): calibration does
    not count at all, only which class is predicted."""

    def val_loss(self, params, data):
        logits = mlp_apply(params, "", len(self.widths) - 1, data["val_x"])
        return jnp.mean(jnp.argmax(logits, axis=-1) != data["val_y"]).astype(jnp.float32)


SPARSE_VARIANTS = {
    # Zipfian bag-of-words (proxy_tasks/tasks/sparse.py): rare tokens decide many labels
    "sp/rw25": dict(rare_weight=0.25),
    "sp/rw0": dict(rare_weight=0.0),
    "sp/rw50lin": dict(rare_weight=0.5, hidden=()),
    "sp/rw50n20": dict(rare_weight=0.5, noise=0.2),
    "sp/rw0z": dict(rare_weight=0.0, embed_scale=0.01),
    "sp/rw25z": dict(rare_weight=0.25, embed_scale=0.01),  # = sparse/m
}
"""Name -> SparseTask arguments over the base: vocabulary 2,048, embedding 16, hidden 64,
16 tokens, 4,096 documents, 400 steps of 128, embeddings from N(0, 1) unless ``embed_scale``."""
SPARSE_BASE = dict(vocab=2048, embed=16, hidden=(64,), budget=Budget(400, 128), embed_scale=1.0)


class ZipfClassTask(TeacherTask):
    """Heavy-tailed class imbalance: 256 classes with Zipf(1) priors, Gaussian clusters around
    random means in 32 dimensions; a rare class's output row sees a positive gradient a few
    times per epoch (sign and Adam fix gradient descent's slowness there; which fixes it
    best?)."""

    def __init__(self, hidden, budget, spread=1.0, n_train=4096, n_val=2048, n_classes=256):
        super().__init__(0.0, hidden, budget, n_train=n_train, n_val=n_val)
        self.widths = (32, *hidden, n_classes)
        self.spread, self.n_classes = spread, n_classes
        self.worst_loss = 2.0 * np.log(n_classes)
        self.description = (f"{n_classes} Zipf(1)-imbalanced Gaussian classes (spread {spread}), "
                            f"MLP {'-'.join(map(str, self.widths))}, {n_train} train")

    def make_data(self):
        rng = np.random.default_rng([2023, self.n_classes, self._n_train])
        p = 1.0 / np.arange(1, self.n_classes + 1)
        p /= p.sum()
        means = rng.normal(size=(self.n_classes, 32))
        out = {}
        for split, n in (("train", self._n_train), ("val", self.n_val)):
            y = rng.choice(self.n_classes, size=n, p=p).astype(np.int32)
            x = (means[y] + self.spread * rng.normal(size=(n, 32))).astype(np.float32)
            out[f"{split}_x"], out[f"{split}_y"] = x, y
        return out


ZIPF_CLASS_VARIANTS = {
    "z/s10": dict(hidden=(128,), budget=Budget(400, 128), spread=1.0),
    "z/s15": dict(hidden=(128,), budget=Budget(400, 128), spread=1.5),
}

TRANSFORMER_BATCH_VARIANTS = {
    # transformer/s and /m at larger batches: the Lion paper's gains grow with the batch, and
    # sign descent closes Adam's gap on transformers as the batch grows (Kunstner et al. 2023)
    "t/s64": dict(width=16, layers=1, heads=2, budget=Budget(200, 64)),
    "t/s256": dict(width=16, layers=1, heads=2, budget=Budget(200, 256)),
    "t/m128": dict(width=32, layers=1, heads=2, budget=Budget(400, 128)),
}
"""Name -> TransformerTask arguments (transformer/s is batch 16, transformer/m batch 32)."""

METRIC_VARIANTS = {"c/": CalibratedTeacher, "e/": ErrorTeacher}
"""Prefix -> the wide/m-shaped task class with another validation metric (c/wide, e/wide10)."""


def register_variants() -> None:
    for name, (noise, hidden, budget, n_train, lr_scale) in VARIANTS.items():
        register(name, partial(TeacherTask, noise, hidden, budget, n_train=n_train),
                 lr_scale=lr_scale)
    for prefix, cls in METRIC_VARIANTS.items():
        for family, noise in WIDE_VARIANTS.items():
            register(prefix + family, partial(cls, noise, (256,), Budget(400, 128),
                                              n_train=1024), lr_scale=M_LR_SCALE)
    for name, kwargs in SPARSE_VARIANTS.items():
        register(name, partial(SparseTask, **{**SPARSE_BASE, **kwargs}), lr_scale=1.0)
    for name, kwargs in ZIPF_CLASS_VARIANTS.items():
        register(name, partial(ZipfClassTask, **kwargs), lr_scale=M_LR_SCALE)
    for name, kwargs in TRANSFORMER_BATCH_VARIANTS.items():
        register(name, partial(TransformerTask, **kwargs),
                 lr_scale=TRANSFORMER_SIZES[name[2]]["lr_scale"])
    for name, noise in ZERO_READOUT.items():
        register(name, partial(ZeroReadoutTeacher, noise, (256,), Budget(400, 128),
                               n_train=1024), lr_scale=M_LR_SCALE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", help="comma-separated task names (registered or x/...)")
    parser.add_argument("programs", help="comma-separated library names or .prog files")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    register_variants()
    stage = suite_spec("default").stage("m")
    result = rank(load_programs(args.programs.split(",")), args.tasks.split(","),
                  seeds=args.seeds, tune_seeds=2, lrs=stage.lrs)
    data = result.to_json()
    for task, row in data["per_task"].items():
        print(f"{task:12s}", "  ".join(f"{p}={x['mean']:.4f}" for p, x in row.items()))
    print("overall     ", "  ".join(f"{p}={x['mean']:.4f}" for p, x in data["overall"].items()))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
