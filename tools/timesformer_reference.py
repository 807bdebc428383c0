"""PyTorch reference of TimeSformer (Bertasius et al. 2021) with Hugging Face parameter names.

A readable re-implementation of `TimesformerForVideoClassification` (transformers,
models/timesformer/modeling_timesformer.py) computing exactly what the official code computes
(facebookresearch/TimeSformer, timesformer/models/vit.py) for the three attention types
`divided_space_time`, `joint_space_time` and `space_only`. `state_dict()` keys are the Hugging
Face names, so a model saved here loads in transformers and in our C engine.

Also the paper's two other schemes, which no public code implements, as issue 17 specifies them:
`sparse_local_global` (steps `local`, `global`) and `axial` (steps `time`, `width`, `height`),
see grouped_block() and step_groups(); docs/seed-models.md.

Two deliberate choices, both those of the official code:
  1. The frame count T and the patch grid are taken from the input clip. (The transformers layer
     reads config.num_frames and config.image_size instead, which only matters when a clip
     differs from the config; it then computes something else.)
  2. space_only averages the token sequences of the frames before the final LayerNorm, giving one
     row of logits per clip. (transformers would return one row of logits per frame.)

Also here: safetensors and the Hugging Face model directory (config.json, model.safetensors,
preprocessor_config.json), written and read without the safetensors package.

Run with Debian's python3-torch (/usr/bin/python3).
"""

import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ATTENTION_TYPES = ("divided_space_time", "joint_space_time", "space_only", "sparse_local_global", "axial")

# The attention steps of the grouped schemes, in the order a layer runs them.
ATTENTION_STEPS = {"sparse_local_global": ("local", "global"), "axial": ("time", "width", "height")}

# Hyper-parameters of transformers' TimesformerConfig, with its defaults.
DEFAULT_CONFIG = {
    "image_size": 224,
    "patch_size": 16,
    "num_channels": 3,
    "num_frames": 8,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-6,
    "qkv_bias": True,
    "attention_type": "divided_space_time",
    "drop_path_rate": 0.0,
}

# VideoMAEImageProcessor settings of facebook/timesformer-base-finetuned-k400.
DEFAULT_PREPROCESSOR = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.45, 0.45, 0.45],
    "image_processor_type": "VideoMAEImageProcessor",
    "image_std": [0.225, 0.225, 0.225],
    "resample": 2,
    "rescale_factor": 1 / 255,
    "size": {"shortest_edge": 224},
}


def make_config(num_labels=None, labels=None, **overrides):
    """A complete config dict (transformers' config.json fields). `labels` is a list of names;
    without it, num_labels generic names LABEL_<i>."""
    unknown = set(overrides) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError(f"unknown config fields: {sorted(unknown)}")
    config = dict(DEFAULT_CONFIG, **overrides)
    if labels is None:
        labels = [f"LABEL_{i}" for i in range(num_labels if num_labels is not None else 2)]
    elif num_labels is not None and num_labels != len(labels):
        raise ValueError(f"num_labels {num_labels} but {len(labels)} label names")
    config["id2label"] = {str(i): name for i, name in enumerate(labels)}
    config["label2id"] = {name: i for i, name in enumerate(labels)}
    validate_config(config)
    return config


def num_labels(config):
    return len(config["id2label"])


def validate_config(config):
    if config["attention_type"] not in ATTENTION_TYPES:
        raise ValueError(f"attention_type {config['attention_type']!r} is not one of {ATTENTION_TYPES}")
    if config["hidden_act"] != "gelu":
        raise ValueError(f"hidden_act {config['hidden_act']!r}: only exact 'gelu' is implemented")
    if config["hidden_size"] % config["num_attention_heads"]:
        raise ValueError("hidden_size must be divisible by num_attention_heads")
    if config["image_size"] % config["patch_size"]:
        raise ValueError("patch_size must divide image_size")
    if num_labels(config) < 1:
        raise ValueError("a classifier needs at least one label")


# ---------------------------------------------------------------------------------------------
# Modules: only containers of parameters, laid out so that the state_dict keys are the Hugging
# Face names. The computation is in the functions below them.


def _linear(n_in, n_out, bias=True):
    return nn.Linear(n_in, n_out, bias=bias)


