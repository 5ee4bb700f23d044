"""Snapshot replication Lambda: the SQS copier (``handler.handler``) and the scheduled sweep
(``sweep.handler``). The asset root holds this package and the ``kmskit`` engine modules."""
