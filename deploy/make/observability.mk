# Observability targets. Included by the top-level Makefile (deploy/make/*.mk).
#
#   make bench-observability [BENCH_OBS_ARGS="--seconds 8 --rounds 2 --baseline-python PATH"]
#       req/s of a fast-path cached read, a cached read through the app and /api/health/live,
#       with OpenTelemetry off and on (and another checkout's interpreter as a baseline).

BENCH_OBS_ARGS ?=

.PHONY: bench-observability

bench-observability: install ## Cost of logs, metrics and OpenTelemetry per request (wrk, embedded)
	$(PY) bench/observability_bench.py $(BENCH_OBS_ARGS)
