"""PyTorch reference of lucidrains' TimeSformer-pytorch (version 0.4.1), written from the facts of
issue 17 and checked against that library (tools/compare_lucidrains.py, docs/seed-models.md).

The modules only hold parameters, under the library's own state_dict names, so that
`torch.save(model.state_dict())` of their `TimeSformer` loads here and the other way round; the
computation is in the functions below them, one per stage. A model folder is `model.pt` (the
state dict) + `timesformer_pytorch.json` (the constructor's keyword arguments, and optionally
`labels`, a list of num_classes names).

Run with Debian's python3-torch (/usr/bin/python3).
"""

import copy
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

# The constructor's keyword arguments and their defaults (None: required).
KWARGS = {
    "dim": None, "num_frames": None, "num_classes": None, "image_size": 224, "patch_size": 16,
    "channels": 3, "depth": 12, "heads": 8, "dim_head": 64, "attn_dropout": 0.0, "ff_dropout": 0.0,
    "rotary_emb": True, "shift_tokens": False,
}
LAYER_NORM_EPS = 1e-5
FF_MULT = 4                     # GEGLU: dim -> 2 * 4 * dim, halves multiplied, 4 * dim -> dim
SPACE_MAX_FREQ = 10             # AxialRotaryEmbedding's max_freq: scales from 1 to max_freq / 2


def make_kwargs(**kwargs):
    """The complete keyword arguments, validated."""
    unknown = set(kwargs) - set(KWARGS)
    if unknown:
        raise ValueError(f"unknown TimeSformer arguments: {sorted(unknown)}")
    full = dict(KWARGS, **kwargs)
    missing = [k for k, v in full.items() if v is None]
    if missing:
        raise ValueError(f"missing TimeSformer arguments: {missing}")
    if full["image_size"] % full["patch_size"]:
        raise ValueError("patch_size must divide image_size")
    if full["rotary_emb"] and full["dim_head"] % 2:
        raise ValueError("rotary_emb needs an even dim_head (the library fails on an odd one)")
    if full["shift_tokens"] and full["dim"] < 3:
        raise ValueError("shift_tokens needs dim >= 3")
    return full


def time_frequencies(dim_head, dtype=torch.float32):
    """RotaryEmbedding's inv_freqs: ceil(d/2) values 10000^(-2i/d) (the library computes them
    in float32, and the state dict holds them)."""
    return 1.0 / (10000 ** (torch.arange(0, dim_head, 2, dtype=dtype) / dim_head))


def space_scales(dim_head, dtype=torch.float32):
    """AxialRotaryEmbedding's scales: floor(d/4) values spaced geometrically from 1 to
    max_freq/2 = 5 (torch.logspace base 2; just 1 when there is one)."""
    return torch.logspace(0.0, math.log(SPACE_MAX_FREQ / 2) / math.log(2), dim_head // 4, base=2, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Parameter containers with the library's names.


class _Holder(nn.Module):
    """`norm` + `fn` (PreNorm); with shift_tokens `fn` holds one more `fn` (PreTokenShift)."""

    def __init__(self, dim, fn, shift):
        super().__init__()
        if shift:
            inner = nn.Module()
            inner.fn = fn
            fn = inner
        self.fn = fn
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)


class _Attention(nn.Module):
    def __init__(self, dim, heads, dim_head):
        super().__init__()
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Identity())   # Linear, Dropout


class _FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, 2 * FF_MULT * dim), nn.Identity(), nn.Identity(),
                                 nn.Linear(FF_MULT * dim, dim))           # Linear, GEGLU, Dropout, Linear


class TimeSformer(nn.Module):
    """forward(video (B, F, C, H, W), mask (B, F) bool or None) -> logits (B, num_classes)."""

    def __init__(self, **kwargs):
        super().__init__()
        k = self.kwargs = make_kwargs(**kwargs)
        dim, grid = k["dim"], k["image_size"] // k["patch_size"]
        self.cls_token = nn.Parameter(torch.zeros(1, dim))
        self.to_patch_embedding = nn.Linear(k["channels"] * k["patch_size"] ** 2, dim)
        if k["rotary_emb"]:
            self.frame_rot_emb = nn.Module()
            self.frame_rot_emb.register_buffer("inv_freqs", time_frequencies(k["dim_head"]))
            self.image_rot_emb = nn.Module()
            self.image_rot_emb.register_buffer("scales", space_scales(k["dim_head"]))
        else:
            self.pos_emb = nn.Embedding(k["num_frames"] * grid * grid + 1, dim)
        self.layers = nn.ModuleList()
        for _ in range(k["depth"]):
            branches = (_Attention(dim, k["heads"], k["dim_head"]),
                        _Attention(dim, k["heads"], k["dim_head"]), _FeedForward(dim))
            self.layers.append(nn.ModuleList(_Holder(dim, b, k["shift_tokens"]) for b in branches))
        self.to_out = nn.Sequential(nn.LayerNorm(dim, eps=LAYER_NORM_EPS), nn.Linear(dim, k["num_classes"]))

    def forward(self, video, mask=None):
        return forward(self, video, mask)


