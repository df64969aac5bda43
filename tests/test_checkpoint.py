"""fastinit.checkpoint: randomly initialized checkpoints streamed to safetensors files.

The expected tensor layouts, dtypes, init rules and statistics are written out here by hand
(from Hugging Face's llama layout and torch's defaults), not taken from the library; the
expected values are the in-memory fills (``fastinit.normal_`` ... with one Generator, in
file order), so every byte of a file is checked against an independent path."""
import hashlib
import json
import math
import os

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch
from scipy import stats

import fastinit
from fastinit import checkpoint
from fastinit.cli import main
from _util import BF16, F16, F32, F64, assert_bits_equal

ST_DTYPES = {"BF16": BF16, "F16": F16, "F32": F32, "F64": F64}
NP_DTYPES = {"bf16": BF16, "f16": F16, "f32": F32, "f64": F64}
TORCH_DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
                "f64": torch.float64}

LLAMA_TINY = dict(model_type="llama", vocab_size=1024, hidden_size=64, intermediate_size=176,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  initializer_range=0.02, tie_word_embeddings=False)
QWEN2_TINY = dict(model_type="qwen2", vocab_size=1024, hidden_size=64, intermediate_size=160,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  initializer_range=0.02, tie_word_embeddings=True)
# head_dim (32) != hidden_size / num_attention_heads (96 / 4 = 24)
HEAD_DIM_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                   "vocab_size": 500, "hidden_size": 96, "intermediate_size": 200,
                   "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
                   "head_dim": 32, "tie_word_embeddings": False, "initializer_range": 0.05,
                   "rms_norm_eps": 1e-5}


# ---- independent expectations ---------------------------------------------------------------

def expected_layout(cfg):
    """[(name, shape)] of Hugging Face's LlamaForCausalLM / Qwen2ForCausalLM, by hand."""
    V, H, I = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
    L, nh = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    qkv_bias = cfg.get("model_type") == "qwen2"
    out = [("model.embed_tokens.weight", (V, H))]
    for i in range(L):
        p = f"model.layers.{i}."
        out.append((p + "self_attn.q_proj.weight", (nh * hd, H)))
        if qkv_bias:
            out.append((p + "self_attn.q_proj.bias", (nh * hd,)))
        out.append((p + "self_attn.k_proj.weight", (kv * hd, H)))
        if qkv_bias:
            out.append((p + "self_attn.k_proj.bias", (kv * hd,)))
        out.append((p + "self_attn.v_proj.weight", (kv * hd, H)))
        if qkv_bias:
            out.append((p + "self_attn.v_proj.bias", (kv * hd,)))
        out.append((p + "self_attn.o_proj.weight", (H, nh * hd)))
        out.append((p + "mlp.gate_proj.weight", (I, H)))
        out.append((p + "mlp.up_proj.weight", (I, H)))
        out.append((p + "mlp.down_proj.weight", (H, I)))
        out.append((p + "input_layernorm.weight", (H,)))
        out.append((p + "post_attention_layernorm.weight", (H,)))
    out.append(("model.norm.weight", (H,)))
    if not cfg.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (V, H)))
    return out


def kind(name):
    if name.endswith("norm.weight"):
        return "norm"
    if name.endswith(".bias"):
        return "bias"
    if name == "model.embed_tokens.weight":
        return "embedding"
    return "linear"


def expected_fill(scheme, cfg, name, shape):
    """(in-place function, kwargs) of a tensor under a scheme, written out by hand."""
    r = cfg.get("initializer_range", 0.02)
    k = kind(name)
    if k == "norm":
        return fastinit.ones_, {}
    if scheme == "torch-default":
        if k == "embedding":
            return fastinit.normal_, {"mean": 0.0, "std": 1.0}
        if k == "bias":
            # fan_in of the weight the bias belongs to: (out, in) -> in
            b = 1 / math.sqrt(cfg["hidden_size"])
            return fastinit.uniform_, {"a": -b, "b": b}
        return fastinit.kaiming_uniform_, {"a": math.sqrt(5)}
    if k == "bias":
        return fastinit.zeros_, {}
    if scheme == "scaled" and (name.endswith("o_proj.weight") or
                               name.endswith("down_proj.weight")):
        r = r / math.sqrt(2 * cfg["num_hidden_layers"])
    if scheme == "trunc-normal":
        return fastinit.trunc_normal_, {"mean": 0.0, "std": r, "a": -2 * r, "b": 2 * r}
    return fastinit.normal_, {"mean": 0.0, "std": r}


DETERMINISTIC = (fastinit.ones_, fastinit.zeros_, fastinit.constant_)


def replay(fills, seed):
    """The in-memory fills, in file order: [(name, array)]; fills = [(name, shape, dtype,
    fn, kwargs)]."""
    g = fastinit.Generator(seed)
    out = []
    for name, shape, dtype, fn, kw in fills:
        arr = np.empty(shape, dtype)
        if fn in DETERMINISTIC:
            fn(arr, **kw)
        else:
            fn(arr, **kw, generator=g)
        out.append((name, arr))
    return out


# ---- reading the files ----------------------------------------------------------------------

def read_safetensors(path):
    """[(name, dtype, shape, raw bytes)] in file (offset) order, checking the framing."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    assert n % 8 == 0, "header length not padded to 8 bytes"
    hdr = json.loads(data[8:8 + n])
    meta = hdr.pop("__metadata__", {})
    assert meta.get("format") == "pt"
    base = 8 + n
    items = sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0])
    out, pos = [], 0
    for name, info in items:
        start, stop = info["data_offsets"]
        assert start == pos, f"{name}: gap or overlap in the data"
        dt = ST_DTYPES[info["dtype"]]
        shape = tuple(info["shape"])
        assert stop - start == math.prod(shape) * dt.itemsize, name
        out.append((name, dt, shape, data[base + start:base + stop]))
        pos = stop
    assert base + pos == len(data), "trailing bytes after the data"
    return out


def checkpoint_files(out):
    """The safetensors files of a checkpoint directory, in shard order."""
    names = sorted(n for n in os.listdir(out) if n.endswith(".safetensors"))
    return [os.path.join(out, n) for n in names]


def read_checkpoint(out):
    """[(name, dtype, shape, raw bytes)] over all shards, in file order."""
    path = out if str(out).endswith(".safetensors") else None
    files = [path] if path else checkpoint_files(out)
    return [t for f in files for t in read_safetensors(f)]


def as_arrays(entries):
    return {name: np.frombuffer(raw, dt).reshape(shape) for name, dt, shape, raw in entries}


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def dir_digest(d):
    """{file name: sha256} of every file in a directory."""
    return {n: sha(os.path.join(d, n)) for n in sorted(os.listdir(d))}


def run(*argv):
    """fastinit.cli.main in process; the exit code."""
    return main([str(a) for a in argv])


def assert_matches_replay(entries, fills, seed):
    """The file's tensors (names, dtypes, shapes, order, bits) are the in-memory fills."""
    expected = replay(fills, seed)
    assert [e[0] for e in entries] == [n for n, _ in expected], "file order"
    for (name, dt, shape, raw), (_, arr) in zip(entries, expected):
        got = np.frombuffer(raw, dt).reshape(shape)
        assert_bits_equal(got, arr, name)


