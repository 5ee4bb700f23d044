"""Lambda handler packages, one folder per function (packaged with ``Code.from_asset``)."""
