"""Text → features for the effort classifier (pure, no I/O).

:func:`text_features` turns one text into a :class:`TextFeatures`: a short vector of hand-built, largely
language-independent signals (:data:`DENSE_NAMES`) plus word n-grams for a learned vocabulary. Reading a
conversation (which turns, what is context) is :mod:`router.conversation`.

Very long texts are read through a bounded window (the head and the tail, where instructions and questions
sit), so the cost is bounded whatever the prompt length; only the length features see the full size.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Characters read from the start and the end of a long text.
HEAD_CHARS = 700
TAIL_CHARS = 1100


def window(text: str) -> str:
    """The head and tail of a long text (the whole text when it is short)."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n\n" + text[-TAIL_CHARS:]


# --- hand-built signals: one tokenisation pass, then set lookups (regex alternations are too slow) ---------

_TOKEN = re.compile(r"\w+|[^\w\s]")
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b", re.ASCII)
# Few matches, so cheap (long match lists are what makes ``findall`` slow).
_INNER_CAPITAL = re.compile(r"[a-z0-9],? +[A-Z]")
_CHOICE_LINE = re.compile(r"\s*\(?[A-Ea-e][).:]\s*\S")

_OPERATORS = frozenset("+-*/×÷^=<>≤≥%")
_MATH_SYMBOLS = frozenset("$\\∑∫√π∞≠±∈∀∃→⇒∂≈·∘")
_CODE_PUNCT = frozenset("{};[]()`_#")
_CODE_STARTS = (
    "def ", "class ", "return", "import ", "from ", "for ", "while ", "if ", "elif ", "else", "try:",
    "except", "public ", "private ", "static ", "void ", "int ", "const ", "let ", "var ", "function", "fn ",
    "func ", "struct ", "select ", "#include", "print", "assert", "}", "//", "#!",
)  # fmt: skip


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Request shapes (what is asked for, not the topic): a code or math request at the start, advice, creative
# pieces, labelling/classification, asking for a question, a named-entity (trivia) question.
_TECH_WORDS = (
    "python javascript java typescript c++ c# rust golang kotlin swift php ruby perl scala haskell lua "
    "matlab bash shell powershell sql mysql postgresql sqlite html css js jsx json yaml xml regex regexp "
    "api apis function functions script scripts program programs code snippet class method methods algorithm "
    "library framework react vue angular flutter django flask node nodejs npm pip docker kubernetes linux "
    "unix git makefile compiler database frontend backend endpoint server app application component "
    "components module pandas numpy excel vba jquery android ios gui cli"
)
_TECH = _set(_TECH_WORDS)
_CODE_VERBS = _set(
    "write create implement generate build make develop code program fix debug optimize refactor complete "
    "design modify"
)
_MATH_VERBS = _set(
    "solve compute calculate prove derive evaluate simplify integrate differentiate factor factorize "
    "estimate determine"
)
_CREATIVE_WORDS = (
    "story stories poem poems lyrics song novel chapter character characters script screenplay scene "
    "dialogue fiction fanfic haiku verse rhyme plot narrative tale joke slogan caption blog essay"
)
_ADVICE = (
    "how can", "how do i", "how should", "should i", "what are some", "tips", "ways to", "ideas", "advice",
    "pros and cons", "recommend", "suggest", "best way", "good idea", "opinion", "what do you think",
)  # fmt: skip
_CLASSIFY = (
    "category", "categories", "classify", "classification", "label", "labels", "topic", "genre", "refers to",
    "belongs to", "yes or no", "true or false", "positive or negative", "same meaning", "paraphrase",
    "sentiment",
)  # fmt: skip
_WH = _set("who what which when where whose whom")
_STOP = _set(
    "the a an of to in on and or is are was were be been for with as by at from that this it its which what "
    "who whom whose when where why how does do did can could would should will not no yes than then there "
    "their they he she his her them you your i me my we our us"
)
_ENTITY_QUESTION = re.compile(
    r"\b(?:who|whom|whose|where|when|what year|which year|what country|which country|what city|which city|"
    r"what is the name|what was the name|which company|what company|which team|what team|which person|"
    r"what nationality|which film|what film)\b",
    re.IGNORECASE,
)
# The answer space is spelled out at the end: "Yes or No?", "increase or decrease?", "choices are ...".
_CLOSED_PHRASES = (
    "yes or no", "true or false", "choices are", "given a choice", "options are", "choose between",
)  # fmt: skip
_AFTER_OR = re.compile(r"[a-z]+(?: [a-z]+)?\W{0,3}[?)]")
# Cue words in common non-English languages, added to the English cue counts of the same theme: whole words
# for alphabetic scripts, substrings for CJK (which has no spaces). Only a few frequent words per theme.
_INTL_WORDS: dict[str, frozenset[str]] = {
    "creative": _set(
        "историю история историй рассказ рассказа стих стихи стихотворение сочинение сказку historia poema "
        "cuento diálogo personaje canción relato histoire poème geschichte gedicht chuyện kịch thơ "
        "truyện"
    ),
    "math_words": _set(
        "посчитай вычисли реши решите докажи найдите уравнение calcula calcular resuelve demuestra ecuación "
        "calculez résoudre équation berechne gleichung tính phương trình"
    ),
    "code_words": _set("код кода функцию скрипт código función fonction skript hàm"),
}
_INTL_CJK: dict[str, frozenset[str]] = {
    "creative": _set("故事 小说 小說 诗 日记 物語 小説 日記 歌詞 作文 이야기 소설"),
    "math_words": _set("计算 求解 证明 方程 积分 計算 証明 方程式 계산"),
    "code_words": _set("代码 函数 程序 コード 関数 プログラム 코드 함수"),
}
_ASK_VERB = re.compile(r"\b(?:come up with|generate|write|create|ask|make up|think of|suggest)\b")
_DIGIT_RUN = re.compile(r"\d+")
_INNER_NAME = re.compile(r"[a-z] [A-Z]")

