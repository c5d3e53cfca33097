"""Adapters: the only modules that import boto3 and talk to AWS (Connect, DynamoDB, SQS, SSM, AppConfig)."""
