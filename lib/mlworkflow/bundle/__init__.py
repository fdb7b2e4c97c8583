"""The model bundle: input contract, file registry and the prediction log."""