# Unigram and bigram cue words per signal (lower-case tokens; bigrams joined by one space).
_CUES: dict[str, frozenset[str]] = {
    "math_words": _set(
        "solve compute calculate calculating evaluate simplify find how_many how_much how_long equation "
        "equations integer integers probability derivative integral sum product prime primes divisible "
        "polynomial matrix matrices vector vectors theorem percent percentage ratio average total "
        "remainder factor factors digit digits modulo expected estimate arithmetic operations obtain "
        "equal equals minus plus times divided multiply multiplied fraction fractions decimal square cube "
        "root mean median variance distance speed rate profit interest cost price how_old years_old "
        "what_time which_year which_day what_day what_date hours hour minutes minute value area perimeter "
        "volume angle triangle circle radius real function_f least greatest maximum minimum smallest "
        "largest number numbers"
    ),
    "proof_words": _set("prove proof show_that demonstrate_that lemma iff if_and corollary"),
    "logic_words": _set(
        "premise premises conclusion therefore follows necessarily valid infer inference deduce deduction "
        "implies imply entail entails at_least conclude which_of assume assuming unless none_of either "
        "neither then must_be must_always true_, can_we logically consistent contradiction contradicts "
        "uncertain if_someone"
    ),
    "puzzle_words": _set("puzzle riddle sudoku game_of brainteaser optimal strategy strategies moves steps"),
    "code_words": _set(
        "function functions implement implementation algorithm program code script debug bug compile "
        "python java javascript c ++ sql regex complexity recursion recursive array list string api class "
        "method test tests output refactor error compiler query loop variable returns"
    ),
    "reading": _set(
        "passage article text review paragraph document context based_on according_to the_question "
        "options sentence story summary the_following movie plot title"
    ),
    "instruct_verbs": _set(
        "rewrite rephrase paraphrase summarize summarise summary translate classify categorize categorise "
        "extract title headline proofread grammar sentiment tone story poem song essay letter email "
        "speech tweet post blog description slogan haiku limerick bio joke lyrics describe suggest "
        "recommend brainstorm generate compose draft tell_me write_a give_me list_some"
    ),
    "persona": _set("act_as act_like you_are pretend roleplay role want_you"),
    "explain": _set("explain what_is what_are who_is who_was why_do definition meaning"),
    "tech_terms": _set(_TECH_WORDS),
    "creative": _set(_CREATIVE_WORDS),
    # Premises and rules to reason from (deduction), as opposed to descriptive prose.
    "rule_words": _set("if then all every each implies therefore unless must only none whenever thus hence"),
    "times_dates": _set(
        "am pm january february march april may june july august september october november december "
        "monday tuesday wednesday thursday friday saturday sunday date week month year years days"
    ),
}
_CUE_INDEX: dict[str, tuple[str, ...]] = {}
for _name, _words in _CUES.items():
    for _w in _words:
        _CUE_INDEX[_w.replace("_", " ")] = (*_CUE_INDEX.get(_w.replace("_", " "), ()), _name)
