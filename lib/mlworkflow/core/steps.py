"""The optional pipeline steps between the preprocessing and the model: their names and cost bounds.

`preprocess.feature_selection` adds a ("select", selector) step and `preprocess.imbalance` either
class weights on the model or a ("resample", sampler) step (`core.selection`, `core.imbalance`;
`core.families.make_pipeline` assembles them). Kept free of scikit-learn imports: `params` imports
these names, and checking a params file must stay fast.
"""

from __future__ import annotations

from typing import Literal

Selection = Literal["none", "model", "rfecv", "permutation"]
Imbalance = Literal["none", "class_weight", "undersample", "smote"]

# The selectors' own model: extremely randomized trees are cheap, need no scaling and rank any encoding.
SELECTOR_TREES = 50
RFECV_STEP = 0.1  # share of the features RFECV drops per round (at least one): at most ten rounds from 20 features on
RFECV_FOLDS = 3
PERMUTATION_REPEATS = 5
PERMUTATION_HOLDOUT = 0.25  # share of a fit's rows the importances are measured on (never the rows fitted)
SMOTE_NEIGHBOURS = 5


def selection_cost(method: Selection) -> str:
    """What a selection method costs per fit, in one sentence (the reports quote it)."""
    trees = f"{SELECTOR_TREES} extremely randomized trees"
    return {
        "none": "no feature selection",
        "model": f"one fit of {trees}; features above the mean importance are kept",
        "rfecv": (f"RFECV: {trees} refitted on {RFECV_FOLDS} inner folds, dropping {RFECV_STEP:.0%} of the "
                  "features (at least one) per round"),
        "permutation": (f"one fit of {trees} on {1 - PERMUTATION_HOLDOUT:.0%} of the rows, each feature permuted "
                        f"{PERMUTATION_REPEATS} times on the other {PERMUTATION_HOLDOUT:.0%}; features whose "
                        "permutation lowers the score are kept"),
    }[method]
