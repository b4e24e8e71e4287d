"""Prometheus metrics of the gateway, summed across uvicorn workers.

* `core`: the process registry and prometheus-client's multiprocess mode (the directory `serve`
  sets up when WEB_CONCURRENCY > 1);
* `http`: requests by route template, method and status, latency histograms, and a counter the
  fast path (cache/http_protocol.py) can call;
* `events`: events published, consumed, retried and dead-lettered, by topic;
* `live`: values read from the running objects (breakers, outbox, consumer lag, database pool,
  WebSockets, cache counters), written into gauges and counters at each scrape and, with several
  workers, every METRICS_SAMPLE_INTERVAL;
* `setup`: what app.py calls.
"""
