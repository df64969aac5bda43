"""`fastinit init` through transformers (fastinit._hf): any architecture, the model's own
initialization recorded on meta and replayed streamed. Each checkpoint must load with no
missing, unexpected or mismatched key, and each tensor must match what
AutoModelForCausalLM.from_config gives (KS against it, constants and zero rows exact)."""
import json

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")

from fastinit import checkpoint  # noqa: E402
from fastinit.cli import main  # noqa: E402

T = transformers
SMALL = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
CONFIGS = {
    "llama": lambda: T.LlamaConfig(**SMALL, pad_token_id=5),
    "mistral": lambda: T.MistralConfig(**SMALL, pad_token_id=5),
    "qwen2": lambda: T.Qwen2Config(**SMALL, tie_word_embeddings=True, pad_token_id=5),
    "gemma": lambda: T.GemmaConfig(**SMALL, head_dim=16),
    "gpt2": lambda: T.GPT2Config(vocab_size=256, n_embd=64, n_layer=2, n_head=4,
                                 n_positions=64, bos_token_id=0, eos_token_id=0),
    "opt": lambda: T.OPTConfig(vocab_size=256, hidden_size=64, ffn_dim=128,
                               num_hidden_layers=2, num_attention_heads=4,
                               word_embed_proj_dim=64, max_position_embeddings=64,
                               bos_token_id=0, eos_token_id=2),
    "phi3": lambda: T.Phi3Config(**SMALL, pad_token_id=5, bos_token_id=1, eos_token_id=2),
    "mixtral": lambda: T.MixtralConfig(**SMALL, num_local_experts=4, num_experts_per_tok=2),
}


def write(tmp_path, cfg, *extra, seed=3):
    cfg.save_pretrained(tmp_path / "cfg")
    out = tmp_path / "out"
    rc = main(["init", str(tmp_path / "cfg" / "config.json"), "-o", str(out), "--dtype", "f32",
               "--seed", str(seed), "--via", "transformers", *extra])
    assert rc == 0
    return out


def load(out):
    model, info = T.AutoModelForCausalLM.from_pretrained(out, output_loading_info=True)
    return model, info


def reference(cfg):
    torch.manual_seed(0)
    return T.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)


def assert_like(name, ours, ref):
    a, b = ours.detach().double().numpy(), ref.detach().double().numpy()
    assert a.shape == b.shape, name
    if np.all(b == b.flat[0]):
        assert np.all(a == b.flat[0]), f"{name}: constant {b.flat[0]} expected"
        return
    if b.ndim == 2:
        zero_rows = np.all(b == 0, axis=1)
        assert np.array_equal(np.all(a == 0, axis=1), zero_rows), f"{name}: zero rows differ"
        a, b = a[~zero_rows], b[~zero_rows]
    # Deterministic on both sides (fixed seeds): not flaky. Tiny tensors only need the
    # scale: KS on fewer than 1000 values says little.
    if b.size >= 1000:
        p = stats.ks_2samp(a.ravel(), b.ravel()).pvalue
        assert p > 1e-3, f"{name}: KS p={p:.2g} against from_config"
    else:
        assert 0.6 < a.std() / b.std() < 1.6, name


@pytest.mark.parametrize("arch", sorted(CONFIGS))
def test_loads_and_matches_from_config(tmp_path, arch):
    cfg = CONFIGS[arch]()
    out = write(tmp_path, cfg)
    model, info = load(out)
    assert not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert not info["missing_keys"], info
    ref = reference(cfg)
    ours = model.state_dict()
    theirs = ref.state_dict()
    assert set(ours) == set(theirs)
    for name, t in theirs.items():
        if name in dict(ref.named_buffers()):
            continue
        assert_like(name, ours[name], t)


def test_gemma_norms_are_zero_centred(tmp_path):
    out = write(tmp_path, CONFIGS["gemma"]())
    from safetensors.numpy import load_file
    norms = {k: v for k, v in load_file(str(out / "model.safetensors")).items()
             if "norm" in k}
    assert len(norms) == 5 and all(np.all(v == 0) for v in norms.values())


def test_padding_row_is_zero(tmp_path):
    from safetensors.numpy import load_file
    t = load_file(str(write(tmp_path, CONFIGS["llama"]()) / "model.safetensors"))
    emb = t["model.embed_tokens.weight"]
    assert np.all(emb[5] == 0) and np.all(emb[4] != 0) and np.all(emb[6] != 0)


