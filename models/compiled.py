"""Fast scoring of a fitted histogram gradient-boosting classifier on a few hundred rows.

scikit-learn predicts tree by tree, each call with its own checks and thread pool, which on
the few hundred candidates of one request costs more than the whole recommendation may
take (figures in ``docs/benchmarks.md``). Scoring candidates needs none of that generality.
``CompiledTrees`` turns the fitted trees into arrays once and scores all of them in a few
vectorised steps:

1. every split of every tree is decided for every row at once. Numeric splits compare small
   integers, not floats: each column's values are first turned into their rank among the
   thresholds the trees use on that column (``x <= t`` exactly when the rank of ``x`` is at
   most the rank of ``t``), one byte per value, so the decisions of rows × trees × splits
   read an eighth of the memory; a missing value gets the rank that sends it where its
   split sends missing values (0 always goes left, 255 always right). Categorical splits
   look up the category's side in a table per split. Missing values and unknown categories
   go where the tree sends missing values — scikit-learn's rules, including its encoding of
   categorical columns;
2. a tree's decisions form one byte (bit ``j`` = split ``j`` went left; trees have at most
   ``MAX_SPLITS`` splits), and a table per tree maps the byte to the leaf it leads to;
3. the leaf values are summed, plus the model's baseline: the raw (log-odds) score.

The result equals scikit-learn's ``decision_function`` to floating-point rounding (tests
check it on models with missing values, categorical features and unknown categories).
Models with bigger trees fall back to scikit-learn. Large batches (training, evaluation) are
scored ``CHUNK`` rows at a time, which bounds the memory the decisions take (splits × rows
bytes); the compiled path is faster than scikit-learn's at every batch size
(``bench/trees_bench.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Splits a tree may have to be compiled (one byte of decisions).
MAX_SPLITS = 8
#: Rows scored at once: a chunk's decisions take splits × ``CHUNK`` bytes (2.5 MB for 76
#: trees, twice while they are compared). Measured on 130,000 rows, 76 trees: 2,048–4,096
#: rows a chunk 120 ms, 8,192 and more 160–200 ms (the decisions no longer stay in cache).
CHUNK = 4_096
_NO_CODE = 255  # encoded value of an unknown or missing category
_UNUSABLE = 256  # index of "missing or not a whole number 0–255" in the split tables
#: The arrays' layout: saved with them, and a saved layout other than this one is compiled
#: again on loading (2: categorical splits as ``cat_left`` tables; 3: numeric splits on
#: threshold ranks; 4: the same, with splits of missing from present values, whose
#: threshold is +inf, no longer taken for unused slots — layout 3 arrays score those wrong;
#: 5: columns with few cuts ranked together).
LAYOUT = 5
#: Ranks a column may have: its thresholds' ranks 0 … 253 plus one above them all, so that
#: 0 (below every threshold) and 255 (above every threshold) can stand for a missing value.
_MAX_CUTS = 254
_MISSING_RIGHT = 255
#: Columns with at most this many cuts are ranked together by comparison, the others by
#: ``searchsorted`` one at a time.
_FEW_CUTS = 4


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
        cuts_by_feature = _thresholds_by_column(trees)
        self.supported = all(
            int((~t.nodes["is_leaf"].astype(bool)).sum()) <= MAX_SPLITS for t in trees
        ) and all(len(cuts) <= _MAX_CUTS for cuts in cuts_by_feature.values())
        if not self.supported or not trees:
            return
        order, encoders = _encoding(model, model.n_features_in_)
        known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
        feature = np.zeros((self.n_trees, MAX_SPLITS), dtype=np.int64)
        threshold = np.full((self.n_trees, MAX_SPLITS), np.inf)
        missing_left = np.ones((self.n_trees, MAX_SPLITS), dtype=bool)
        numeric = np.zeros((self.n_trees, MAX_SPLITS), dtype=bool)  # a numeric split's slot
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
                numeric[ti, j] = not n["is_categorical"]
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
        # Split j of tree t is decision row j * n_trees + t ("bit-major"): the rows of one bit
        # are contiguous, so a tree's table index is gathered from eight whole planes.
        self._rank_splits(feature.T, threshold.T, missing_left.T, numeric.T, order, cuts_by_feature)
        self.tables = tables.reshape(-1)
        self._table_offset = (np.arange(self.n_trees) * 2**MAX_SPLITS)[:, None]
        #: Per categorical column: the decision rows of its splits and, per split, where each
        #: input value 0–255 goes (True: left), with at ``_UNUSABLE`` where a missing,
        #: negative, fractional or too large value goes: scikit-learn's encoding,
        #: known-category bitset and missing-value rule in one table.
        self.cat_groups: list[tuple[int, np.ndarray, np.ndarray]] = []
        for column in sorted({c for _, _, c, _ in categorical}):
            splits = [(ti, j, bits) for ti, j, c, bits in categorical if c == column]
            rows = np.array([j * self.n_trees + ti for ti, j, _ in splits], dtype=np.intp)
            table = np.zeros((len(splits), _UNUSABLE + 1), dtype=bool)
            encoder = encoders.get(column)
            values = np.arange(256)
            mapped = values if encoder is None else encoder[values]
            known_code = mapped != _NO_CODE
            safe = np.where(known_code, mapped, 0)
            word, bit = safe >> 5, (safe & 31).astype(np.uint32)
            for s, (ti, j, bits) in enumerate(splits):
                in_left = ((bits[0, word] >> bit) & 1) == 1
                in_known = ((bits[1, word] >> bit) & 1) == 1
                missing = bool(missing_left[ti, j])
                table[s, :256] = np.where(
                    known_code & in_left, True, np.where(known_code & in_known, False, missing)
                )
                table[s, _UNUSABLE] = missing
            self.cat_groups.append((column, rows, table))

    def _rank_splits(
        self,
        feature: np.ndarray,
        threshold: np.ndarray,
        missing_left: np.ndarray,
        numeric: np.ndarray,
        order: np.ndarray,
        cuts_by_feature: dict[int, np.ndarray],
    ) -> None:
        """Each numeric split as (row of the rank matrix, highest rank that goes left); the
        arrays come bit-major (split slot × tree).

        The rank matrix (``_ranks``) holds every ranked column twice: missing values as 255
        in the first block (above every threshold: right) and as 0 in the second (left); a
        split reads the block that sends missing values where it does. Unused slots and
        categorical splits (``numeric`` false) read row 0 (their decisions are never used or
        are replaced)."""
        self.rank_columns = np.array(sorted(int(order[f]) for f in cuts_by_feature), dtype=np.int64)
        self.cuts = [cuts_by_feature[int(np.flatnonzero(order == c)[0])] for c in self.rank_columns]
        where = {int(c): i for i, c in enumerate(self.rank_columns)}
        m = len(self.rank_columns)
        source = np.zeros(feature.shape, dtype=np.intp)
        highest = np.full(feature.shape, _MAX_CUTS, dtype=np.uint8)
        for j, ti in zip(*np.nonzero(numeric), strict=True):
            # A threshold may be +inf: scikit-learn's split of missing from present values
            # (every number goes left); inf is then the column's last cut, and a number's
            # rank never exceeds its index, so only a missing value can go right.
            column = where[int(feature[j, ti])]
            t = threshold[j, ti]
            source[j, ti] = column + (m if missing_left[j, ti] else 0)
            highest[j, ti] = int(np.searchsorted(self.cuts[column], t))
        self.rank_source = source.reshape(-1)
        self.rank_highest = highest.reshape(-1, 1)
        # Most columns have a few cuts (flags have one): their ranks are counted in one
        # comparison for all of them, the rest are searched column by column.
        few = [i for i, cuts in enumerate(self.cuts) if len(cuts) <= _FEW_CUTS]
        self.few_columns = np.array(few, dtype=np.intp)
        self.few_cuts = np.full((len(few), _FEW_CUTS), np.inf)  # +inf: never below a value
        for k, i in enumerate(few):
            self.few_cuts[k, : len(self.cuts[i])] = self.cuts[i]
        self.many_columns = [i for i, cuts in enumerate(self.cuts) if len(cuts) > _FEW_CUTS]

    def _ranks(self, X: np.ndarray) -> np.ndarray:
        """(2 × ranked columns) × rows of uint8: each value's rank among its column's
        thresholds (how many are below it), missing as 255, then again with missing as 0
        (at least one row, of zeros, when no column is ranked)."""
        m = len(self.rank_columns)
        values = X[:, self.rank_columns].T.copy()
        ranks = np.zeros((max(2 * m, 1), X.shape[0]), dtype=np.uint8)
        if len(self.few_columns):
            few = values[self.few_columns]
            ranks[self.few_columns] = (few[:, None, :] > self.few_cuts[:, :, None]).sum(axis=1)
        for i in self.many_columns:
            ranks[i] = np.searchsorted(self.cuts[i], values[i])
        missing = np.isnan(values)
        ranks[m : 2 * m] = np.where(missing, 0, ranks[:m])
        ranks[:m][missing] = _MISSING_RIGHT
        return ranks

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

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The summed tree values plus the baseline (log-odds), one per row of ``X``."""
        X = np.asarray(X, dtype=np.float64)
        if not self.supported:
            return np.ravel(self._model._raw_predict(X))
        n = X.shape[0]
        if n > CHUNK:
            return np.concatenate([self.raw(X[i : i + CHUNK]) for i in range(0, n, CHUNK)])
        if self.n_trees == 0:
            return np.full(n, self.baseline)
        width = -(-n // 8) * 8  # whole 64-bit words of decisions per plane
        if width != n:
            X = np.concatenate([X, np.zeros((width - n, X.shape[1]))])
        left = self._ranks(X)[self.rank_source] <= self.rank_highest  # splits × rows
        for column, rows, table in self.cat_groups:
            left[rows] = np.take(table, _category_index(X[:, column]), axis=1)
        # Plane j holds split j's 0/1 decisions of every tree and row, one byte each; shifted
        # by j (never past its byte) and or-ed, the planes give each tree's table index.
        planes = left.reshape(MAX_SPLITS, -1).view(np.uint64)
        words = planes[0].copy()
        for j in range(1, MAX_SPLITS):
            words |= planes[j] << np.uint64(j)
        codes = words.view(np.uint8).reshape(self.n_trees, width)
        return self.tables[self._table_offset + codes].sum(axis=0)[:n] + self.baseline

    def proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) per row (a classifier with log-loss)."""
        return 1.0 / (1.0 + np.exp(-self.raw(X)))

    def mean(self, X: np.ndarray) -> np.ndarray:
        """The predicted mean per row (a regressor with the Poisson loss: ``exp(raw)``)."""
        return np.exp(self.raw(X))


def _thresholds_by_column(trees: list[Any]) -> dict[int, np.ndarray]:
    """Per tree feature (scikit-learn's column order), the sorted distinct thresholds of the
    numeric splits on it."""
    found: dict[int, set[float]] = {}
    for tree in trees:
        nodes = tree.nodes
        for node in np.flatnonzero(~nodes["is_leaf"].astype(bool)):
            n = nodes[node]
            if not n["is_categorical"]:
                found.setdefault(int(n["feature_idx"]), set()).add(float(n["num_threshold"]))
    return {f: np.array(sorted(v)) for f, v in found.items()}


def _category_index(values: np.ndarray) -> np.ndarray:
    """A categorical column's values as indexes into its splits' tables: the value when it
    is a whole number 0–255, else ``_UNUSABLE``."""
    usable = ~np.isnan(values) & (values >= 0) & (values < 256)
    whole = np.where(usable, values, 0)
    usable &= np.floor(whole) == whole
    return np.where(usable, whole, _UNUSABLE).astype(np.intp)
