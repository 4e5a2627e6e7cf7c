"""Lotse core: configuration, database plumbing, domain errors and accounts.

Every other package (catalog, matcher, models, casework, service) may import from here;
this package imports none of them.
"""