class Attention(nn.Module):
    """`attention.qkv` and `output.dense` (transformers' TimesformerAttention)."""

    def __init__(self, config):
        super().__init__()
        dim = config["hidden_size"]
        self.attention = nn.Module()
        self.attention.qkv = _linear(dim, 3 * dim, bias=config["qkv_bias"])
        self.output = nn.Module()
        self.output.dense = _linear(dim, dim)


class Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        dim, eps = config["hidden_size"], config["layer_norm_eps"]
        if config["attention_type"] == "divided_space_time":
            self.temporal_layernorm = nn.LayerNorm(dim, eps=eps)
            self.temporal_attention = Attention(config)
            self.temporal_dense = _linear(dim, dim)
        steps = ATTENTION_STEPS.get(config["attention_type"])
        if steps:                                   # <step>_layernorm, <step>_attention
            for step in steps:
                setattr(self, f"{step}_layernorm", nn.LayerNorm(dim, eps=eps))
                setattr(self, f"{step}_attention", Attention(config))
        else:
            self.layernorm_before = nn.LayerNorm(dim, eps=eps)
            self.attention = Attention(config)
        self.layernorm_after = nn.LayerNorm(dim, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = _linear(dim, config["intermediate_size"])
        self.output = nn.Module()
        self.output.dense = _linear(config["intermediate_size"], dim)


class Embeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        dim, patch = config["hidden_size"], config["patch_size"]
        grid = config["image_size"] // patch
        self.patch_embeddings = nn.Module()
        self.patch_embeddings.projection = nn.Conv2d(config["num_channels"], dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position_embeddings = nn.Parameter(torch.zeros(1, grid * grid + 1, dim))
        if config["attention_type"] != "space_only":
            self.time_embeddings = nn.Parameter(torch.zeros(1, config["num_frames"], dim))


class TimesformerForVideoClassification(nn.Module):
    """forward(pixel_values (B, T, C, H, W)) -> logits (B, num_labels)."""

    def __init__(self, config):
        super().__init__()
        validate_config(config)
        self.config = config
        self.timesformer = nn.Module()
        self.timesformer.embeddings = Embeddings(config)
        self.timesformer.encoder = nn.Module()
        self.timesformer.encoder.layer = nn.ModuleList(
            Layer(config) for _ in range(config["num_hidden_layers"]))
        self.timesformer.layernorm = nn.LayerNorm(config["hidden_size"], eps=config["layer_norm_eps"])
        self.classifier = _linear(config["hidden_size"], num_labels(config))

    def forward(self, pixel_values):
        return forward(self, pixel_values)


# ---------------------------------------------------------------------------------------------
# The forward pass, one function per stage. Shapes: B clips, T frames, a grid of GH x GW patches
# (N = GH * GW), D hidden. Video tokens are ordered patch-major, frame-minor: token 1 + n * T + t
# is patch n of frame t (token 0 is the cls token). space_only keeps B * T separate sequences.


def patch_embedding(model, pixel_values):
    """(B, T, C, H, W) -> (B * T, N, D) and the grid (GH, GW): a conv with stride = kernel."""
    b, t, c, h, w = pixel_values.shape
    projection = model.timesformer.embeddings.patch_embeddings.projection
    x = projection(pixel_values.reshape(b * t, c, h, w))   # (B*T, D, GH, GW)
    grid = (x.shape[-2], x.shape[-1])
    return x.flatten(2).transpose(1, 2), grid


def resized_position_embeddings(model, grid):
    """(1, 1 + GH * GW, D): the learned embeddings, nearest-resized from the config's square
    grid when the clip's grid differs."""
    pos = model.timesformer.embeddings.position_embeddings
    if pos.shape[1] == grid[0] * grid[1] + 1:
        return pos
    dim = pos.shape[2]
    side = int(math.sqrt(pos.shape[1] - 1))
    patches = pos[0, 1:, :].transpose(0, 1).reshape(1, dim, side, side)
    patches = F.interpolate(patches, size=grid, mode="nearest")
    return torch.cat((pos[:, :1, :], patches.flatten(2).transpose(1, 2)), dim=1)


def resized_time_embeddings(model, frames):
    """(1, T, D): the learned embeddings, nearest-resized when T differs from the config."""
    time = model.timesformer.embeddings.time_embeddings
    if time.shape[1] == frames:
        return time
    return F.interpolate(time.transpose(1, 2), size=frames, mode="nearest").transpose(1, 2)


def embeddings(model, pixel_values):
    """Patch embedding, cls token, position and time embeddings.
    Returns the tokens: (B, 1 + N * T, D), or (B * T, 1 + N, D) for space_only; and the grid."""
    b, t = pixel_values.shape[:2]
    x, grid = patch_embedding(model, pixel_values)
    emb = model.timesformer.embeddings
    x = torch.cat((emb.cls_token.expand(b * t, -1, -1), x), dim=1)
    x = x + resized_position_embeddings(model, grid)
    if model.config["attention_type"] == "space_only":
        return x, grid
    cls = x[:b, 0:1, :]                    # frame 0's cls token (all frames carry the same one)
    n, d = x.shape[1] - 1, x.shape[2]
    x = x[:, 1:, :].reshape(b, t, n, d).transpose(1, 2)      # (B, N, T, D)
    x = x + resized_time_embeddings(model, t)
    return torch.cat((cls, x.reshape(b, n * t, d)), dim=1), grid


def multi_head_attention(attention, x, num_heads):
    """Self-attention over the sequences x (S, L, D), then the output projection."""
    s, length, dim = x.shape
    head_dim = dim // num_heads
    qkv = attention.attention.qkv(x).reshape(s, length, 3, num_heads, head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]                         # (S, heads, L, head_dim)
    probs = ((q @ k.transpose(-2, -1)) * head_dim ** -0.5).softmax(dim=-1)
    context = (probs @ v).transpose(1, 2).reshape(s, length, dim)
    return attention.output.dense(context)


def mlp(layer, x):
    """LayerNorm, fc, exact (erf) GELU, fc; with the residual."""
    h = layer.intermediate.dense(layer.layernorm_after(x))
    return x + layer.output.dense(F.gelu(h))


def temporal_attention(layer, x, frames, num_heads):
    """Divided block, part 1: each patch attends over its T frames; temporal_dense; residual.
    x (B, 1 + N * T, D) -> the video tokens (B, N * T, D)."""
    b, _, d = x.shape
    video = x[:, 1:, :]
    per_patch = video.reshape(-1, frames, d)                  # (B * N, T, D)
    res = multi_head_attention(layer.temporal_attention, layer.temporal_layernorm(per_patch), num_heads)
    return video + layer.temporal_dense(res.reshape(b, -1, d))


def spatial_attention(layer, cls, video, frames, num_heads):
    """Divided block, part 2: each frame (with a copy of the cls token) attends over its N
    patches; the T results for the cls token are averaged; residual.
    cls (B, 1, D), video (B, N * T, D) -> (B, 1 + N * T, D)."""
    b, _, d = video.shape
    per_frame = video.reshape(b, -1, frames, d).transpose(1, 2)              # (B, T, N, D)
    per_frame = torch.cat((cls.unsqueeze(1).expand(b, frames, 1, d), per_frame), dim=2)
    n1 = per_frame.shape[2]
    res = multi_head_attention(layer.attention, layer.layernorm_before(per_frame.reshape(b * frames, n1, d)),
                               num_heads).reshape(b, frames, n1, d)
    res_cls = res[:, :, 0:1, :].mean(dim=1)                                   # (B, 1, D)
    res_video = res[:, :, 1:, :].transpose(1, 2).reshape(b, -1, d)            # (B, N * T, D)
    return torch.cat((cls, video), dim=1) + torch.cat((res_cls, res_video), dim=1)


def divided_space_time_block(layer, x, frames, num_heads):
    video = temporal_attention(layer, x, frames, num_heads)
    x = spatial_attention(layer, x[:, 0:1, :], video, frames, num_heads)
    return mlp(layer, x)


def joint_block(layer, x, num_heads):
    """joint_space_time (all tokens of the clip) and space_only (the tokens of a frame)."""
    x = x + multi_head_attention(layer.attention, layer.layernorm_before(x), num_heads)
    return mlp(layer, x)


def step_groups(step, frames, grid):
    """The groups of one attention step of a grouped scheme: a list of LongTensors of video-token
    indices (token 1 + index of the sequence; index n * T + t for patch n = row * GW + column of
    frame t), ascending. Every video token is in exactly one group; no group is empty.
      time:   one patch position, all frames        width:  one frame and row, all columns
      height: one frame and column, all rows
      local:  rows [0, ceil(GH/2)) or [ceil(GH/2), GH) x columns likewise, all frames
      global: the same (frame mod 2, row mod 2, column mod 2)"""
    gh, gw = grid
    t, i, j = torch.meshgrid(torch.arange(frames), torch.arange(gh), torch.arange(gw), indexing="ij")
    index = (i * gw + j) * frames + t                        # (T, GH, GW)
    if step == "time":
        keys = i * gw + j
    elif step == "width":
        keys = t * gh + i
    elif step == "height":
        keys = t * gw + j
    elif step == "local":
        keys = (i >= (gh + 1) // 2).long() * 2 + (j >= (gw + 1) // 2).long()
    elif step == "global":
        keys = (t % 2) * 4 + (i % 2) * 2 + (j % 2)
    else:
        raise ValueError(f"unknown attention step {step!r}")
    keys, index = keys.flatten(), index.flatten()
    return [index[keys == key].sort().values for key in keys.unique(sorted=True)]


def grouped_attention(attention, y, groups, num_heads):
    """One step on the layer-normed tokens y (B, 1 + N * T, D): for every group, [cls, the
    group's tokens] through multi-head attention. Returns the residual to add: each video token
    its own output, the cls token the mean over the groups of its outputs. Groups of one length
    run as one batch."""
    b, _, d = y.shape
    cls = y[:, 0:1, :]
    res = torch.zeros_like(y)
    by_length = {}
    for group in groups:
        by_length.setdefault(len(group), []).append(group)
    cls_sum = torch.zeros_like(cls)
    for length, same in by_length.items():
        index = torch.stack(same)                            # (G, L)
        g = index.shape[0]
        seq = torch.cat((cls.unsqueeze(1).expand(b, g, 1, d), y[:, 1 + index, :]), dim=2)
        out = multi_head_attention(attention, seq.reshape(b * g, 1 + length, d), num_heads)
        out = out.reshape(b, g, 1 + length, d)
        cls_sum = cls_sum + out[:, :, 0:1, :].sum(dim=1)
        res = res.index_put((torch.arange(b).view(b, 1), 1 + index.flatten()),
                            out[:, :, 1:, :].reshape(b, g * length, d))
    return res.index_put((torch.arange(b), torch.zeros(b, dtype=torch.long)),
                         (cls_sum / len(groups))[:, 0, :])


def grouped_block(layer, x, steps, frames, grid, num_heads):
    """sparse_local_global and axial: the steps in order (each y = LayerNorm_step(x), grouped
    attention, residual), then the MLP."""
    for step in steps:
        y = getattr(layer, f"{step}_layernorm")(x)
        x = x + grouped_attention(getattr(layer, f"{step}_attention"), y,
                                  step_groups(step, frames, grid), num_heads)
    return mlp(layer, x)


def head(model, x, clips, frames):
    """Final LayerNorm on the cls token, classifier. space_only first averages the frames'
    token sequences."""
    if model.config["attention_type"] == "space_only":
        x = x.reshape(clips, frames, x.shape[1], x.shape[2]).mean(dim=1)
    return model.classifier(model.timesformer.layernorm(x)[:, 0])


def forward(model, pixel_values):
    """pixel_values (B, T, C, H, W), normalised -> logits (B, num_labels)."""
    if pixel_values.dim() != 5:
        raise ValueError(f"pixel_values must be (B, T, C, H, W), got shape {tuple(pixel_values.shape)}")
    clips, frames = pixel_values.shape[:2]
    heads = model.config["num_attention_heads"]
    x, grid = embeddings(model, pixel_values)
    steps = ATTENTION_STEPS.get(model.config["attention_type"])
    for layer in model.timesformer.encoder.layer:
        if model.config["attention_type"] == "divided_space_time":
            x = divided_space_time_block(layer, x, frames, heads)
        elif steps:
            x = grouped_block(layer, x, steps, frames, grid, heads)
        else:
            x = joint_block(layer, x, heads)
    return head(model, x, clips, frames)


def _attention_flops(lengths, dim):
    """Multi-head attention over sequences of these lengths: qkv, q k^T, p v, output dense."""
    return sum(2 * n * dim * 3 * dim + 4 * n * n * dim + 2 * n * dim * dim for n in lengths)


def flops(config, frames, height, width):
    """FLOPs (2 per multiply-add) of one clip through the reference's forward pass: every matrix
    product (patch embedding, qkv, attention scores and weighted sums, output dense,
    temporal_dense, MLP, classifier); layer norms, softmax, GELU and additions not counted.
    Sequences are as the reference runs them (divided: one cls copy per frame in the spatial
    part; grouped schemes: one cls copy per group). {stage: FLOPs, 'total': sum}."""
    dim, inter, patch = config["hidden_size"], config["intermediate_size"], config["patch_size"]
    grid = (height // patch, width // patch)
    n, t = grid[0] * grid[1], frames
    scheme, layers = config["attention_type"], config["num_hidden_layers"]
    out = {"patch_embedding": 2 * t * n * config["num_channels"] * patch * patch * dim}
    tokens = t * (1 + n) if scheme == "space_only" else 1 + n * t
    if scheme == "divided_space_time":
        attention = (_attention_flops([t] * n, dim) + 2 * n * t * dim * dim
                     + _attention_flops([1 + n] * t, dim))
    elif scheme == "joint_space_time":
        attention = _attention_flops([1 + n * t], dim)
    elif scheme == "space_only":
        attention = _attention_flops([1 + n] * t, dim)
    else:
        attention = sum(_attention_flops([1 + len(g) for g in step_groups(step, t, grid)], dim)
                        for step in ATTENTION_STEPS[scheme])
    out["attention"] = layers * attention
    out["mlp"] = layers * 2 * 2 * tokens * dim * inter
    out["classifier"] = 2 * dim * num_labels(config)
    out["total"] = sum(out.values())
    return out


def classify_clip(model, clip):
    """One clip (T, C, H, W) numpy or tensor -> logits (num_labels,) numpy, in the model's dtype."""
    param = next(model.parameters())
    x = torch.as_tensor(np.asarray(clip)).to(param.dtype).unsqueeze(0)
    with torch.no_grad():
        return forward(model, x)[0].numpy()


# ---------------------------------------------------------------------------------------------
# Random weights.


def _weight_gain(name):
    if name.endswith(".intermediate.dense.weight"):
        return 1.5
    if name.endswith(".output.dense.weight") and "attention" not in name:
        return 3.0
    return 1.0


def randomize_parameters(model, seed):
    """Every parameter random, LayerNorm weights and biases included, scaled so that activations
    stay O(1): weights ~ N(0, gain^2/fan_in), biases ~ N(0, 0.1^2), LayerNorm weights ~ U(0.5, 1.5),
    embeddings ~ N(0, 0.5^2). The MLP gets gains 1.5 (fc1) and 3 (fc2) so that its GELU weighs
    on the logits: with gain 1 an engine using the tanh GELU could pass a 1e-4 tolerance."""
    gen = torch.Generator().manual_seed(seed)

    def normal(p, std):
        p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * std)

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("_token", "_embeddings")):      # cls, position, time embeddings
                normal(p, 0.5)
            elif p.dim() >= 2:                                # linear and conv weights
                normal(p, _weight_gain(name) / math.sqrt(p[0].numel()))
            elif "norm" in name and name.endswith(".weight"):
                p.copy_(0.5 + torch.rand(p.shape, generator=gen, dtype=torch.float64))
            else:                                             # biases
                normal(p, 0.1)
    return model


def random_model(config, seed, dtype=torch.float64):
    return randomize_parameters(TimesformerForVideoClassification(config).to(dtype), seed)


# ---------------------------------------------------------------------------------------------
# safetensors: an 8-byte little-endian header length, a JSON header
# {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the data.

SAFETENSORS_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}
_STORAGE = {torch.float32: np.float32, torch.float16: np.float16, torch.bfloat16: np.int16, torch.float64: np.float64}
_TORCH_DTYPE_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


def _tensor_bytes(tensor):
    tensor = tensor.detach().contiguous().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)                      # numpy has no bfloat16
    array = tensor.numpy()
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """Writes {name: tensor} converted to dtype (F32, F16, BF16 or F64)."""
    torch_dtype = SAFETENSORS_DTYPES[dtype]
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = _tensor_bytes(tensors[name].to(torch_dtype))
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)                            # data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    """{name: tensor} in the file's dtypes, and the header's __metadata__."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    metadata = header.pop("__metadata__", {})
    data = memoryview(raw)[8 + length:]
    tensors = {}
    for name, info in header.items():
        torch_dtype = SAFETENSORS_DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=np.dtype(_STORAGE[torch_dtype]).newbyteorder("<"))
        tensor = torch.from_numpy(array.astype(array.dtype.newbyteorder("="))).reshape(info["shape"])
        tensors[name] = tensor.view(torch.bfloat16) if torch_dtype == torch.bfloat16 else tensor
    return tensors, metadata


