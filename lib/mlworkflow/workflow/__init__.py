"""The workflow engine: runner, report pages, comparison, export, retraining and the CLI."""
