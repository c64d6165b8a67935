"""GAN Compression's once-for-all claims: search vs uniform shrinking, sampling, fine-tuning, cost.

Two recorded experiments on ``edges2shapes`` with the ``ci`` teacher (ResNet
ngf 16) and GAN Compression's pix2pix search space scaled to it
(``channels-48-ci``: a supernet of width 12, 5184 subnets):

* ``supernets``: per seed, a supernet trained with uniform sampling (GAN
  Compression) and one with the sandwich rule, by the distiller, for the
  same steps.  Each is shipped (``data/supernets/``) and evaluated through
  its shipped weights: its largest and smallest subnet on the test split;
  for the uniform ones, the best subnet under every budget found by the
  evolutionary search on a held-out slice of the training data, evaluated
  on the test split as it is and after fine-tuning; for one seed also the
  exhaustive search over the whole space (its score table is shipped beside
  the supernet, so the chapter searches it in seconds).  The wall seconds
  of training and of each search are recorded.
* ``baselines``: the uniformly shrunk Mobile ResNets whose MACs are the
  budgets (every layer at width ngf k), trained by the same distiller for
  the same steps, and CAT's one-step pruning of the inception teacher to
  one of those budgets (pruning timed, the pruned student trained with KA
  for the same steps).

The budgets are the MACs of the uniform networks at 256x256 in GAN
Compression's README convention (``in-counted``).  Claims are registered in
both files before their runs; the verdicts read both (:func:`verdicts`).
Explained in chapter ``nb/09_ofa``.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from ..progress import tqdm

from ..compression.ofa import (evolution_search, exhaustive_search, export_subnet, held_out_split,
                               score_cache, search_space, subnet_macs, subnet_scorer)
from ..metrics.cost import count_params
from ..metrics.quality import HIGHER_IS_BETTER, evaluate, test_set
from ..models.dynamic import SubnetView, format_config
from ..training.supernet import score_table_of, supernet_name, supernet_recipe
from . import results

CONVENTION = "in-counted"   # GAN Compression's README convention
SPACE = "channels-48-ci"
#: the uniform widths whose MACs are the budgets (the smallest subnet of the space costs
#: 0.313G, between ngf 6 and 7)
BUDGET_NGFS = (7, 8, 9, 10)
#: the budget at which CAT's one-step pruning is compared
CAT_NGF = 8
#: the evolutionary search's mutation probability: Fast GAN Compression's pix2pix setting
#: (its script's default is 0.2)
MUTATE_PROB = 0.3


def budget_of(ngf: int, size: int = 256) -> int:
    """The MACs of the uniform Mobile ResNet of width ``ngf`` (every entry ``ngf``)."""
    return subnet_macs([ngf] * 8, size, CONVENTION)


def _claims() -> dict[str, str]:
    c = {}
    for k in BUDGET_NGFS:
        c[f"search_beats_uniform@ngf{k}"] = (
            f"GAN Compression Fig. 6: under the MACs of the uniform ngf-{k} Mobile ResNet "
            f"({budget_of(k) / 1e9:.3f}G, {CONVENTION}), the subnet found by search (supernet "
            f"weights, fine-tuned) is clearly better than the uniform network trained by the "
            f"same distiller for the same steps.")
        c[f"finetune_helps@ngf{k}"] = (
            f"Fine-tuning the searched subnet under the ngf-{k} budget makes it clearly better "
            f"than the supernet's weights as they are (GAN Compression's tutorial: it did not "
            f"help on horse2zebra, cityscapes or MUNIT).")
    c["sandwich_helps_smallest"] = ("Training the supernet with the sandwich rule (largest, "
                                    "smallest and a random subnet per step) gives a clearly better "
                                    "smallest subnet than GAN Compression's uniform sampling (GAN "
                                    "Compression issue #15: small subnets suffer under weight "
                                    "sharing).")
    c["sandwich_helps_largest"] = ("The sandwich rule also gives a clearly better largest subnet "
                                   "than uniform sampling (it trains the largest every step).")
    c["cat_search_cheaper"] = (f"CAT's one-step pruning to the ngf-{CAT_NGF} budget takes clearly "
                               f"less wall time than once-for-all's supernet training plus "
                               f"evolutionary search to the same budget (CAT: its search is far "
                               f"cheaper).")
    return c


CLAIMS = _claims()


def _quality(G, task, data) -> dict:
    with torch.no_grad():
        q = evaluate(G, task, data=data, features="synthetic", baselines=False)
    return {k: v for k, v in q.items() if k != "n"}


def run_supernets(task: str = "edges2shapes", seeds=(0,), steps: int = 1200, size: int = 64,
                  batch_size: int = 4, n_train: int = 1000, n_val: int = 32, n_eval: int = 512,
                  finetune_steps: int = 300, population: int = 32, generations: int = 10,
                  mutate_prob: float = MUTATE_PROB, exhaustive_seed: int | None = 0,
                  budget_ngfs=BUDGET_NGFS, space: str = SPACE,
                  curve_points: int = 0, ship_dir=None, teacher=None, teacher_D=None,
                  progress: bool = True, device="cpu", record=None, command: str = "",
                  force: bool = False, resume: bool = False) -> list[dict]:
    """The ``supernets`` experiment (see the module docstring).  ``ship_dir``:
    where the supernets (and the exhaustive score table) are written (default:
    a temporary folder, deleted afterwards).  ``resume`` (with the ``record``
    of a resumed sweep): a supernet shipped by this ``command`` whose rows are
    stored is kept, not re-trained, and only its missing searches and
    fine-tunes run; a job cut short before its supernet's rows were stored is
    trained again, replacing its own files.  Returns the rows."""
    from ..data import open_dataset
    from ..training.checkpoint import load_supernet, save_subnet, save_supernet
    from ..training.distill import StudentRecipe, student_trainer
    from ..training.supernet import supernet_trainer
    from ..training.teachers import load_teacher

    if teacher is None:
        teacher, teacher_D = load_teacher(task, "ci", discriminator=True)
    sp = search_space(space)
    train = open_dataset(task, phase="train", n=n_train, size=size, seed=0)
    held = held_out_split(task, n_train, n_val, size)
    data = test_set(task, n_eval, size, seed=0)
    probe = {k: v[:64] for k, v in data.items()}
    budgets = {k: budget_of(k) for k in budget_ngfs}

    def cost(c):
        return subnet_macs(c, 256, CONVENTION)

    rows: list[dict] = []
    tmp = tempfile.TemporaryDirectory()
    ship = Path(ship_dir) if ship_dir is not None else Path(tmp.name)
    jobs = [(s, seed) for seed in seeds for s in ("uniform", "sandwich")]

    def stored(**match):
        """The row an earlier session of a resumed sweep finished, if any."""
        return next(iter(results.finished_rows(record, **match)), None)

    try:
        for sampling, seed in tqdm(jobs, desc="supernets", disable=not progress):
            name = supernet_name(task, space, sampling, seed)
            path = ship / f"{name}.pt"
            kept = [stored(supernet=path.name, arm=f"{sampling}: {w}") for w in ("largest", "smallest")]
            if resume and all(kept) and _made_by(path, command):
                # trained and shipped in an earlier session: its weights and rows stand
                shipped, manifest = load_supernet(path)
                train_seconds = manifest["train_seconds"]
                rows.extend(kept)
            else:
                if record is not None:   # a job cut short: drop its rows, train it again
                    record.data["rows"] = [r for r in record.data["rows"]
                                           if r.get("supernet") != path.name]
                trainer = supernet_trainer(sp, teacher, teacher_D, train, steps, batch_size, seed,
                                           sampling, image_size=size, device=device, progress=False)
                net = trainer.objective.netG
                views = {"largest": lambda: SubnetView(net, sp.largest()),
                         "smallest": lambda: SubnetView(net, sp.smallest())}
                t0 = time.perf_counter()
                curves = (results.fit_with_curves(trainer, views, probe, task, curve_points,
                                                  loss_keys={v: "G/total" for v in views})
                          if curve_points else (trainer.fit(), {})[1])
                train_seconds = time.perf_counter() - t0
                save_supernet(net.cpu().eval(), path, {
                    "recipe": supernet_recipe(task, sp, sampling, steps, batch_size, seed, n_train,
                                              n_val, size, preset="pix2pix"),
                    "commands": [command],
                    "code_version": record.data["code_version"] if record else None,
                    "train_seconds": train_seconds}, force=force or resume)
                shipped, _ = load_supernet(path)   # every number below is of the shipped weights
                for which, config in (("largest", sp.largest()), ("smallest", sp.smallest())):
                    results.keep_row(rows, {
                        "kind": "subnet", "arm": f"{sampling}: {which}", "sampling": sampling,
                        "seed": seed, "steps": steps, "config": format_config(config),
                        "gmacs_256": cost(config) / 1e9, "macs_convention": CONVENTION,
                        "train_seconds": train_seconds, "supernet": path.name,
                        **_quality(SubnetView(shipped, config), task, data)}, curves.get(which),
                        record)
            if sampling != "uniform":
                continue
            score = subnet_scorer(shipped, held)
            if seed == exhaustive_seed and (row := stored(kind="exhaustive", supernet=path.name)):
                rows.append(row)
            elif seed == exhaustive_seed:
                table = score_cache(shipped, sp, held, score_table_of(path), force=force or resume,
                                    record={"command": command, "code_version":
                                            record.data["code_version"] if record else None})
                full = exhaustive_search(sp, cost(sp.largest()), table.wrap(score), cost,
                                         progress=progress)
                table.save()
                results.keep_row(rows, {"kind": "exhaustive", "arm": "exhaustive (whole space)",
                                        "seed": seed, "supernet": path.name,
                                        "evaluated": full.evaluated, "search_seconds": full.seconds,
                                        "best": format_config(full.best),
                                        "best_score": full.best_score}, None, record)
            for k, budget in budgets.items():
                done = {arm: stored(kind="searched", arm=arm, budget_ngf=k, supernet=path.name)
                        for arm in ("searched", "searched+finetune")}
                if all(done.values()):
                    rows.extend(done.values())
                    continue
                # the search is seeded: a resumed job finds the same subnet again
                found = evolution_search(sp, budget, score, cost, population=population,
                                         generations=generations, mutate_prob=mutate_prob,
                                         seed=seed)
                base = {"kind": "searched", "budget_ngf": k, "budget_macs": budget, "seed": seed,
                        "config": format_config(found.best), "gmacs_256": found.best_macs / 1e9,
                        "macs_convention": CONVENTION, "held_out_l1": found.best_score,
                        "evaluated": found.evaluated, "search_seconds": found.seconds,
                        "train_seconds": train_seconds, "supernet": path.name,
                        "trace": [list(t) for t in found.trace]}
                sub = export_subnet(shipped, found.best)
                base["mparams"] = count_params(sub) / 1e6
                if done["searched"]:
                    rows.append(done["searched"])
                else:
                    results.keep_row(rows, {**base, "arm": "searched", "steps": steps,
                                            **_quality(sub, task, data)}, None, record)
                start = save_subnet(sub, Path(tmp.name) / f"sub-{seed}-{k}.pt",
                                    format_config(found.best), path, "experiments.ofa", force=True)
                recipe = StudentRecipe(task=task, student_file=str(start), image_size=size,
                                       mode="paired")
                ft = student_trainer(recipe, teacher, teacher_D, train, finetune_steps, batch_size,
                                     seed, device=device, progress=False)
                t1 = time.perf_counter()
                ft.fit()
                G = ft.objective.translator()[0].cpu().eval()
                results.keep_row(rows, {**base, "arm": "searched+finetune",
                                        "steps": steps + finetune_steps,
                                        "finetune_seconds": time.perf_counter() - t1,
                                        **_quality(G, task, data)}, None, record)
    finally:
        tmp.cleanup()
    return rows


def run_baselines(task: str = "edges2shapes", seeds=(0,), steps: int = 1200, size: int = 64,
                  batch_size: int = 4, n_train: int = 1000, n_eval: int = 512,
                  budget_ngfs=BUDGET_NGFS, cat_ngf: int | None = CAT_NGF, prune_repeats: int = 3,
                  curve_points: int = 0, progress: bool = True, device="cpu",
                  record=None) -> list[dict]:
    """The ``baselines`` experiment (see the module docstring).  With the
    ``record`` of a resumed sweep, the runs it holds are kept, not re-trained."""
    from ..compression.one_step import one_step_prune
    from ..training.checkpoint import teacher_path
    from ..training.teachers import load_teacher
    from .cat import run as run_cat
    from .distillation import run as run_arms

    def stored(**match):
        return results.finished_rows(record, **match)

    teacher, teacher_D = load_teacher(task, "ci", discriminator=True)
    rows: list[dict] = []
    jobs = [(k, seed) for k in budget_ngfs for seed in seeds]
    for k, seed in tqdm(jobs, desc="uniform students", disable=not progress):
        kept = stored(kind="uniform", ngf=k, seed=seed)
        if kept:           # finished in an earlier session of a resumed sweep: it stands
            rows.extend(kept)
            continue
        for r in run_arms(task, {"uniform": {"student": "mobile_resnet"}}, teacher, teacher_D,
                          widths=(k,), seeds=(seed,), steps=steps, size=size,
                          batch_size=batch_size, n_train=n_train, n_eval=n_eval, mode="paired",
                          progress=False, device=device, record=None, curve_points=curve_points,
                          convention=CONVENTION, describe_arm=lambda s: {}):
            r.update(kind="uniform", budget_ngf=r["ngf"], budget_macs=budget_of(r["ngf"]))
            results.keep_row(rows, r, None, record)
    if cat_ngf is None:
        return rows
    kept = {r["seed"]: r for r in stored(kind="cat")}
    rows.extend(kept[s] for s in seeds if s in kept)
    todo = [s for s in seeds if s not in kept]
    if not todo:
        return rows
    inception, inception_D = load_teacher(task, "ci", discriminator=True, arch="inception")
    target = budget_of(cat_ngf)
    seconds = []
    for _ in range(max(1, prune_repeats)):
        t0 = time.perf_counter()
        _, report = one_step_prune(inception, target, size=256, convention=CONVENTION)
        seconds.append(time.perf_counter() - t0)
    if kept:     # a resumed sweep: the pruning timed in its first session stands
        seconds = next(iter(kept.values()))["prune_seconds"]
    from .cat import CAT_ARMS

    out = run_cat(task, inception, inception_D, teacher_path(task, "ci", "inception"),
                  arms={"ka": CAT_ARMS["ka"]}, seeds=todo, steps=steps, size=size,
                  batch_size=batch_size, n_train=n_train, n_eval=n_eval, report=report,
                  progress=progress, device=device, curve_points=curve_points)
    for r in out["rows"]:
        if r["arm"] != "ka":
            continue
        r.update(kind="cat", arm="cat (one-step pruning, KA)", budget_ngf=cat_ngf,
                 budget_macs=target, prune_macs=report.macs, prune_convention=CONVENTION,
                 prune_seconds=seconds, gmacs_256_cat=r["gmacs_256"])
        r.update(gmacs_256=report.macs / 1e9, macs_convention=CONVENTION)
        results.keep_row(rows, r, None, record)
    return rows


def _made_by(path: Path, command: str) -> bool:
    """Whether the shipped supernet ``path`` exists and was written by ``command``."""
    from ..training.checkpoint import read_manifest

    return (path.exists() and path.with_suffix(".json").exists()
            and read_manifest(path).get("commands") == [command])


EXPERIMENTS = {"supernets": run_supernets, "baselines": run_baselines}


def command(experiment: str, settings: dict) -> str:
    """The command line that re-runs a recorded once-for-all sweep."""
    extra = (" --finetune-steps {finetune_steps} --population {population} "
             "--generations {generations}").format(**settings) if experiment == "supernets" else ""
    return ("gancomp-lite sweep-ofa {exp} --seeds {s} --steps {steps} --size {size} "
            "--batch-size {batch_size} --n {n_eval} --curve-points {curve_points}{extra} "
            "--out {out}").format(exp=experiment, s=" ".join(map(str, settings["seeds"])),
                                  extra=extra, **settings)


def run_recorded(experiment: str, out, seeds=(0, 1, 2), steps: int = 1200, size: int = 64,
                 batch_size: int = 4, n_eval: int = 512, curve_points: int = 8,
                 finetune_steps: int = 300, population: int = 32, generations: int = 10,
                 ship_dir=None, allow_dirty: bool = False, force: bool = False,
                 resume: bool = False, progress: bool = True, argv: list[str] | None = None):
    """A recorded once-for-all sweep: refuse a dirty tree (unless
    ``allow_dirty``), write ``out`` with its command, claims, code version,
    teacher checksum and machine before training, append each run, mark it
    complete.  ``supernets`` ships its supernets to ``ship_dir`` (default
    ``data/supernets``).  ``resume``: continue an interrupted ``out`` of the
    same command and package, keeping its finished runs and the supernets it
    shipped."""
    from ..errors import GancompError
    from ..provenance import require_clean
    from ..training.checkpoint import SUPERNETS_DIR, read_manifest, teacher_path

    if experiment not in EXPERIMENTS:
        raise GancompError(f"unknown once-for-all experiment {experiment!r}: expected one of "
                           f"{', '.join(EXPERIMENTS)}")
    if force and resume:
        raise GancompError("--force starts the results file anew and --resume continues it: pass one")
    version = require_clean(allow_dirty, "record a sweep")
    settings = dict(task="edges2shapes", seeds=list(seeds), steps=steps, size=size,
                    batch_size=batch_size, n_eval=n_eval, curve_points=curve_points)
    if experiment == "supernets":
        settings.update(finetune_steps=finetune_steps, population=population,
                        generations=generations, mutate_prob=MUTATE_PROB, space=SPACE)
    cmd = command(experiment, {**settings, "out": Path(out).as_posix()})
    if experiment == "supernets" and not force:   # refuse before training, not after it
        from ..shipped import refuse_existing

        ship = Path(ship_dir or SUPERNETS_DIR)
        files = [ship / f"{supernet_name('edges2shapes', SPACE, s, seed)}.pt"
                 for s in ("uniform", "sandwich") for seed in seeds]
        # a resumed sweep may replace the supernets it shipped itself, and no others
        refuse_existing([f.with_suffix(ext) for f in files for ext in (".pt", ".json")
                         if not (resume and _made_by(f, cmd))], force)
    tpath = teacher_path("edges2shapes", "ci")
    record = results.ResultsFile(out, f"ofa-{experiment}", cmd, version, settings, CLAIMS,
                                 force=force, resume=resume,
                                 allow_dirty=version.endswith("+dirty"),
                                 teacher={"file": tpath.name, "sha256": read_manifest(tpath)["sha256"]},
                                 budgets={f"ngf{k}": budget_of(k) for k in BUDGET_NGFS},
                                 convention=CONVENTION, argv=argv)
    if experiment == "supernets":
        run_supernets(progress=progress, record=record, ship_dir=ship_dir or SUPERNETS_DIR,
                      command=cmd, force=force, resume=resume,
                      **{k: v for k, v in settings.items() if k != "space"})
    else:
        run_baselines(progress=progress, record=record, **settings)
    return record.finish()


# -- verdicts ----------------------------------------------------------------------
def budget_rows(rows: list[dict]) -> list[dict]:
    """The rows compared at a budget (uniform, searched, fine-tuned, CAT), every
    ``gmacs_256`` in :data:`CONVENTION` and the budget in GMACs as ``budget_gmacs``:
    CAT's rows are recorded by CAT's runner
    in CAT's convention, so they take the pruning's own count (``prune_macs``,
    in this convention) instead."""
    out = []
    for r in rows:
        if "budget_ngf" not in r:
            continue
        if r.get("kind") == "cat" and r.get("macs_convention") != CONVENTION:
            r = {**r, "gmacs_256_cat": r["gmacs_256"], "gmacs_256": r["prune_macs"] / 1e9,
                 "macs_convention": CONVENTION}
        out.append({**r, "budget_gmacs": r["budget_macs"] / 1e9})
    return out


def summarise(rows: list[dict], metric: str, keys=("arm", "budget_ngf")) -> list[dict]:
    """Mean and spread of ``metric`` per arm and budget (of :func:`budget_rows`),
    with the mean MACs of the group's networks (searched subnets differ by seed)."""
    import statistics

    rows = budget_rows(rows)
    out = results.summarise(rows, keys, metric)
    for s in out:
        group = [r for r in rows if all(r[k] == s[k] for k in keys)]
        s["gmacs_256"] = statistics.mean(r["gmacs_256"] for r in group)
    return out


