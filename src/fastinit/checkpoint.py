"""Randomly initialized model checkpoints, streamed to safetensors files.

The model: a Hugging Face-style ``config.json`` of a decoder-only transformer (the llama,
mistral and qwen2 family), a built-in preset, or a spec file that lists tensors. Tensor names
and shapes follow the Hugging Face llama layout, so the output loads where such checkpoints
load. Each tensor is made a block of rows at a time (``index=``), written, and forgotten:
memory stays at a few blocks, whatever the checkpoint's size.

Values: one ``Generator(seed)``; tensor k takes the next range of its stream after tensors
0..k-1, in file order, exactly as the in-place fills would in memory. So the bytes depend on
the seed, the scheme and the model only: not on the thread count, the block size or the
sharding of the output.

    >>> from fastinit import checkpoint
    >>> plan = checkpoint.plan(checkpoint.PRESETS["llama-tiny"], scheme="hf", dtype="bf16")
    >>> checkpoint.write(plan, "out/", seed=0)
"""
import copy
import fnmatch
import itertools
import json
import math
import mmap
import os
import re
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from fastinit import init as _init
from fastinit._core import BFLOAT16, Generator


class CheckpointError(ValueError):
    """A bad config, spec, preset, dtype or output path: one line for the user."""


# ---- models --------------------------------------------------------------------------------

PRESETS = {
    # tiny models for tests and demos
    "llama-tiny": {"model_type": "llama", "vocab_size": 1024, "hidden_size": 64,
                   "intermediate_size": 176, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "initializer_range": 0.02, "rms_norm_eps": 1e-6,
                   "tie_word_embeddings": False},
    "qwen2-tiny": {"model_type": "qwen2", "vocab_size": 1024, "hidden_size": 64,
                   "intermediate_size": 160, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "initializer_range": 0.02, "rms_norm_eps": 1e-6,
                   "tie_word_embeddings": True},
    "llama-100m": {"model_type": "llama", "vocab_size": 32000, "hidden_size": 768,
                   "intermediate_size": 2048, "num_hidden_layers": 12,
                   "num_attention_heads": 12, "num_key_value_heads": 12,
                   "initializer_range": 0.02, "rms_norm_eps": 1e-6,
                   "tie_word_embeddings": False},
    # real architectures
    "tinyllama-1.1b": {"model_type": "llama", "vocab_size": 32000, "hidden_size": 2048,
                       "intermediate_size": 5632, "num_hidden_layers": 22,
                       "num_attention_heads": 32, "num_key_value_heads": 4,
                       "initializer_range": 0.02, "rms_norm_eps": 1e-5,
                       "tie_word_embeddings": False},
    "llama-7b": {"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096,
                 "intermediate_size": 11008, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 32,
                 "initializer_range": 0.02, "rms_norm_eps": 1e-5,
                 "tie_word_embeddings": False},
    "mistral-7b": {"model_type": "mistral", "vocab_size": 32000, "hidden_size": 4096,
                   "intermediate_size": 14336, "num_hidden_layers": 32,
                   "num_attention_heads": 32, "num_key_value_heads": 8,
                   "initializer_range": 0.02, "rms_norm_eps": 1e-5,
                   "tie_word_embeddings": False},
    "qwen2-0.5b": {"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896,
                   "intermediate_size": 4864, "num_hidden_layers": 24,
                   "num_attention_heads": 14, "num_key_value_heads": 2,
                   "initializer_range": 0.02, "rms_norm_eps": 1e-6,
                   "tie_word_embeddings": True},
}

_REQUIRED = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
             "num_attention_heads")


def _int(cfg, key, default=None):
    v = cfg.get(key)
    if v is None:
        v = default         # Hugging Face configs write null for "the default"
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise CheckpointError(f"config: {key} must be a positive integer, got {v!r}")
    return v


# The model types whose layout is built in; any other goes through transformers (fastinit._hf)
# or is refused: never written in a layout that is not its own.
BUILTIN_TYPES = ("llama", "mistral", "qwen2")


