"""The published page_frag_test.ko configurations, as ring parameters."""

from __future__ import annotations

from types import MappingProxyType

from .exceptions import ParameterError, UnknownNameError

__all__ = ["RING_PRESETS", "ring_preset"]


#: page_frag_test.ko configurations (tools/testing/selftests/mm/page_frag/
#: page_frag_test.c as merged, 65941f10caf2; test_page_frag.sh; the cover
#: letters, docs/kernel-pagefrag.md §5): nr_test -> packets, test_alloc_len ->
#: size, test_align -> align = SMP_CACHE_BYTES (64), and where the two threads
#: ran ("cross": test_push_cpu != test_pop_cpu, "same": both on one CPU).
RING_PRESETS = MappingProxyType({
    "module-default": {"nr_test": 2_000_000, "size": 2048, "align": 1, "cpus": "same",
                       "source": "page_frag_test.c defaults: nr_test=2000000, "
                                 "test_alloc_len=2048, test_align=0, push and pop "
                                 "CPU 0"},
    "smoke": {"nr_test": 2_000_000, "size": 2048, "align": 1, "cpus": "cross",
              "source": "test_page_frag.sh smoke: the defaults on the first two CPUs"},
    "nonaligned": {"nr_test": 100_000_000, "size": 75, "align": 1, "cpus": "cross",
                   "source": "test_page_frag.sh nonaligned: test_alloc_len=75 "
                             "nr_test=100000000 (two CPUs)"},
    "aligned": {"nr_test": 100_000_000, "size": 75, "align": 64, "cpus": "cross",
                "source": "test_page_frag.sh aligned: nonaligned + test_align=1"},
    "v13-nonaligned": {"nr_test": 51_200_000, "size": 12, "align": 1, "cpus": "cross",
                       "source": "v13-v23 cover letters and the 2024-10-29 "
                                 "re-measurement: test_alloc_len=12 nr_test=51200000"},
    "v13-aligned": {"nr_test": 51_200_000, "size": 12, "align": 64, "cpus": "cross",
                    "source": "the same with test_align=1"},
    "v23-same-cpu": {"nr_test": 512_000, "size": 2048, "align": 1, "cpus": "same",
                     "source": "2024-10-29: push and pop both on CPU 0, nr_test=512000 "
                               "(length not stated: the module's 2048)"},
})


def ring_preset(name: str, scale: float = 1.0) -> dict:
    """A :data:`RING_PRESETS` entry as ring parameters.

    Parameters
    ----------
    name : str
        A preset name.
    scale : float
        Fraction of ``nr_test`` to run (1.0 = exactly the published
        configuration; notebooks default to less so they finish in seconds).

    Returns
    -------
    dict
        ``size``, ``align``, ``packets`` (= round(nr_test * scale), at least 1),
        ``cpus`` (``"cross"``/``"same"``), ``nr_test`` and ``source``.
    """
    try:
        pre = RING_PRESETS[name]
    except (KeyError, TypeError):
        raise UnknownNameError("ring preset", name, RING_PRESETS) from None
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 1:
        raise ParameterError("scale", scale, "a number in (0, 1] (fraction of nr_test)")
    return {"size": pre["size"], "align": pre["align"],
            "packets": max(1, round(pre["nr_test"] * scale)), "cpus": pre["cpus"],
            "nr_test": pre["nr_test"], "source": pre["source"]}
