"""Test helpers shared by every subject. Modules here import aws_cdk only inside functions."""
