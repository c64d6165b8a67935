"""Deployment: exports to ONNX and torch.export match eager PyTorch; the benchmark reports."""
import json
from pathlib import Path

import pytest
import torch

from gancomp_lite.deploy import ExportError, export_generator, load_runner
from gancomp_lite.errors import GancompError, OutputExistsError
from gancomp_lite.metrics.latency import benchmark
from gancomp_lite.models import SubMobileResnetGenerator, build_generator

FAMILIES = {
    "resnet": lambda: build_generator("resnet", ngf=4),
    "mobile_resnet": lambda: build_generator("mobile_resnet", ngf=4),
    "inception (CAT, BatchNorm)": lambda: build_generator("inception", ngf=4, norm="batch"),
    "sub-mobile (OFA subnet)": lambda: SubMobileResnetGenerator("4_4_4_4_2_4_2_2"),
    "unet": lambda: build_generator("unet", ngf=4, image_size=32),
}


@pytest.mark.parametrize("fmt", ["onnx", "torch-export"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_exports_equal_eager_pytorch_for_every_generator_family(family, fmt, tmp_path):
    torch.manual_seed(0)
    G = FAMILIES[family]().eval()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    path = tmp_path / ("g.onnx" if fmt == "onnx" else "g.pt2")
    report = export_generator(G, path, fmt, size=32)
    assert path.exists() and report["max_abs_diff"] <= report["tolerance"] == 1e-4
    run = load_runner(path)
    for batch in (1, 3):                                       # other inputs, other batch sizes
        x = torch.rand(batch, 3, 32, 32) * 2 - 1
        with torch.no_grad():
            assert (run(x) - G(x)).abs().max() <= 1e-4
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())   # caller's net untouched


def test_export_refuses_bad_input_and_never_overwrites(tmp_path):
    G = build_generator("mobile_resnet", ngf=4)
    with pytest.raises(GancompError, match="unknown export format"):
        export_generator(G, tmp_path / "g.ts", "torchscript")
    with pytest.raises(GancompError, match=r"\.onnx file"):
        export_generator(G, tmp_path / "g.pt2", "onnx")
    (tmp_path / "g.onnx").write_text("keep me")
    with pytest.raises(OutputExistsError):
        export_generator(G, tmp_path / "g.onnx", "onnx", size=32)
    assert (tmp_path / "g.onnx").read_text() == "keep me"
    with pytest.raises(ExportError, match="differs from eager"):      # an impossible tolerance
        export_generator(G, tmp_path / "h.onnx", "onnx", size=32, tolerance=-1.0)
    assert not (tmp_path / "h.onnx").exists() and not list(tmp_path.glob("*.tmp*"))


def test_the_benchmark_runs_end_to_end_and_reports_missing_runtimes(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_openvino(name, *args, **kwargs):
        if name == "openvino":
            raise ImportError("not here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    threads = torch.get_num_threads()
    rows = benchmark({"tiny": build_generator("mobile_resnet", ngf=2)},
                     ("eager", "channels-last", "onnxruntime", "openvino"), size=16, threads=1,
                     repeats=3, warmup=1, progress=False)
    assert torch.get_num_threads() == threads                  # restored
    by = {r["backend"]: r for r in rows}
    for b in ("eager", "channels-last", "onnxruntime"):
        assert by[b]["status"] == "ok" and by[b]["min_ms"] <= by[b]["median_ms"] <= by[b]["max_ms"]
        assert by[b]["q1_ms"] <= by[b]["median_ms"] <= by[b]["q3_ms"]
        assert len(by[b]["times_ms"]) == 3 and min(by[b]["times_ms"]) == by[b]["min_ms"]
    assert by["openvino"]["status"].startswith("skipped: openvino is not installed")
    assert all(r["peak_activation_mb"] > 0 and r["weights_mb"] > 0 for r in rows)
    assert by["eager"]["max_abs_diff"] == 0 and by["onnxruntime"]["max_abs_diff"] <= 1e-4
    json.dumps(rows)                                           # well-formed JSON
    with pytest.raises(GancompError, match="unknown backend"):
        benchmark({"tiny": build_generator("mobile_resnet", ngf=2)}, ("tensorrt",), progress=False)


def test_openvino_runs_the_onnx_export_in_float32_and_wrong_outputs_are_not_timed(tmp_path):
    rows = benchmark({"tiny": build_generator("mobile_resnet", ngf=4)}, ("eager", "openvino"),
                     size=32, threads=1, repeats=2, warmup=1, progress=False, memory=False)
    ov = rows[1]
    assert ov["backend"] == "openvino" and ov["status"] == "ok", ov
    assert ov["max_abs_diff"] <= 1e-4 and ov["median_ms"] > 0      # float32, not bfloat16
    import openvino as ovr

    from gancomp_lite.metrics.latency import openvino_model

    path = export_generator(build_generator("mobile_resnet", ngf=4), Path(tmp_path) / "g.onnx", "onnx",
                            size=32)["path"]
    assert openvino_model(path, 1).get_property("INFERENCE_PRECISION_HINT") == ovr.Type.f32
    # an impossible tolerance: every backend's output "differs", none is timed
    rows = benchmark({"tiny": build_generator("mobile_resnet", ngf=4)}, ("eager", "openvino"),
                     size=32, threads=1, repeats=2, warmup=1, progress=False, memory=False,
                     tolerance=-1.0)
    assert all(r["status"].startswith("failed: output differs from eager") for r in rows)
    assert not any("median_ms" in r for r in rows)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc peak counter")
def test_process_memory_sees_the_weights_as_each_runtime_holds_them(tmp_path, monkeypatch):
    import os

    from gancomp_lite.metrics.latency import process_memory

    narrow = process_memory(build_generator("resnet", ngf=4), ("eager", "onnxruntime"), size=32, threads=1)
    wide = process_memory(build_generator("resnet", ngf=48), ("eager", "onnxruntime"), size=32,
                          threads=1, samples=2)
    weights = sum(p.numel() for p in build_generator("resnet", ngf=48).parameters()) * 4 / 2**20
    assert weights > 20                                        # 24 MB of float32 weights
    for b in ("eager", "onnxruntime"):
        assert narrow[b]["status"] == wide[b]["status"] == "ok"
        assert narrow[b]["mb"] >= 0 and wide[b]["mb"] - narrow[b]["mb"] > 0.8 * weights, (b, narrow, wide)
        # two fresh processes agree to within the weights' size (their peaks move by tens of MB
        # with the allocator's arenas: a spread of 20 MB was seen on a loaded machine)
        assert 0 <= wide[b]["spread_mb"] < weights, (b, wide[b])
        assert len(wide[b]["samples_mb"]) == 2 and min(wide[b]["samples_mb"]) <= wide[b]["mb"]
    with pytest.raises(GancompError, match="unknown backend"):
        process_memory(build_generator("resnet", ngf=4), ("tensorrt",))
    # a runtime the child process cannot import is skipped, not a crash
    fake = tmp_path / "site" / "openvino"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not installed here')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(fake.parent),
                                                                     os.environ.get("PYTHONPATH")])))
    rows = benchmark({"tiny": build_generator("resnet", ngf=4)}, ("eager", "openvino"), size=16,
                     threads=1, repeats=1, warmup=0, progress=False, memory=False, process=True,
                     process_samples=1)
    by = {r["backend"]: r for r in rows}
    assert by["eager"]["process_status"] == "ok" and by["eager"]["process_peak_mb"] >= 0
    assert by["eager"]["process_floor_mb"] >= 0
    assert by["openvino"]["process_status"].startswith("skipped: openvino is not installed")
    assert by["openvino"]["process_peak_mb"] is None


