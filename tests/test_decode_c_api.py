"""The C-level API the engine uses, compiled: a small Cython module cimports the decoder, the
structs and the kinds from ``hftcore._ext.decode``, calls ``decode_c`` without the GIL and reads
the records, counts and per-instrument spans straight from ``dec.st``."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import sysconfig
from pathlib import Path

import pytest

import hftcore

ENGINE = '''
from hftcore._ext.decode cimport (
    Decoder, BinanceDecoder, BookSpan, BookDelta, K_BOOK_SNAPSHOT, K_BOOK_UPDATE, E_TRUNCATED,
)

def decode(Decoder dec, bytes data):
    cdef const char* p = data
    cdef Py_ssize_t n = len(data), i
    cdef int kind
    cdef BookSpan* s
    cdef BookDelta* r
    with nogil:
        kind = dec.decode_c(p, n, 5)
    spans = []
    if kind == K_BOOK_SNAPSHOT or kind == K_BOOK_UPDATE:
        for i in range(dec.st.info.n_spans):
            s = &dec.st.spans[i]
            spans.append((s.instrument_id, s.first_delta, s.n_deltas, s.first_seq, s.last_seq))
    levels = []
    for i in range(dec.st.info.n_deltas):
        r = &dec.st.deltas[i]
        levels.append((r.side, r.price, r.size, r.local_ts))
    return kind, spans, levels, dec.st.info.err_offset if kind < 0 else -1, E_TRUNCATED

def snapshot(BinanceDecoder dec, bytes data, bytes symbol):
    cdef const char* p = data
    cdef const char* s = symbol
    cdef Py_ssize_t n = len(data), k = len(symbol)
    cdef int kind
    with nogil:
        kind = dec.decode_depth_snapshot_c(p, n, 7, s, k)
    return kind, dec.st.info.n_deltas, dec.st.info.last_seq
'''


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cython_build = pytest.importorskip("Cython.Build")
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if not shutil.which(cc):
        pytest.skip("no C compiler")
    tmp = tmp_path_factory.mktemp("engine")
    (tmp / "engine_probe.pyx").write_text(ENGINE)
    src = Path(hftcore.__file__).parent.parent
    ext = Extension("engine_probe", [str(tmp / "engine_probe.pyx")],
                    include_dirs=[str(src / "hftcore" / "_ext")], extra_compile_args=["-O0"])
    mods = cython_build.cythonize([ext], include_path=[str(src)], quiet=True,
                                  compiler_directives={"language_level": 3})
    dist = Distribution({"ext_modules": mods})
    cmd = build_ext(dist)
    cmd.build_lib = str(tmp)
    cmd.build_temp = str(tmp / "build")
    cmd.ensure_finalized()
    cmd.run()
    path = next(tmp.glob("engine_probe*" + sysconfig.get_config_var("EXT_SUFFIX")))
    spec = importlib.util.spec_from_file_location("engine_probe", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["engine_probe"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_engine_reads_records_and_spans_through_the_c_api(engine) -> None:  # type: ignore[no-untyped-def]
    dec = hftcore.BinanceDecoder([hftcore.Instrument("binance", "BTCUSDT", 2, 3,
                                                     instrument_id=4)])
    msg = (b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":10,"u":12,'
           b'"b":[["100.5","1.25"]],"a":[["100.75","2"]]}')
    kind, spans, levels, err, _ = engine.decode(dec, msg)
    assert kind == hftcore.MessageKind.BOOK_UPDATE
    assert spans == [(4, 0, 2, 10, 12)]
    assert levels == [(0, 10050, 1250, 5), (1, 10075, 2000, 5)]
    kind, spans, levels, err, truncated = engine.decode(dec, msg[:-4])
    assert kind == -truncated and levels == [] and spans == [] and 0 <= err <= len(msg)
    kind, n, last = engine.snapshot(dec, b'{"lastUpdateId":9,"bids":[["1","1"]],"asks":[]}',
                                    b"BTCUSDT")
    assert (kind, n, last) == (hftcore.MessageKind.BOOK_SNAPSHOT, 1, 9)
