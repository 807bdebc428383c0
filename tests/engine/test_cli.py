"""timesformer-cli against the reference models of $TSF_TEST_MODELS (run by meson test)."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CLI = sys.argv[1]
MODELS = os.environ["TSF_TEST_MODELS"]


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60)


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
    for command in ("classify", "bench", "info"):
        r = run(command, "--help")
        check(r.returncode == 0 and "--model" in r.stdout, f"{command} --help")


test_classify_json()
test_bench_and_info()
test_errors()
print("ok")
