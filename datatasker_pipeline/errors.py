"""The one exception type the data logic raises for a whole-file failure."""


class FileFailure(Exception):
    """The dropped file cannot be processed at all (SPEC section 5).

    ``message`` is written for the person who dropped the file: it states the
    facts (offsets, record numbers, column names) and nothing else, so it can be
    shown as-is in the Dagster UI, over GraphQL and by the CLI.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