def test_time_by_kind_splits_one_pass_and_counts_every_mac():
    from gancomp_lite.metrics.cost import profile_macs
    from gancomp_lite.metrics.latency import time_by_kind

    G = build_generator("mobile_resnet", ngf=4)
    threads = torch.get_num_threads()
    rows = time_by_kind(G, size=32, runs=3, threads=1)
    assert torch.get_num_threads() == threads
    whole = rows[-1]
    parts = rows[:-1]
    assert whole["kind"] == "whole forward pass"
    assert {"norm", "depthwise conv", "1x1 conv", "dense kxk conv"} <= {r["kind"] for r in parts}
    assert sum(r["macs"] for r in parts) == whole["macs"] == profile_macs(G, 32, "in-counted")
    assert abs(sum(r["mac_share"] for r in parts) - 1) < 1e-9
    assert 0 < sum(r["time_share"] for r in parts) <= 1.05     # hooks time the leaves inside the pass
    assert all(r["ms_range"] >= 0 and r["ms"] >= 0 for r in rows)


def test_peak_memory_grows_with_width_and_image_size():
    from gancomp_lite.metrics.latency import peak_memory

    small = peak_memory(build_generator("mobile_resnet", ngf=4), size=32)
    wide = peak_memory(build_generator("mobile_resnet", ngf=16), size=32)
    big_image = peak_memory(build_generator("mobile_resnet", ngf=4), size=64)
    assert wide["weights_mb"] > small["weights_mb"] > 0
    assert wide["peak_activation_mb"] > small["peak_activation_mb"] > 0
    assert big_image["peak_activation_mb"] > 2 * small["peak_activation_mb"]   # 4x the pixels
    assert big_image["weights_mb"] == small["weights_mb"]


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err, err
    return err