def verdicts(rows: list[dict], metric: str = "l1") -> dict[str, dict]:
    """Each claim of :data:`CLAIMS` judged by the one rule on ``metric``
    (the rows of both results files); a claim whose arms are missing is
    inconclusive, with the reason."""
    better = "higher" if metric in HIGHER_IS_BETTER else "lower"
    by_budget = {(s["arm"], s["budget_ngf"]): s for s in summarise(rows, metric)}
    subnets = {s["arm"]: s for s in results.summarise([r for r in rows if r.get("kind") == "subnet"],
                                                      ("arm",), metric)}
    out = {}

    def judge(claim, a, b, table, direction=better, m=metric):
        if a not in table or b not in table:
            out[claim] = {"claim": claim, "verdict": "inconclusive", "metric": m,
                          "reason": "an arm was not run"}
            return
        v = results.verdict(results.compare(table[a], table[b], m), direction)
        out[claim] = {"claim": claim, "verdict": v, "metric": m,
                      "a_mean": table[a][f"{m}_mean"], "b_mean": table[b][f"{m}_mean"],
                      "reason": f"{table[a][f'{m}_mean']:.4g} vs {table[b][f'{m}_mean']:.4g}: {v}"}

    for k in BUDGET_NGFS:
        judge(f"search_beats_uniform@ngf{k}", ("searched+finetune", k), ("uniform", k), by_budget)
        judge(f"finetune_helps@ngf{k}", ("searched+finetune", k), ("searched", k), by_budget)
    judge("sandwich_helps_smallest", "sandwich: smallest", "uniform: smallest", subnets)
    judge("sandwich_helps_largest", "sandwich: largest", "uniform: largest", subnets)
    cost = search_costs(rows)
    judge("cat_search_cheaper", "cat", "ofa", cost, direction="lower", m="seconds")
    return out


def search_costs(rows: list[dict], ngf: int = CAT_NGF) -> dict[str, dict]:
    """Wall seconds to a subnet under the ngf-``ngf`` budget: CAT's one-step
    pruning (each timed repeat) and once-for-all (each seed's supernet
    training plus its evolutionary search), summarised for the rule."""
    cat = [s for r in rows if r.get("kind") == "cat" for s in r.get("prune_seconds", [])][:3]
    ofa = [{"seconds": r["train_seconds"] + r["search_seconds"]} for r in rows
           if r.get("kind") == "searched" and r.get("arm") == "searched" and r["budget_ngf"] == ngf]
    table = {}
    for name, values in (("cat", [{"seconds": s} for s in cat]), ("ofa", ofa)):
        if values:
            table[name] = results.summarise([{**v, "arm": name} for v in values], ("arm",),
                                            "seconds")[0]
    return table