def scheme_fills(cfg, scheme, dtype, entries=None):
    layout = expected_layout(cfg)
    if entries is not None:     # in the file's order (checked to be the same set)
        order = {n: i for i, (n, *_rest) in enumerate(entries)}
        assert set(order) == {n for n, _ in layout}
        layout = sorted(layout, key=lambda ns: order[ns[0]])
    return [(n, s, NP_DTYPES[dtype], *expected_fill(scheme, cfg, n, s)) for n, s in layout]


# ---- 1. layout: names, shapes, dtypes; loading with safetensors ----------------------------

@pytest.mark.parametrize("preset,cfg", [("llama-tiny", LLAMA_TINY), ("qwen2-tiny", QWEN2_TINY)])
@pytest.mark.parametrize("dtype", ["bf16", "f16", "f32", "f64"])
def test_preset_layout_loads_with_safetensors(tmp_path, preset, cfg, dtype):
    out = tmp_path / "ckpt"
    assert run("init", "--preset", preset, "-o", out, "--dtype", dtype, "--seed", 3) == 0
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors"]
    layout = dict(expected_layout(cfg))
    if preset == "qwen2-tiny":
        assert "lm_head.weight" not in layout
        assert "model.layers.1.self_attn.k_proj.bias" in layout
    path = str(out / "model.safetensors")

    tt = safetensors.torch.load_file(path)
    assert {k: tuple(v.shape) for k, v in tt.items()} == layout
    assert {v.dtype for v in tt.values()} == {TORCH_DTYPES[dtype]}
    if dtype != "bf16":
        nt = safetensors.numpy.load_file(path)
        assert {k: v.shape for k, v in nt.items()} == layout
        assert {v.dtype for v in nt.values()} == {NP_DTYPES[dtype]}
        for k in layout:
            assert np.array_equal(nt[k], tt[k].numpy()), k
    # torch's bytes are the raw file bytes (bf16 included)
    raw = as_arrays(read_safetensors(path))
    for k, v in tt.items():
        assert v.contiguous().view(torch.uint8).numpy().tobytes() == raw[k].tobytes(), k
    # values are those of the hf scheme, in file order
    entries = read_safetensors(path)
    assert_matches_replay(entries, scheme_fills(cfg, "hf", dtype, entries), 3)
    # the config.json beside it is the model's
    written = json.loads((out / "config.json").read_text())
    for key, value in cfg.items():
        assert written[key] == value, key


@pytest.mark.parametrize("dtype", ["bf16", "f32"])
def test_hf_config_with_head_dim(tmp_path, dtype):
    cfg_path = tmp_path / "config.json"
    cfg_path.write_text(json.dumps(HEAD_DIM_CONFIG))
    out = tmp_path / "out"
    assert run("init", cfg_path, "-o", out, "--dtype", dtype, "--seed", 11) == 0
    layout = dict(expected_layout(HEAD_DIM_CONFIG))
    assert layout["model.layers.0.self_attn.q_proj.weight"] == (128, 96)
    assert layout["model.layers.0.self_attn.k_proj.weight"] == (64, 96)
    assert layout["model.layers.0.self_attn.o_proj.weight"] == (96, 128)
    tt = safetensors.torch.load_file(str(out / "model.safetensors"))
    assert {k: tuple(v.shape) for k, v in tt.items()} == layout
    assert {v.dtype for v in tt.values()} == {TORCH_DTYPES[dtype]}
    entries = read_checkpoint(out)
    assert_matches_replay(entries, scheme_fills(HEAD_DIM_CONFIG, "hf", dtype, entries), 11)
    # the model's config, saying the tensors' dtype
    assert json.loads((out / "config.json").read_text()) == dict(
        HEAD_DIM_CONFIG, torch_dtype={"bf16": "bfloat16", "f32": "float32"}[dtype])


def test_hf_config_head_dim_with_indivisible_hidden(tmp_path):
    """hidden_size need not be a multiple of the heads when head_dim is given."""
    cfg = dict(HEAD_DIM_CONFIG, hidden_size=100, num_attention_heads=3,
               num_key_value_heads=1, head_dim=40, num_hidden_layers=1)
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    out = tmp_path / "m.safetensors"
    assert run("init", p, "-o", out, "--dtype", "f16") == 0
    assert {k: v.shape for k, v in safetensors.numpy.load_file(str(out)).items()} == \
        dict(expected_layout(cfg))


def test_hf_config_torch_dtype_is_the_default(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(dict(LLAMA_TINY, torch_dtype="float32")))
    out = tmp_path / "m.safetensors"
    assert run("init", p, "-o", out) == 0
    assert {v.dtype for v in safetensors.numpy.load_file(str(out)).values()} == {F32}
    out2 = tmp_path / "m16.safetensors"
    assert run("init", p, "-o", out2, "--dtype", "f16") == 0          # the flag wins
    assert {v.dtype for v in safetensors.numpy.load_file(str(out2)).values()} == {F16}


def test_default_dtype_is_bf16(tmp_path):
    out = tmp_path / "m.safetensors"
    assert run("init", "--preset", "llama-tiny", "-o", out) == 0
    assert {d for _, d, _, _ in read_checkpoint(out)} == {BF16}


def test_model_tensors_matches_hand_layout():
    for cfg in (LLAMA_TINY, QWEN2_TINY, HEAD_DIM_CONFIG):
        assert [(n, tuple(s)) for n, s in checkpoint.model_tensors(cfg)] == expected_layout(cfg)
    for name in ("llama-tiny", "qwen2-tiny", "llama-100m", "tinyllama-1.1b", "llama-7b",
                 "mistral-7b", "qwen2-0.5b"):
        cfg = checkpoint.PRESETS[name]
        assert sorted((n, tuple(s)) for n, s in checkpoint.model_tensors(cfg)) == \
            sorted(expected_layout(cfg))


