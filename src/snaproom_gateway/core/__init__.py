"""Settings, the domain-error base and shared constants: what every layer may import."""