def test_export_and_bench_from_the_command_line(tmp_path, capsys):
    from gancomp_lite.cli import main
    from gancomp_lite.paths import DATA_DIR

    student = DATA_DIR / "students" / "stripes-pseudo-pairs-ngf4-ci.pt"
    out = tmp_path / "s.onnx"
    assert main(["export", str(student), "--format", "onnx", "--size", "32", "--out", str(out)]) == 0
    assert out.exists() and "largest difference" in capsys.readouterr().out
    report = tmp_path / "bench.json"
    assert main(["bench", str(student), "--random", "sub:4_4_4_4_4_4_2_2", "--size", "16",
                 "--repeats", "2", "--warmup", "0", "--threads", "1", "--json", str(report),
                 "--no-progress"]) == 0
    data = json.loads(report.read_text())
    assert {r["model"] for r in data["rows"]} == {student.stem, "sub:4_4_4_4_4_4_2_2"}
    assert data["settings"]["threads"] == 1 and "cpu" in data["machine"]
    assert all(r["status"] == "ok" and r["median_ms"] > 0 for r in data["rows"])
    assert all(r["max_abs_diff"] <= 1e-4 for r in data["rows"])
    kept = report.read_text()
    assert main(["bench", "--random", "resnet:4", "--json", str(report)]) == 2   # refused before timing
    assert "exists" in _one_error(capsys) and report.read_text() == kept
    # bad input: one clear error each
    assert main(["export", str(DATA_DIR / "features" / "synthetic-features.pt"), "--format", "onnx",
                 "--out", str(tmp_path / "f.onnx")]) == 2
    assert "expected a generator file" in _one_error(capsys)
    assert main(["export", str(DATA_DIR / "supernets" / "edges2shapes-channels-48-ci-uniform-seed0.pt"),
                 "--format", "onnx", "--out", str(tmp_path / "f.onnx")]) == 2
    assert "export one subnet first" in _one_error(capsys)
    assert main(["export", str(out), "--format", "onnx", "--out", str(tmp_path / "f.onnx")]) == 2
    assert "no manifest" in _one_error(capsys)
    with pytest.raises(SystemExit):
        main(["bench", "--random", "resnet:4", "--backends", "tensorrt"])
    assert "invalid choice" in capsys.readouterr().err
    assert main(["bench", "--random", "resnet:x"]) == 2
    assert "ARCH:NGF" in _one_error(capsys)
    assert main(["bench", "--random", "cat:big"]) == 2
    assert "cat:GMACS" in _one_error(capsys)
    assert main(["bench", "--random", "cat:100"]) == 2          # above the teacher's own cost
    assert "reachable are" in _one_error(capsys)
    assert not (tmp_path / "f.onnx").exists()


def _with_running_stats(G, seed=0):
    """``G`` with random BatchNorm statistics and affine parameters (a trained BN's kind)."""
    g = torch.Generator().manual_seed(seed)
    for m in G.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return G.eval()


@pytest.mark.parametrize("arch", ["mobile_resnet", "resnet", "unet"])
def test_batchnorm_folds_into_its_convolution_without_changing_the_output(arch):
    from gancomp_lite.deploy import fold_batchnorm

    kw = {"padding_type": "zero"} if arch != "unet" else {}
    G = _with_running_stats(build_generator(arch, ngf=8, norm="batch", image_size=64, **kw))
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())
    before = {k: v.clone() for k, v in G.state_dict().items()}
    F, folded = fold_batchnorm(G)
    assert folded == n_bn > 0 and not any(isinstance(m, torch.nn.BatchNorm2d) for m in F.modules())
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())   # the caller's net kept
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert float((F(x) - G(x)).abs().max()) < 1e-5
    # InstanceNorm cannot be folded: nothing changes
    assert fold_batchnorm(build_generator(arch, ngf=8, norm="instance", image_size=64))[1] == 0