def model_tensors(cfg):
    """(name, shape) of every tensor of a llama-family model, in Hugging Face's layout."""
    if cfg.get("model_type", "llama") not in BUILTIN_TYPES:
        raise CheckpointError(f"config: model_type {cfg.get('model_type')!r} has no built-in "
                              f"layout (built in: {', '.join(BUILTIN_TYPES)}); install "
                              "fastinit[hf] (transformers) for every other architecture")
    missing = [k for k in _REQUIRED if k not in cfg]
    if missing:
        raise CheckpointError(f"config: missing {', '.join(missing)}")
    vocab, hidden = _int(cfg, "vocab_size"), _int(cfg, "hidden_size")
    inter, layers = _int(cfg, "intermediate_size"), _int(cfg, "num_hidden_layers")
    heads = _int(cfg, "num_attention_heads")
    kv = _int(cfg, "num_key_value_heads", heads)
    if cfg.get("head_dim") is None and hidden % heads:
        raise CheckpointError(f"config: hidden_size {hidden} is not a multiple of "
                              f"num_attention_heads {heads}")
    head_dim = _int(cfg, "head_dim", hidden // heads) if cfg.get("head_dim") is not None \
        else hidden // heads
    if heads % kv:
        raise CheckpointError(f"config: num_attention_heads {heads} is not a multiple of "
                              f"num_key_value_heads {kv}")
    attn_bias = bool(cfg.get("attention_bias", cfg.get("model_type") == "qwen2"))
    mlp_bias = bool(cfg.get("mlp_bias", False))
    out = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(layers):
        p = f"model.layers.{i}."
        for name, rows in (("q_proj", heads * head_dim), ("k_proj", kv * head_dim),
                           ("v_proj", kv * head_dim)):
            out.append((p + f"self_attn.{name}.weight", (rows, hidden)))
            if attn_bias:
                out.append((p + f"self_attn.{name}.bias", (rows,)))
        out.append((p + "self_attn.o_proj.weight", (hidden, heads * head_dim)))
        if cfg.get("attention_bias", False) and cfg.get("model_type") != "qwen2":
            out.append((p + "self_attn.o_proj.bias", (hidden,)))
        for name, shape in (("gate_proj", (inter, hidden)), ("up_proj", (inter, hidden)),
                            ("down_proj", (hidden, inter))):
            out.append((p + f"mlp.{name}.weight", shape))
            if mlp_bias:
                out.append((p + f"mlp.{name}.bias", shape[:1]))
        out.append((p + "input_layernorm.weight", (hidden,)))
        out.append((p + "post_attention_layernorm.weight", (hidden,)))
    out.append(("model.norm.weight", (hidden,)))
    if not cfg.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (vocab, hidden)))
    return out


# ---- schemes: rules on tensor names --------------------------------------------------------

SCHEMES = ("hf", "torch-default", "scaled", "trunc-normal")

# What each rule calls: the torch-named in-place function and its parameters.
INITS = {"normal": "normal_", "trunc_normal": "trunc_normal_", "uniform": "uniform_",
         "zeros": "zeros_", "ones": "ones_", "constant": "constant_",
         "kaiming_uniform": "kaiming_uniform_", "kaiming_normal": "kaiming_normal_",
         "xavier_uniform": "xavier_uniform_", "xavier_normal": "xavier_normal_",
         "orthogonal": "orthogonal_", "eye": "eye_", "dirac": "dirac_", "sparse": "sparse_"}
_DETERMINISTIC = ("zeros", "ones", "constant", "eye", "dirac")


def _kind(name, shape):
    if name.endswith("norm.weight"):
        return "norm"
    if name.endswith(".bias"):
        return "bias"
    if "embed" in name:
        return "embedding"
    return "linear" if len(shape) == 2 else "other"


def scheme_rule(scheme, name, shape, cfg, shapes):
    """(init, params) of a tensor under a named scheme."""
    std = float(cfg.get("initializer_range", 0.02))
    kind = _kind(name, shape)
    if kind == "norm":
        return "ones", {}
    if scheme == "torch-default":
        if kind == "embedding":
            return "normal", {"mean": 0.0, "std": 1.0}
        if kind == "bias":
            w = shapes.get(name[:-len("bias")] + "weight")
            fan_in = w[1] if w and len(w) > 1 else shape[0]
            bound = 1.0 / math.sqrt(fan_in)
            return "uniform", {"a": -bound, "b": bound}
        return "kaiming_uniform", {"a": math.sqrt(5)}
    if kind == "bias":
        return "zeros", {}
    if scheme == "scaled" and re.search(r"(o_proj|down_proj)\.weight$", name):
        layers = _int(cfg, "num_hidden_layers") if "num_hidden_layers" in cfg else 1
        std = std / math.sqrt(2.0 * layers)
    if scheme == "trunc-normal":
        return "trunc_normal", {"mean": 0.0, "std": std, "a": -2.0 * std, "b": 2.0 * std}
    return "normal", {"mean": 0.0, "std": std}