def test_known_parameter_counts():
    """Published sizes: TinyLlama 1,100,048,384; Llama-2-7B 6,738,415,616; Mistral-7B
    7,241,732,096; Qwen2-0.5B 494,032,768 (tied embeddings)."""
    counts = {"tinyllama-1.1b": 1_100_048_384, "llama-7b": 6_738_415_616,
              "mistral-7b": 7_241_732_096, "qwen2-0.5b": 494_032_768}
    for name, n in counts.items():
        tensors = checkpoint.plan(checkpoint.PRESETS[name], dtype="bf16")
        assert sum(t.numel for t in tensors) == n, name
        assert sum(t.nbytes for t in tensors) == 2 * n, name


def test_loads_with_transformers(tmp_path):
    transformers = pytest.importorskip("transformers")
    out = tmp_path / "ckpt"
    assert run("init", "--preset", "llama-tiny", "-o", out, "--dtype", "f32") == 0
    model, info = transformers.AutoModelForCausalLM.from_pretrained(
        str(out), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    file = safetensors.torch.load_file(str(out / "model.safetensors"))
    sd = model.state_dict()
    for k, v in file.items():
        assert torch.equal(sd[k], v), k


@pytest.mark.parametrize("scheme", ["hf", "torch-default", "scaled", "trunc-normal"])
@pytest.mark.parametrize("pad", [5, -1])
def test_padding_row_of_the_embedding_is_zero(tmp_path, scheme, pad):
    """pad_token_id makes llama's nn.Embedding(padding_idx=...): its row is zero under every
    scheme (transformers' _init_weights and nn.Embedding's reset zero it after the fill).
    Zeroing draws nothing: every other byte is the checkpoint without pad_token_id's."""
    cfg = dict(LLAMA_TINY, pad_token_id=pad)
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    (tmp_path / "n.json").write_text(json.dumps(LLAMA_TINY))
    for name in ("c", "n"):
        assert run("init", tmp_path / f"{name}.json", "-o", tmp_path / name, "--dtype", "f32",
                   "--scheme", scheme, "--seed", 4) == 0
    a, b = as_arrays(read_checkpoint(tmp_path / "c")), as_arrays(read_checkpoint(tmp_path / "n"))
    row = pad % cfg["vocab_size"]
    emb, ref = a.pop("model.embed_tokens.weight"), b.pop("model.embed_tokens.weight")
    assert np.all(emb[row] == 0) and np.all(ref[row] != 0)
    rest = np.ones(len(emb), bool)
    rest[row] = False
    assert_bits_equal(emb[rest], ref[rest], "embedding rows")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_padding_row_matches_transformers(tmp_path):
    """Built in and through transformers' own init, the same zero row (and the model loads
    with it)."""
    transformers = pytest.importorskip("transformers")
    cfg = dict(LLAMA_TINY, pad_token_id=7)
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    assert run("init", tmp_path / "c.json", "-o", tmp_path / "o", "--dtype", "f32") == 0
    model = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "o"))
    ref = transformers.AutoModelForCausalLM.from_config(transformers.LlamaConfig(**cfg))
    ours, theirs = model.model.embed_tokens, ref.model.embed_tokens
    assert ours.padding_idx == theirs.padding_idx == 7
    w, r = ours.weight.detach().numpy(), theirs.weight.detach().numpy()
    assert np.array_equal(np.all(w == 0, axis=1), np.all(r == 0, axis=1))
    assert np.all(w[7] == 0)


@pytest.mark.parametrize("pad", [1024, -1025, 2.0, True, "5"])
def test_bad_pad_token_id(tmp_path, capsys, pad):
    (tmp_path / "c.json").write_text(json.dumps(dict(LLAMA_TINY, pad_token_id=pad)))
    assert run("init", tmp_path / "c.json", "-o", tmp_path / "o") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pad_token_id" in err
    assert not (tmp_path / "o").exists()


# ---- 2. spec files ----------------------------------------------------------------------------

SPEC = {"tensors": [
    {"name": "a.weight", "shape": [256, 128], "init": "normal", "std": 0.5},
    {"name": "a.bias", "shape": [256], "init": "zeros"},
    {"name": "b", "shape": [64, 64], "init": "orthogonal"},
    {"name": "c", "shape": [100, 30], "init": "uniform", "a": -3.0, "b": 2.0},
    {"name": "d", "shape": [50, 70], "init": "trunc_normal", "std": 1.5, "a": -1.0, "b": 2.0},
    {"name": "e", "shape": [7, 9], "init": "constant", "val": 0.25},
    {"name": "f", "shape": [40, 8, 3], "init": "kaiming_normal", "params": {"mode": "fan_out"}},
    {"name": "g", "shape": [33, 17], "init": "xavier_uniform", "gain": 2.0},
    {"name": "h", "shape": [5], "init": "ones"},
    {"name": "i", "shape": [12, 20], "init": "kaiming_uniform", "a": 0.1},
    {"name": "j", "shape": [10, 10], "init": "xavier_normal"},
    {"name": "k", "shape": [3, 4, 5], "init": "normal", "mean": 1.0, "std": 0.1, "dtype": "f64"},
]}


def spec_fills(spec, dtype):
    fns = {"normal": fastinit.normal_, "zeros": fastinit.zeros_, "ones": fastinit.ones_,
           "orthogonal": fastinit.orthogonal_, "uniform": fastinit.uniform_,
           "trunc_normal": fastinit.trunc_normal_, "constant": fastinit.constant_,
           "kaiming_normal": fastinit.kaiming_normal_, "kaiming_uniform": fastinit.kaiming_uniform_,
           "xavier_uniform": fastinit.xavier_uniform_, "xavier_normal": fastinit.xavier_normal_}
    out = []
    for e in spec["tensors"]:
        kw = dict(e.get("params", {}))
        kw.update({k: v for k, v in e.items()
                   if k not in ("name", "shape", "init", "params", "dtype")})
        out.append((e["name"], tuple(e["shape"]), NP_DTYPES[e.get("dtype", dtype)],
                    fns[e["init"]], kw))
    return out


