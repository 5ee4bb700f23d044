"""AlarmTopic: its publishers.

The refusals build a throwaway App and never synthesize.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from constructs_lib import AlarmTopic, ConstructPropError, CustomerManagedKey

ACCOUNT = "111111111111"
REGION = "eu-west-1"


def stack(app: cdk.App, name: str = "S", account: str = ACCOUNT) -> cdk.Stack:
    return cdk.Stack(app, name, env=cdk.Environment(account=account, region=REGION))


@pytest.mark.parametrize(
    ("publisher", "message"),
    [
        # Passed the endswith(".amazonaws.com") check, then failed inside
        # KeyServicePrincipal.publisher as "'service' must be ...": AlarmTopic has no 'service'.
        (
            "*.amazonaws.com",
            "'publishers' must hold service principals such as 'cloudwatch.amazonaws.com'. "
            "Received: '*.amazonaws.com'",
        ),
        (
            "cloudwatch.amazonaws.com\n",
            "'publishers' must hold service principals such as 'cloudwatch.amazonaws.com'. "
            "Received: 'cloudwatch.amazonaws.com\\n'",
        ),
        # Was given aws:SourceArn arn:aws:iotevents:eu-west-1:111111111111:*, a guessed shape.
        (
            "iotevents.amazonaws.com",
            "'publishers' must hold services whose source ARNs the key policy can name: "
            "backup.amazonaws.com, budgets.amazonaws.com, cloudwatch.amazonaws.com, "
            "codestar-notifications.amazonaws.com, costalerts.amazonaws.com, "
            "events.amazonaws.com, rds.amazonaws.com, s3.amazonaws.com, ses.amazonaws.com (for "
            "another service, add KeyServicePrincipal.publisher(service=..., destination='sns', "
            "source_arn_pattern=...) to the key and a statement to topic.topic's policy). "
            "Received: 'iotevents.amazonaws.com'",
        ),
    ],
    ids=["wildcard", "trailing-newline", "unknown-source-arns"],
)
def test_each_publisher_is_a_service_principal_with_known_source_arns(
    publisher: str, message: str
) -> None:
    here = stack(cdk.App())
    with pytest.raises(ConstructPropError) as error:
        AlarmTopic(here, "T", encryption_key=CustomerManagedKey(here, "K"), publishers=[publisher])
    assert str(error.value) == message
