"""Shipped files must work on every CPU (issue 20).

The synthetic worlds draw with NumPy, whose vectorised transcendental
functions round differently with AVX-512, AVX2 or plain SSE kernels; oneDNN,
MKL and ATen pick their kernels by CPU as well.  So nothing shipped may be
keyed on the last bits of a float.  These tests run the same code in a fresh
process with every library limited to older kernels (as on a CPU without
AVX-512) and compare with this process.  On a CPU that has no AVX-512 the
limits change nothing and the tests compare like with like.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from gancomp_lite.cli import main
from gancomp_lite.compression import ofa
from gancomp_lite.compression.ofa import (SCORE_TOLERANCE, ScoreCache, ScoreTableMismatch, data_key,
                                          held_out_split, score_cache, shipped_score_table)
from gancomp_lite.data.synthetic import WORLD_VERSION, get_world
from gancomp_lite.errors import OutputExistsError, ScoreTableWarning
from gancomp_lite.models.dynamic import SuperMobileResnetGenerator
from gancomp_lite.paths import DATA_DIR
from gancomp_lite.training.checkpoint import load_supernet
from gancomp_lite.training.supernet import score_table_of

SHIPPED = DATA_DIR / "supernets" / "edges2shapes-channels-48-ci-uniform-seed0.pt"

#: kernels limited as on a CPU with AVX2 but no AVX-512, in every library that
#: picks its kernels at run time
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
        "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX512DQ,-AVX512BW,-AVX512VL,-AVX512CD"}
#: and as on an old CPU: ATen's default kernels, SSE4.1 convolutions, no FMA in libm
DEFAULT = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
           "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
           "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
           "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX512DQ,-AVX512BW,-AVX512VL,-AVX512CD,"
                             "-AVX2,-FMA"}

# what the child process reports: the held-out split's key and images, and the
# shipped score table's key check and live check, made exactly as chapter 09 does
_CHILD = r"""
import json, sys, warnings
import numpy as np, torch
from gancomp_lite.compression import ofa
from gancomp_lite.errors import ScoreTableWarning
from gancomp_lite.training.checkpoint import load_supernet
from gancomp_lite.training.supernet import score_table_of
path = sys.argv[1]
net, manifest = load_supernet(path)
r = manifest["recipe"]
held = ofa.held_out_split(r["task"], r["n_train"], r["n_val"], r["image_size"])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ScoreTableWarning)
    table = ofa.shipped_score_table(net, ofa.SearchSpace.from_dict(r["space"]), held, score_table_of(path))
np.save(sys.argv[2], held["B"].numpy())
print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(), "key": ofa.data_key(held),
                  "digest": ofa.data_digest(held), "mismatch": table.mismatch,
                  "warnings": [str(w.message) for w in caught], "checked": table.checked,
                  "scores": len(table.scores)}))
