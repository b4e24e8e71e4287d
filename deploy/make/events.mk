# Event backbone targets (outbox relay, consumers). Included by the main Makefile.
.PHONY: bench-events

bench-events: install ## Outbox->Kafka relay events/s and publish->handler p50/p99 on the local stack
	$(STACK) up
	eval "$$($(STACK) env)"; $(PY) bench/events_bench.py $(BENCH_ARGS)

.PHONY: bench-events-stages
bench-events-stages: install ## Where publish->handler latency goes: p50/p99 per stage (commit, claim, ack, fetch, handler)
	$(STACK) up
	eval "$$($(STACK) env)"; $(PY) bench/events_stages.py $(BENCH_ARGS)
