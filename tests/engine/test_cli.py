"""timesformer-cli against the reference models of $TSF_TEST_MODELS (run by meson test)."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CLI = sys.argv[1]
MODELS = os.environ["TSF_TEST_MODELS"]
CHECKPOINTS = os.path.join(os.environ["TSF_BUILD_ROOT"], "tests", "checkpoints")


def run(*args, env=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60,
                          env=None if env is None else {**os.environ, **env})


def check(condition, message):
    if not condition:
        print("FAIL:", message)
        sys.exit(1)


def test_classify_json():
    with open(os.path.join(MODELS, "cases.json")) as f:
        case = next(c for c in json.load(f) if c["name"] == "divided_t4_32x32")
    r = run("classify", "--model", os.path.join(MODELS, case["model"]),
            "--input", os.path.join(MODELS, case["input"]), "--top-k", "3", "--json")
    check(r.returncode == 0, f"classify failed: {r.stderr}")
    out = json.loads(r.stdout)
    expected = np.load(os.path.join(MODELS, case["expected"])).astype(np.float64)
    logits = np.array(out["logits"])
    check(logits.shape == expected.shape, f"logits shape {logits.shape}")
    tolerance = 1e-4 * max(1.0, np.abs(expected).max())
    check(np.abs(logits - expected).max() <= tolerance, "logits differ from the reference")
    probs = np.exp(expected - expected.max())
    probs /= probs.sum()
    order = np.argsort(-expected)[:3]
    check([t["id"] for t in out["top"]] == list(order), f"top ids {out['top']}")
    for t in out["top"]:
        check(abs(t["score"] - probs[t["id"]]) < 1e-4, f"score {t}")
        check(t["label"] == f"LABEL_{t['id']}", f"label {t}")
    check(out["inference_ms"] > 0, "inference_ms")
    text = run("classify", "--model", os.path.join(MODELS, case["model"]),
               "--input", os.path.join(MODELS, case["input"]), "--top-k", "2")
    check(text.returncode == 0 and len(text.stdout.splitlines()) == 3, f"text: {text.stdout}")


def test_bench_and_info():
    config = os.path.join(MODELS, "divided", "config.json")
    r = run("bench", "--config", config, "--iterations", "2", "--threads", "1", "--json")
    check(r.returncode == 0, f"bench failed: {r.stderr}")
    out = json.loads(r.stdout)
    for key in ("median_ms", "gflop", "gflops", "matmul_peak_gflops", "efficiency", "peak_rss_mb"):
        check(key in out and out[key] > 0, f"bench {key}: {out}")
    r = run("info", "--model", os.path.join(MODELS, "divided"))
    check(r.returncode == 0 and "divided_space_time" in r.stdout and "LABEL_9" in r.stdout,
          f"info: {r.stdout} {r.stderr}")


def test_errors():
    with tempfile.TemporaryDirectory() as tmp:
        bad_rank = os.path.join(tmp, "rank3.npy")
        np.save(bad_rank, np.zeros((4, 3, 32), dtype=np.float32))
        bad_channels = os.path.join(tmp, "channels.npy")
        np.save(bad_channels, np.zeros((4, 2, 32, 32), dtype=np.float32))
        model = os.path.join(MODELS, "divided")
        good = os.path.join(MODELS, "inputs", "divided_t4_32x32.npy")
        cases = [
            (("classify", "--model", os.path.join(tmp, "missing"), "--input", good), "missing"),
            (("classify", "--model", model, "--input", bad_rank), "4 dimensions"),
            (("classify", "--model", model, "--input", bad_channels), "channels"),
            (("classify", "--model", model), "--input is required"),
            (("bench", "--model", model, "--config", "x.json"), "exactly one"),
            (("nonsense",), "unknown command"),
        ]
        for args, message in cases:
            r = run(*args)
            check(r.returncode != 0, f"{args} succeeded")
            check(message in r.stderr, f"{args}: stderr {r.stderr!r} lacks {message!r}")
    for command in ("classify", "bench", "info", "convert"):
        r = run(command, "--help")
        check(r.returncode == 0 and "--model" in r.stdout, f"{command} --help")


def classify_logits(model, *options):
    clip = os.path.join(MODELS, "inputs", "divided_t4_32x32.npy")
    r = run("classify", "--model", model, "--input", clip, "--json", *options)
    check(r.returncode == 0, f"classify {model} failed: {r.stderr}")
    out = json.loads(r.stdout)
    return out["logits"], out["top"]


def test_checkpoints_and_convert():
    """An official .pyth runs as is and converts to a directory; both give the logits of the
    safetensors model."""
    pyth = os.path.join(CHECKPOINTS, "models", "divided.pyth")
    labels = os.path.join(CHECKPOINTS, "models", "divided.labels.txt")
    options = ("--num-heads", "4", "--labels", labels)
    want, _ = classify_logits(os.path.join(MODELS, "divided"))
    got, top = classify_logits(pyth, *options)
    check(got == want, "the .pyth logits differ from the safetensors model's")
    check(all(t["label"] == f"divided class {t['id']}" for t in top), f"labels: {top}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "converted")
        r = run("convert", "--model", pyth, "--output", out, *options)
        check(r.returncode == 0, f"convert failed: {r.stderr}")
        check(sorted(os.listdir(out)) == ["config.json", "model.safetensors",
                                          "preprocessor_config.json"], f"{os.listdir(out)}")
        with open(os.path.join(out, "config.json")) as f:
            config = json.load(f)
        check(config["num_attention_heads"] == 4 and config["id2label"]["3"] == "divided class 3",
              f"config.json: {config}")
        got, _ = classify_logits(out)
        check(got == want, "the converted model's logits differ from the safetensors model's")
        r = run("info", "--model", pyth, "--num-heads", "3")
        check(r.returncode != 0 and "--num-heads" in r.stderr, f"info with 3 heads: {r.stderr}")
        for args, message in [
                (("convert", "--model", pyth), "--output is required"),
                (("convert", "--model", os.path.join(CHECKPOINTS, "hostile", "legacy.bin"),
                  "--output", out + "2"), "legacy"),
                (("info", "--model", pyth, "--num-heads", "-1"), "--num-heads must be positive"),
                (("info", "--model", pyth, "--labels", os.path.join(tmp, "none.txt")),
                 "labels file")]:
            r = run(*args)
            check(r.returncode != 0 and message in r.stderr, f"{args}: {r.stderr!r}")
        check(not os.path.exists(out + "2"), "a failed convert left a directory")


def test_precision():
    model = os.path.join(MODELS, "divided")
    config = os.path.join(model, "config.json")
    for p in ("f32", "bf16", "int8"):
        r = run("bench", "--config", config, "--iterations", "1", "--precision", p, "--json")
        check(r.returncode == 0 and json.loads(r.stdout)["precision"] == p, f"bench {p}: {r.stderr}")
    r = run("info", "--model", model, "--precision", "auto")
    check(r.returncode == 0 and any(f"precision:          {p}" in r.stdout
                                    for p in ("f32", "bf16", "int8")), f"auto: {r.stdout}")
    r = run("info", "--model", model, "--precision", "fp64")
    check(r.returncode != 0 and '"fp64"' in r.stderr, f"bad precision: {r.stderr}")
    # oneDNN held to AVX2 has no bf16 matmul: refused by name, not a backend failure
    r = run("info", "--model", model, "--precision", "bf16", env={"ONEDNN_MAX_CPU_ISA": "AVX2"})
    check(r.returncode != 0 and "bf16 is not supported on this CPU" in r.stderr,
          f"bf16 on AVX2: {r.stderr}")
    # held to AVX-512 without bf16 instructions, bf16 is emulated: slower, and said so
    if "avx512f" in open("/proc/cpuinfo").read():
        r = run("info", "--model", model, "--precision", "bf16",
                env={"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"})
        check(r.returncode == 0 and "bf16 runs slower than f32" in r.stderr
              and "bf16 runs slower than f32" in r.stdout, f"slow bf16: {r.stdout} {r.stderr}")


test_classify_json()
test_bench_and_info()
test_precision()
test_errors()
test_checkpoints_and_convert()
print("ok")