def test_gpt2_scaled_projection(tmp_path):
    from safetensors.numpy import load_file
    t = load_file(str(write(tmp_path, CONFIGS["gpt2"]()) / "model.safetensors"))
    # GPT-2's own init: c_proj ~ N(0, 0.02 / sqrt(2 * n_layer)), the rest N(0, 0.02).
    for name, std in (("transformer.h.0.attn.c_proj.weight", 0.02 / 2),
                      ("transformer.h.0.mlp.c_proj.weight", 0.02 / 2),
                      ("transformer.h.0.mlp.c_fc.weight", 0.02)):
        p = stats.kstest(t[name].ravel() / std, "norm").pvalue
        assert p > 1e-3, (name, p)
    assert "lm_head.weight" not in t     # tied: saved once, as save_pretrained does


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    a = write(tmp_path / "a", CONFIGS["mixtral"](), seed=7)
    b = write(tmp_path / "b", CONFIGS["mixtral"](), seed=7)
    c = write(tmp_path / "c", CONFIGS["mixtral"](), seed=8)
    read = lambda d: (d / "model.safetensors").read_bytes()  # noqa: E731
    assert read(a) == read(b) and read(a) != read(c)


def test_blocks_do_not_change_bytes(tmp_path, monkeypatch):
    """Fills over parts (a padding row) cut by blocks of any size give the same bytes."""
    a = write(tmp_path / "a", CONFIGS["llama"]())
    monkeypatch.setattr(checkpoint, "BLOCK_BYTES", 4096)
    b = write(tmp_path / "b", CONFIGS["llama"]())
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()


def test_trunc_normal_and_torch_default_schemes(tmp_path):
    from safetensors.numpy import load_file
    t = load_file(str(write(tmp_path / "t", CONFIGS["opt"](), "--scheme", "trunc-normal")
                      / "model.safetensors"))
    w = t["model.decoder.layers.0.fc1.weight"]
    assert np.abs(w).max() <= 0.04 and w.std() > 0.015
    assert np.all(t["model.decoder.final_layer_norm.weight"] == 1)
    t = load_file(str(write(tmp_path / "d", CONFIGS["opt"](), "--scheme", "torch-default")
                      / "model.safetensors"))
    w = t["model.decoder.layers.0.fc1.weight"]          # kaiming_uniform(a=sqrt 5): 1/sqrt(64)
    assert np.abs(w).max() <= 1 / 8 and np.abs(w).max() > 0.12
    assert np.all(t["model.decoder.final_layer_norm.weight"] == 1)


def test_default_via_is_transformers_for_other_types(tmp_path):
    cfg = CONFIGS["phi3"]()
    cfg.save_pretrained(tmp_path / "cfg")
    out = tmp_path / "out"
    assert main(["init", str(tmp_path / "cfg" / "config.json"), "-o", str(out)]) == 0
    _, info = load(out)
    assert not info["missing_keys"] and not info["unexpected_keys"]


def test_builtin_refuses_other_types(tmp_path, capsys):
    cfg = CONFIGS["mixtral"]()
    cfg.save_pretrained(tmp_path / "cfg")
    out = tmp_path / "out"
    rc = main(["init", str(tmp_path / "cfg" / "config.json"), "-o", str(out), "--via",
               "builtin"])
    assert rc == 2 and not out.exists()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mixtral" in err


def test_unknown_model_type(tmp_path, capsys):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"model_type": "no-such-model", "hidden_size": 8}))
    assert main(["init", str(p), "-o", str(tmp_path / "out")]) == 2
    assert "no-such-model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_writer_process_does_not_import_torch(tmp_path):
    """Recording runs in a spawned child: the writing process never loads torch or
    transformers (their few hundred MB of RSS), and the result is the same bytes."""
    import subprocess
    import sys
    cfg = CONFIGS["gpt2"]()
    cfg.save_pretrained(tmp_path / "cfg")
    out = tmp_path / "out"
    code = ("import sys; from fastinit.cli import main; "
            f"rc = main(['init', {str(tmp_path / 'cfg' / 'config.json')!r}, '-o', {str(out)!r}, "
            "'--dtype', 'f32', '--seed', '3']); "
            "print(rc, 'torch' in sys.modules, 'transformers' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.stdout.strip().splitlines()[-1] == "0 False False", r.stdout + r.stderr
    same = write(tmp_path / "inproc", cfg)
    assert (out / "model.safetensors").read_bytes() == (same / "model.safetensors").read_bytes()