# ---- the plan: every tensor, its dtype, its rule --------------------------------------------

DTYPES = {"bf16": BFLOAT16, "f16": np.dtype(np.float16), "f32": np.dtype(np.float32),
          "f64": np.dtype(np.float64)}
_ALIASES = {"bfloat16": "bf16", "float16": "f16", "fp16": "f16", "half": "f16",
            "float32": "f32", "fp32": "f32", "float": "f32", "float64": "f64", "double": "f64"}
_ST_NAMES = {"bf16": "BF16", "f16": "F16", "f32": "F32", "f64": "F64"}


def dtype_name(dt):
    key = _ALIASES.get(str(dt).lower(), str(dt).lower())
    if key not in DTYPES:
        raise CheckpointError(f"unknown dtype {dt!r}; choose bf16, f16, f32 or f64")
    return key


@dataclass
class Fill:
    """One recorded write of a tensor's values (fastinit._hf): ``init`` (a key of INITS)
    with ``params`` over ``index``, a NumPy basic index of the tensor (ints and step-1
    slices; () is the whole tensor). A random fill over a part draws as that part would
    alone (its shape gives the fans)."""
    init: str
    params: dict = field(default_factory=dict)
    index: tuple = ()


@dataclass
class Tensor:
    name: str
    shape: tuple
    dtype: str              # bf16, f16, f32, f64
    init: str               # a key of INITS (with fills: the last whole-tensor one, shown)
    params: dict = field(default_factory=dict)
    # fills: the tensor's writes in order (the last one wins per element), each streamed;
    # None for the one (init, params) over the whole tensor.
    fills: list = None
    # compute(g) -> (array of shape and dtype, g advanced): a tensor that cannot be
    # streamed, made whole in memory (named in the summary); None to stream.
    compute: object = None

    @property
    def numel(self):
        return math.prod(self.shape)

    @property
    def nbytes(self):
        return self.numel * DTYPES[self.dtype].itemsize


def _check_rule(name, init, params):
    if init not in INITS:
        raise CheckpointError(f"{name}: unknown init {init!r}; choose from "
                              f"{', '.join(sorted(INITS))}")
    if not isinstance(params, dict):
        raise CheckpointError(f"{name}: init parameters must be a mapping")


def _rule_of(entry, where):
    """(init, params) from a spec entry: {"init": name, <params>} (or "params": {...})."""
    if not isinstance(entry, dict) or "init" not in entry:
        raise CheckpointError(f"{where}: needs an \"init\"")
    if not isinstance(entry.get("params", {}), dict):
        raise CheckpointError(f"{where}: \"params\" must be a mapping")
    params = dict(entry.get("params", {}))
    params.update({k: v for k, v in entry.items()
                   if k not in ("init", "params", "name", "shape", "pattern", "dtype")})
    _check_rule(where, entry["init"], params)
    return entry["init"], params