def test_the_onnx_export_of_a_batchnorm_student_has_no_norm_nodes(tmp_path):
    import onnx

    G = _with_running_stats(build_generator("mobile_resnet", ngf=8, norm="batch", padding_type="zero"))
    r = export_generator(G, tmp_path / "g.onnx", "onnx", size=32)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "g.onnx")).graph.node}
    assert r["folded_norms"] > 0 and r["max_abs_diff"] <= 1e-4
    assert not ops & {"BatchNormalization", "InstanceNormalization"} and "Conv" in ops


def test_int8_quantization_is_checked_against_float32_and_removed_if_it_fails(tmp_path):
    from gancomp_lite.deploy import quantize_onnx
    from gancomp_lite.metrics.quality import test_set
    from gancomp_lite.training.checkpoint import load_student

    G = load_student("edges2shapes-prune-distill-keep-D-ngf12-ci")
    export_generator(G, tmp_path / "g.onnx", "onnx", size=32)
    images = test_set("edges2shapes", 8, 32, seed=3)["A"]
    r = quantize_onnx(tmp_path / "g.onnx", tmp_path / "g.int8.onnx", images)
    assert (tmp_path / "g.int8.onnx").exists() and 0 < r["mean_abs_diff"] <= r["tolerance"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.int8.onnx", "g.onnx"]   # no side files
    q = load_runner(tmp_path / "g.int8.onnx")
    with torch.no_grad():
        assert float((q(images) - G.float().eval()(images)).abs().mean()) < 0.05
    with pytest.raises(OutputExistsError):
        quantize_onnx(tmp_path / "g.onnx", tmp_path / "g.int8.onnx", images)
    with pytest.raises(ExportError, match="not written"):
        quantize_onnx(tmp_path / "g.onnx", tmp_path / "strict.onnx", images, tolerance=0.0)
    assert not (tmp_path / "strict.onnx").exists()
    with pytest.raises(GancompError, match="calibration"):
        quantize_onnx(tmp_path / "g.onnx", tmp_path / "x.onnx", images[0])


def test_the_benchmark_keeps_torchs_native_profiler_chatter_out_but_not_real_errors(capfd):
    import logging
    import os

    from gancomp_lite.metrics.latency import _quiet_native_stderr, peak_memory
    from gancomp_lite.models import MobileResnetGenerator

    with _quiet_native_stderr():
        os.write(2, b"USDT:2026-12-03 09:26:10 12369:12369 SyncActivityProfilerHandler.cpp:39] "
                    b"profiler_start\n")
        os.write(2, b"ERROR:2026-12-03 09:26:10 12369:12369 DeviceProperties.cpp:56] "
                    b"gpuGetDeviceCount failed with code 35\n")
        os.write(2, b"a real failure\n")
    err = capfd.readouterr().err
    assert err.splitlines() == ["a real failure"]
    peak_memory(MobileResnetGenerator(ngf=4), size=16)        # runs torch.profiler
    assert "USDT" not in capfd.readouterr().err
    logging.getLogger("torch.utils.cpp_extension").warning(
        "No CUDA runtime is found, using CUDA_HOME='/usr/local'")
    logging.getLogger("torch.utils.cpp_extension").warning("another note")
    err = capfd.readouterr().err
    assert "No CUDA runtime" not in err and "another note" in err


def test_a_deploy_friendly_student_trains_and_exports_with_no_norm_or_reflect_pad(tmp_path):
    """Issue 25: BatchNorm and zero padding, selectable at training time; every norm then
    folds into its convolution at export, and no reflect pad is left."""
    import dataclasses

    import onnx

    from gancomp_lite.data import open_dataset
    from gancomp_lite.training.distill import StudentRecipe, distill_objective, student_trainer
    from gancomp_lite.training.teachers import load_teacher

    teacher, D = load_teacher("edges2shapes", "ci", discriminator=True)
    recipe = StudentRecipe(task="edges2shapes", student="mobile_resnet", ngf=4, image_size=32,
                           deploy_friendly=True)
    train = open_dataset("edges2shapes", phase="train", n=8, size=32, seed=0)
    trainer = student_trainer(recipe, teacher, D, train, 3, 2, 0, progress=False)
    G = trainer.objective.translator()[0]
    bn = next(m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d))
    trainer.fit()
    assert bn.num_batches_tracked.item() > 0                    # trained with batch statistics
    G = G.eval()
    assert G.config["norm"] == "batch" and G.config["padding_type"] == "zero"
    kinds = {type(m) for m in G.modules()}
    assert not kinds & {torch.nn.InstanceNorm2d, torch.nn.ReflectionPad2d}
    assert all(torch.isfinite(torch.tensor(h["G/total"])) for h in trainer.history)
    r = export_generator(G, tmp_path / "g.onnx", "onnx", size=32)
    graph = onnx.load(str(tmp_path / "g.onnx")).graph
    ops = {n.op_type for n in graph.node}
    modes = [a.s for n in graph.node if n.op_type == "Pad" for a in n.attribute if a.name == "mode"]
    assert r["folded_norms"] > 0 and r["max_abs_diff"] <= 1e-4
    assert not ops & {"BatchNormalization", "InstanceNormalization"} and b"reflect" not in modes
    # recorded in the recipe only when used (earlier manifests stay valid)
    assert recipe.as_dict()["deploy_friendly"] is True
    assert "deploy_friendly" not in StudentRecipe(task="edges2shapes").as_dict()
    with pytest.raises(GancompError, match="L1 initialisation"):
        distill_objective(dataclasses.replace(recipe, init="l1"), teacher, D)
    with pytest.raises(GancompError, match="pruned start"):
        distill_objective(dataclasses.replace(recipe, student_file="x.pt"), teacher, D)


