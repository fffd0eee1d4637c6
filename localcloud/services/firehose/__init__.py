"""The firehose service."""
