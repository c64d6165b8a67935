"""The one verdict rule, results files that register their claims first, and the noise floor."""
import json

import pytest
import torch

from gancomp_lite.errors import GancompError
from gancomp_lite.experiments import results as R


def test_a_clear_difference_confirms_or_refutes_and_a_tie_is_inconclusive():
    low, high = [1.0, 1.1, 0.9, 1.05, 0.95], [2.0, 2.1, 1.9, 2.05, 1.95]
    assert R.compare_values(low, high) == "lower" and R.compare_values(high, low) == "higher"
    assert R.verdict(R.compare_values(low, high), "lower") == "confirmed"
    assert R.verdict(R.compare_values(low, high), "higher") == "not confirmed"
    tie = [1.0, 3.0, 2.0], [1.5, 2.5, 2.2]
    assert R.compare_values(*tie) == "same"
    assert R.verdict("same", "lower") == "inconclusive"
    # one seed says nothing about the spread
    assert R.compare_values([1.0], [5.0]) == "same"
    with pytest.raises(ValueError):
        R.verdict("same", "equal")


def test_the_rule_is_welchs_test_at_five_percent():
    from scipy import stats

    a, b = [1.0, 1.4, 1.2], [1.5, 1.9, 1.6]
    gap, p = R.welch(a, b)
    assert p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert gap == pytest.approx(-0.4666, abs=1e-3)
    assert (R.compare_values(a, b) == "lower") == (p < R.ALPHA)
    # just above the threshold is a tie; a near-constant, clearly separated pair is not
    assert R.compare_values([0.0, 2.0], [1.0, 3.0]) == "same"
    assert R.compare_values([1.0, 1.0], [2.0, 2.0]) == "lower"   # no spread, different means
    assert R.compare_values([1.0, 1.0], [1.0, 1.0]) == "same"


def test_combine_needs_every_part():
    assert R.combine(["confirmed", "confirmed"]) == "confirmed"
    assert R.combine(["confirmed", "inconclusive"]) == "inconclusive"
    assert R.combine(["confirmed", "not confirmed"]) == "not confirmed"


def test_results_file_registers_claims_before_the_first_row(tmp_path):
    path = tmp_path / "r.json"
    f = R.ResultsFile(path, "demo", "gancomp-lite demo --out r.json", "abc", {"seeds": [0]},
                      {"x_beats_y": "x is clearly better than y"})
    on_disk = json.loads(path.read_text())
    assert on_disk["claims"] == {"x_beats_y": "x is clearly better than y"}
    assert on_disk["status"] == "running" and on_disk["rows"] == []
    assert on_disk["machine"]["cpu_count"] >= 1
    f.add({"seed": 0, "fid": 1.0})
    assert json.loads(path.read_text())["rows"] == [{"seed": 0, "fid": 1.0}]
    f.finish()
    done = R.load(path)
    assert done["status"] == "complete" and done["wall_seconds"] >= 0
    assert R.registered(done, "x_beats_y") and not R.registered(done, "added_later")
    with pytest.raises(GancompError, match="exists"):
        R.ResultsFile(path, "demo", "cmd", "abc", {}, {})


def test_the_noise_floor_is_small_against_the_gaps_chapters_compare():
    """At the ci test-split size, FID between two disjoint real samples is far
    below what a trivial translator scores, and the per-image noise of the
    teacher's L1 is far below the L1 gaps between teacher and baselines."""
    from gancomp_lite.config import get_scale
    from gancomp_lite.metrics.quality import noise_floor
    from gancomp_lite.shipped import read_manifest
    from gancomp_lite.training.checkpoint import teacher_path
    from gancomp_lite.training.teachers import load_teacher

    n = get_scale("ci").n_test
    assert n >= 4 * 128   # four images per feature dimension
    T = load_teacher("edges2shapes", "ci")
    floor = noise_floor("edges2shapes", n=n, reference=T)
    # the teacher's quality on this split is in its manifest (chapter 03 checks it is what
    # the code measures), so it is not computed again here
    q = read_manifest(teacher_path("edges2shapes", "ci"))["metrics"]
    assert q["n"] == n
    assert floor["fid"] < 0.5 * q["fid"]                     # the teacher is above the floor
    assert floor["fid"] < 0.01 * q["mean_target_fid"]
    assert abs(floor["kid"]) < 0.05 * q["mean_target_kid"]
    assert floor["l1"] < 0.05 * (q["mean_target_l1"] - q["l1"])
    assert set(floor) >= {"fid", "kid", "l1", "psnr", "ssim"}


