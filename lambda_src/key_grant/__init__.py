"""KeyGrant's custom resource provider (``handler.handler``): CreateGrant on create and update,
RetireGrant or RevokeGrant on delete, answered to CloudFormation by :mod:`.response`."""
