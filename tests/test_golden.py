"""Golden values: the stream contract, frozen.

tests/golden_values.json records what every case of tests/_golden_cases.py gives today (dtype,
shape, sha256 of the raw bits, small outputs value by value, the generator's counter after
the call). This test recomputes each case and requires the same bits and counters: under every
SIMD path the CPU runs and with 1 and 2 threads for the Generator-level, Python-layer and torch
cases.

A failure here means a change altered the values users get for a seed. fastinit promises the
same values for a seed across releases (docs/stream.md, "Stability"): fix the change. Regenerating
the file (tools/gen_golden.py --force) is a deliberate, announced stream-version change, never
the way to make this test pass.
"""
import os

import pytest

import fastinit
import _golden_cases as G

GOLDEN = G.load() if os.path.exists(G.GOLDEN_PATH) else None

POLICY = (
    "The stream contract changed: fastinit's values for a seed must stay identical across "
    "releases (docs/stream.md, \"Stability\"). Fix the code that changed them. Regenerating "
    "tests/golden_values.json is a deliberate, announced stream-version change "
    "(tools/gen_golden.py --force, with a changelog entry), never the fix for this test.")


def _params():
    for case in G.CASES:
        configs = G.engine_configs() if case.all_engines else [(None, None)]
        for simd, threads in configs:
            cid = case.name if simd is None else f"{case.name}-{simd}-t{threads}"
            yield pytest.param(case, simd, threads, id=cid)


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Whatever a case does, the SIMD path, the thread count and the default generator are
    as they were after it (G.compute also restores torch's RNG and any patch)."""
    import fastinit._state as fstate
    simd, threads = fastinit.get_simd(), fastinit.get_num_threads()
    default = fstate._default
    state = default.state
    yield
    fastinit.set_simd(simd)
    fastinit.set_num_threads(threads)
    default.state = state
    fstate._default = default


def _golden():
    if GOLDEN is None:
        pytest.fail(f"{G.GOLDEN_PATH} is missing: it is the frozen stream contract "
                    "(tools/gen_golden.py writes it once)", pytrace=False)
    return GOLDEN


def _where(simd, threads):
    if simd is None:
        return f"SIMD path {fastinit.get_simd()} (auto), {fastinit.get_num_threads()} threads"
    return f"SIMD path {simd}, {threads} thread{'s' if threads != 1 else ''}"


def _versions_hint(case):
    meta = _golden()["meta"]
    hints = []
    if "torch" in case.needs or case.kind == "torch":
        import torch
        if meta.get("torch") and meta["torch"] != torch.__version__:
            hints.append(f"(torch is {torch.__version__}, the file was made with "
                         f"{meta['torch']}: torch's own generator supplies the keys of the "
                         "torch cases)")
    return hints


@pytest.mark.parametrize("case,simd,threads", list(_params()))
def test_golden(case, simd, threads):
    for mod in case.needs:
        pytest.importorskip(mod)
    golden = _golden()
    expected = golden["cases"].get(case.name)
    if expected is None:
        pytest.fail(f"golden case {case.name!r} has no record in {G.GOLDEN_PATH}: record new "
                    "cases with tools/gen_golden.py --add-missing (it never changes existing "
                    "records)", pytrace=False)
    with G.engine(simd, threads):
        try:
            actual = G.compute(case)
        except Exception as e:      # noqa: BLE001 - a call that gave golden values must work
            pytest.fail(f"STREAM CONTRACT BROKEN: golden case {case.name!r} "
                        f"({_where(simd, threads)}) now raises {type(e).__name__}: {e}\n"
                        f"{POLICY}", pytrace=False)
    diffs = G.compare(expected, actual)
    if diffs:
        lines = [f"STREAM CONTRACT CHANGED: golden case {case.name!r} ({_where(simd, threads)}) "
                 f"no longer gives the values frozen in tests/golden_values.json "
                 f"(stream_version {golden['meta'].get('stream_version')}):"]
        lines += [f"    {d}" for d in diffs]
        lines += _versions_hint(case)
        lines.append(f"    (fastinit {fastinit.__version__} imported from "
                     f"{os.path.dirname(fastinit.__file__)})")
        lines.append(POLICY)
        pytest.fail("\n".join(lines), pytrace=False)


def test_every_record_has_a_case():
    """A record whose case was deleted guards nothing: removing a case is removing part of
    the contract's guard, and must be done by hand, on purpose, in the JSON too."""
    names = {c.name for c in G.CASES}
    orphans = sorted(set(_golden()["cases"]) - names)
    assert not orphans, (f"records without a case in tests/_golden_cases.py: {orphans[:10]} "
                         f"({len(orphans)}); a golden case was removed or renamed")


def test_every_case_has_a_record():
    missing = [c.name for c in G.CASES if c.name not in _golden()["cases"]]
    assert not missing, (f"cases without a record: {missing[:10]} ({len(missing)}); run "
                         "tools/gen_golden.py --add-missing with a trusted build")


def test_same_as_records_agree():
    """Cases that the contract says are equal (out= in Fortran order or through a
    negative-stride view, fill_range of a whole call, Dask, spawn after fills) have equal
    stored records."""
    cases = _golden()["cases"]
    for c in G.CASES:
        if c.same_as and c.name in cases:
            a, b = cases[c.name], cases[c.same_as]
            assert [a[k] for k in ("dtype", "shape", "sha256")] == \
                [b[k] for k in ("dtype", "shape", "sha256")], \
                f"{c.name} and {c.same_as} should hold the same values"


def test_philox_known_answers():
    """Random123's published known-answer vectors for Philox4x32-10: the stored records, and
    the live function, independently of the JSON."""
    kat = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
           ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2,
            (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
           ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for i, (ctr, key, want) in enumerate(kat):
        assert tuple(fastinit.philox4x32(ctr, key)) == want
        assert _golden()["cases"][f"philox4x32.{i}"]["values"] == [f"0x{w:08x}" for w in want]


def test_file_is_canonical():
    """The file is exactly what tools/gen_golden.py writes (sorted, one case per line), so
    hand edits show up and diffs stay readable."""
    golden = _golden()
    with open(G.GOLDEN_PATH, encoding="utf-8") as f:
        text = f.read()
    assert text == G.dumps(golden["meta"], golden["cases"]), \
        "tests/golden_values.json is not in the canonical form tools/gen_golden.py writes"
    assert golden["meta"]["format"] == G.FORMAT
