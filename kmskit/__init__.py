"""kmskit: the operator's library and CLI for KMS (envelope encryption, key-usage audit,
snapshot copy, key material import, cost).

Nothing here imports the AWS CDK, and no AWS client is created at import time, so moto's
``mock_aws``, ``ThreadedMotoServer`` and ``botocore.stub.Stubber`` all work in tests.
"""

__version__ = "0.4.0"  # the distribution's version too (pyproject.toml reads it)
