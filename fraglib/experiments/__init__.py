"""What the notebooks measure: one module per notebook over one scheduler.

* :mod:`~fraglib.experiments.schedule` — the interleaved-rounds loop, written
  once, and the two grid runners on it;
* :mod:`~fraglib.experiments.cells` — per-cell views of a grid (medians,
  what was not measured, paired verdicts);
* :mod:`~fraglib.experiments.fastpath`, :mod:`~fraglib.experiments.rx`,
  :mod:`~fraglib.experiments.tx`, :mod:`~fraglib.experiments.ring`,
  :mod:`~fraglib.experiments.memory`, :mod:`~fraglib.experiments.counters`,
  :mod:`~fraglib.experiments.noise` — notebooks 1.0 to 7.0;
* :mod:`~fraglib.experiments.summary` and
  :mod:`~fraglib.experiments.verdict_table` — what 0.0-summary runs;
* :mod:`~fraglib.experiments.published` — the kernel's published figures.

Sentences, figures and tables made from these results live in
:mod:`fraglib.report`.
"""
