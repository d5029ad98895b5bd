"""The command line, the chat and the HTTP API: the edges where errors become messages."""
