"""The seven workflow stages: each module is its stage's verbs and its record."""
