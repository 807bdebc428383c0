"""Hostile inputs against timesformer-cli and a real timesformer pipeline (suite 'hostile').

Generates hostile model folders and files (sizes at and past the limits, special files,
symbolic links, permissions, non-finite numbers in clips, preprocessing and weights, shapes
past the memory bound) and runs each case in a child bounded in time (TIMEOUT_S) and address
space (RLIMIT_AS); the case fails on a signal, a time-out or a peak RSS over RSS_LIMIT_MB. A refusal (exit status 1 with a message
naming the culprit) or a success is a pass. New cases: a line in cases().
Usage: run_hostile.py TIMESFORMER_CLI TEST_MODELS_DIR (GST_PLUGIN_PATH set by meson).
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

CLI, MODELS = sys.argv[1], sys.argv[2]
TIMEOUT_S = 30
RSS_LIMIT_MB = 1500
AS_LIMIT = 8 << 30          # address space: oneDNN and OpenMP reserve some
NOBODY = 65534
GOOD = os.path.join(MODELS, "divided")
GOOD_CLIP = os.path.join(MODELS, "inputs", "divided_t4_32x32.npy")


def copy_model(tmp, name):
    path = os.path.join(tmp, name)
    shutil.copytree(GOOD, path)
    return path


def replace(path, make):
    if os.path.lexists(path):
        os.remove(path)
    make(path)
    return path


def padded_config(size):
    with open(os.path.join(GOOD, "config.json")) as f:
        text = f.read().rstrip()
    head = text[:-1] + ', "padding": "'
    return head + "x" * (size - len(head) - 2) + '"}'


def many_values_config(values):
    with open(os.path.join(GOOD, "config.json")) as f:
        text = f.read().rstrip()
    return text[:-1] + ', "many": [' + ",".join(["0"] * values) + "]}"


def poke_weight(model, value):
    """Sets element 0 of the first F32 tensor of layer 0 in model.safetensors to value."""
    path = os.path.join(model, "model.safetensors")
    data = bytearray(open(path, "rb").read())
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length])
    name = sorted(n for n, t in header.items()
                  if n != "__metadata__" and ".layer.0." in n and t["dtype"] == "F32")[0]
    begin = 8 + length + header[name]["data_offsets"][0]
    data[begin:begin + 4] = np.array([value], dtype="<f4").tobytes()
    with open(path, "wb") as f:
        f.write(data)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def cases(tmp):
    """(name, command, expected text in stderr or None, run as nobody) per case."""
    out = []

    def model_case(name, model, expect, nobody=False, labels=None, cli=True):
        extra = ("--labels", labels) if labels else ()
        if cli:
            out.append((name + " (cli)", [CLI, "info", "--model", model, *extra], expect,
                        nobody))
        # gst-launch -q prints no error text: a refusal is a non-zero exit
        out.append((name + " (pipeline)", ["gst-launch-1.0", "-q", "videotestsrc",
                                           "num-buffers=8", "!", "timesformer",
                                           f"model={model}", "frame-stride=1",
                                           *([f"labels={labels}"] if labels else []), "!",
                                           "fakesink"], "" if expect is not None else None,
                    nobody))

    for file in ("config.json", "preprocessor_config.json", "model.safetensors"):
        m = copy_model(tmp, "fifo-" + file)
        replace(os.path.join(m, file), os.mkfifo)
        model_case("FIFO as " + file, m, "is a FIFO")
        m = copy_model(tmp, "zero-" + file)
        replace(os.path.join(m, file), lambda p: os.symlink("/dev/zero", p))
        model_case(file + " -> /dev/zero", m, "is a character device")
    fifo = replace(os.path.join(tmp, "model.pyth"), os.mkfifo)
    model_case("FIFO as the model", fifo, "is a FIFO")
    model_case("/dev/zero as the model", "/dev/zero", "is a character device")
    model_case("labels from /dev/zero", GOOD, "is a character device", labels="/dev/zero")
    loop_a = os.path.join(tmp, "loop-a")
    os.symlink(os.path.join(tmp, "loop-b"), loop_a)
    os.symlink(loop_a, os.path.join(tmp, "loop-b"))
    model_case("symbolic link loop", loop_a, "too many levels of symbolic links")

    m = copy_model(tmp, "config-at-cap")
    write(os.path.join(m, "config.json"), padded_config(16 << 20))
    model_case("config.json at its cap", m, None)
    m = copy_model(tmp, "config-past-cap")
    write(os.path.join(m, "config.json"), padded_config((16 << 20) + 1))
    model_case("config.json past its cap", m, "may be at most 16777216 bytes")
    m = copy_model(tmp, "million-values")
    write(os.path.join(m, "config.json"), many_values_config(1 << 20))
    model_case("config.json past the JSON value count", m, "JSON values")
    for name, pre, expect in [
            ("image_std 1e-300", {"image_std": 1e-300}, "found 1e-300"),
            ("image_std 1e-45", {"image_std": [0.2, 1e-45, 0.2]}, "found 1e-45"),
            ("image_mean 1e300", {"image_mean": 1e300}, "found 1e+300"),
            ("crop past the memory bound", {"size": {"shortest_edge": 8192},
                                            "crop_size": 8192}, "attention scores")]:
        m = copy_model(tmp, name.replace(" ", "-"))
        write(os.path.join(m, "preprocessor_config.json"), json.dumps(pre))
        model_case(name, m, expect, cli="crop" not in name)   # info runs the config's size
    m = copy_model(tmp, "no-permission")
    os.chmod(tmp, 0o755)
    for f in os.listdir(m):
        os.chmod(os.path.join(m, f), 0)
    model_case("files without read permission", m, "permission denied", nobody=True)

    huge = write(os.path.join(tmp, "huge.json"), json.dumps(
        {"image_size": 2048, "patch_size": 2, "num_frames": 1, "hidden_size": 8,
         "num_attention_heads": 2, "intermediate_size": 8, "num_hidden_layers": 1}))
    for attention in ("divided_space_time", "joint_space_time", "space_only"):
        config = json.load(open(huge))
        config["attention_type"] = attention
        path = write(os.path.join(tmp, attention + ".json"), json.dumps(config))
        out.append((f"2^20 tokens, {attention} (bench)", [CLI, "bench", "--config", path,
                                                        "--iterations", "1"],
                    "attention scores", False))
    clip = np.load(GOOD_CLIP)
    for name, value in [("NaN", np.nan), ("infinity", np.inf)]:
        bad = clip.copy()
        bad[0, 0, 0, 0] = value
        path = os.path.join(tmp, name + ".npy")
        np.save(path, bad)
        out.append((f"{name} in the clip", [CLI, "classify", "--model", GOOD, "--input", path,
                                            "--json"], "at frame 0", False))
    for name, value in [("NaN", np.nan), ("infinity", np.inf)]:
        m = copy_model(tmp, name + "-weight")
        poke_weight(m, value)
        out.append((f"{name} in the weights (cli)", [CLI, "classify", "--model", m, "--input",
                                                     GOOD_CLIP, "--json"],
                    "logits are NaN or infinite", False))
        # the element skips each clip with a warning and runs to the end
        out.append((f"{name} in the weights (pipeline)",
                    ["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=8", "!", "timesformer",
                     f"model={m}", "frame-stride=1", "!", "fakesink"], None, False))
    for threads in ("65536", "-1"):
        out.append((f"--threads {threads}", [CLI, "classify", "--model", GOOD, "--input",
                                             GOOD_CLIP, "--threads", threads],
                    "--threads must be", False))
    return out


def limit(nobody):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
        if nobody and os.geteuid() == 0:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
    return apply


def run_case(name, command, expect, nobody):
    start = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             preexec_fn=limit(nobody), start_new_session=True)
    try:
        _, stderr = child.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return f"timed out after {TIMEOUT_S} s"
    # peak RSS of the children reaped so far: the largest is this one's or an earlier one's
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stderr = stderr.decode(errors="replace")
    seconds = time.monotonic() - start
    print(f"{name}: exit {child.returncode}, {seconds:.1f} s, peak RSS so far {rss_mb:.0f} MB: "
          f"{stderr.strip().splitlines()[-1] if stderr.strip() else ''}"[:300])
    if child.returncode < 0:
        return f"killed by signal {-child.returncode}"
    if rss_mb > RSS_LIMIT_MB:
        return f"peak RSS {rss_mb:.0f} MB over {RSS_LIMIT_MB} MB"
    if expect == "" and child.returncode == 0:
        return "exit 0, expected a refusal"
    if expect and (child.returncode != 1 or expect not in stderr):
        return f"exit {child.returncode}, expected a refusal naming {expect!r}"
    if expect is None and child.returncode != 0:
        return f"exit {child.returncode}, expected success: {stderr}"
    return None


def main():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, command, expect, nobody in cases(tmp):
            failure = run_case(name, command, expect, nobody)
            if failure:
                failures.append(f"{name}: {failure}")
        os.chmod(tmp, 0o700)
    for failure in failures:
        print("FAIL:", failure)
    sys.exit(1 if failures else 0)


main()