def _function(holder):
    """The branch's attention or feed-forward inside its PreNorm (and PreTokenShift)."""
    return holder.fn.fn if not isinstance(holder.fn, (_Attention, _FeedForward)) else holder.fn


# ---------------------------------------------------------------------------------------------
# The forward pass. Tokens: 0 the cls token, then 1 + t * n + i * wp + j for frame t, row i,
# column j (n = hp * wp patches a frame).


def patch_tokens(model, video):
    """(B, F, C, H, W) -> (B, F * n, dim); a patch vector is (row-in-patch, column-in-patch,
    channel), the channel fastest."""
    b, f, c, h, w = video.shape
    p = model.kwargs["patch_size"]
    if h % p or w % p:
        raise ValueError(f"height {h} and width {w} must be multiples of the patch size {p}")
    x = video.reshape(b, f, c, h // p, p, w // p, p).permute(0, 1, 3, 5, 4, 6, 2)
    return model.to_patch_embedding(x.reshape(b, f * (h // p) * (w // p), p * p * c))


def rotate(x, theta):
    """Rotates the first R = theta.shape[-1] channels of x (..., L, d) by angles theta (L, R):
    out[2k] = x[2k] cos th[2k] - x[2k+1] sin th[2k], out[2k+1] = x[2k+1] cos th[2k+1] + x[2k] sin th[2k+1]."""
    r = theta.shape[-1]
    even, odd = x[..., 0:r:2], x[..., 1:r:2]
    cos, sin = theta.cos(), theta.sin()
    out = torch.stack((even * cos[:, 0::2] - odd * sin[:, 0::2],
                       odd * cos[:, 1::2] + even * sin[:, 1::2]), dim=-1)
    return torch.cat((out.flatten(-2), x[..., r:]), dim=-1)


def time_angles(model, frames):
    """(F, 2m): theta_t[c] = t * w[c mod m], the frequency list written twice."""
    freqs = model.frame_rot_emb.inv_freqs
    return torch.arange(frames, dtype=freqs.dtype).unsqueeze(1) * torch.cat((freqs, freqs)).unsqueeze(0)


def grid_positions(steps):
    """linspace(-1, 1, steps) as the library has it: computed in float32."""
    return torch.linspace(-1.0, 1.0, steps, dtype=torch.float32)


def space_angles(model, hp, wp):
    """(hp * wp, 4K): channels [0, 2K) pi * y_i * s_(c//2), [2K, 4K) pi * x_j * s_((c-2K)//2)."""
    scales = model.image_rot_emb.scales
    rows = grid_positions(hp).to(scales.dtype).unsqueeze(1) * scales * math.pi     # (hp, K)
    cols = grid_positions(wp).to(scales.dtype).unsqueeze(1) * scales * math.pi     # (wp, K)
    rows = rows.unsqueeze(1).expand(hp, wp, -1)
    cols = cols.unsqueeze(0).expand(hp, wp, -1)
    return torch.cat((rows, cols), dim=-1).reshape(hp * wp, -1).repeat_interleave(2, dim=-1)


def softmax_attention(q, k, v, key_mask=None):
    """q (..., Lq, d) already scaled, k and v (..., Lk, d); key_mask (..., 1, Lk) bool, False
    removes the key."""
    scores = q @ k.transpose(-2, -1)
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


def attention(model, attn, x, kind, frames, n, angles, mask):
    """One attention branch on the normed tokens x (B, 1 + F * n, dim). kind 'time': the patch
    queries of a position see [cls, that position in every frame] (masked frames removed);
    'space': those of a frame see [cls, that frame's patches]. The cls query sees every token
    (masked frames removed) with unrotated keys."""
    b, length, _ = x.shape
    h, d = model.kwargs["heads"], model.kwargs["dim_head"]
    q, k, v = attn.to_qkv(x).reshape(b, length, 3, h, d).permute(2, 0, 3, 1, 4)   # (B, h, L, d)
    q = q * d ** -0.5
    cls_mask = None
    if mask is not None:
        cls_mask = torch.cat((torch.ones(b, 1, dtype=torch.bool), mask.repeat_interleave(n, dim=1)), dim=1)
        cls_mask = cls_mask.view(b, 1, 1, length)
    cls_out = softmax_attention(q[:, :, :1], k, v, cls_mask)                      # (B, h, 1, d)
    qp, kp, vp = (t[:, :, 1:].reshape(b, h, frames, n, d) for t in (q, k, v))
    if kind == "time":
        qp, kp, vp = (t.transpose(2, 3) for t in (qp, kp, vp))                    # (B, h, n, F, d)
    groups = qp.shape[2]
    if angles is not None:
        qp, kp = rotate(qp, angles), rotate(kp, angles)
    cls_k = k[:, :, :1].unsqueeze(2).expand(b, h, groups, 1, d)
    cls_v = v[:, :, :1].unsqueeze(2).expand(b, h, groups, 1, d)
    key_mask = None
    if kind == "time" and mask is not None:
        key_mask = torch.cat((torch.ones(b, 1, dtype=torch.bool), mask), dim=1).view(b, 1, 1, 1, frames + 1)
    out = softmax_attention(qp, torch.cat((cls_k, kp), dim=3), torch.cat((cls_v, vp), dim=3), key_mask)
    if kind == "time":
        out = out.transpose(2, 3)
    out = torch.cat((cls_out, out.reshape(b, h, frames * n, d)), dim=2)
    return attn.to_out(out.transpose(1, 2).reshape(b, length, h * d))


def shift_tokens(model, x):
    """Channels [0, c) of every patch token take the next frame's values (zeros for the last),
    [2c, 3c) the previous frame's (zeros for the first), c = dim // 3; frames grouped by the
    constructor's num_frames."""
    b, length, dim = x.shape
    frames, c = model.kwargs["num_frames"], dim // 3
    v = x[:, 1:].reshape(b, frames, (length - 1) // frames, dim)
    zero = torch.zeros_like(v[:, :1])
    nxt = torch.cat((v[:, 1:, :, :c], zero[..., :c]), dim=1)
    prev = torch.cat((zero[..., 2 * c:3 * c], v[:, :-1, :, 2 * c:3 * c]), dim=1)
    v = torch.cat((nxt, v[..., c:2 * c], prev, v[..., 3 * c:]), dim=-1)
    return torch.cat((x[:, :1], v.reshape(b, length - 1, dim)), dim=1)


def feed_forward(ff, x):
    """GEGLU: a linear to 8 dim, the first half times exact GELU of the second, a linear back."""
    a, gates = ff.net[0](x).chunk(2, dim=-1)
    return ff.net[3](a * F.gelu(gates))


def branch(model, holder, x):
    """PreNorm (and PreTokenShift): the layer norm, then the token shift."""
    y = holder.norm(x)
    return shift_tokens(model, y) if model.kwargs["shift_tokens"] else y


def check_clip(model, video, mask):
    k = model.kwargs
    if video.dim() != 5 or video.shape[2] != k["channels"]:
        raise ValueError(f"video must be (B, F, {k['channels']}, H, W), got {tuple(video.shape)}")
    b, f, _, h, w = video.shape
    p = k["patch_size"]
    if k["shift_tokens"] and f != k["num_frames"]:
        raise ValueError(f"a model with shift_tokens takes clips of exactly num_frames={k['num_frames']} "
                         f"frames, got {f}")
    if not k["rotary_emb"] and 1 + f * (h // p) * (w // p) > model.pos_emb.num_embeddings:
        raise ValueError(f"{f} frames of {h}x{w} need more than the {model.pos_emb.num_embeddings} "
                         "rows of pos_emb")
    if mask is not None and tuple(mask.shape) != (b, f):
        raise ValueError(f"mask must be ({b}, {f}), got {tuple(mask.shape)}")


def forward(model, video, mask=None):
    """video (B, F, C, H, W) -> logits (B, num_classes); mask (B, F) bool: False frames are
    removed as keys of the time attention and of the cls query."""
    check_clip(model, video, mask)
    b, f, _, h, w = video.shape
    p = model.kwargs["patch_size"]
    hp, wp = h // p, w // p
    x = torch.cat((model.cls_token.expand(b, 1, -1), patch_tokens(model, video)), dim=1)
    time_rot = space_rot = None
    if model.kwargs["rotary_emb"]:
        time_rot, space_rot = time_angles(model, f), space_angles(model, hp, wp)
    else:
        x = x + model.pos_emb.weight[:x.shape[1]]
    if mask is not None:
        mask = mask.to(torch.bool)
    for time_attn, space_attn, ff in model.layers:
        x = x + attention(model, _function(time_attn), branch(model, time_attn, x), "time", f, hp * wp,
                          time_rot, mask)
        x = x + attention(model, _function(space_attn), branch(model, space_attn, x), "space", f, hp * wp,
                          space_rot, mask)
        x = x + feed_forward(_function(ff), branch(model, ff, x))
    return model.to_out(x[:, 0])


def flops(kwargs, frames, height, width):
    """FLOPs (2 per multiply-add) of one clip: every matrix product (patch embedding, qkv, the
    cls query's and the patch queries' scores and weighted sums, output, GEGLU feed-forward,
    head); rotations, layer norms, softmax, GELU and additions not counted."""
    k = make_kwargs(**kwargs)
    dim, inner, p = k["dim"], k["heads"] * k["dim_head"], k["patch_size"]
    n, t = (height // p) * (width // p), frames
    length = 1 + n * t
    branch = 2 * length * dim * 3 * inner + 4 * length * inner + 2 * length * inner * dim
    time = branch + 4 * n * t * (1 + t) * inner
    space = branch + 4 * t * n * (1 + n) * inner
    ff = 2 * length * dim * 2 * FF_MULT * dim + 2 * length * FF_MULT * dim * dim
    embedding, head = 2 * t * n * k["channels"] * p * p * dim, 2 * dim * k["num_classes"]
    return embedding + k["depth"] * (time + space + ff) + head


# ---------------------------------------------------------------------------------------------
# Random weights, folders.


def randomize_parameters(model, seed):
    """Every parameter random (layer norms included), activations O(1): weights
    N(0, 1/fan_in), biases N(0, 0.1^2), layer-norm weights U(0.5, 1.5), cls and pos_emb N(0, 0.5^2).
    The buffers keep their values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ("cls_token", "pos_emb.weight"):
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
            elif "norm" in name or name.startswith("to_out.0."):
                if name.endswith(".weight"):
                    p.copy_(0.5 + torch.rand(p.shape, generator=gen, dtype=torch.float64))
                else:
                    p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.1)
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) / math.sqrt(p.shape[1]))
            else:
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.1)
    return model


def random_model(seed, **kwargs):
    return randomize_parameters(TimeSformer(**kwargs), seed)


def save_folder(model, directory, labels=None):
    """model.pt (torch.save of the float32 state dict) and timesformer_pytorch.json (the
    constructor's keyword arguments but the dropouts, and `labels` when given)."""
    os.makedirs(directory, exist_ok=True)
    kwargs = {k: v for k, v in model.kwargs.items() if k not in ("attn_dropout", "ff_dropout")}
    if labels is not None:
        if len(labels) != kwargs["num_classes"]:
            raise ValueError(f"{len(labels)} labels for num_classes {kwargs['num_classes']}")
        kwargs["labels"] = list(labels)
    with open(os.path.join(directory, "timesformer_pytorch.json"), "w") as f:
        json.dump(kwargs, f, indent=2, ensure_ascii=False)
        f.write("\n")
    # what a user of the library saves: torch.save(model.state_dict()), float32, default zip format
    torch.save(copy.deepcopy(model).float().state_dict(), os.path.join(directory, "model.pt"))


def load_folder(directory, dtype=torch.float64):
    """A folder -> (model in dtype, eval mode; labels or None). Names any missing or extra tensor."""
    with open(os.path.join(directory, "timesformer_pytorch.json")) as f:
        kwargs = json.load(f)
    labels = kwargs.pop("labels", None)
    model = TimeSformer(**kwargs)
    state = torch.load(os.path.join(directory, "model.pt"), map_location="cpu")
    expected = model.state_dict()
    missing, extra = set(expected) - set(state), set(state) - set(expected)
    if missing or extra:
        raise ValueError(f"{directory}: missing tensors {sorted(missing)}, unexpected {sorted(extra)}")
    model.load_state_dict(state)
    return model.to(dtype).eval(), labels