@pytest.mark.parametrize("dtype", ["bf16", "f16", "f32", "f64"])
def test_spec_file_values(tmp_path, dtype):
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(SPEC))
    out = tmp_path / "spec.safetensors"
    assert run("init", p, "-o", out, "--dtype", dtype, "--seed", 5) == 0
    entries = read_checkpoint(out)
    assert [(n, d, s) for n, d, s, _ in entries] == \
        [(n, d, s) for n, s, d, _, _ in spec_fills(SPEC, dtype)]
    assert_matches_replay(entries, spec_fills(SPEC, dtype), 5)
    tt = safetensors.torch.load_file(str(out))
    assert tt["k"].dtype == torch.float64 and tt["a.weight"].dtype == TORCH_DTYPES[dtype]
    if dtype == "f32":
        a = as_arrays(entries)
        w = a["a.weight"].astype(np.float64)
        assert abs(w.std() - 0.5) < 5 * 0.5 / math.sqrt(2 * w.size)
        assert not a["a.bias"].any()
        b = a["b"].astype(np.float64)
        assert np.allclose(b @ b.T, np.eye(64), atol=1e-5)
        assert a["c"].min() >= -3.0 and a["c"].max() < 2.0
        assert a["d"].min() >= -1.0 and a["d"].max() <= 2.0
        assert (a["e"] == np.float32(0.25)).all()
    # no config.json for a spec of tensors, and a .safetensors output is just that file
    assert sorted(os.listdir(tmp_path)) == ["spec.json", "spec.safetensors"]


def test_spec_directory_output_has_no_config(tmp_path):
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(SPEC))
    out = tmp_path / "out"
    assert run("init", p, "-o", out) == 0
    assert os.listdir(out) == ["model.safetensors"]


def test_spec_with_preset_config_overrides_and_scheme(tmp_path):
    spec = {"preset": "llama-tiny", "config": {"num_hidden_layers": 3}, "scheme": "scaled",
            "overrides": [
                {"pattern": "*.o_proj.weight", "init": "normal", "std": 0.001},
                {"pattern": "model.layers.2.*", "init": "zeros"},
                {"pattern": "*norm.weight", "init": "constant", "val": 0.5, "dtype": "f32"},
                {"pattern": "lm_head.weight", "init": "trunc_normal",
                 "params": {"std": 0.1, "a": -0.1, "b": 0.3}},
            ]}
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(spec))
    out = tmp_path / "out"
    assert run("init", p, "-o", out, "--dtype", "bf16", "--seed", 9) == 0
    cfg = dict(LLAMA_TINY, num_hidden_layers=3)
    scaled = 0.02 / math.sqrt(6)
    fills = []
    for n, s in expected_layout(cfg):
        dt = BF16
        if n.startswith("model.layers.2.") and not n.endswith("norm.weight"):
            fn, kw = fastinit.zeros_, {}
        elif n.endswith("norm.weight"):
            fn, kw, dt = fastinit.constant_, {"val": 0.5}, F32     # last match wins
        elif n.endswith("o_proj.weight"):
            fn, kw = fastinit.normal_, {"mean": 0.0, "std": 0.001}
        elif n.endswith("down_proj.weight"):
            fn, kw = fastinit.normal_, {"mean": 0.0, "std": scaled}
        elif n == "lm_head.weight":
            fn, kw = fastinit.trunc_normal_, {"std": 0.1, "a": -0.1, "b": 0.3}
        else:
            fn, kw = fastinit.normal_, {"mean": 0.0, "std": 0.02}
        fills.append((n, s, dt, fn, kw))
    entries = read_checkpoint(out)
    order = {e[0]: i for i, e in enumerate(entries)}
    fills.sort(key=lambda f: order[f[0]])
    assert_matches_replay(entries, fills, 9)
    # layer 2's norms: the norm override came after the layer-2 one
    a = as_arrays(entries)
    assert a["model.layers.2.input_layernorm.weight"].dtype == F32
    assert (a["model.layers.2.input_layernorm.weight"] == 0.5).all()
    assert not a["model.layers.2.mlp.up_proj.weight"].astype(np.float32).any()
    # the merged config goes beside the weights
    written = json.loads((out / "config.json").read_text())
    assert written["num_hidden_layers"] == 3 and written["hidden_size"] == 64


def test_command_line_scheme_beats_the_spec(tmp_path):
    spec = {"preset": "llama-tiny", "scheme": "scaled"}
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(spec))
    assert run("init", p, "-o", tmp_path / "a.safetensors", "--scheme", "hf") == 0
    assert run("init", "--preset", "llama-tiny", "-o", tmp_path / "b.safetensors") == 0
    assert run("init", p, "-o", tmp_path / "c.safetensors") == 0
    assert sha(tmp_path / "a.safetensors") == sha(tmp_path / "b.safetensors")
    assert sha(tmp_path / "c.safetensors") != sha(tmp_path / "b.safetensors")


def test_spec_with_config_only(tmp_path):
    spec = {"config": HEAD_DIM_CONFIG,
            "overrides": [{"pattern": "model.embed_tokens.weight", "init": "uniform",
                           "a": -1.0, "b": 1.0}]}
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(spec))
    out = tmp_path / "out"
    assert run("init", p, "-o", out, "--dtype", "f32", "--scheme", "trunc-normal") == 0
    entries = read_checkpoint(out)
    fills = scheme_fills(HEAD_DIM_CONFIG, "trunc-normal", "f32", entries)
    fills = [(n, s, d, fastinit.uniform_, {"a": -1.0, "b": 1.0})
             if n == "model.embed_tokens.weight" else (n, s, d, fn, kw)
             for n, s, d, fn, kw in fills]
    assert_matches_replay(entries, fills, 0)
    assert json.loads((out / "config.json").read_text()) == dict(HEAD_DIM_CONFIG,
                                                                 torch_dtype="float32")


def test_scalar_tensor(tmp_path):
    spec = {"tensors": [{"name": "scalar", "shape": [], "init": "normal", "std": 2.0},
                        {"name": "after", "shape": [4, 4], "init": "uniform"}]}
    out = tmp_path / "m.safetensors"
    checkpoint.write(checkpoint.plan(spec, dtype="f32"), str(out), seed=4)
    assert safetensors.numpy.load_file(str(out))["scalar"].shape == ()
    assert_matches_replay(read_checkpoint(out), spec_fills(spec, "f32"), 4)


@pytest.mark.parametrize("init", ["normal", "zeros"])
def test_zero_size_tensor(tmp_path, init):
    """The spec accepts zero dims ("non-negative integers"); safetensors stores such tensors,
    and the in-place fills leave them alone without using the generator."""
    spec = {"tensors": [{"name": "empty", "shape": [0, 8], "init": init},
                        {"name": "after", "shape": [4, 4], "init": "uniform"}]}
    out = tmp_path / "m.safetensors"
    checkpoint.write(checkpoint.plan(spec, dtype="f32"), str(out), seed=4)
    assert safetensors.numpy.load_file(str(out))["empty"].shape == (0, 8)
    assert_matches_replay(read_checkpoint(out), spec_fills(spec, "f32"), 4)