def test_kid_is_about_zero_for_one_distribution_and_reproducible():
    from gancomp_lite.metrics.quality import kid, test_set

    a = test_set("edges2shapes", 128, 32, seed=0)["B"]
    b = test_set("edges2shapes", 128, 32, seed=1)["B"]
    same = kid(a, b)
    assert same == kid(a, b)
    far = kid(a, -a)
    assert far[0] > 20 * abs(same[0]) and far[0] > 0


def test_kid_equals_torchmetrics_own_metric_on_the_same_features():
    """kid / kid_from_features follow torchmetrics' KernelInceptionDistance step for step
    (the field's implementation is the oracle): same subsets, same kernel, same numbers."""
    from torchmetrics.image.kid import KernelInceptionDistance

    from gancomp_lite.metrics.quality import (KID_SUBSET, _feature_extractor, _to_unit, kid,
                                              kid_from_features, test_set)

    a = test_set("edges2shapes", 120, 32, seed=0)["B"]
    b = test_set("edges2shapes", 110, 32, seed=1)["A"]
    extractor = _feature_extractor("synthetic")
    dev = next(extractor.parameters()).device        # the best device (a GPU where there is one)
    with pytest.warns(UserWarning, match="save all extracted features"):
        metric = KernelInceptionDistance(feature=extractor, normalize=True, subsets=100,
                                         subset_size=min(KID_SUBSET, 110),
                                         sync_on_compute=False).to(dev)
    metric.update(_to_unit(a).to(dev), real=True)
    metric.update(_to_unit(b).to(dev), real=False)
    torch.manual_seed(0)
    mean, std = metric.compute()
    ours = kid(a, b)
    assert ours == pytest.approx((float(mean), float(std)), rel=1e-5)
    with torch.no_grad():
        fa, fb = extractor(_to_unit(a).to(dev)), extractor(_to_unit(b).to(dev))
    assert kid_from_features(fa.double(), fb.double()) == pytest.approx(ours, rel=1e-4)
    state = torch.random.get_rng_state()
    kid_from_features(fa, fb, subsets=3)
    assert torch.equal(state, torch.random.get_rng_state())        # the caller's RNG untouched
    with pytest.raises(GancompError, match="at least 2"):
        kid_from_features(fa[:1], fb)


def test_late_improvement_tells_a_still_falling_curve_from_a_flat_one():
    steps = [1, 2, 3, 4, 5]
    falling = {"arm": "a", "curve": {"step": steps, "l1": [0.5, 0.4, 0.3, 0.2, 0.1]}}
    flat = {"arm": "b", "curve": {"step": steps, "l1": [0.5, 0.1, 0.1, 0.1, 0.1]}}
    worse = {"arm": "c", "curve": {"step": steps, "l1": [0.5, 0.1, 0.1, 0.1, 0.12]}}
    late = R.late_improvement([falling, flat, worse, {"arm": "d"}], ("arm",))
    assert set(late) == {("a",), ("b",), ("c",)}
    # the last three intervals of a straight fall: 0.3 of the whole 0.5 - 0.25 (window median)
    assert late[("a",)]["late_drop"] == pytest.approx(0.3 / 0.25)
    assert late[("a",)]["late_share"] == pytest.approx(1.0)
    assert late[("b",)]["late_drop"] == 0.0 and late[("c",)]["late_drop"] == 0.0
    assert R.late_improvement([{"arm": "d"}], ("arm",)) == {}


def test_one_spike_is_not_late_improvement_and_does_not_hide_one():
    steps = [250, 500, 750, 1000, 1250, 1500, 1750, 2000]
    # chapter 07's seed 0 of `ka`: flat, with one spike three points before the end
    spike = {"arm": "spike", "curve": {"step": steps,
                                        "l1": [0.30, 0.20, 0.18, 0.175, 0.172, 0.374, 0.175, 0.174]}}
    flat = {"arm": "flat", "curve": {"step": steps, "l1": [0.30, 0.20, 0.18, 0.175] + [0.174] * 4}}
    # a real fall over the last quarter, with one spike inside it
    falling = {"arm": "falling", "curve": {"step": steps,
                                            "l1": [0.30, 0.28, 0.26, 0.24, 0.22, 0.20, 0.40, 0.16]}}
    late = R.late_improvement([spike, flat, falling], ("arm",))
    assert late[("spike",)]["late_drop"] < 0.01 and late[("flat",)]["late_drop"] < 0.01
    assert late[("falling",)]["late_drop"] > 0.2
    # the old two-point rule read the spike run as improving by about 54%
    assert (0.374 - 0.174) / 0.374 > 0.5