def plan(model, scheme="hf", dtype="bf16", overrides=()):
    """The tensors to write. model: a Hugging Face config dict, or a spec dict with
    "tensors" (a list of {"name", "shape", "init", params...}). overrides: ({"pattern":
    glob, "init": ..., params...}, ...); the last pattern that matches a name wins."""
    if scheme not in SCHEMES:
        raise CheckpointError(f"unknown scheme {scheme!r}; choose from {', '.join(SCHEMES)}")
    dt = dtype_name(dtype)
    if "tensors" in model:
        entries = model["tensors"]
        if not isinstance(entries, list) or not entries:
            raise CheckpointError("spec: \"tensors\" must be a non-empty list")
        out, seen = [], set()
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or "name" not in e or "shape" not in e:
                raise CheckpointError(f"spec: tensor {i} needs a \"name\" and a \"shape\"")
            name = e["name"]
            shape = e["shape"]
            if not isinstance(name, str) or name in seen:
                raise CheckpointError(f"spec: tensor name {name!r} is not a new string")
            if not isinstance(shape, list) or any(isinstance(d, bool) or not isinstance(d, int)
                                                  or d < 0 for d in shape):
                raise CheckpointError(f"spec: {name}: shape must be a list of "
                                      "non-negative integers")
            seen.add(name)
            init, params = _rule_of(e, f"spec: {name}")
            out.append(Tensor(name, tuple(shape), dtype_name(e.get("dtype", dt)), init, params))
        cfg = {}
    else:
        cfg = model
        layout = model_tensors(cfg)
        shapes = dict(layout)
        out = [Tensor(n, s, dt, *scheme_rule(scheme, n, s, cfg, shapes)) for n, s in layout]
        pad = _padding_row(cfg, layout[0][1][0])
        if pad is not None:
            # nn.Embedding(padding_idx=pad_token_id), as the llama family builds it: its
            # padding row is zero under every scheme (transformers' _init_weights and
            # torch's reset_parameters both zero it after the fill).
            emb = out[0]
            emb.fills = [Fill(emb.init, emb.params), Fill("zeros", {}, (pad,))]
    return apply_overrides(out, overrides)


def _padding_row(cfg, vocab):
    """The embedding's padding row: config's pad_token_id (negative counts from the end, as
    nn.Embedding takes it), or None."""
    pad = cfg.get("pad_token_id")
    if pad is None:
        return None
    if isinstance(pad, bool) or not isinstance(pad, int) or not -vocab <= pad < vocab:
        raise CheckpointError(f"config: pad_token_id must be an integer in [-{vocab}, {vocab}) "
                              f"(vocab_size), got {pad!r}")
    return pad % vocab


def apply_overrides(out, overrides):
    """The tensors with each override's rule on the names its glob matches (the last one
    that matches wins), every tensor checked."""
    for o in overrides:
        if not isinstance(o, dict) or not isinstance(o.get("pattern"), str):
            raise CheckpointError("spec: every override needs a \"pattern\"")
        init, params = _rule_of(o, f"override {o['pattern']!r}")
        hits = [t for t in out if fnmatch.fnmatchcase(t.name, o["pattern"])]
        if not hits:
            raise CheckpointError(f"override {o['pattern']!r} matches no tensor")
        for t in hits:
            t.init, t.params, t.fills, t.compute = init, params, None, None
            if "dtype" in o:
                t.dtype = dtype_name(o["dtype"])
    for t in out:
        _check_tensor(t)
    return out


def _check_tensor(t):
    """Run t's init on t's first row (an empty block for orthogonal, which would make its
    whole matrix): every check of its shape and parameters, before anything is written,
    --dry-run included."""
    if t.compute is not None:
        return
    if t.fills is not None:
        for f in t.fills:
            _check_tensor(Tensor(t.name, region_shape(t.shape, f.index), t.dtype, f.init,
                                 f.params))
        return
    if t.shape:
        rows = 0 if t.init == "orthogonal" else min(1, t.shape[0])
        buf, index = np.empty((rows,) + t.shape[1:], DTYPES[t.dtype]), (slice(0, rows),)
    else:
        buf, index = np.empty((), DTYPES[t.dtype]), ()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # kaiming's zero-element warning
        try:
            _apply(t, Generator(0), index, buf)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{t.name}: {t.init}: {e}") from None


def load_model(path=None, preset=None):
    """(model dict, overrides, scheme or None) from a config/spec file or a preset name."""
    if preset is not None:
        if preset not in PRESETS:
            raise CheckpointError(f"unknown preset {preset!r}; choose from "
                                  f"{', '.join(PRESETS)}")
        return copy.deepcopy(PRESETS[preset]), [], None
    try:
        with open(path) as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"cannot read {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(spec, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    overrides = spec.get("overrides", [])
    if not isinstance(overrides, list):
        raise CheckpointError(f"{path}: \"overrides\" must be a list")
    scheme = spec.get("scheme")
    if "tensors" in spec:
        return spec, overrides, scheme
    if "preset" in spec:
        model = load_model(preset=spec["preset"])[0]
        model.update(spec.get("config", {}))
        return model, overrides, scheme
    if "config" in spec:
        return dict(spec["config"]), overrides, scheme
    if "hidden_size" in spec or "model_type" in spec or "vocab_size" in spec:
        return spec, [], None
    raise CheckpointError(f"{path}: neither a Hugging Face config (hidden_size, ...) nor a "
                          "spec (\"tensors\", \"preset\" or \"config\")")


