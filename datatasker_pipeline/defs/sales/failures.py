"""How a step's failure reaches people: the whole-file message as the step's failure, I/O retried."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any, Iterator

import dagster as dg

from ...processing.errors import FileFailure, message_for_people
from ...processing.pipeline import remove_if_empty
from ...processing.store import describe, is_remote

TRANSIENT_RETRIES = 3


@contextlib.contextmanager
def failures_for_people(
    context: dg.AssetExecutionContext, out_dir: Path | None = None, store: Any = None
) -> Iterator[None]:
    """Turn a whole-file failure into a run failure whose message is the person's message.

    ``dg.Failure`` puts the text itself in the step failure (UI, GraphQL,
    CLI) instead of a wrapped traceback, and bad data is never retried.
    Transient I/O errors are retried with exponential backoff and jitter.
    With ``store`` (an object-store data root), the store's own failures
    (credentials, bucket, endpoint) become one line naming bucket and
    endpoint; only an unreachable endpoint is retried.
    """
    try:
        with _file_failures(context, out_dir):
            yield
    except (dg.Failure, dg.RetryRequested):
        raise
    except Exception as error:
        problem = describe(error, store) if store is not None and is_remote(store) else None
        if problem is None:
            raise
        if not problem.transient or context.retry_number >= TRANSIENT_RETRIES:
            context.log.error(problem.message)
            raise dg.Failure(description=problem.message, allow_retries=False) from None
        raise _retry(context, problem) from None


@contextlib.contextmanager
def _file_failures(context: dg.AssetExecutionContext, out_dir: Path | None) -> Iterator[None]:
    try:
        yield
    except FileFailure as failure:
        if out_dir is not None:
            remove_if_empty(out_dir)
        message = message_for_people(failure.message)
        context.log.error(message)
        raise dg.Failure(description=message, allow_retries=False) from None
    except OSError as error:
        if context.retry_number >= TRANSIENT_RETRIES:
            raise
        raise _retry(context, error) from error


def _retry(context: dg.AssetExecutionContext, error: BaseException) -> dg.RetryRequested:
    wait = 0.5 * 2**context.retry_number * random.uniform(0.5, 1.5)
    context.log.warning(f"transient I/O error, retrying in {wait:.1f} s: {error}")
    return dg.RetryRequested(max_retries=TRANSIENT_RETRIES, seconds_to_wait=wait)


def fail_for_people(message: str) -> dg.Failure:
    """A run failure that is not about the file's content (it is gone, or a tag is wrong)."""
    return dg.Failure(description=message_for_people(message), allow_retries=False)
