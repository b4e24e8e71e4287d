"""Logs, traces and what they carry: request and event context, W3C trace context, redaction."""