# ---------------------------------------------------------------------------------------------
# The Hugging Face model directory.


def preprocessor_config(image_size, mean=None, std=None):
    pre = json.loads(json.dumps(DEFAULT_PREPROCESSOR))
    pre["crop_size"] = {"height": image_size, "width": image_size}
    pre["size"] = {"shortest_edge": image_size}
    if mean is not None:
        pre["image_mean"] = list(mean)
    if std is not None:
        pre["image_std"] = list(std)
    return pre


def save_pretrained(model, directory, dtype="F32", preprocessor=None):
    """config.json, model.safetensors (in dtype) and preprocessor_config.json into directory.
    Returns the model as stored: its weights rounded to dtype, in float64 (for expected outputs)."""
    os.makedirs(directory, exist_ok=True)
    config = dict(model.config)
    config.update({"architectures": ["TimesformerForVideoClassification"],
                   "model_type": "timesformer", "torch_dtype": _TORCH_DTYPE_NAMES[dtype]})
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    state = model.state_dict()
    write_safetensors(os.path.join(directory, "model.safetensors"), state, dtype)
    if preprocessor is None:
        preprocessor = preprocessor_config(model.config["image_size"])
    with open(os.path.join(directory, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor, f, indent=2, sort_keys=True)
        f.write("\n")
    stored = TimesformerForVideoClassification(model.config).double()
    stored.load_state_dict({k: v.to(SAFETENSORS_DTYPES[dtype]).double() for k, v in state.items()})
    return stored


def config_from_dict(raw):
    """A config from config.json contents, or from a partial dict of the same fields (the rest
    default) with either id2label or num_labels. Other keys (architectures, ...) are ignored."""
    fields = {k: raw[k] for k in DEFAULT_CONFIG if k in raw}
    if raw.get("id2label"):
        id2label = raw["id2label"]
        labels = [id2label[str(i)] for i in range(len(id2label))]
        return make_config(labels=labels, **fields)
    return make_config(num_labels=raw.get("num_labels", 2), **fields)


def read_config(path):
    with open(path) as f:
        return config_from_dict(json.load(f))


def load_config(directory):
    return read_config(os.path.join(directory, "config.json"))


def load_pretrained(directory, dtype=torch.float32):
    """A model directory (model.safetensors, or pytorch_model.bin) -> model in dtype, eval mode.
    Raises ValueError naming any missing, extra or misshapen tensor."""
    config = load_config(directory)
    model = TimesformerForVideoClassification(config).to(dtype)
    path = os.path.join(directory, "model.safetensors")
    if os.path.exists(path):
        state, _ = read_safetensors(path)
    else:
        state = torch.load(os.path.join(directory, "pytorch_model.bin"), map_location="cpu")
    expected = model.state_dict()
    missing, extra = set(expected) - set(state), set(state) - set(expected)
    if missing or extra:
        raise ValueError(f"{directory}: missing tensors {sorted(missing)}, unexpected {sorted(extra)}")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ValueError(f"{directory}: {name} has shape {tuple(tensor.shape)}, "
                             f"expected {tuple(expected[name].shape)}")
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()})
    return model.eval()