for _name, _words in _INTL_WORDS.items():
    for _w in _words:
        _CUE_INDEX[_w] = (*_CUE_INDEX.get(_w, ()), _name)
_DIALOGUE = _set("i me my mine we us our you your yours")
#: Greeting, courtesy and phatic words ("hi", "thanks!", "how's it going?"): a turn made only of them asks
#: for nothing to be worked out. ``content_words`` counts the words that are neither these nor function
#: words, and the numbers (what the turn asks *about*); ``social_share`` is the share of these words among
#: them and the content words.
SOCIAL_WORDS = _set(
    "hi hello hey hiya howdy yo greetings thanks thank thx ty cheers bye goodbye farewell later morning "
    "afternoon evening night good great nice cool awesome ok okay sure please welcome sorry pleased meet "
    "lol haha hmm yeah yep nope going doing up fine well day weekend glad happy love bot robot"
)

#: Names of the hand-built signals, in vector order.
DENSE_NAMES: tuple[str, ...] = (
    "len_chars",
    "len_first_par",
    "len_last_par",
    "doc_chars",
    "paragraphs",
    "lines",
    "numbers",
    "digit_share",
    "arithmetic",
    "math_notation",
    "math_words",
    "proof_words",
    "logic_words",
    "puzzle_words",
    "code_lines",
    "code_tokens",
    "code_words",
    "choices",
    "reading",
    "question_numbers",
    "times_dates",
    "instruct_verbs",
    "instruct_at_start",
    "persona",
    "explain",
    "question_marks",
    "question_at_end",
    "years",
    "proper_nouns",
    "word_length",
    "word_variety",
    "dialogue_words",
    "tech_terms",
    "code_request",
    "math_request",
    "passage_overlap",
    "numeric_choices",
    "text_choices",
    "trivia_question",
    "entity_question",
    "advice",
    "creative",
    "classify_cues",
    "question_request",
    "closed_answer",
    "rule_words",
    "read_off",
    "social_share",
    "content_words",
    "empty",
)
_INDEX = {name: i for i, name in enumerate(DENSE_NAMES)}
#: Signals measured as a rate (per ~400 characters read), so a long story is not "mathy" for a few numbers.
_RATES = (
    "math_words", "proof_words", "logic_words", "puzzle_words", "times_dates", "explain", "reading",
    "tech_terms", "creative", "rule_words",
)  # fmt: skip
_CUE_PAIRS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (k, tuple(k.split(" "))) for k in sorted(_CUE_INDEX) if " " in k
)  # a cue of three or more words never matches a pair, as it never matched a bigram
_PERSONA_PAIRS = (("act", "as"), ("act", "like"), ("want", "you"), ("you", "are"))
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ARITH_TOKENS = frozenset(("<n>", *(op for op in _OPERATORS if not op.isalpha())))


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """Features of one text: the hand-built signals (in :data:`DENSE_NAMES` order) and its n-grams, kept as
    unigrams and token pairs (building a string per bigram is the costly part, so only training does it)."""

    dense: tuple[float, ...]
    unigrams: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    #: The folded word-vector signal (:func:`word_sums`) on the four outputs (think, low, medium, high),
    #: when :func:`text_features` was given a word table; empty otherwise.
    words: tuple[float, ...] = ()

    @property
    def grams(self) -> frozenset[str]:
        """Unigrams and bigrams as the vocabulary spells them (a bigram's tokens joined by a space)."""
        return self.unigrams | frozenset(map(" ".join, self.pairs))


def _log(n: float) -> float:
    return math.log1p(n)


def tokens(text: str) -> list[str]:
    """Lower-cased tokens: words, numbers as ``<n>``, CJK runs split into characters, each symbol alone."""
    found: list[str] = _TOKEN.findall(text.lower())
    if text.isascii() or not _CJK_CHAR.search(text):  # the common case, without the per-token CJK check
        return ["<n>" if tok.isdigit() else tok for tok in found]
    out: list[str] = []
    for tok in found:
        if tok.isdigit():
            out.append("<n>")
        elif len(tok) > 1 and _CJK_CHAR.match(tok):
            out.extend(tok)
        else:
            out.append(tok)
    return out


