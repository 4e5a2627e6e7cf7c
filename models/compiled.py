"""Fast scoring of a fitted histogram gradient-boosting classifier on a few hundred rows.

scikit-learn predicts tree by tree, each call with its own checks and thread pool, which on
the few hundred candidates of one request costs more than the whole recommendation may
take (figures in ``docs/benchmarks.md``). Scoring candidates needs none of that generality.
``CompiledTrees`` turns the fitted trees into arrays once and scores all of them in a few
vectorised steps:

1. every split of every tree is decided for every row at once (numeric: ``x <= threshold``;
   categorical: the category's bit in the split's set; missing values and unknown categories
   go where the tree sends missing values — scikit-learn's rules, including its encoding of
   categorical columns);
2. a tree's decisions form one byte (bit ``j`` = split ``j`` went left; trees have at most
   ``MAX_SPLITS`` splits), and a table per tree maps the byte to the leaf it leads to;
3. the leaf values are summed, plus the model's baseline: the raw (log-odds) score.

The result equals scikit-learn's ``decision_function`` to floating-point rounding (tests
check it on models with missing values, categorical features and unknown categories).
Models with bigger trees, and batches of more than ``LARGE_BATCH`` rows, fall back to
scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Splits a tree may have to be compiled (one byte of decisions).
MAX_SPLITS = 8
#: Above this many rows (training and evaluation, not a request) scikit-learn's own
#: predictor is faster: this one holds rows × trees × splits decisions at once, and the
#: cost of that grows faster than scikit-learn's (docs/benchmarks.md).
LARGE_BATCH = 2_000
_NO_CODE = 255  # encoded value of an unknown or missing category
_UNUSABLE = 256  # index of "missing or not a whole number 0–255" in the split tables
#: The arrays' layout: saved with them, and a saved layout other than this one is compiled
#: again on loading (2: categorical splits as ``cat_left`` tables).
LAYOUT = 2
#: Multiplying eight 0/1 bytes read as one little-endian word by this gathers them into the
#: top byte, bit j from byte j: the decisions of a tree become its table index in one step.
_GATHER = np.uint64(0x0102040810204080)
_SHIFT = np.uint64(56)


def _encoding(model: Any, n_features: int) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """How scikit-learn's preprocessing orders columns (tree feature → input column) and
    encodes categorical ones (input column → table from value 0–255 to category code)."""
    pre = getattr(model, "_preprocessor", None)
    if pre is None:
        return np.arange(n_features), {}
    order: list[int] = []
    codes: dict[int, np.ndarray] = {}
    for name, transformer, columns in pre.transformers_:
        if name == "remainder" and transformer == "drop":
            continue
        cols = np.flatnonzero(columns) if np.asarray(columns).dtype == bool else list(columns)
        if name == "encoder":
            for col, categories in zip(cols, transformer.categories_, strict=True):
                table = np.full(256, _NO_CODE, dtype=np.int64)
                for code, value in enumerate(categories):
                    if np.isfinite(value) and 0 <= value < 256 and value == int(value):
                        table[int(value)] = code
                codes[int(col)] = table
        order.extend(int(c) for c in cols)
    return np.array(order, dtype=np.int64), codes


class CompiledTrees:
    """The trees of one fitted ``HistGradientBoostingClassifier`` (binary) or
    ``HistGradientBoostingRegressor`` as arrays."""

    def __init__(self, model: Any) -> None:
        trees = [predictors[0] for predictors in model._predictors]
        self.baseline = float(np.ravel(model._baseline_prediction)[0])
        self.n_trees = len(trees)
        self._model = model
        self.supported = all(
            int((~t.nodes["is_leaf"].astype(bool)).sum()) <= MAX_SPLITS for t in trees
        )
        if not self.supported or not trees:
            return
        order, encoders = _encoding(model, model.n_features_in_)
        known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
        feature = np.zeros((self.n_trees, MAX_SPLITS), dtype=np.int64)
        threshold = np.full((self.n_trees, MAX_SPLITS), np.inf)
        missing_left = np.ones((self.n_trees, MAX_SPLITS), dtype=bool)
        categorical: list[tuple[int, int, int, np.ndarray]] = []  # (tree, slot, column, bits)
        tables = np.empty((self.n_trees, 2**MAX_SPLITS))
        for ti, tree in enumerate(trees):
            nodes = tree.nodes
            internal = np.flatnonzero(~nodes["is_leaf"].astype(bool))
            slot = {int(node): j for j, node in enumerate(internal)}
            for node in internal:
                n = nodes[node]
                j, column = slot[int(node)], int(order[int(n["feature_idx"])])
                feature[ti, j] = column
                threshold[ti, j] = float(n["num_threshold"])
                missing_left[ti, j] = bool(n["missing_go_to_left"])
                if n["is_categorical"]:
                    left = tree.raw_left_cat_bitsets[int(n["bitset_idx"])]
                    seen = known[int(f_idx_map[int(n["feature_idx"])])]
                    categorical.append((ti, j, column, np.stack([left, seen])))
            for code in range(2**MAX_SPLITS):
                at = 0  # the node the split decisions of ``code`` lead to, from the root
                while not nodes[at]["is_leaf"]:
                    went_left = (code >> slot[at]) & 1
                    at = int(nodes[at]["left"] if went_left else nodes[at]["right"])
                tables[ti, code] = float(nodes[at]["value"])
        self.feature = feature.reshape(-1)
        self.threshold = threshold.reshape(-1)
        self.missing_left = missing_left.reshape(-1)
        self.tables = tables
        self._tree_index = np.arange(self.n_trees)
        self.cat_flat = np.array([t * MAX_SPLITS + j for t, j, _, _ in categorical], dtype=np.int64)
        columns = [c for _, _, c, _ in categorical]
        self.cat_columns = np.array(sorted(set(columns)), dtype=np.int64)
        where = {int(c): k for k, c in enumerate(self.cat_columns)}
        self.cat_slot = np.array([where[c] for c in columns], dtype=np.int64)
        self.cat_split = np.arange(len(categorical))
        #: Per categorical split, where each input value 0–255 goes (True: left), and at
        #: ``_UNUSABLE`` where a missing, negative, fractional or too large value goes:
        #: scikit-learn's encoding, known-category bitset and missing-value rule in one table.
        self.cat_left = np.zeros((len(categorical), _UNUSABLE + 1), dtype=bool)
        for s, (ti, j, column, bits) in enumerate(categorical):
            encoder = encoders.get(column)
            values = np.arange(256)
            mapped = values if encoder is None else encoder[values]
            known_code = mapped != _NO_CODE
            safe = np.where(known_code, mapped, 0)
            word, bit = safe >> 5, (safe & 31).astype(np.uint32)
            in_left = ((bits[0, word] >> bit) & 1) == 1
            in_known = ((bits[1, word] >> bit) & 1) == 1
            missing = bool(missing_left[ti, j])
            self.cat_left[s, :256] = np.where(
                known_code & in_left, True, np.where(known_code & in_known, False, missing)
            )
            self.cat_left[s, _UNUSABLE] = missing

    def __getstate__(self) -> dict[str, Any]:
        """The arrays are saved with the layout they have (``LAYOUT``)."""
        return {**self.__dict__, "_layout": LAYOUT}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Arrays of the current layout are taken as saved: a worker switching to a promoted
        version loads it beside the one serving, and compiling (pure Python, about 0.06 s a
        model on an idle machine, several times that under load) would hold up its requests;
        an artifact saved with another layout is compiled again from its fitted model."""
        if state.get("_layout") == LAYOUT:
            self.__dict__.update({k: v for k, v in state.items() if k != "_layout"})
        else:
            self.__init__(state["_model"])  # type: ignore[misc]

    def _category_index(self, X: np.ndarray) -> np.ndarray:
        """Each categorical split's column value as an index into ``cat_left`` (the value
        0–255 when it is a whole number in that range, else ``_UNUSABLE``), rows × splits."""
        raw = X[:, self.cat_columns]
        usable = ~np.isnan(raw) & (raw >= 0) & (raw < 256)
        whole = np.where(usable, raw, 0)
        usable &= np.floor(whole) == whole
        index = np.where(usable, whole, _UNUSABLE).astype(np.intp)
        return index[:, self.cat_slot]

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The summed tree values plus the baseline (log-odds), one per row of ``X``."""
        X = np.asarray(X, dtype=np.float64)
        if not self.supported or X.shape[0] > LARGE_BATCH:
            return np.ravel(self._model._raw_predict(X))
        n = X.shape[0]
        if self.n_trees == 0:
            return np.full(n, self.baseline)
        values = X[:, self.feature]  # rows × (trees × MAX_SPLITS)
        left = values <= self.threshold
        left |= np.isnan(values) & self.missing_left
        if len(self.cat_flat):
            left[:, self.cat_flat] = self.cat_left[self.cat_split, self._category_index(X)]
        words = np.ascontiguousarray(left).view(np.uint64)  # rows × trees
        with np.errstate(over="ignore"):
            codes = (words * _GATHER) >> _SHIFT
        leaf = self.tables[self._tree_index, codes.astype(np.intp)]
        return leaf.sum(axis=1) + self.baseline

    def proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) per row (a classifier with log-loss)."""
        return 1.0 / (1.0 + np.exp(-self.raw(X)))

    def mean(self, X: np.ndarray) -> np.ndarray:
        """The predicted mean per row (a regressor with the Poisson loss: ``exp(raw)``)."""
        return np.exp(self.raw(X))
