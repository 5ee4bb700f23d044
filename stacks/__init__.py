"""The example organisation: stacks composed from constructs_lib, one configuration for all."""