def grams(toks: Sequence[str]) -> frozenset[str]:
    """Unigrams and bigrams (joined by a space) of a token list."""
    return frozenset(itertools.chain(toks, map(" ".join, itertools.pairwise(toks))))


def _line_signals(win: str) -> tuple[int, int, int]:
    """Code-like lines, answer-choice lines, and how many of the choices hold a number."""
    code = choices = numeric = 0
    for line in win.splitlines():
        stripped = line.lstrip()
        if not stripped:
            continue
        if (
            (len(line) - len(stripped) >= 2 and len(line) > 3)
            or stripped.lower().startswith(_CODE_STARTS)
            or stripped[-1] in "{};"
        ):
            code += 1
        if _CHOICE_LINE.match(line):
            choices += 1
            numeric += any(c.isdigit() for c in stripped[2:])
    return code, choices, numeric


def _proper_noun_share(win: str, words: int) -> float:
    """Share of words that are capitalised inside a sentence (names, places, acronyms: factual prose).

    One regex: a capital right after a lower-case word (or number, or comma) and spaces.
    """
    return min(1.0, len(_INNER_CAPITAL.findall(win)) / words) if words else 0.0


def _digits(text: str) -> int:
    """How many characters of ``text`` are digits (``str.isdigit``): ten C-level counts, plus a check of the
    non-ASCII characters (superscripts, other scripts' digits) when there are any."""
    ascii_digits = sum(text.count(d) for d in "0123456789")
    if text.isascii():
        return ascii_digits
    return ascii_digits + sum(map(str.isdigit, _NON_ASCII.findall(text)))


def _arithmetic(toks: Sequence[str]) -> int:
    """Operators next to numbers: ``<n>`` after an operator, or an operator after ``<n>``, ``)`` or a
    one-letter variable."""
    arith = 0
    prev = ""
    for tok in toks:
        if tok in _ARITH_TOKENS:
            if tok == "<n>":
                arith += prev in _OPERATORS
            elif prev == "<n>" or prev == ")" or (len(prev) == 1 and prev.isalpha()):
                arith += 1
        prev = tok
    return arith


#: A word's folded numbers: its weight in the weighted mean of word vectors, then that weight times the
#: word vector's contribution to each of the four outputs (think, low, medium, high) of a trained model.
WordWeights = Mapping[str, tuple[float, float, float, float, float]]


def word_tokens(text: str) -> list[str]:
    """The tokens :func:`text_features` reads of a text (its window's): what word vectors are looked up by."""
    return tokens(window(text.strip()))


def word_sums(counts: Mapping[str, int], table: WordWeights) -> tuple[float, float, float, float]:
    """A text's word-vector signal on the four outputs from its token counts: the weighted mean, over the
    tokens in ``table`` (each occurrence), of each word's contributions (``0`` when none is in the table).

    Because the model is linear in the mean word vector, this equals the standardised weighted mean vector
    times the trained weights (less a constant that training folds into the biases)."""
    total = s0 = s1 = s2 = s3 = 0.0
    get = table.get
    for tok, n in counts.items():
        row = get(tok)
        if row is not None:
            total += n * row[0]
            s0 += n * row[1]
            s1 += n * row[2]
            s2 += n * row[3]
            s3 += n * row[4]
    if total <= 0.0:
        return (0.0, 0.0, 0.0, 0.0)
    return (s0 / total, s1 / total, s2 / total, s3 / total)


