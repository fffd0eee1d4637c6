"""The kinesis service."""
