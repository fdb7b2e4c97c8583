"""The prediction service: HTTP app, predictor, NumPy fast path and batch scoring."""
