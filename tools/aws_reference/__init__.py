"""AWS's own tables, transcribed: what the project checks its IAM against.

``aws_reference.iam`` reads ``iam-reference.yaml`` (package data, installed with the CLI): the Service
Authorization Reference's resource types and condition keys per action. The template tests, the Connect
emulator's IAM mode and ``contact-router preflight`` all read it, so there is one table of which resource types
each action is authorized on.
"""