# ---- 3. statistics of each scheme ---------------------------------------------------------------

def write_preset(tmp_path, preset, scheme, seed=1234, dtype="f32"):
    out = tmp_path / f"{preset}-{scheme}"
    assert run("init", "--preset", preset, "-o", out, "--dtype", dtype, "--scheme", scheme,
               "--seed", seed) == 0
    return as_arrays(read_checkpoint(out))


def check_normal(x, std, what, mean=0.0):
    x = x.astype(np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(n), f"{what}: mean {x.mean()}"
    assert abs(x.std() - std) < 5 * std / math.sqrt(2 * n), f"{what}: std {x.std()} != {std}"


@pytest.mark.parametrize("preset,cfg", [("llama-tiny", LLAMA_TINY), ("qwen2-tiny", QWEN2_TINY)])
def test_hf_scheme_statistics(tmp_path, preset, cfg):
    a = write_preset(tmp_path, preset, "hf")
    assert set(a) == {n for n, _ in expected_layout(cfg)}
    pooled = []
    for name, x in a.items():
        assert x.dtype == F32
        k = kind(name)
        if k == "norm":
            assert (x == 1).all(), name
        elif k == "bias":
            assert (x == 0).all() and not np.signbit(x).any(), name
        else:
            check_normal(x, 0.02, name)
            pooled.append(x.ravel() / 0.02)
    assert stats.kstest(np.concatenate(pooled), "norm").pvalue > 1e-4
    if preset == "qwen2-tiny":
        assert sum(kind(n) == "bias" for n in a) == 6


@pytest.mark.parametrize("preset,cfg", [("llama-tiny", LLAMA_TINY), ("qwen2-tiny", QWEN2_TINY)])
def test_torch_default_scheme_statistics(tmp_path, preset, cfg):
    a = write_preset(tmp_path, preset, "torch-default")
    pooled_w, pooled_b = [], []
    for name, x in a.items():
        x64 = x.astype(np.float64)
        k = kind(name)
        if k == "norm":
            assert (x == 1).all(), name
        elif k == "embedding":
            check_normal(x, 1.0, name)
            assert stats.kstest(x64.ravel(), "norm").pvalue > 1e-4
        elif k == "bias":
            bound = 1 / math.sqrt(cfg["hidden_size"])      # fan_in of the q/k/v weight
            assert np.abs(x64).max() <= bound, name
            pooled_b.append(x64.ravel() / bound)
        else:
            bound = 1 / math.sqrt(x.shape[1])               # fan_in = in_features
            assert np.abs(x64).max() <= bound, name
            assert np.abs(x64).max() > 0.97 * bound, name
            assert abs(x64.std() - bound / math.sqrt(3)) < 5 * bound / math.sqrt(5 * x.size)
            pooled_w.append(x64.ravel() / bound)
    assert stats.kstest(np.concatenate(pooled_w), "uniform", args=(-1, 2)).pvalue > 1e-4
    if pooled_b:
        b = np.concatenate(pooled_b)
        assert b.size == 2 * (64 + 32 + 32)
        assert stats.kstest(b, "uniform", args=(-1, 2)).pvalue > 1e-4
    else:
        assert preset == "llama-tiny"


def test_scaled_scheme_statistics(tmp_path):
    a = write_preset(tmp_path, "llama-tiny", "scaled")
    small = 0.02 / math.sqrt(2 * 2)
    seen = 0
    for name, x in a.items():
        k = kind(name)
        if k == "norm":
            assert (x == 1).all()
        elif name.endswith(("o_proj.weight", "down_proj.weight")):
            check_normal(x, small, name)
            seen += 1
        else:
            check_normal(x, 0.02, name)
    assert seen == 4


def test_scaled_scheme_uses_the_configs_layer_count(tmp_path):
    cfg = dict(LLAMA_TINY, num_hidden_layers=8, vocab_size=64, intermediate_size=512)
    tensors = checkpoint.plan(cfg, scheme="scaled", dtype="f32")
    out = tmp_path / "m.safetensors"
    checkpoint.write(tensors, str(out), seed=2)
    a = as_arrays(read_checkpoint(out))
    down = np.concatenate([a[f"model.layers.{i}.mlp.down_proj.weight"].ravel()
                           for i in range(8)])
    check_normal(down, 0.02 / 4, "down_proj")


@pytest.mark.parametrize("preset", ["llama-tiny", "qwen2-tiny"])
def test_trunc_normal_scheme_statistics(tmp_path, preset):
    a = write_preset(tmp_path, preset, "trunc-normal")
    factor = stats.truncnorm(-2, 2).std()
    assert abs(factor - 0.8796) < 1e-4
    pooled = []
    for name, x in a.items():
        x64 = x.astype(np.float64)
        k = kind(name)
        if k == "norm":
            assert (x == 1).all()
        elif k == "bias":
            assert (x == 0).all()
        else:
            assert np.abs(x64).max() <= 2 * 0.02, name
            assert np.abs(x64).max() > 1.9 * 0.02, name
            assert abs(x64.std() - 0.02 * factor) < 6 * 0.02 / math.sqrt(2 * x.size), name
            pooled.append(x64.ravel() / 0.02)
    assert stats.kstest(np.concatenate(pooled), stats.truncnorm(-2, 2).cdf).pvalue > 1e-4


# ---- 4. determinism -------------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for name, seed in (("a", 42), ("b", 42), ("c", 43)):
        assert run("init", "--preset", "qwen2-tiny", "-o", tmp_path / name, "--seed", seed) == 0
    assert dir_digest(tmp_path / "a") == dir_digest(tmp_path / "b")
    a, c = as_arrays(read_checkpoint(tmp_path / "a")), as_arrays(read_checkpoint(tmp_path / "c"))
    assert sha(tmp_path / "a" / "model.safetensors") != sha(tmp_path / "c" / "model.safetensors")
    for name in a:
        same = np.array_equal(a[name].view(np.uint16), c[name].view(np.uint16))
        assert same == (kind(name) in ("norm", "bias")), name


@pytest.mark.parametrize("dtype", ["bf16", "f32"])
def test_thread_count_does_not_change_bytes(tmp_path, dtype):
    # a tensor large enough to be split among threads, beside the model
    spec = {"preset": "llama-tiny",
            "overrides": [{"pattern": "model.embed_tokens.weight", "init": "trunc_normal",
                           "std": 0.3, "a": -0.2, "b": 0.5}]}
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(spec))
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"tensors": [
        {"name": "w", "shape": [1024, 1536], "init": "normal", "std": 0.02},
        {"name": "u", "shape": [1536, 1024], "init": "kaiming_uniform"}]}))
    digests = []
    for threads in (1, 2, 3):
        o1, o2 = tmp_path / f"p{threads}", tmp_path / f"b{threads}.safetensors"
        assert run("init", p, "-o", o1, "--dtype", dtype, "--threads", threads) == 0
        assert fastinit.get_num_threads() == threads
        assert run("init", big, "-o", o2, "--dtype", dtype, "--threads", threads) == 0
        digests.append((dir_digest(o1), sha(o2)))
    assert digests[0] == digests[1] == digests[2]


