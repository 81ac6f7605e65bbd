"""Lambda handlers, one per Task state: parse the input, call the library, return small JSON.

Deployed to AWS Lambda and run in-process by the local endpoint, unchanged. Handlers let
exceptions propagate: the class name is the error name ASL Retry and Catch match on.
"""
