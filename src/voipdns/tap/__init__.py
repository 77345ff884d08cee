"""TAP estimator training: corpus preparation (cached eGeMAPS targets), datasets, Lightning task, evaluation.

Entry point: ``voipdns-train-tap`` (``voipdns.cli.train_tap_estimator``, config ``conf/tap_estimator.yaml``).
"""