def text_features(text: str, words: WordWeights | None = None) -> TextFeatures:
    """Hand-built signals and n-grams of one text (bounded cost for any length); with a word table
    (a trained artifact's), also its folded word-vector signal (:attr:`TextFeatures.words`)."""
    text = text.strip()
    values = [0.0] * len(DENSE_NAMES)
    if not text:
        values[_INDEX["empty"]] = 1.0
        return TextFeatures(tuple(values), frozenset(), frozenset(), (0.0,) * 4 if words else ())
    win = window(text)
    toks = tokens(win)
    pairs = frozenset(itertools.pairwise(toks))
    counts = dict.fromkeys(_CUES, 0)
    numbers = notation = code_tokens = words_n = letters = dialogue = social = content = 0
    distinct = Counter(toks)
    for tok, n in distinct.items():  # each distinct token once, weighted by its count
        for name in _CUE_INDEX.get(tok, ()):
            counts[name] += n
        if tok.isalpha():
            words_n += n
            letters += len(tok) * n
            dialogue += n if tok in _DIALOGUE else 0
            if tok in SOCIAL_WORDS:
                social += n
            elif len(tok) > 1 and tok not in _STOP:
                content += n
        elif tok == "<n>":
            numbers += n
        elif tok in _MATH_SYMBOLS and tok not in _OPERATORS:
            notation += n
        if tok in _CODE_PUNCT or "_" in tok:
            code_tokens += n
    for gram, pair in _CUE_PAIRS:  # ~40 multi-word cues: look them up instead of scanning the pairs
        if pair in pairs:
            for name in _CUE_INDEX[gram]:
                counts[name] += 1
    if not win.isascii() and _CJK_CHAR.search(win):
        _add_cjk_cues(win, counts)
    arith = _arithmetic(toks)
    code_lines, choices, numeric_choices = _line_signals(win)
    pars = [p for p in win.split("\n\n") if p.strip()]
    first_par = pars[0] if pars else win
    last_par = pars[-1] if pars else win
    n_chars = len(win)
    share = 400.0 / (n_chars + 400.0)
    head = toks[:12]
    v = values
    v[_INDEX["len_chars"]] = _log(len(text))
    v[_INDEX["len_first_par"]] = _log(len(first_par))
    v[_INDEX["len_last_par"]] = _log(len(last_par))
    v[_INDEX["doc_chars"]] = _log(max(0, len(text) - len(first_par) - len(last_par)))
    v[_INDEX["paragraphs"]] = _log(len(pars))
    v[_INDEX["lines"]] = _log(win.count("\n"))
    v[_INDEX["numbers"]] = _log(numbers)
    v[_INDEX["digit_share"]] = _digits(win) / n_chars
    v[_INDEX["arithmetic"]] = _log(arith)
    v[_INDEX["math_notation"]] = _log(notation)
    v[_INDEX["code_lines"]] = _log(code_lines)
    v[_INDEX["code_tokens"]] = _log(code_tokens)
    v[_INDEX["choices"]] = _log(choices)
    v[_INDEX["numeric_choices"]] = _log(numeric_choices)
    v[_INDEX["text_choices"]] = _log(choices - numeric_choices)
    v[_INDEX["question_numbers"]] = _log(last_par[-600:].count(" ") and _digits(last_par[-600:]))
    for name, count in counts.items():
        v[_INDEX[name]] = _log(count * share) if name in _RATES else _log(count)
    v[_INDEX["instruct_at_start"]] = (
        1.0 if any("instruct_verbs" in _CUE_INDEX.get(t, ()) for t in head) else 0.0
    )
    v[_INDEX["persona"]] = _log(sum(1 for t in _PERSONA_PAIRS if t in pairs))
    v[_INDEX["years"]] = _log(len(_YEAR.findall(win)))
    v[_INDEX["proper_nouns"]] = _proper_noun_share(win, words_n)
    v[_INDEX["word_length"]] = letters / words_n if words_n else 0.0
    v[_INDEX["word_variety"]] = len(set(toks[:150])) / len(toks[:150])
    v[_INDEX["dialogue_words"]] = dialogue / len(toks)
    content += numbers
    v[_INDEX["social_share"]] = social / (social + content) if social else 0.0
    v[_INDEX["content_words"]] = _log(content)
    v[_INDEX["question_marks"]] = _log(win.count("?"))
    v[_INDEX["question_at_end"]] = 1.0 if "?" in win[-120:] else 0.0
    _request_shape(text, win, toks, counts, v)
    folded = word_sums(distinct, words) if words else ()
    return TextFeatures(tuple(values), frozenset(toks), pairs, folded)


def _add_cjk_cues(win: str, counts: dict[str, int]) -> None:
    """Add the CJK cue words of a text to its theme counts (only called for non-ASCII text)."""
    for name, parts in _INTL_CJK.items():
        counts[name] += sum(1 for part in parts if part in win)


_YEAR_PREFIXES = frozenset(("15", "16", "17", "18", "19", "20"))


