"""The shared ML core under the stages: metrics, target, scoring, model families, searches, drift."""