@pytest.mark.parametrize("scheme", ["hf", "torch-default", "scaled", "trunc-normal"])
@pytest.mark.parametrize("dtype", ["bf16", "f16", "f32", "f64"])
def test_file_equals_in_memory_fills(tmp_path, scheme, dtype):
    out = tmp_path / "m.safetensors"
    tensors = checkpoint.plan(dict(QWEN2_TINY), scheme=scheme, dtype=dtype)
    checkpoint.write(tensors, str(out), seed=2024)
    entries = read_checkpoint(out)
    assert_matches_replay(entries, scheme_fills(QWEN2_TINY, scheme, dtype, entries), 2024)


@pytest.mark.parametrize("preset", ["llama-tiny", "qwen2-tiny"])
def test_sharded_tensors_equal_unsharded(tmp_path, preset):
    assert run("init", "--preset", preset, "-o", tmp_path / "one", "--seed", 8) == 0
    assert run("init", "--preset", preset, "-o", tmp_path / "many", "--seed", 8,
               "--max-shard-size", "50KB") == 0
    assert len(checkpoint_files(tmp_path / "many")) > 3
    one, many = read_checkpoint(tmp_path / "one"), read_checkpoint(tmp_path / "many")
    assert [(n, d, s) for n, d, s, _ in one] == [(n, d, s) for n, d, s, _ in many]
    for a, b in zip(one, many):
        assert a[3] == b[3], a[0]


# ---- 5. layout of the output: shards, index, single files -----------------------------------

@pytest.mark.parametrize("preset,dtype,size,limit", [
    ("llama-tiny", "bf16", "100KB", 100_000),
    ("llama-tiny", "f32", "100KB", 100_000),
    ("qwen2-tiny", "f32", "64KiB", 65_536),
    ("qwen2-tiny", "f16", "0.2MB", 200_000),
])
def test_sharded_layout_and_index(tmp_path, preset, dtype, size, limit):
    out = tmp_path / "ckpt"
    assert run("init", "--preset", preset, "-o", out, "--dtype", dtype,
               "--max-shard-size", size) == 0
    files = checkpoint_files(out)
    n = len(files)
    assert n >= 2
    names = [os.path.basename(f) for f in files]
    assert names == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    assert sorted(os.listdir(out)) == sorted(names + ["config.json",
                                                      "model.safetensors.index.json"])
    index = json.loads((out / "model.safetensors.index.json").read_text())
    itemsize = NP_DTYPES[dtype].itemsize
    cfg = LLAMA_TINY if preset == "llama-tiny" else QWEN2_TINY
    layout = expected_layout(cfg)
    total = sum(math.prod(s) * itemsize for _, s in layout)
    assert index["metadata"]["total_size"] == total
    held = {}
    for f in files:
        entries = read_safetensors(f)
        data = sum(len(e[3]) for e in entries)
        # within the limit, unless the shard is one tensor bigger than it
        assert data <= limit or len(entries) == 1, (f, data)
        for e in entries:
            held[e[0]] = os.path.basename(f)
        # every shard loads by itself
        assert set(safetensors.torch.load_file(f)) == {e[0] for e in entries}
    assert index["weight_map"] == held
    assert set(held) == {name for name, _ in layout}
    # the shards are greedy: no shard could have taken the next shard's first tensor
    sizes = [[len(e[3]) for e in read_safetensors(f)] for f in files]
    for cur, nxt in zip(sizes, sizes[1:]):
        assert sum(cur) + nxt[0] > limit


def test_max_shard_size_above_total_gives_one_file(tmp_path):
    out = tmp_path / "ckpt"
    assert run("init", "--preset", "llama-tiny", "-o", out, "--max-shard-size", "5GB") == 0
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors"]


def test_safetensors_path_output(tmp_path):
    out = tmp_path / "sub" / "weights.safetensors"
    assert run("init", "--preset", "llama-tiny", "-o", out) == 0
    assert os.listdir(tmp_path / "sub") == ["weights.safetensors"]     # no config.json
    assert set(safetensors.torch.load_file(str(out))) == \
        {n for n, _ in expected_layout(LLAMA_TINY)}


def test_parse_size():
    assert checkpoint.parse_size("5GB") == 5 * 10**9
    assert checkpoint.parse_size("500MB") == 500 * 10**6
    assert checkpoint.parse_size("2GiB") == 2 * 2**30
    assert checkpoint.parse_size("100kb") == 100_000
    assert checkpoint.parse_size("1.5 KiB") == 1536
    assert checkpoint.parse_size("123") == 123
    for bad in ("", "abc", "5XB", "-1GB", "0", "0GB", "1e3", "GB"):
        with pytest.raises(checkpoint.CheckpointError):
            checkpoint.parse_size(bad)


# ---- 6. atomic writes ------------------------------------------------------------------------

def fail_on_call(monkeypatch, target, attr, n, exc):
    """Make the n-th call of target.attr raise exc (the others go through)."""
    real = getattr(target, attr)
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            raise exc
        return real(*args, **kwargs)
    monkeypatch.setattr(target, attr, wrapper)
    return calls


def write_old_checkpoint(d, sharded=True):
    """An earlier checkpoint in d: 3+ shards + index + config (seed 1)."""
    argv = ["init", "--preset", "llama-tiny", "-o", d, "--seed", 1]
    if sharded:
        argv += ["--max-shard-size", "100KB"]
    assert run(*argv) == 0
    return dir_digest(d)


