"""Presentation: the tables, plots and widgets the stage notebooks show."""
