"""Blockyard components on AWS, on boto3: DynamoDB state, SNS/SQS pub/sub, S3 and SQS bindings,
Secrets Manager and Parameter Store secret stores.

Every component shares :class:`blockyard_aws.client.AwsMetadata` (region, credentials, endpoint,
assumed role) and runs boto3's blocking calls on a thread pool of its own, never on the event loop.
"""

__version__ = "0.1.0"