def test_end_slope_is_the_median_pairwise_slope():
    assert R.end_slope([0, 1, 2, 3], [0, 1, 2, 3]) == pytest.approx(1.0)
    assert R.end_slope([0, 1, 2, 3], [0, 1, 100, 3]) == pytest.approx(1.0)
    assert R.end_slope([1], [5]) == 0.0


def test_an_arm_is_judged_only_if_it_clearly_beats_every_trivial_translator():
    from gancomp_lite.experiments.results import NOT_JUDGED, judged_verdict, learned, summarise

    rows = [{"arm": arm, "seed": s, "l1": v} for arm, vals in
            {"good": (0.10, 0.11, 0.12), "better": (0.05, 0.051, 0.052), "grey": (0.81, 0.85, 0.90),
             "tie": (0.20, 0.23, 0.21)}.items() for s, v in enumerate(vals)]
    arms = {r["arm"]: r for r in summarise(rows, ("arm",), "l1")}
    base = {"identity": 1.20, "mean target": 0.215}
    assert learned(arms["good"], base, "l1") == (True, [])
    assert learned(arms["grey"], base, "l1") == (False, ["mean target"])   # worse than the mean image
    assert learned(arms["tie"], base, "l1") == (False, ["mean target"])    # not clearly better: a tie
    # a claim on a student that did not learn is not judged, whichever way the numbers go
    v, why = judged_verdict(arms["good"], arms["grey"], "l1", "lower", base)
    assert v == NOT_JUDGED and "grey" in why and "mean target" in why
    # between students that learned, the rule decides, both ways
    assert judged_verdict(arms["better"], arms["good"], "l1", "lower", base)[0] == "confirmed"
    assert judged_verdict(arms["good"], arms["better"], "l1", "lower", base)[0] == "not confirmed"
    # without baselines there is no gate
    assert judged_verdict(arms["good"], arms["grey"], "l1", "lower", None)[0] == "confirmed"


def test_an_interrupted_results_file_resumes_only_for_the_same_command_and_package(tmp_path):
    out = tmp_path / "r.json"
    version = "0" * 40
    first = R.ResultsFile(out, "x", "gancomp-lite sweep x", version, {"seeds": [0, 1]}, {"c": "a claim"})
    first.add({"arm": "a", "seed": 0, "l1": 0.1})       # then the session ends: status stays running
    assert R.load(out)["status"] == "running"
    kept = R.load(out)["wall_seconds"]                  # its time so far is kept with the row
    assert kept >= 0
    with pytest.raises(GancompError, match="--resume to continue"):
        R.ResultsFile(out, "x", "gancomp-lite sweep x", version, {}, {"c": "a claim"})
    for command, claims, code, match in (
            ("gancomp-lite sweep y", {"c": "a claim"}, version, "another command"),
            ("gancomp-lite sweep x", {"c": "another claim"}, version, "other claims"),
            ("gancomp-lite sweep x", {"c": "a claim"}, version + "+dirty", "whose package differs")):
        with pytest.raises(GancompError, match=match):
            R.ResultsFile(out, "x", command, code, {}, claims, resume=True)
    again = R.ResultsFile(out, "x", "gancomp-lite sweep x", version, {}, {"c": "a claim"}, resume=True)
    assert again.has(arm="a", seed=0) and not again.has(arm="a", seed=1)
    again.add({"arm": "a", "seed": 1, "l1": 0.2})
    data = R.load(again.finish())
    assert [r["seed"] for r in data["rows"]] == [0, 1] and data["status"] == "complete"
    assert len(data["sessions"]) == 1 and data["sessions"][0]["rows_kept"] == 1
    assert data["wall_seconds"] >= kept                 # both sessions' time
    assert data["settings"] == {"seeds": [0, 1]}                    # the first session's record stays


def test_the_rule_is_silent_on_near_identical_values():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert R.compare_values([310.00001, 310.00001], [310.0, 330.0]) == "same"
        assert R.compare_to_value([310.00001, 310.000011], 300.0) in ("lower", "higher", "same")


def test_schedule_words_say_the_run_against_its_teacher():
    from gancomp_lite.experiments.results import schedule_words

    teacher = {"steps": 2000, "n_train": 1000}
    assert schedule_words({"steps": 2000, "batch_size": 4}, teacher) == (
        "2000 steps at batch 4, the teacher's own schedule: 8 passes over its 1000 training images")
    assert schedule_words({"steps": 600, "batch_size": 4}, teacher).startswith(
        "600 steps at batch 4, fewer than the teacher's 2000: 2 passes")
    assert "1 pass over" in schedule_words({"steps": 1000, "batch_size": 1}, teacher)
