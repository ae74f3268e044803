"""The keyword signal: BM25 over document text, maintained incrementally (R-Q-2, Q-6).

Rules implemented here:

* tokens are the ``\\w+`` runs (Python ``re``, Unicode) of ``casefold(NFKC(text))``; no stemming,
  no stop words; a document's length is its token count;
* ``idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))`` with ``N`` the number of documents in the
  index and ``n_t`` the number containing ``t``; ``k1 = 1.2``, ``b = 0.75``; the average length
  covers every document of the index, not only those passing a filter;
* every query token counts, repeats included (a query ``"red red fox"`` weighs ``red`` twice);
  only documents containing at least one query token enter the keyword list; per-token
  contributions are summed with ``math.fsum`` so the score does not depend on summation order;
* ranking order is (BM25 desc, position asc): ``position`` maps each id to its place in the
  index (first insertion order, kept by an upsert), supplied by the corpus (QRY-6).

All of it *observed: moss 1.21.0* except the tokenizer, where the real SDK also stems, drops stop
words and folds accents (see the departures); it computes in float32, so documents whose
float64 scores differ by less than float32 rounding may come in another order there.

The scoring formula itself is in :mod:`moss_ref._keyword_rule` (KW-1..KW-3), the index in a
keyword backend (``_keywords`` pure Python, ``moss_ref_backends.numpy_keywords``).
"""

from __future__ import annotations

import re
import unicodedata

K1 = 1.2
B = 0.75
_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """NFKC, casefold, then the ``\\w+`` runs (R-Q-2)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())
