"""The keyword tokenizer (QRY-3): golden lists observed with the real moss 1.21.0 SDK.

Every expectation here was checked against the real SDK through alpha-0 queries (a document is
returned iff it shares a term with the query); the tests themselves need only moss_ref.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss_ref._bm25 import term_id, term_id_lists, term_ids, tokenize, words
from moss_ref._fold import fold
from moss_ref._keywords import PythonKeywords
from moss_ref._stem import stem
from moss_ref._stopwords import STOP_WORDS

# Observed: each of these, alone in a document, is found by nobody (1 348 candidates probed).
NLTK_ENGLISH = """
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves
he him his himself she she's her hers herself it it's its itself they them their theirs themselves
what which who whom this that that'll these those am is are was were be been being have has had
having do does did doing a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on off over
under again further then once here there when where why how all any both each few more most other
some such no nor not only own same so than too very s t can will just don don't should should've
now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn
hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn
shouldn't wasn wasn't weren weren't won won't wouldn wouldn't
""".split()

# Observed: candidates from the Lucene, ISO and stop-words lists that the SDK keeps.
NOT_STOP_WORDS = ["also", "would", "could", "cat", "world", "able", "among", "however", "yet", "us"]


def matches(doc: str, query: str) -> bool:
    return bool(set(term_ids(doc)) & set(term_ids(query)))


def test_stop_words_are_nltk_english() -> None:
    assert len(NLTK_ENGLISH) == 179
    assert frozenset(NLTK_ENGLISH) == STOP_WORDS
    for word in NLTK_ENGLISH:
        assert tokenize(word) == [], word
        assert term_ids(word.upper()) == [], word
    for word in NOT_STOP_WORDS:
        assert term_ids(word) != [], word
    assert term_ids("don\u2019t") == []  # the typographic apostrophe folds to ' first
    assert term_ids("'ll 've") == []  # the apostrophe is not part of a word at its edge


@pytest.mark.parametrize(
    ("group"),
    [
        ["connect", "connected", "connecting", "connection", "connections"],
        ["generous", "generously"],
        ["relate", "relational", "related"],
        ["run", "running", "runs"],
        ["apple", "apples"],
        ["university", "universal", "universities"],  # original Porter2: no univers- prefix rule
        ["organ", "organic", "organization"],
        ["even", "evening", "evenings"],
        ["ad", "added", "adding"],
        ["sky", "skies"],
        ["die", "dying"],
        ["runner", "runners", "runner's"],
    ],
)
def test_inflections_share_a_stem(group: list[str]) -> None:
    stems = {tokenize(word)[0] for word in group}
    assert len(stems) == 1, (group, stems)


@pytest.mark.parametrize(
    ("a", "b"),
    [("news", "new"), ("inning", "inn"), ("psychologist", "psychology"), ("run", "ran"), ("apple", "applied")],
)
def test_words_that_do_not_match(a: str, b: str) -> None:
    assert not matches(a, b)


# Porter2 stems written from the algorithm's definition (and agreeing with the SDK's matches).
PORTER2 = {
    "consign": "consign",
    "consigned": "consign",
    "consignment": "consign",
    "consolation": "consol",
    "knightly": "knight",
    "generously": "generous",
    "generate": "generat",
    "communism": "communism",
    "arsenal": "arsenal",
    "hopping": "hop",
    "hoped": "hope",
    "cried": "cri",
    "ties": "tie",
    "gas": "gas",
    "gaps": "gap",
    "kiwis": "kiwi",
    "agreed": "agre",
    "feed": "feed",
    "luxuriating": "luxuri",
    "sayings": "say",
    "skis": "ski",
    "idly": "idl",
    "succeed": "succeed",
    "fluently": "fluentli",
    "traditional": "tradit",
    "ability": "abil",
    "electricity": "electr",
    "controllable": "control",
    "youth": "youth",
    "yearly": "year",
    "'quoted": "quot",
    "john's": "john",
    "ab": "ab",
}


def test_porter2_stems() -> None:
    assert {word: stem(word) for word in PORTER2} == PORTER2


def test_terms_are_hashed_and_collide_like_the_sdk() -> None:
    # Observed colliding pairs (same hash, different stems) among a 21 745-word vocabulary.
    for a, b in [("basin", "basqu"), ("carlton", "cartoon"), ("report", "republ"), ("moder", "modul")]:
        assert a != b and term_id(a) == term_id(b)
    assert matches("basin", "basque") and matches("reporting", "republics")
    assert not matches("basin", "basil")
    # ... and of 784 five-character strings "bcd" + two characters, "bcd00" shares its term with:
    assert [s for s in ("bcdp8", "bcdx5", "bcdx4", "bcd01") if term_id(s) == term_id("bcd00")] == ["bcdp8", "bcdx5"]
    assert 0 <= term_id("x") < 2**32


def test_word_boundaries() -> None:
    text = "a.b 3.14 world.com e-mail 3,000 3;4 a,b snake_case _x ___ x:y 1.z z.1 rock'n'roll v1.2.3 a/b c++ U.S.A."
    assert words(text) == [
        "a.b", "3.14", "world.com", "e", "mail", "3,000", "3;4", "a", "b", "snake_case", "_x", "x:y",
        "1", "z", "z", "1", "rock'n'roll", "v1.2.3", "a", "b", "c", "u.s.a",
    ]  # fmt: skip
    assert words("'quoted' it's dogs' a..b") == ["quoted", "it's", "dogs", "a", "b"]


def test_folding_and_transliteration() -> None:
    for doc, query in [
        ("café", "cafe"),
        ("CAFÉ", "cafe"),
        ("cafe\u0301", "café"),
        ("straße", "strasse"),
        ("Æsir", "aesir"),
        ("œuvre", "oeuvre"),
        ("Łódź", "lodz"),
        ("Москва", "moskva"),
        ("Αθήνα", "athena"),
        ("٣٤", "34"),
        ("\uff11\uff12\uff13", "123"),  # fullwidth digits
        ("ﬁne", "fine"),
        ("x²", "x2"),
        ("©", "c"),
        ("5€", "5eur"),
        ("hello—world", "world"),
        ("東京", "東"),
    ]:
        assert matches(doc, query), (doc, query)
    assert fold("naïve “quoted” ½") == 'naive "quoted" 1/2'
    assert words("x\u00ady") == ["xy"]  # a soft hyphen vanishes


def test_fold_gives_ascii_for_every_code_point() -> None:
    """The batch tokenizer encodes folded texts as ASCII without checking (term_id_lists)."""
    points = [chr(cp) for cp in range(sys.maxunicode + 1)]
    assert fold("".join(points[:128])) == "".join(points[:128])
    assert [p for p in points[128:] if not fold(f"a{p}b").isascii()] == []
    assert term_id_lists(["a\ud800b", "\U0010ffff x"]) == [term_ids("a\ud800b"), term_ids("\U0010ffff x")]


def test_scripts_without_a_table_match_only_themselves() -> None:
    assert term_ids("東京") == term_ids("東 京")  # an ideograph is a word of its own
    assert matches("ไทย ok", "ไทย") and not matches("ไทย", "ไท")
    assert matches("🦄", "🦄") and not matches("🦄", "😀")


def test_stop_words_do_not_count_in_length() -> None:
    index = PythonKeywords()
    texts = [("two", "red blue"), ("stops", "red the the the the the"), ("three", "red blue green")]
    index.put([d for d, _ in texts], [term_ids(t) for _, t in texts])
    position = {"two": 0, "stops": 1, "three": 2}
    assert [d for d, _ in index.rank(term_ids("red"), 10, position, None)] == ["stops", "two", "three"]


_BATCH_PIECES = st.sampled_from(
    [
        *("a", "X", "0", "9", " ", ".", ",", ":", ";", "'", "\n", "_", "-", "é", "漢", "İ", "ß", "ﬁ", "\x00"),
        *("don't", "3,000", "e-mail", "a.b", "U.S.A.", "the", "and", "__", "x_y", "running", "Café"),
        *("x:1", "1.a", "a:b:c", "'quoted'", "end.", "(c)", "\t", "!?", "z9_", "_", "1;2;3", "a'b'c"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_BATCH_PIECES, max_size=12).map("".join), max_size=8))
def test_term_id_lists_is_term_ids_of_each_text(texts: list[str]) -> None:
    """The batch tokenizer (one scan over NUL-joined texts) gives each text's own term ids."""
    from moss_ref._bm25 import term_id_lists

    assert term_id_lists(texts) == [term_ids(t) for t in texts]
    clean = [t.replace("_", "").replace("\x00", "") for t in texts]  # the one-scan path itself
    assert term_id_lists(clean) == [term_ids(t) for t in clean]