@pytest.mark.parametrize("sharded", [False, True])
def test_failure_mid_fill_leaves_nothing(tmp_path, monkeypatch, sharded):
    out = tmp_path / "out"
    calls = fail_on_call(monkeypatch, checkpoint, "_fill_block", 3, RuntimeError("boom"))
    tensors = checkpoint.plan(dict(LLAMA_TINY), dtype="f32")
    with pytest.raises(RuntimeError, match="boom"):
        checkpoint.write(tensors, str(out), seed=0, config=dict(LLAMA_TINY),
                         max_shard_size=100_000 if sharded else None)
    assert calls[0] == 3
    assert not out.exists() or os.listdir(out) == []


def test_failure_mid_fill_in_later_shard_leaves_nothing(tmp_path, monkeypatch):
    """The first shards are complete when the failure comes: they must go too."""
    out = tmp_path / "out"
    n_tensors = len(expected_layout(LLAMA_TINY))
    fail_on_call(monkeypatch, checkpoint, "_fill_block", n_tensors - 1, RuntimeError("late"))
    tensors = checkpoint.plan(dict(LLAMA_TINY), dtype="f32")
    with pytest.raises(RuntimeError, match="late"):
        checkpoint.write(tensors, str(out), seed=0, max_shard_size=100_000)
    assert not out.exists() or os.listdir(out) == []


def test_failure_leaves_an_existing_checkpoint_intact(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    before = write_old_checkpoint(out)
    capsys.readouterr()
    fail_on_call(monkeypatch, checkpoint, "_fill_block", 3, OSError(28, "No space left on device"))
    assert run("init", "--preset", "llama-tiny", "-o", out, "--seed", 2, "--force") == 1
    err = capsys.readouterr().err
    assert err.startswith("fastinit: error:") and err.count("\n") == 1 and "Traceback" not in err
    assert dir_digest(out) == before            # no temporaries, old files untouched


def test_keyboard_interrupt_leaves_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    fail_on_call(monkeypatch, checkpoint, "_fill_block", 5, KeyboardInterrupt())
    assert run("init", "--preset", "llama-tiny", "-o", out, "--max-shard-size", "100KB") == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists() or os.listdir(out) == []


def test_keyboard_interrupt_keeps_an_existing_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "out"
    before = write_old_checkpoint(out, sharded=False)
    fail_on_call(monkeypatch, checkpoint, "_fill_block", 20, KeyboardInterrupt())
    assert run("init", "--preset", "llama-tiny", "-o", out, "--seed", 5, "--force",
               "--max-shard-size", "100KB") == 130
    assert dir_digest(out) == before


def test_failing_write_of_the_file_leaves_nothing(tmp_path, monkeypatch):
    """An I/O error from the writer thread (e.g. a full disk)."""
    out = tmp_path / "x.safetensors"
    monkeypatch.setattr(checkpoint, "BLOCK_BYTES", 16 << 10)     # several writes
    fail_on_call(monkeypatch, checkpoint._Sink, "_write", 4, OSError(28, "No space left"))
    tensors = checkpoint.plan(dict(QWEN2_TINY), dtype="bf16")
    with pytest.raises(OSError):
        checkpoint.write(tensors, str(out), seed=0)
    assert os.listdir(tmp_path) == []


def test_failing_rename_of_the_second_file_leaves_no_partial_checkpoint(tmp_path, monkeypatch):
    """write() promises that an error leaves no partial checkpoint: a rename that fails after
    the first file was moved into place must not leave that file behind."""
    out = tmp_path / "out"
    fail_on_call(monkeypatch, checkpoint.os, "replace", 2, OSError(5, "I/O error"))
    tensors = checkpoint.plan(dict(LLAMA_TINY), dtype="bf16")
    with pytest.raises(OSError):
        checkpoint.write(tensors, str(out), seed=0, max_shard_size=100_000,
                         config=dict(LLAMA_TINY))
    assert not out.exists() or sorted(os.listdir(out)) == []   # the directory it made goes too


def test_failing_rename_keeps_an_existing_checkpoint(tmp_path, monkeypatch):
    """With --force, a failed write must leave the earlier checkpoint as it was."""
    out = tmp_path / "out"
    before = write_old_checkpoint(out, sharded=True)
    fail_on_call(monkeypatch, checkpoint.os, "replace", 2, OSError(5, "I/O error"))
    assert run("init", "--preset", "llama-tiny", "-o", out, "--seed", 2, "--force") == 1
    assert dir_digest(out) == before


def test_existing_output_without_force(tmp_path, capsys):
    out = tmp_path / "out"
    before = write_old_checkpoint(out, sharded=False)
    capsys.readouterr()
    assert run("init", "--preset", "llama-tiny", "-o", out, "--seed", 2) == 2
    cap = capsys.readouterr()
    assert cap.err.startswith("fastinit: error:") and cap.err.count("\n") == 1
    assert "--force" in cap.err and "exists" in cap.err
    assert dir_digest(out) == before
    # a single file too
    f = tmp_path / "m.safetensors"
    assert run("init", "--preset", "llama-tiny", "-o", f) == 0
    h = sha(f)
    capsys.readouterr()
    assert run("init", "--preset", "llama-tiny", "-o", f, "--seed", 9) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert sha(f) == h
    assert run("init", "--preset", "llama-tiny", "-o", f, "--seed", 9, "--force") == 0
    assert sha(f) != h


def test_existing_checkpoint_of_another_layout_without_force(tmp_path, capsys):
    """A directory holding a sharded checkpoint is an existing output even when the new write
    would use other file names (here: a spec, so no config.json, written unsharded): without
    --force it must be refused, not mixed with the old shards."""
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(SPEC))
    out = tmp_path / "out"
    assert run("init", p, "-o", out, "--max-shard-size", "40KB") == 0
    before = dir_digest(out)
    assert "model.safetensors.index.json" in before
    capsys.readouterr()
    assert run("init", p, "-o", out, "--seed", 3) == 2
    assert capsys.readouterr().err.startswith("fastinit: error:")
    assert dir_digest(out) == before