def _nonyear_numbers(text: str) -> int:
    """How many digit runs of ``text`` are not years (1500-2099)."""
    return sum(1 for m in _DIGIT_RUN.findall(text) if not (len(m) == 4 and m[:2] in _YEAR_PREFIXES))


def _last_question(tail: str) -> str:
    """The sentence that ends at the last question mark of ``tail`` ('' when there is none)."""
    end = tail.rfind("?")
    if end < 0:
        return ""
    start = max(tail.rfind(c, 0, end) for c in ".?!\n") + 1
    return tail[start : end + 1]


def _asks_for_question(low: str) -> bool:
    """A request to write a question ("come up with a good question for ..."), in lower-case text."""
    i = low.find("question")
    while i >= 0:
        after = low[i + 8 : i + 10]
        ends_word = not after[:1].isalnum() or (after[:1] == "s" and not after[1:2].isalnum())
        if ends_word and (i == 0 or not low[i - 1].isalnum()):
            seg = low[max(0, i - 60) : i]
            seg = seg[max(seg.rfind(c) for c in ".?!\n") + 1 :]
            if any(m.end() >= len(seg) - 41 for m in _ASK_VERB.finditer(seg)):
                return True
        i = low.find("question", i + 8)
    return False


def _closed_answer(tail: str) -> bool:
    """Whether a lower-cased tail offers its answer space: a fixed phrase, or "word(s) or word(s)" right
    before a question mark or a closing parenthesis (str.find first: a regex search here is slower)."""
    if any(p in tail for p in _CLOSED_PHRASES):
        return True
    i = tail.find(" or ")
    while i >= 0:
        if i > 0 and "a" <= tail[i - 1] <= "z" and _AFTER_OR.match(tail, i + 4):
            return True
        i = tail.find(" or ", i + 1)
    return False


def _passage_overlap(win: str, toks: Sequence[str]) -> float:
    """Share of the content words of the final request (last 300 characters) that occur in the text before it.

    High for extractive reading comprehension (the answer is in the given text); 0 without a passage.
    """
    if len(win) < 600:
        return 0.0
    tail = tokens(win[-300:])
    asked = {t for t in tail if len(t) > 2 and t.isalpha() and t not in _STOP}
    if not asked:
        return 0.0
    given = set(toks[: len(toks) - len(tail)])
    return len(asked & given) / len(asked)


def _request_shape(
    text: str, win: str, toks: Sequence[str], counts: Mapping[str, int], v: list[float]
) -> None:
    """Signals of what kind of answer is asked for (written into ``v``)."""
    low = win.lower()
    head = toks[:25]
    code_verb = any(t in _CODE_VERBS for t in head[:12])
    v[_INDEX["code_request"]] = 1.0 if code_verb and any(t in _TECH for t in head) else 0.0
    v[_INDEX["math_request"]] = 1.0 if any(t in _MATH_VERBS for t in toks[:8]) else 0.0
    v[_INDEX["passage_overlap"]] = _passage_overlap(win, toks)
    trivia = False
    if len(text) < 400 and text.endswith("?") and _INNER_NAME.search(text):
        tail_toks = tokens(text[-200:])
        trivia = "<n>" not in tail_toks and any(t in _WH for t in tail_toks)
    v[_INDEX["trivia_question"]] = 1.0 if trivia else 0.0
    question = _last_question(win[-400:])
    v[_INDEX["entity_question"]] = (
        1.0 if question and _ENTITY_QUESTION.search(question) and _nonyear_numbers(question) <= 1 else 0.0
    )
    head_low, tail_low = low[:600], low[-400:]
    v[_INDEX["advice"]] = _log(sum(1 for a in _ADVICE if a in head_low or a in tail_low))
    v[_INDEX["classify_cues"]] = _log(sum(1 for c in _CLASSIFY if c in low))
    v[_INDEX["question_request"]] = 1.0 if _asks_for_question(low) else 0.0
    closed = _closed_answer(low[-250:])
    v[_INDEX["closed_answer"]] = 1.0 if closed else 0.0
    no_math = (
        v[_INDEX["arithmetic"]] == 0.0
        and v[_INDEX["math_request"]] == 0.0
        and v[_INDEX["math_notation"]] == 0.0
        and counts["math_words"] <= 1
    )
    v[_INDEX["read_off"]] = 1.0 if closed and counts["rule_words"] < 2 and no_math else 0.0
