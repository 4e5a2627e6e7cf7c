"""The ranker lifecycle: training data, the estimator and baselines, metrics, evaluation, the
registry of versions, promotion, serving without restarts, and the simulated demo history.

See ``docs/ranker.md``. Imports only from lotse, catalog and matcher; outcomes (casework's
referrals) are handed in by the service.
"""