# ---- sizes and layout of the output --------------------------------------------------------

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(text):
    """'5GB' -> 5 * 10**9 (decimal, as Hugging Face); '2GiB' -> 2 * 2**30."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).upper() not in _UNITS:
        raise CheckpointError(f"bad size {text!r}; write e.g. 5GB, 500MB or 2GiB")
    n = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if n <= 0:
        raise CheckpointError(f"bad size {text!r}: must be positive")
    return n


def shards(tensors, max_size):
    """Hugging Face's greedy split: a new file when the next tensor would pass max_size."""
    out, cur, size = [], [], 0
    for t in tensors:
        if cur and size + t.nbytes > max_size:
            out.append(cur)
            cur, size = [], 0
        cur.append(t)
        size += t.nbytes
    if cur:
        out.append(cur)
    return out


def header(tensors):
    """The safetensors header: 8-byte little-endian length, then JSON padded to 8 bytes."""
    meta, off = {"__metadata__": {"format": "pt", "generator": "fastinit"}}, 0
    for t in tensors:
        meta[t.name] = {"dtype": _ST_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + t.nbytes]}
        off += t.nbytes
    text = json.dumps(meta, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text


# ---- writing ---------------------------------------------------------------------------------

BLOCK_BYTES = 64 << 20      # each of the two staging buffers: memory stays at about 2x this
_ALIGN = 4096               # O_DIRECT's unit of offsets and lengths


def _apply(t, g, index, buf):
    """t's init on its block at index, written to buf."""
    fn = getattr(_init, INITS[t.init])
    kw = {} if t.init in _DETERMINISTIC else {"generator": g}
    fn(buf, **t.params, **kw, full_shape=t.shape, index=index)


def region_shape(shape, index):
    """The shape of full[index] for ints and step-1 slices."""
    out = []
    for d, n in enumerate(shape):
        i = index[d] if d < len(index) else slice(None)
        if isinstance(i, slice):
            lo, hi, _ = i.indices(n)
            out.append(max(0, hi - lo))
    return tuple(out)


def _advance(g, init, params, shape, dtype):
    """g moved past one fill of a tensor of this shape (a copy; deterministic fills draw
    nothing): the fill run on an empty block, which moves g as the whole would."""
    if init in _DETERMINISTIC or not shape:
        if init in _DETERMINISTIC:
            return g
        g = copy.copy(g)
        _apply(Tensor("", (), dtype, init, params), g, (), np.empty((), DTYPES[dtype]))
        return g
    g = copy.copy(g)
    _apply(Tensor("", shape, dtype, init, params), g, (slice(0, 0),),
           np.empty((0,) + tuple(shape[1:]), DTYPES[dtype]))
    return g


def _clip(fill_index, block, ndim):
    """(index into the fill's region, index into the block's buffer) where a fill meets a
    block, or None if they do not meet. block: () for the whole tensor, else ints over the
    leading dimensions then one slice (rows of those: ``(e, slice(r0, r1))`` is rows r0:r1 of
    expert e); both indices are basic (ints and step-1 slices)."""
    idx = tuple(fill_index) + (slice(None),) * (ndim - len(fill_index))
    part, at = [], []
    for d, f in enumerate(idx):
        b = block[d] if d < len(block) else slice(None)
        fs = f if isinstance(f, slice) else None
        if isinstance(b, int):
            if fs is None:
                if f != b:
                    return None
                continue                        # in neither the region nor the block
            lo, hi = fs.start or 0, fs.stop
            if b < lo or (hi is not None and b >= hi):
                return None
            part.append(b - lo)
            continue
        r0 = b.start or 0
        if fs is None:                          # the fill fixes this dimension
            if f < r0 or (b.stop is not None and f >= b.stop):
                return None
            at.append(f - r0)
            continue
        a = fs.start or 0
        lo = max(a, r0)
        hi = min(x for x in (fs.stop, b.stop) if x is not None) \
            if (fs.stop, b.stop) != (None, None) else None
        if hi is not None and lo >= hi:
            return None
        part.append(slice(lo - a, None if hi is None else hi - a))
        at.append(slice(lo - r0, None if hi is None else hi - r0))
    return tuple(part), tuple(at)


def _fill_block(fill, index, buf):
    """Every block goes through here (tests break a write in the middle by replacing it)."""
    fill(index, buf)


def _filler(t, g):
    """(fill(index, buf), g advanced past t): fill writes t's block at index into buf,
    every block made from the same generator states as the whole tensor would be."""
    if t.fills is None:
        def fill(index, buf):
            _apply(t, copy.copy(g), index, buf)
        return fill, _advance(g, t.init, t.params, t.shape, t.dtype) if t.shape else \
            _scalar_advance(t, g)
    states, gk = [], g
    for f in t.fills:
        states.append(gk)
        gk = _advance(gk, f.init, f.params, region_shape(t.shape, f.index), t.dtype)

    def fill(index, buf):
        for f, gs in zip(t.fills, states):
            where = _clip(f.index, index, len(t.shape))
            if where is None:
                continue
            part, at = where
            sub = Tensor(t.name, region_shape(t.shape, f.index), t.dtype, f.init, f.params)
            _apply(sub, copy.copy(gs), part, buf[at])
    return fill, gk


def _scalar_advance(t, g):
    g = copy.copy(g)
    if t.init not in _DETERMINISTIC:
        _apply(t, g, (), np.empty((), DTYPES[t.dtype]))
    return g


class _Sink:
    """A file written front to back through two page-aligned staging buffers: blocks are
    generated straight into one while an I/O thread writes the other. Writes bypass the page
    cache (O_DIRECT) where the file system allows, so the CPU makes values instead of copying
    them, and the kernel's dirty pages do not pile up; a final partial page is written padded
    and the file truncated back to its size."""

    def __init__(self, path, size, progress):
        size = max(_ALIGN, size // _ALIGN * _ALIGN)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        self.direct = hasattr(os, "O_DIRECT")
        try:
            self.fd = os.open(path, flags | (os.O_DIRECT if self.direct else 0), 0o666)
        except OSError:
            self.direct = False
            self.fd = os.open(path, flags, 0o666)
        self.bufs = [mmap.mmap(-1, size), mmap.mmap(-1, size)]     # page-aligned
        self.capacity = size
        self.views = [np.frombuffer(b, np.uint8) for b in self.bufs]
        self.pending = [None, None]
        self.cur, self.used, self.offset = 0, 0, 0
        self.io = ThreadPoolExecutor(1)
        self.progress = progress

    def space(self):
        return len(self.bufs[self.cur]) - self.used

    def reserve(self, nbytes):
        """The next nbytes of the file, as a view to fill (nbytes <= space())."""
        return self.views[self.cur][self.used:self.used + nbytes]

    def commit(self, nbytes):
        self.used += nbytes
        if self.progress is not None:
            self.progress(nbytes)

    def put(self, data):
        """Copy bytes in (the header, and blocks too large for the buffers)."""
        data = memoryview(data).cast("B")
        while len(data):
            if not self.space():
                self.flush()
            n = min(self.space(), len(data))
            self.reserve(n)[:] = np.frombuffer(data[:n], np.uint8)
            self.commit(n)
            data = data[n:]

    def _write(self, i, nbytes, offset):
        view = memoryview(self.bufs[i])[:nbytes]
        while len(view):
            n = os.pwrite(self.fd, view, offset)
            view, offset = view[n:], offset + n

    def flush(self):
        """Hand the whole pages of the current buffer to the I/O thread; carry the partial
        last page over to the other buffer."""
        cur, nxt = self.cur, self.cur ^ 1
        whole = self.used - self.used % _ALIGN if self.direct else self.used
        if self.pending[nxt] is not None:
            self.pending[nxt].result()
            self.pending[nxt] = None
        tail = self.used - whole
        self.views[nxt][:tail] = self.views[cur][whole:self.used]
        if whole:
            self.pending[cur] = self.io.submit(self._write, cur, whole, self.offset)
        self.offset += whole
        self.cur, self.used = nxt, tail

    def close(self):
        try:
            for i in (0, 1):
                if self.pending[i] is not None:
                    self.pending[i].result()
            size = self.offset + self.used
            if self.used:
                padded = -(-self.used // _ALIGN) * _ALIGN if self.direct else self.used
                self.views[self.cur][self.used:padded] = 0
                self._write(self.cur, padded, self.offset)
                os.ftruncate(self.fd, size)
            os.fsync(self.fd)
        finally:
            self.io.shutdown()
            os.close(self.fd)
            self.views = self.bufs = None     # the buffers go with their last view


def _write_tensor(sink, t, g):
    """Tensor t's bytes into the sink, rows at a time straight into its buffers; returns g
    advanced past t. Every block is the call over the whole tensor, cut by index=."""
    dt = DTYPES[t.dtype]
    if t.compute is not None:
        arr, g = t.compute(copy.copy(g))
        sink.put(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))
        return g
    fill, after = _filler(t, g)
    inits = [f.init for f in t.fills] if t.fills is not None else [t.init]
    if not t.shape or t.numel == 0 or "orthogonal" in inits:
        buf = np.empty(t.shape, dt)
        _fill_block(fill, (), buf)
        sink.put(buf.reshape(-1).view(np.uint8))
        return after
    # Blocks of rows of the first dimension whose rows fit the staging buffer (less the
    # partial page it may carry over), at fixed indices of the ones before: an expert of a
    # Mixtral-8x7B (8 x 28672 x 4096) is 235 MB, made 64 MiB at a time, never whole.
    d, limit = 0, sink.capacity - _ALIGN
    while d < len(t.shape) - 1 and math.prod(t.shape[d + 1:]) * dt.itemsize > limit:
        d += 1
    row = math.prod(t.shape[d + 1:]) * dt.itemsize
    for prefix in itertools.product(*(range(n) for n in t.shape[:d])):
        r = 0
        while r < t.shape[d]:
            if sink.space() < row:
                sink.flush()
            n = min(sink.space() // row, t.shape[d] - r)
            if n == 0:          # a buffer of a page or two (tests): the row made apart
                buf = np.empty((1,) + t.shape[d + 1:], dt)
                _fill_block(fill, prefix + (slice(r, r + 1),), buf)
                sink.put(buf.reshape(-1).view(np.uint8))
                r += 1
                continue
            view = sink.reserve(n * row).view(dt).reshape((n,) + t.shape[d + 1:])
            _fill_block(fill, prefix + (slice(r, r + n),), view)
            sink.commit(n * row)
            r += n
    return after


def _write_file(path, tensors, g, progress):
    """One safetensors file, tensor by tensor, block by block. Returns g advanced past these
    tensors (deterministic inits draw nothing)."""
    sink = _Sink(path, BLOCK_BYTES, progress)
    try:
        sink.put(np.frombuffer(header(tensors), np.uint8))
        for t in tensors:
            g = _write_tensor(sink, t, g)
    finally:
        sink.close()
    return g


def output_files(out, tensors, max_shard_size=None):
    """(directory or None, [(file name, tensors)]): a .safetensors path is one file; any other
    path is a directory holding model.safetensors, or Hugging Face's sharded layout above
    max_shard_size."""
    if str(out).endswith(".safetensors") and not os.path.isdir(out):
        if max_shard_size is not None and sum(t.nbytes for t in tensors) > max_shard_size:
            raise CheckpointError("--max-shard-size needs a directory output, not a "
                                  ".safetensors file")
        return None, [(os.path.basename(out), tensors)]
    parts = shards(tensors, max_shard_size) if max_shard_size else [tensors]
    if len(parts) == 1:
        return out, [("model.safetensors", tensors)]
    n = len(parts)
    return out, [(f"model-{i + 1:05d}-of-{n:05d}.safetensors", p) for i, p in enumerate(parts)]


def _mkstemp(name, directory):
    """A temporary file beside its final name, with the permissions a new file would get. An
    error names the output, not the hidden temporary name nobody asked for."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise type(e)(e.errno, e.strerror, os.path.join(directory, name)) from None
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, tmp


_CHECKPOINT_FILE = re.compile(r"model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?")


def write(tensors, out, seed=0, max_shard_size=None, force=False, progress=None, config=None):
    """Write the checkpoint atomically: every file goes to a temporary name in its final
    directory; only when all are complete are the files they replace (and, in a directory,
    any other checkpoint files there) moved aside, the new ones renamed into place, and the
    old ones deleted. An error or an interrupt at any point removes what was written and puts
    back what was there. Returns the paths written."""
    directory, files = output_files(out, tensors, max_shard_size)
    final_dir = directory if directory is not None else (os.path.dirname(os.path.abspath(out)))
    targets = [os.path.join(final_dir, name) for name, _ in files]
    extra = {}
    if directory is not None and len(files) > 1:
        weight_map = {t.name: name for name, part in files for t in part}
        extra["model.safetensors.index.json"] = json.dumps(
            {"metadata": {"total_size": sum(t.nbytes for t in tensors)},
             "weight_map": weight_map}, indent=2).encode() + b"\n"
    if directory is not None and config is not None:
        extra["config.json"] = json.dumps(config, indent=2).encode() + b"\n"
    finals = targets + [os.path.join(final_dir, n) for n in extra]
    if directory is not None and os.path.exists(directory) and not os.path.isdir(directory):
        raise CheckpointError(f"{directory} exists and is not a directory")
    # What this checkpoint replaces: its own names, and in a directory every checkpoint file
    # (an earlier checkpoint of another layout would otherwise be mixed with this one).
    replaced = [p for p in finals if os.path.exists(p)]
    if directory is not None and os.path.isdir(final_dir):
        replaced += [os.path.join(final_dir, f) for f in sorted(os.listdir(final_dir))
                     if _CHECKPOINT_FILE.fullmatch(f)
                     and os.path.join(final_dir, f) not in replaced]
    if replaced and not force:
        raise CheckpointError(f"{replaced[0]} exists; use --force to overwrite")
    g = generator_for(seed)        # before anything is made: a bad seed leaves nothing behind
    made_dir = not os.path.isdir(final_dir)
    os.makedirs(final_dir, exist_ok=True)
    temps, aside, placed, done = [], [], [], False
    try:
        for (name, part), target in zip(files, targets):
            fd, tmp = _mkstemp(name, final_dir)
            os.close(fd)
            temps.append((tmp, target))
            g = _write_file(tmp, part, g, progress)
        for name, data in extra.items():
            fd, tmp = _mkstemp(name, final_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            temps.append((tmp, os.path.join(final_dir, name)))
        for i, old in enumerate(replaced):
            backup = os.path.join(final_dir, f".{os.path.basename(old)}.old.{os.getpid()}.{i}")
            os.replace(old, backup)
            aside.append((backup, old))
        for tmp, target in temps:
            os.replace(tmp, target)
            placed.append(target)
        temps = []
        placed = []
        for backup, _ in aside:
            os.remove(backup)
        aside = []
        done = True
        return finals
    finally:
        # Only reached with work to undo when something failed: new files out, old back in.
        for target in placed:
            _remove(target)
        for backup, old in reversed(aside):
            try:
                os.replace(backup, old)
            except OSError:
                pass
        for tmp, _ in temps:
            _remove(tmp)
        if made_dir and not done:
            try:
                os.rmdir(final_dir)
            except OSError:
                pass


def generator_for(seed):
    """The checkpoint's Generator: ``seed`` is an integer in [0, 2**64)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= int(seed) < 2 ** 64:
        raise CheckpointError(f"seed must be an integer in [0, 2**64), not {seed!r}")
    return Generator(int(seed))


def config_with_dtype(config, dtype):
    """The model config to write beside the tensors, its dtype set to theirs (transformers
    would otherwise load float32 tensors as the config's bfloat16). transformers 5 writes
    ``dtype``, 4.x ``torch_dtype``: each one present is set, ``torch_dtype`` (read by both)
    when neither is."""
    name = {"bf16": "bfloat16", "f16": "float16", "f32": "float32",
            "f64": "float64"}[dtype_name(dtype)]
    out = dict(config)
    keys = [k for k in ("dtype", "torch_dtype") if k in out] or ["torch_dtype"]
    for k in keys:
        out[k] = name
    return out


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
