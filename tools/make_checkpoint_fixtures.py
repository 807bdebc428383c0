#!/usr/bin/python3
"""Generates PyTorch checkpoint fixtures for the engine's zip/pickle reader.

  make_checkpoint_fixtures.py --out DIR
      DIR/valid/*.bin: checkpoints written by torch.save (default zip format) covering what
      the reader must accept (float32/float16/bfloat16, views with storage offsets and
      strides, nn.Parameters, training-checkpoint wrappers, pickle protocol 4, scalars);
      DIR/hostile/*: files it must refuse (pickles naming os.system or builtins.eval, REDUCE
      of a storage type, missing or short storages, strides past a storage, unsafe zip entry
      names, truncated archives, the legacy format...);
      DIR/manifest.json: {"valid": [{"file", "tensors": [{"name", "dtype", "shape", "values"}]}],
      "hostile": [{"file", "error", "marker"}]} where "error" is a substring of the expected
      message and "marker" a file that must still not exist after the load attempt.

  make_checkpoint_fixtures.py --models TEST_MODELS_DIR --out DIR
      the reference test models (tools/make_test_models.py) as PyTorch checkpoints, in
      DIR/models/: <m>_hf_bin/ and <m>_official_bin/ (config.json, preprocessor_config.json and
      a pytorch_model.bin with Hugging Face or official "model."-prefixed names; listed as the
      folder and as the file, whose config.json is its neighbour), <m>.pyth (an
      official training checkpoint: {"epoch", "model_state", "optimizer_state", "cfg"}, two
      weights stored as strided views with storage offsets), <m>_bare.pyth (official names, no
      prefix, no wrapper), <m>.labels.txt (labels other than config.json's); and DIR/models.json: [{"path", "model", "num_heads",
      "labels", "input"}] (paths relative to DIR; "model" names the safetensors model they must
      equal, "input" a clip of it in TEST_MODELS_DIR).

Everything is seeded. Run with /usr/bin/python3.
"""

import argparse
import collections
import io
import json
import os
import pickle
import zipfile

import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timesformer_reference as ref  # noqa: E402


# ---- crafting pickles the way torch.save does, with any layout we like ----

class Storage:
    def __init__(self, key, storage_type, numel):
        self.key, self.storage_type, self.numel = key, storage_type, numel


class View:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False,
                 collections.OrderedDict()))


class CraftPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def craft_pickle(obj):
    buffer = io.BytesIO()
    CraftPickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def write_zip(path, data_pkl, storages, extra=()):
    """A zip laid out like torch.save's: archive/data.pkl, archive/data/<key>, archive/version."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data_pkl)
        for key, data in storages.items():
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", "3\n")
        for name, data in extra:
            z.writestr(name, data)


def rewrite_zip(src, dst, drop=(), add=()):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if not any(info.filename.endswith(d) for d in drop):
                zout.writestr(info.filename, zin.read(info.filename))
        for name, data in add:
            zout.writestr(name, data)


# ---- valid checkpoints ----

def describe(tensors):
    return [{"name": name, "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
             "values": t.float().flatten().tolist()} for name, t in tensors.items()]


def valid_cases(gen):
    linear = torch.nn.Linear(4, 3)
    with torch.no_grad():
        linear.weight.normal_(generator=gen)
        linear.bias.normal_(generator=gen)
    base = torch.randn(6, 5, generator=gen)
    views = collections.OrderedDict([
        ("base", base),
        ("transposed", base.t()[1:]),          # strides (1, 5), offset 5
        ("offset", base[2:, 1:]),              # strides (5, 1), offset 11
        ("column", base[:, 3]),                # stride 5, offset 3
    ])
    sgd = torch.optim.SGD(linear.parameters(), lr=0.1, momentum=0.9)
    linear(torch.randn(2, 4, generator=gen)).sum().backward()
    sgd.step()
    state = linear.state_dict()
    cases = {
        "plain_f32": (state, {}),
        "plain_f16": (collections.OrderedDict((k, v.half()) for k, v in state.items()), {}),
        "plain_bf16": (collections.OrderedDict((k, v.bfloat16()) for k, v in state.items()), {}),
        "views": (views, {}),
        "parameters": (dict(linear.named_parameters()), {}),
        "protocol4": (state, {"pickle_protocol": 4}),
        "scalars": ({"scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3),
                     "row": torch.randn(1, 7, generator=gen)}, {}),
        "training_checkpoint": ({"epoch": 3, "model_state": state,
                                 "optimizer_state": sgd.state_dict(),
                                 "cfg": "TRAIN:\n  BATCH_SIZE: 8\n", "best": 0.75,
                                 "big": 2 ** 40, "neg": -7, "flags": [True, None]}, {}),
        "state_dict_wrapper": ({"state_dict": state, "step": 10}, {}),
    }
    for name, (obj, kwargs) in cases.items():
        tensors = obj
        for key in ("model_state", "state_dict"):
            if key in obj:
                tensors = obj[key]
        yield name, obj, kwargs, tensors


# ---- hostile files ----

def hostile_cases(out, gen):
    state = collections.OrderedDict(w=torch.randn(2, 3, generator=gen), b=torch.randn(2, generator=gen))
    good = os.path.join(out, "hostile", "good.bin.tmp")
    torch.save(state, good)
    with open(good, "rb") as f:
        good_bytes = f.read()

    def marker(name):
        path = os.path.join(out, "hostile", name + ".ran")
        if os.path.exists(path):
            os.remove(path)
        return path

    class System:
        def __init__(self, command):
            self.command = command

        def __reduce__(self):
            return (os.system, (self.command,))

    cases = []

    def add(name, data_or_writer, error, marker_path=None):
        path = os.path.join(out, "hostile", name)
        if callable(data_or_writer):
            data_or_writer(path)
        else:
            with open(path, "wb") as f:
                f.write(data_or_writer)
        cases.append({"file": os.path.relpath(path, out), "error": error, "marker": marker_path})

    # os.system named directly (GLOBAL 'os system'), as hand-written exploit pickles do
    m = marker("os_system")
    cmd = f"touch {m}".encode()
    evil = b"\x80\x02cos\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd + b"\x85R."
    add("os_system.bin", lambda p: write_zip(p, evil, {}), "'os.system' is not allowed", m)
    # what Python's own pickler writes for os.system (GLOBAL 'posix system')
    m = marker("posix_system")
    add("posix_system.bin", lambda p: write_zip(p, pickle.dumps(System(f"touch {m}"), protocol=2), {}),
        "'posix.system' is not allowed", m)
    # builtins.eval through protocol 4's STACK_GLOBAL
    m = marker("builtins_eval")
    src = f"__import__('os').system('touch {m}')".encode()
    evil = (b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93X" + len(src).to_bytes(4, "little") + src
            + b"\x85R.")
    add("builtins_eval.bin", lambda p: write_zip(p, evil, {}), "'builtins.eval' is not allowed", m)
    # REDUCE of a callable that is allowed as a name but not as a call
    evil = b"\x80\x02ctorch\nFloatStorage\n)R."
    add("reduce_storage_type.bin", lambda p: write_zip(p, evil, {}),
        "REDUCE of a storage type is not allowed")
    # an opcode torch.save never writes (NEWOBJ)
    evil = b"\x80\x02ccollections\nOrderedDict\n)\x81."
    add("newobj.bin", lambda p: write_zip(p, evil, {}), "opcode 0x81 is not allowed")
    # storage entry missing from the archive
    add("missing_storage.bin", lambda p: rewrite_zip(good, p, drop=["/data/0"]),
        "missing from the archive")
    # a storage entry shorter than the pickle says
    s = Storage("0", torch.FloatStorage, 6)
    add("short_storage.bin", lambda p: write_zip(
        p, craft_pickle({"w": View(s, 0, (2, 3), (3, 1))}), {"0": bytes(20)}),
        "holds 20 bytes, expected 24")
    # strides that reach past the storage (6 elements; the view's last element is at 2+1*3+2*1=7)
    add("strides_past_storage.bin", lambda p: write_zip(
        p, craft_pickle({"w": View(s, 2, (2, 3), (3, 1))}), {"0": bytes(24)}),
        "reaches past its storage")
    # one storage declared with two sizes (found by fuzz-torchzip: the second tensor read past
    # the bytes read for the first)
    empty = Storage("0", torch.FloatStorage, 0)
    add("storage_two_sizes.bin", lambda p: write_zip(
        p, craft_pickle(collections.OrderedDict(a=View(empty, 0, (0,), (1,)),
                                                b=View(s, 0, (2, 3), (3, 1)))), {"0": b""}),
        "declared with 24 bytes, but another tensor declared it with 0")
    # an integer tensor in the state dict
    s64 = Storage("0", torch.LongStorage, 2)
    add("int64_tensor.bin", lambda p: write_zip(
        p, craft_pickle({"w": View(s64, 0, (2,), (1,))}), {"0": bytes(16)}), "is int64")
    # a state dict entry that is not a tensor
    add("not_a_tensor.bin", lambda p: write_zip(p, craft_pickle({"w": 3}), {}),
        "is a int, not a tensor")
    # big-endian storages (PyTorch 2 writes archive/byteorder)
    add("big_endian.bin", lambda p: rewrite_zip(good, p, add=[("good.bin/byteorder", b"big")]),
        "not little-endian")
    # unsafe entry names next to a valid checkpoint
    add("path_traversal.bin", lambda p: rewrite_zip(good, p, add=[("archive/../../evil", b"x")]),
        "unsafe name")
    add("absolute_path.bin", lambda p: rewrite_zip(good, p, add=[("/tmp/evil", b"x")]),
        "unsafe name")
    # archives cut short
    add("truncated_half.bin", good_bytes[:len(good_bytes) // 2], "damaged or truncated zip")
    add("truncated_tail.bin", good_bytes[:-10], "damaged or truncated zip")
    pkl = pickle.dumps(collections.OrderedDict(a=1), protocol=2)
    add("truncated_pickle.bin", lambda p: write_zip(p, pkl[:-3], {}), "(truncated file?)")
    add("pickle_without_stop.bin", lambda p: write_zip(p, pkl[:-1], {}), "without STOP")
    # the legacy (pre-1.6) format and files that are not checkpoints at all
    add("legacy.bin", lambda p: torch.save(state, p, _use_new_zipfile_serialization=False),
        "legacy (pre-1.6, non-zip)")
    add("not_a_checkpoint.bin", b"this is not a checkpoint\n", "not a PyTorch zip checkpoint")
    add("empty.bin", b"", "not a PyTorch zip checkpoint")
    os.remove(good)
    return cases


# ---- the reference models as official and Hugging Face checkpoints ----

# Hugging Face name pieces -> official (timesformer/models/vit.py) names; the engine's own
# table (engine/model/tsf-official.c) is the inverse, so the two are written independently.
HF_TO_OFFICIAL = [
    ("timesformer.embeddings.cls_token", "cls_token"),
    ("timesformer.embeddings.position_embeddings", "pos_embed"),
    ("timesformer.embeddings.time_embeddings", "time_embed"),
    ("timesformer.embeddings.patch_embeddings.projection.", "patch_embed.proj."),
    ("temporal_layernorm.", "temporal_norm1."),
    ("temporal_attention.attention.qkv.", "temporal_attn.qkv."),
    ("temporal_attention.output.dense.", "temporal_attn.proj."),
    ("temporal_dense.", "temporal_fc."),
    ("layernorm_before.", "norm1."),
    ("attention.attention.qkv.", "attn.qkv."),
    ("attention.output.dense.", "attn.proj."),
    ("layernorm_after.", "norm2."),
    ("intermediate.dense.", "mlp.fc1."),
    ("output.dense.", "mlp.fc2."),
    ("timesformer.layernorm.", "norm."),
    ("classifier.", "head."),
]
CHECKPOINT_MODELS = ["divided", "divided_noqkvbias", "joint", "space_only", "divided_f16",
                     "divided_bf16"]


def official_name(name):
    layer = "timesformer.encoder.layer."
    if name.startswith(layer):
        index, rest = name[len(layer):].split(".", 1)
        for hf, official in HF_TO_OFFICIAL:
            if rest.startswith(hf):
                return f"blocks.{index}.{official}{rest[len(hf):]}"
    for hf, official in HF_TO_OFFICIAL:
        if name == hf or (hf.endswith(".") and name.startswith(hf)):
            return official + name[len(hf):]
    raise KeyError(name)


def strided_copy(t):
    """The same values as a non-contiguous view with a storage offset (like a slice of a
    transposed buffer)."""
    big = torch.zeros(t.shape[1] + 1, t.shape[0] + 2, dtype=t.dtype)
    big[1:, 2:] = t.t()
    view = big[1:, 2:].t()
    assert not view.is_contiguous() and view.storage_offset() > 0 and torch.equal(view, t)
    return view


def official_training_checkpoint(official):
    state = collections.OrderedDict(("model." + k, v) for k, v in official.items())
    for name in ("model.head.weight", "model.blocks.0.mlp.fc1.weight"):
        state[name] = strided_copy(state[name])
    params = list(range(len(state)))
    return {"epoch": 15, "model_state": state,
            "optimizer_state": {"state": {0: {"momentum_buffer": torch.zeros(3)}},
                                "param_groups": [{"lr": 0.005, "momentum": 0.9, "dampening": 0,
                                                  "weight_decay": 1e-4, "nesterov": False,
                                                  "params": params}]},
            "cfg": "TIMESFORMER:\n  ATTENTION_TYPE: divided_space_time\n"}


def make_model_checkpoints(models_dir, out):
    out_models = os.path.join(out, "models")
    os.makedirs(out_models, exist_ok=True)
    entries = []
    with open(os.path.join(models_dir, "cases.json")) as f:
        first_input = {}
        for case in json.load(f):
            first_input.setdefault(case["model"], case["input"])
    for name in CHECKPOINT_MODELS:
        src = os.path.join(models_dir, name)
        hf, _ = ref.read_safetensors(os.path.join(src, "model.safetensors"))
        hf = collections.OrderedDict(sorted(hf.items()))
        official = collections.OrderedDict((official_name(k), v) for k, v in hf.items())
        with open(os.path.join(src, "config.json")) as f:
            config = json.load(f)
        labels = [f"{name} class {i}" for i in range(len(config["id2label"]))]
        for kind, state in (("hf_bin", hf),
                            ("official_bin", {"model." + k: v for k, v in official.items()})):
            folder = os.path.join(out_models, f"{name}_{kind}")
            os.makedirs(folder, exist_ok=True)
            for extra in ("config.json", "preprocessor_config.json"):
                shutil.copy(os.path.join(src, extra), folder)
            torch.save(state, os.path.join(folder, "pytorch_model.bin"))
            for path in (f"models/{name}_{kind}", f"models/{name}_{kind}/pytorch_model.bin"):
                entries.append({"path": path, "model": name, "num_heads": 0, "labels": None,
                                "input": first_input[name]})
        labels_path = os.path.join(out_models, f"{name}.labels.txt")
        with open(labels_path, "w") as f:
            f.write("".join(label + "\n" for label in labels))
        torch.save(official_training_checkpoint(official), os.path.join(out_models, f"{name}.pyth"))
        torch.save(official, os.path.join(out_models, f"{name}_bare.pyth"))
        for pyth in (f"{name}.pyth", f"{name}_bare.pyth"):
            entries.append({"path": f"models/{pyth}", "model": name,
                            "num_heads": config["num_attention_heads"],
                            "labels": f"models/{name}.labels.txt", "input": first_input[name]})
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump(entries, f, indent=1)
    print(f"make_checkpoint_fixtures: {len(entries)} model checkpoints in {out_models}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--models", help="the test models folder (make_test_models.py --out)")
    args = parser.parse_args()
    if args.models:
        make_model_checkpoints(args.models, args.out)
        return
    gen = torch.Generator().manual_seed(1234)
    for sub in ("valid", "hostile"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    valid = []
    for name, obj, kwargs, tensors in valid_cases(gen):
        path = os.path.join(args.out, "valid", name + ".bin")
        torch.save(obj, path, **kwargs)
        valid.append({"file": os.path.relpath(path, args.out), "tensors": describe(tensors)})
    hostile = hostile_cases(args.out, gen)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump({"valid": valid, "hostile": hostile}, f, indent=1)
    print(f"make_checkpoint_fixtures: {len(valid)} valid, {len(hostile)} hostile in {args.out}")


if __name__ == "__main__":
    main()
