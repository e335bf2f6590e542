"""What a notebook shows, made from :mod:`fraglib.experiments` results.

* :mod:`~fraglib.report.answers` — the closing sentences, computed from the
  tables;
* :mod:`~fraglib.report.summary_text` — the debate's answer and
  ``reports/summary.txt`` (72 columns, answer first);
* :mod:`~fraglib.report.figures` — the figures (seaborn);
* :mod:`~fraglib.report.tables` — formatted tables with units and footnotes;
* :mod:`~fraglib.report.hygiene` — checks that a rendered report shows no
  warning, traceback or machine path.
"""