def test_int8_export_is_checked_on_held_out_images_and_refuses_unfoldable_norms(tmp_path):
    """Issue 25: the int8 model is judged on images the calibration did not see; a network
    whose norms cannot fold is refused when folding is required, and a BatchNorm one is not."""
    import onnx

    from gancomp_lite.deploy import export_int8, task_images, unfolded_norms

    calibration = task_images("edges2shapes", 8, 32, phase="train")
    held = task_images("edges2shapes", 4, 32, phase="test")
    assert calibration.shape == (8, 3, 32, 32) and not torch.equal(calibration[:4], held)
    G = _with_running_stats(build_generator("mobile_resnet", ngf=8, norm="batch", padding_type="zero"))
    assert unfolded_norms(G) == {}
    r = export_int8(G, tmp_path / "g.int8.onnx", calibration, held, require_folded=True)
    assert r["checked_on"] == "held-out" and r["check_images"] == 4 and r["calibration_images"] == 8
    assert r["folded_norms"] > 0 and 0 < r["mean_abs_diff"] <= r["tolerance"]
    ops = [n.op_type for n in onnx.load(str(tmp_path / "g.int8.onnx")).graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    assert not {"BatchNormalization", "InstanceNormalization"} & set(ops)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.int8.onnx"]    # no float file left
    with torch.no_grad():      # the int8 file computes G's function within the int8 tolerance
        assert float((load_runner(tmp_path / "g.int8.onnx")(held) - G(held)).abs().mean()) < 0.05
    # an exported file is a generator for the quality metrics: the deployed form is what is judged
    from gancomp_lite.deploy import ExportedGenerator
    from gancomp_lite.metrics.quality import evaluate, test_set

    data = test_set("edges2shapes", 8, 32, seed=0)
    q = {k: evaluate(net, "edges2shapes", data=data, features="synthetic", baselines=False)["l1"]
         for k, net in (("float", G), ("int8", ExportedGenerator(tmp_path / "g.int8.onnx")))}
    assert q["int8"] != q["float"] and abs(q["int8"] - q["float"]) < 0.05
    # the calibrated ranges: min-max calibration clips none of the calibration images' values
    from gancomp_lite.deploy import int8_ranges, onnx_ops, onnx_tensors

    ranges = int8_ranges(tmp_path / "g.int8.onnx")
    assert len(ranges) == onnx_ops(tmp_path / "g.int8.onnx")["QuantizeLinear"] > 10
    export_generator(G, tmp_path / "f.onnx", "onnx", size=32)
    assert "QuantizeLinear" not in onnx_ops(tmp_path / "f.onnx")
    inner = [n for n in ranges if n != "A"][:3]
    for name, v in onnx_tensors(tmp_path / "f.onnx", inner, calibration).items():
        r = ranges[name]
        assert r["low"] - r["scale"] <= v.min() and v.max() <= r["high"] + r["scale"], (name, r)
    with pytest.raises(GancompError, match="no tensor named"):
        onnx_tensors(tmp_path / "f.onnx", ["nowhere"], calibration)
    (tmp_path / "f.onnx").unlink()
    instance = build_generator("mobile_resnet", ngf=4)
    assert unfolded_norms(instance)["InstanceNorm2d"] > 0
    with pytest.raises(GancompError, match="cannot be folded.*deploy-friendly"):
        export_int8(instance, tmp_path / "i.onnx", calibration, held, require_folded=True)
    with pytest.raises(GancompError, match="the export is 64x64"):
        export_int8(G, tmp_path / "i.onnx", calibration, held, size=64)
    with pytest.raises(OutputExistsError):
        export_int8(G, tmp_path / "g.int8.onnx", calibration, held)
    assert not (tmp_path / "i.onnx").exists()


def test_int8_export_and_int8_benchmark_from_the_command_line(tmp_path, capsys):
    from gancomp_lite.cli import main
    from gancomp_lite.paths import DATA_DIR

    student = DATA_DIR / "students" / "stripes-pseudo-pairs-ngf4-ci.pt"
    out = tmp_path / "s.int8.onnx"
    assert main(["export", str(student), "--format", "onnx", "--int8", "--calibrate", "4",
                 "--size", "32", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert out.exists() and "4 stripes training images" in said and "held-out" in said
    report = tmp_path / "bench.json"
    assert main(["bench", str(student), "--random", "mobile_resnet:4:deploy", "--data", "stripes",
                 "--backends", "onnxruntime", "onnxruntime-int8", "--calibrate", "4", "--size",
                 "32", "--repeats", "2", "--warmup", "0", "--threads", "1", "--json", str(report),
                 "--no-progress"]) == 0
    data = json.loads(report.read_text())
    assert data["settings"]["calibrate"] == 4 and set(data["machine"]["instructions"]) >= {
        "avx2", "avx512", "vnni", "bf16"}
    deploy = {r["backend"]: r for r in data["rows"] if r["model"] == "mobile_resnet:4:deploy"}
    assert all(r["status"] == "ok" and r["weights"] == "random" for r in deploy.values())
    assert deploy["onnxruntime-int8"]["int8_tolerance"] == float("inf")    # reported, not gated
    rows = {r["backend"]: r for r in data["rows"] if r["model"] == student.stem}
    assert rows["onnxruntime-int8"]["weights"] == "trained" and rows["onnxruntime-int8"][
        "int8_tolerance"] == 0.05
    assert rows["onnxruntime-int8"]["status"] == "ok" and rows["onnxruntime-int8"]["median_ms"] > 0
    assert 0 < rows["onnxruntime-int8"]["mean_abs_diff"] <= 0.05
    assert rows["onnxruntime"]["max_abs_diff"] <= 1e-4 < rows["onnxruntime-int8"]["max_abs_diff"]
    # bad input: one clear error each, nothing written
    with pytest.raises(SystemExit):
        main(["export", str(student), "--format", "onnx", "--int8", "--calibrate", "0",
              "--out", str(tmp_path / "x.onnx")])
    assert "positive" in capsys.readouterr().err
    for argv, words in [
            (["export", str(student), "--format", "torch-export", "--int8", "--out",
              str(tmp_path / "x.pt2")], "use --format onnx"),
            (["export", str(student), "--format", "onnx", "--calibrate", "4", "--out",
              str(tmp_path / "x.onnx")], "add --int8"),
            (["export", str(student), "--format", "onnx", "--int8", "--require-folded", "--size",
              "32", "--out", str(tmp_path / "x.onnx")], "cannot be folded"),
            (["bench", "--random", "mobile_resnet:4", "--backends", "onnxruntime-int8"],
             "--data"),
            (["bench", str(student), "--calibrate", "4"], "add one to --backends"),
            (["bench", "--random", "unet:4:deploy"], "ARCH:NGF:deploy")]:
        assert main(argv) == 2, argv
        assert words in _one_error(capsys), argv
    assert not list(tmp_path.glob("x.*"))


def test_batchnorm_statistics_give_a_random_batchnorm_network_real_activations():
    """A random BatchNorm stand-in normalises by mean 0 / variance 1 and its output collapses;
    with its inputs' statistics it draws images that vary, and nothing else changes."""
    from gancomp_lite.deploy import batchnorm_statistics, task_images

    torch.manual_seed(0)
    G = build_generator("mobile_resnet", ngf=8, norm="batch", padding_type="zero").eval()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    x = task_images("edges2shapes", 8, 32)
    B = batchnorm_statistics(G, x)
    with torch.no_grad():
        collapsed, real = G(x).std(0).mean(), B(x).std(0).mean()
    assert real > 100 * collapsed and real > 0.05
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())   # the caller's net kept
    assert all(torch.equal(p, q) for p, q in zip(G.parameters(), B.parameters()))
    bn = next(m for m in B.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not B.training and float(bn.running_var.mean()) != 1.0
