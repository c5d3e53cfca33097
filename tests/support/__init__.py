"""Helpers shared by the test suites (not tests themselves): ``tests.support.cfn`` reads template.yaml."""
