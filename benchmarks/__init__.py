"""microweb's benchmark suite (issue 5): ``python -m benchmarks [part ...] [--quick]``.

Parts: per-request overhead against the peers (``requests``), route-table
scaling (``routing``), CGI cold start and import time (``coldstart``),
``wrk`` under gunicorn and Granian (``e2e``) and memory (``memory``). Results go to
``benchmarks/results/`` as JSON, a Markdown report and a PNG chart.
"""
