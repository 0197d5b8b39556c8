"""CSV for streamed downloads: a writer whose ``writerow`` returns the line instead
of writing it, so a StreamingHttpResponse can send rows as they are read."""

from __future__ import annotations

import csv


class _Echo:
    """A file-like object for csv.writer that hands each line back."""

    def write(self, value: str) -> str:
        return value


def csv_line_writer():
    """``csv.writer`` whose ``writerow(row)`` returns the row's CSV line."""
    return csv.writer(_Echo())
