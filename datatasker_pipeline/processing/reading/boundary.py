"""Where a block of CSV bytes can be cut: after its last whole record.

A line end ends a record only outside a quoted field, so the cut depends on
the quoting of everything before it. :func:`record_boundary_by_scanning`
follows every quote in Python, as the csv module would. On exports with a
quoted field in every record that loop was a large part of the reading
time, so :func:`record_boundary` first tries quote parity with numpy: when
every quote that parity says opens a field stands at the start of a field
(or right after the quote before it, as in ``""``), the quoting is plain
and parity gives the scanner's answer; anything else goes to the scanner.
"""

from __future__ import annotations

import numpy as np

_QUOTE = 0x22
_LF, _CR = 0x0A, 0x0D


class FastPathUnavailable(Exception):
    """The fast reader cannot promise the reference's result for this file."""


def record_boundary(data: bytes, delimiter: int, at_eof: bool) -> int:
    """Length of the longest prefix of ``data`` made of whole records (0 if none).

    ``data`` starts at a record boundary. Raises FastPathUnavailable when
    ``at_eof`` and the data ends inside a quoted field.
    """
    n = len(data)
    if n == 0:
        return 0
    if data.find(b'"') < 0:  # no quoting at all (one memchr): every line end ends a record
        return n if at_eof else _last_line_end(data, None)
    codes = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(codes == _QUOTE)
    opening = quotes[0::2]
    before = codes[np.maximum(opening - 1, 0)]
    plain = (opening == 0) | (before == delimiter) | (before == _LF) | (before == _CR) | (before == _QUOTE)
    # A closing quote as the very last byte may be half of "": the scanner decides that one.
    undecided = not at_eof and len(quotes) % 2 == 0 and len(quotes) and quotes[-1] == n - 1
    if not plain.all() or undecided:
        return record_boundary_by_scanning(data, delimiter, at_eof)
    if at_eof:
        if len(quotes) % 2:
            raise FastPathUnavailable("the file ends inside a quoted field")
        return n
    return _last_line_end(data, quotes)


# Line ends looked at from the end of a block before counting them all at once.
_BACKWARD_STEPS = 64


def _last_line_end(data: bytes, quotes: np.ndarray | None) -> int:
    """1 + the index of the last line end outside quotes (by parity over ``quotes``), 0 if none.

    Walks back from the end of the block: the last line end is nearly always
    the answer, and finding it costs a few bytes' search instead of a pass
    over the block. A ``\r`` as the last byte may be half of ``\r\n``: it waits.
    """
    n = len(data)
    has_lf, has_cr = data.find(b"\n") >= 0, data.find(b"\r") >= 0
    end = n
    for _ in range(_BACKWARD_STEPS):
        j = max(data.rfind(b"\n", 0, end) if has_lf else -1, data.rfind(b"\r", 0, end) if has_cr else -1)
        if j < 0:
            return 0
        if j == n - 1 and data[j] == _CR:
            end = j
            continue
        if quotes is None or np.searchsorted(quotes, j) % 2 == 0:
            return j + 1
        end = j
    # A long quoted field with many line breaks at the end of the block: all line ends at once.
    codes = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero((codes[:end] == _LF) | (codes[:end] == _CR))
    outside = ends if quotes is None else ends[np.searchsorted(quotes, ends) % 2 == 0]
    return int(outside[-1]) + 1 if len(outside) else 0


def record_boundary_by_scanning(data: bytes, delimiter: int, at_eof: bool) -> int:
    """:func:`record_boundary`, following every quote of ``data`` in Python (the reference)."""
    n = len(data)
    inside = False
    gaps_end = []  # end of each unquoted stretch (an opening quote's index)
    gaps_start = [0]  # start of each unquoted stretch
    i = data.find(b'"')
    while i != -1:
        if not inside:
            if i == 0 or data[i - 1] in (delimiter, _LF, _CR):
                inside = True
                gaps_end.append(i)
            i = data.find(b'"', i + 1)  # otherwise a literal quote in an unquoted field
        else:
            if i + 1 < n and data[i + 1] == _QUOTE:
                i = data.find(b'"', i + 2)  # "" inside a quoted field
            elif i + 1 == n and not at_eof:
                break  # could be the first half of "": undecided, stay inside
            else:
                inside = False
                gaps_start.append(i + 1)
                i = data.find(b'"', i + 1)
    if at_eof:
        if inside:
            raise FastPathUnavailable("the file ends inside a quoted field")
        return n
    if not inside:
        gaps_end.append(n)
    # Search the unquoted stretches from the last one back for a line end.
    for start, end in zip(reversed(gaps_start[: len(gaps_end)]), reversed(gaps_end)):
        while end > start:
            j = max(data.rfind(b"\n", start, end), data.rfind(b"\r", start, end))
            if j < 0:
                break
            if data[j] == _CR and j + 1 >= n:
                end = j  # a "\r" as the last byte may be half of "\r\n"
                continue
            return j + 1
    return 0