def test_force_removes_stale_shards(tmp_path):
    out = tmp_path / "out"
    write_old_checkpoint(out, sharded=True)
    (out / "README.md").write_text("keep me")
    assert len(checkpoint_files(out)) >= 3
    # unsharded over sharded: the shards and the index go
    assert run("init", "--preset", "llama-tiny", "-o", out, "--seed", 2, "--force") == 0
    assert sorted(os.listdir(out)) == ["README.md", "config.json", "model.safetensors"]
    assert run("init", "--preset", "llama-tiny", "-o", tmp_path / "ref", "--seed", 2) == 0
    assert sha(out / "model.safetensors") == sha(tmp_path / "ref" / "model.safetensors")
    # sharded over sharded with fewer shards
    assert run("init", "--preset", "llama-tiny", "-o", out, "--max-shard-size", "100KB",
               "--force") == 0
    n_many = len(checkpoint_files(out))
    assert run("init", "--preset", "llama-tiny", "-o", out, "--max-shard-size", "300KB",
               "--force") == 0
    files = checkpoint_files(out)
    assert 2 <= len(files) < n_many
    n = len(files)
    assert [os.path.basename(f) for f in files] == \
        [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {os.path.basename(f) for f in files}
    assert (out / "README.md").read_text() == "keep me"
    assert not [x for x in os.listdir(out) if x.startswith(".")]


# ---- 9. the block size never changes the values ------------------------------------------

def test_block_size_does_not_change_bytes_large(tmp_path, monkeypatch):
    spec = {"tensors": [{"name": "w", "shape": [4096, 4096], "init": "normal", "std": 0.02}]}
    tensors = checkpoint.plan(spec, dtype="f32")
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    checkpoint.write(tensors, str(a), seed=6)
    monkeypatch.setattr(checkpoint, "BLOCK_BYTES", 1 << 20)
    calls = fail_on_call(monkeypatch, checkpoint, "_fill_block", -1, None)   # counts only
    checkpoint.write(tensors, str(b), seed=6)
    assert calls[0] >= 64           # 64 MiB in blocks of at most 1 MiB
    assert os.path.getsize(a) > 64 << 20
    assert sha(a) == sha(b)


@pytest.mark.parametrize("block", [100, 4096, 7000])
def test_block_size_does_not_change_bytes_small(tmp_path, monkeypatch, block):
    """Blocks smaller than a row, rows not dividing the block, every init of the spec."""
    spec = dict(SPEC, tensors=SPEC["tensors"] + [
        {"name": "tn", "shape": [300, 50], "init": "trunc_normal", "a": -0.5, "b": 0.1}])
    tensors = checkpoint.plan(spec, dtype="bf16")
    ref = tmp_path / "ref.safetensors"
    checkpoint.write(tensors, str(ref), seed=12)
    monkeypatch.setattr(checkpoint, "BLOCK_BYTES", block)
    out = tmp_path / "small.safetensors"
    checkpoint.write(checkpoint.plan(spec, dtype="bf16"), str(out), seed=12)
    assert sha(out) == sha(ref)
    assert_matches_replay(read_checkpoint(out), spec_fills(spec, "bf16"), 12)


def test_without_o_direct_the_bytes_are_the_same(tmp_path, monkeypatch):
    """Where the file system refuses O_DIRECT the sink writes through the page cache: same
    file, byte for byte (small buffers, so partial pages are carried over many times)."""
    tensors = checkpoint.plan(dict(QWEN2_TINY), dtype="bf16")
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    monkeypatch.setattr(checkpoint, "BLOCK_BYTES", 12 << 10)
    checkpoint.write(tensors, str(a), seed=3)
    monkeypatch.delattr(checkpoint.os, "O_DIRECT")
    checkpoint.write(tensors, str(b), seed=3)
    assert sha(a) == sha(b)


# ---- blocks of 3-D tensors whose rows exceed the staging buffer -------------------------------

EXPERTS = {"tensors": [
    {"name": "experts.gate_up", "shape": [3, 100, 24], "init": "normal", "std": 0.02},
    {"name": "experts.down", "shape": [3, 24, 20], "init": "kaiming_uniform"},
    {"name": "e", "shape": [2, 3, 50, 16], "init": "xavier_normal"},
    {"name": "v", "shape": [3000], "init": "uniform"},
]}


@pytest.mark.parametrize("block", [4096, 8192, 12288, 1 << 20])
def test_rows_larger_than_the_buffer_are_cut(tmp_path, monkeypatch, block):
    """A row of the first dimension larger than the staging buffer (an expert of a MoE) is
    made a block at a time along the next dimensions, never whole: every block fits the
    buffer, and the bytes are those of the in-memory fills."""
    (tmp_path / "s.json").write_text(json.dumps(EXPERTS))
    sizes, cut = [], []
    real = checkpoint._fill_block

    def spy(fill, index, buf):
        sizes.append(buf.nbytes)
        cut.append(bool(index) and isinstance(index[0], int))
        real(fill, index, buf)
    monkeypatch.setattr(checkpoint, "_fill_block", spy)
    monkeypatch.setattr(checkpoint, "BLOCK_BYTES", block)
    assert run("init", tmp_path / "s.json", "-o", tmp_path / "o.safetensors", "--dtype", "f32",
               "--seed", 9) == 0
    assert max(sizes) <= max(block, 4096)
    # Rows of 100 x 24 x 4 = 9600 B: cut inside each expert below 9600 + a page of buffer.
    assert any(cut) == (block < 9600 + 4096)
    assert_matches_replay(read_checkpoint(tmp_path / "o.safetensors"),
                          spec_fills(EXPERTS, "f32"), 9)


def test_parts_of_3d_tensors_cut_by_small_blocks(tmp_path, monkeypatch):
    """Fills over parts (a zero row of each expert, one expert re-drawn) meet blocks cut inside
    the experts: the bytes are those of whole-tensor blocks."""
    from fastinit.checkpoint import Fill, Tensor
    fills = [Fill("normal", {"std": 0.5}), Fill("zeros", {}, (slice(0, 3), 7)),
             Fill("uniform", {"a": 2.0, "b": 3.0}, (1,)),
             Fill("constant", {"val": 5.0}, (2, slice(10, 30)))]
    t = [Tensor("x", (3, 100, 24), "f32", "normal", {"std": 0.5}, fills=fills),
         Tensor("y", (5, 7), "f32", "normal", {})]
    big = tmp_path / "big.safetensors"
    checkpoint.write(t, str(big), seed=2)
    monkeypatch.setattr(checkpoint, "BLOCK_BYTES", 4096 * 2)     # experts: 9600 B each
    small = tmp_path / "small.safetensors"
    checkpoint.write(t, str(small), seed=2)
    assert big.read_bytes() == small.read_bytes()
    x = as_arrays(read_checkpoint(str(big)))["x"]
    assert np.all(x[0, 7] == 0) and np.all(x[1] >= 2) and np.all(x[1] < 3)
    assert np.all(x[2, 10:30] == 5) and np.all(x[2, 7] == 0)
    g = fastinit.Generator(2)
    ref = np.empty((3, 100, 24), np.float32)
    fastinit.normal_(ref, std=0.5, generator=g)
    assert_bits_equal(x[0, :7], ref[0, :7], "x[0] rows before the zero row")