def test_term_id_lists_takes_the_regex_way_for_rare_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk of two words (``x:1``) and a word whose term id is 0 (made so here: a real one is a
    1-in-2**32 hash) are never cached by the split-and-look-up way; their batch gives each text's
    own term ids all the same, and the next batch without them is fast again."""
    from moss_ref import _bm25

    texts = ["red x:1 fox", "a.b zero-ish", "plain words"]
    assert _bm25.term_id_lists(texts) == [term_ids(t) for t in texts]
    assert b"x:1" not in _bm25._CHUNKS and b"red" in _bm25._CHUNKS
    monkeypatch.setitem(_bm25._TERMS, "zeroword", 0)
    monkeypatch.setattr(_bm25, "_CHUNKS", _bm25._ChunkCache())
    texts = ["zeroword red", "the zeroword", "red"]
    expected = [[0, term_ids("red")[0]], [0], term_ids("red")]
    assert [_bm25.term_ids(t) for t in texts] == expected
    assert _bm25.term_id_lists(texts) == expected
    assert b"zeroword" not in _bm25._CHUNKS
    assert _bm25.term_id_lists(["red fox"]) == [term_ids("red fox")] and not _bm25._CHUNKS.rare


@pytest.mark.parametrize("count", [2047, 2048, 2049, 4097])
def test_term_id_lists_over_chunk_boundaries(count: int) -> None:
    """Batches larger than one chunk of the batch tokenizer give each text its own term ids, in order."""
    from moss_ref._bm25 import term_id_lists

    texts = [f"doc{i} the common words running w{i % 13}" for i in range(count)]
    assert term_id_lists(texts) == [term_ids(t) for t in texts]