"""


def _limited(env: dict, tmp_path, name: str) -> tuple[dict, np.ndarray]:
    out = tmp_path / f"{name}.npy"
    run = subprocess.run([sys.executable, "-c", _CHILD, str(SHIPPED), str(out)],
                         env={**os.environ, **env, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1]), np.load(out)


@pytest.fixture(scope="module")
def native():
    net, manifest = load_supernet(SHIPPED)
    r = manifest["recipe"]
    return net, manifest, held_out_split(r["task"], r["n_train"], r["n_val"], r["image_size"])


@pytest.mark.parametrize("name,env", [("avx2", AVX2), ("default", DEFAULT)])
def test_the_shipped_score_table_is_used_with_other_cpu_kernels(native, tmp_path, name, env):
    _, _, held = native
    child, images = _limited(env, tmp_path, name)
    # the key names the recipe, so it is the same whatever the kernels round
    assert child["key"] == data_key(held) == (
        f"synthetic:edges2shapes:train[1000:1032]:size64:seed0:world-v{WORLD_VERSION}")
    # the shipped table is taken as it is, and its live check passes there
    assert child["mismatch"] is None and child["warnings"] == [], child
    assert child["scores"] == 5184
    assert child["checked"]["max_abs_diff"] <= SCORE_TOLERANCE, child["checked"]
    # the images themselves may differ, but only in a pixel here and there, by one grey level
    levels = np.abs(images - held["B"].numpy()) * 127.5
    assert levels.max() <= 1.0 + 1e-4
    assert (levels > 0.5).mean() < 1e-4, (levels > 0.5).sum()


def test_a_score_table_key_never_holds_float_bits(native):
    _, _, held = native
    assert held.recipe["world_version"] == WORLD_VERSION
    assert "sha256" not in data_key(held)
    # a slice of the tensors is data of unknown origin: keyed by its bytes, and said so
    assert data_key({k: v[:4] for k, v in held.items()}).startswith("sha256:")


#: the mean grey level of the A and B images of training samples 0-3 (64 px,
#: seed 0), as WORLD_VERSION draws them.  A change to the drawing code that
#: moves any of them must raise WORLD_VERSION (score tables are keyed by it).
#: A pixel that rounds to the next grey level on another CPU moves a mean by
#: less than 1e-4.
WORLD_PINS = {
    "stripes": [(125.727, 122.746), (114.784, 118.898), (118.573, 125.272), (102.195, 99.251)],
    "edges2shapes": [(229.528, 222.725), (239.411, 222.039), (237.136, 205.27), (237.449, 210.67)],
    "labels2scene": [(113.976, 134.763), (110.604, 123.668), (117.501, 133.245), (116.25, 123.326)],
}


@pytest.mark.parametrize("task", sorted(WORLD_PINS))
def test_the_worlds_draw_what_their_version_says(task):
    assert WORLD_VERSION == 1, "new pins go with a new version"
    world = get_world(task, 64, 0)
    for index, (mean_a, mean_b) in enumerate(WORLD_PINS[task]):
        a, b = world.sample(index, "train")
        assert float(a.mean()) == pytest.approx(mean_a, abs=0.01), (task, index)
        assert float(b.mean()) == pytest.approx(mean_b, abs=0.01), (task, index)


# -- the score table's key and live check ---------------------------------------------
@pytest.fixture(scope="module")
def small_case():
    torch.manual_seed(0)
    net = SuperMobileResnetGenerator(ngf=ofa.SPACES["channels-48-ci"].ngf).eval()
    return net, ofa.SPACES["channels-48-ci"], held_out_split("edges2shapes", 8, 2, 32)


def _write_table(path, net, space, data, configs):
    table = score_cache(net, space, data, path, record={"command": "test"})
    score = table.wrap(ofa.subnet_scorer(net, data))
    for c in configs:
        score(c)
    table.save()
    return table


def test_a_table_of_another_recipe_is_refused_naming_the_field(small_case, tmp_path):
    net, space, data = small_case
    path = tmp_path / "t.json"
    _write_table(path, net, space, data, [space.largest()])
    assert json.loads(path.read_text())["command"] == "test"       # the record is kept
    other = held_out_split("edges2shapes", 9, 2, 32)
    with pytest.raises(OutputExistsError, match=r"data: stored 'synthetic:edges2shapes:train\[8:10\]"):
        score_cache(net, space, other, path)


def test_a_read_only_table_of_another_recipe_is_checked_live_not_fatal(small_case, tmp_path):
    net, space, data = small_case
    path = tmp_path / "t.json"
    configs = ofa.probe_configs(space)
    _write_table(path, net, space, data, configs)
    # the same images under another name (as a table keyed by an older recipe or by bytes)
    renamed = ofa.EvalSet(dict(data), {**data.recipe, "world_version": WORLD_VERSION + 1})
    with pytest.warns(ScoreTableWarning, match="made for another key .*world-v2.*live check"):
        table = shipped_score_table(net, space, renamed, path)
    assert len(table.scores) == len(set(configs))                     # kept: the check agreed
    assert table.checked["max_abs_diff"] <= SCORE_TOLERANCE
    # other images under that name: the live check fails, the scores are dropped, nothing dies
    changed = ofa.EvalSet({"A": data["A"], "B": data["B"].flip(-1)}, renamed.recipe)
    with pytest.warns(ScoreTableWarning) as caught:
        table = shipped_score_table(net, space, changed, path)
    assert table.scores == {} and "failed its live check" in table.mismatch
    assert any("scores" in str(w.message) and "away from its stored score" in str(w.message)
               for w in caught)


def test_a_read_only_table_of_another_supernet_is_not_used(small_case, tmp_path):
    net, space, data = small_case
    path = tmp_path / "t.json"
    _write_table(path, net, space, data, [space.largest()])
    torch.manual_seed(1)
    other = SuperMobileResnetGenerator(ngf=space.ngf).eval()
    with pytest.warns(ScoreTableWarning, match="another supernet, so subnets are scored here"):
        table = shipped_score_table(other, space, data, path)
    assert table.scores == {} and table.mismatch.startswith("weights:")


def test_a_writable_table_that_fails_its_live_check_is_an_error(small_case, tmp_path):
    net, space, data = small_case
    path = tmp_path / "t.json"
    _write_table(path, net, space, data, [space.largest()])
    stored = json.loads(path.read_text())
    stored["scores"][ofa.format_config(space.largest())] += 1e-3            # a corrupted score
    path.write_text(json.dumps(stored))
    table = ScoreCache(path, stored["key"])
    with pytest.raises(ScoreTableMismatch, match=r"scores 0.001 away from its stored score"):
        table.verify(ofa.subnet_scorer(net, data), [space.largest()])


def test_score_table_command_records_its_recipe_and_refuses_to_overwrite(small_case, tmp_path):
    from gancomp_lite.training.checkpoint import save_supernet
    from gancomp_lite.training.supernet import supernet_recipe

    net, _, _ = small_case
    space = ofa.SearchSpace("tiny-ci", ((12, 8),) * 2 + ((12,),) * 6)
    file = tmp_path / "net.pt"
    save_supernet(net, file, {"recipe": supernet_recipe("edges2shapes", space, "uniform", 1, 1, 0, 8, 2, 32,
                                                        preset="pix2pix"),
                              "commands": ["test"], "code_version": None, "train_seconds": 0.0})
    assert main(["score-table", str(file), "--allow-dirty", "--no-progress"]) == 0
    out = score_table_of(file)
    made = json.loads(out.read_text())
    assert len(made["scores"]) == space.size() == 4
    assert made["key"]["data"] == "synthetic:edges2shapes:train[8:10]:size32:seed0:world-v1"
    assert made["command"].startswith("gancomp-lite score-table") and made["seconds"] >= 0
    assert made["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScoreTableWarning)
        net2, _ = load_supernet(file)
        again = shipped_score_table(net2, space, held_out_split("edges2shapes", 8, 2, 32), out)
    assert again.checked["max_abs_diff"] <= SCORE_TOLERANCE
    assert main(["score-table", str(file), "--allow-dirty", "--no-progress"]) == 2      # exists
    assert main(["score-table", str(file), "--allow-dirty", "--no-progress", "--force"]) == 0
