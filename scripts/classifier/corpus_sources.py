"""The sources of the effort classifier's corpus: one reader per public source, and the shared file's.

Each reader yields :class:`Item` s with the label of its whole source or task category (docs/classifier.md,
"Corpus"; the label rule is in ``build_corpus.py``'s docstring), never a label per item. ``SOURCES`` is the
registry of the rounds and the generated procedures' reader are in ``corpus_rounds.py``.
"""

from __future__ import annotations

import collections
import csv
import io
import json
import pickle
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus_pinned import load_json, load_jsonl, ls, show, show_many

#: Format family of each shared source (or source/category prefix): what the prompt *looks like*, so that a
#: family left out in CV shares no format with the training folds.
SHARED_FAMILY = {
    "gsm8k_train": "word_math",
    "svamp": "word_math",
    "aqua_rat": "word_math",
    "college_math": "formal_math",
    "olympiadbench": "formal_math",
    "theoremqa": "formal_math",
    "tot/puzzle": "number_puzzle",
    "tot/creative": "constrained_writing",
    "mbpp_train": "code_task",
    "cruxeval": "code_trace",
    "folio": "premise_logic",
    "logicbench": "premise_logic",
    "tram": "choice_arithmetic",
    "p3_t0": "templated_nlp",
    "squality": "long_document",
    "awesome_prompts": "persona_chat",
    "arena_hard": "user_chat",
    "self_instruct_seed": "user_chat",
    "self_instruct_user": "user_chat",
}


@dataclass(frozen=True)
class Item:
    prompt: str
    source: str
    category: str
    think: bool
    effort: str
    family: str


def _letters(options: Iterable[str]) -> str:
    return "\n".join(f"{chr(65 + i)}) {o}" for i, o in enumerate(options))


def _sample(rows: list[Any], n: int, seed: str) -> list[Any]:
    rng = random.Random(seed)
    rows = list(rows)
    rng.shuffle(rows)
    return rows[:n]


# --- readers ------------------------------------------------------------------------------------------------
# Each yields Items with the label of its whole source or category (see docs/classifier.md, "Corpus").

ZS = "kojima-takeshi188/zero_shot_cot"


def strategyqa() -> Iterator[Item]:
    # implicit multi-hop yes/no questions: the steps must be found and chained (think, low)
    rows = load_json(ZS, "dataset/StrategyQA/task.json")["examples"]
    for r in _sample(rows, 150, "strategyqa"):
        yield Item(r["input"], "strategyqa", "multi_hop_yes_no", True, "low", "implicit_multi_hop")


def coin_flip() -> Iterator[Item]:
    # track a state through a sequence of actions (think, low)
    rows = load_json(ZS, "dataset/coin_flip/coin_flip.json")["examples"]
    for r in _sample(rows, 60, "coin_flip"):
        yield Item(r["question"], "coin_flip", "state_tracking", True, "low", "symbolic_procedure")


def last_letters() -> Iterator[Item]:
    # execute a procedure by hand over every word (think, low)
    rows = load_json(ZS, "dataset/last_letters/last_letters.json")["examples"]
    for r in _sample(rows, 60, "last_letters"):
        yield Item(r["question"], "last_letters", "string_procedure", True, "low", "symbolic_procedure")


def arithmetic_words() -> Iterator[Item]:
    # one- or two-step arithmetic word problems (think, low)
    for name, path, n in (
        ("multiarith", "dataset/MultiArith/MultiArith.json", 60),
        ("addsub", "dataset/AddSub/AddSub.json", 40),
        ("singleeq", "dataset/SingleEq/questions.json", 40),
    ):
        rows = load_json(ZS, path)
        for r in _sample(rows, n, name):
            text = re.sub(r"\s+([.,?])", r"\1", r["sQuestion"].strip())
            yield Item(text, name, "arithmetic_word_problem", True, "low", "word_math")


def commonsense_qa() -> Iterator[Item]:
    # pick the everyday-knowledge answer among five (retrieval, no derivation: none)
    rows = load_jsonl(ZS, "dataset/CommonsenseQA/train_rand_split.jsonl")
    for r in _sample(rows, 120, "commonsense_qa"):
        q = r["question"]
        text = f"{q['stem']}\nAnswer Choices: " + " ".join(
            f"({c['label']}) {c['text']}" for c in q["choices"]
        )
        yield Item(text, "commonsense_qa", "commonsense_choice", False, "none", "choice_qa")


def riddlesense() -> Iterator[Item]:
    # riddles: the literal reading misleads, the answer is found by reinterpreting (think, low)
    rows = load_jsonl("1171-jpg/BrainTeaser", "data/rs_train.jsonl")
    for i, r in enumerate(_sample(rows, 120, "riddlesense")):
        stem = r["question"]["stem"].strip()
        if i % 2:  # half as a bare riddle, half with its answer choices
            stem += "\n" + _letters(c["text"] for c in r["question"]["choices"])
        yield Item(stem, "riddlesense", "riddle", True, "low", "riddle")


def humaneval() -> Iterator[Item]:
    # complete a function from its signature and docstring: code that must be correct (think, medium)
    rows = [json.loads(x) for x in show("openai/human-eval", "data/HumanEval.jsonl.gz").decode().splitlines()]
    for i, r in enumerate(rows):
        text = r["prompt"]
        if i % 2:
            text = "Complete this Python function:\n\n" + text
        yield Item(text, "humaneval", "function_completion", True, "medium", "code_signature")


def fermi() -> Iterator[Item]:
    # Fermi estimates: a chain of estimated quantities and arithmetic (think, medium)
    rows = load_json("allenai/fermi", "data/realFP/train_realfp.json") + load_json(
        "allenai/fermi", "data/realFP/val_realfp.json"
    )
    for r in _sample(rows, 120, "fermi"):
        yield Item(r["question"].strip(), "fermi_real", "estimation", True, "medium", "estimation")


def ar_lsat() -> Iterator[Item]:
    # analytical reasoning games: search over arrangements under constraints (think, high);
    # logical reasoning questions: one argument, five options (think, medium)
    ar = load_json("zhongwanjun/AR-LSAT", "complete_lsat_data/val_ar.json")
    for r in _sample(ar, 80, "lsat_ar"):
        text = f"{r['context'].strip()}\n\n{r['question'].strip()}\n{_letters(r['answers'])}"
        yield Item(text, "lsat_ar", "constraint_game", True, "high", "constraint_game")
    lr = load_json("zhongwanjun/AR-LSAT", "complete_lsat_data/val_lr.json")
    for r in _sample(lr, 60, "lsat_lr"):
        text = f"{r['context'].strip()}\n\n{r['question'].strip()}\n{_letters(r['answers'])}"
        yield Item(text, "lsat_lr", "argument_reasoning", True, "medium", "argument_logic")


FB = "YJiangcm/FollowBench"
#: FollowBench items built from reserved or derivation-heavy sources are not used.
_FB_EXCLUDED = {"vicuna", "BBH_logical", "BBH_time", "gsm_8k", "math_qa", "drop", "humaneval", "coding"}


def followbench() -> Iterator[Item]:
    # open requests (oasst, koala, quora, Anthropic helpful) with format, style or content constraints:
    # however many constraints, the answer is written, not derived (none)
    for kind in ("format", "style", "content"):
        for r in load_json(FB, f"data/{kind}_constraints.json"):
            if r["source"] in _FB_EXCLUDED:
                continue
            yield Item(
                r["instruction"].strip(),
                "followbench",
                f"{kind}_constraints",
                False,
                "none",
                "constrained_request",
            )
    # NLP tasks shown by examples (classification, extraction, rewriting) with an output-format rule (none)
    for r in load_json(FB, "data/example_constraints.json"):
        if r["source"] in _FB_EXCLUDED:
            continue
        yield Item(
            r["instruction"].strip(), "followbench_examples", "few_shot_format", False, "none", "few_shot_nlp"
        )


CLINC = "clinc/oos-eval"
#: CLINC150 intents whose requests are arithmetic (one step, so not "none" under the label rule): not used.
_CLINC_EXCLUDED = {"calculator", "measurement_conversion"}


def clinc() -> Iterator[Item]:
    # CLINC150 (CC BY 3.0): short user turns to a voice assistant, written by crowd workers, 150 intents in
    # 10 domains. The small_talk domain (greetings, thanks, goodbyes, "how old are you", "tell me a joke",
    # "are you a bot") is chit-chat; the other nine domains are short requests to look up, set or do
    # something (balance, weather, timer, translate, book a table). Nothing is derived: none.
    data = load_json(CLINC, "data/data_full.json")
    domains = load_json(CLINC, "data/domains.json")
    by_intent: dict[str, list[str]] = collections.defaultdict(list)
    for text, intent in data["train"]:
        by_intent[intent].append(text)
    for domain, intents in sorted(domains.items()):
        small_talk = domain == "small_talk"
        per_intent = 20 if small_talk else 3
        for intent in sorted(intents):
            if intent in _CLINC_EXCLUDED:
                continue
            for i, text in enumerate(_sample(by_intent[intent], per_intent, f"clinc/{intent}")):
                text = text.strip()
                if i % 2:  # the crowd wrote in lower case; half as a user typing with a capital
                    text = text[:1].upper() + text[1:]
                if small_talk:
                    yield Item(text, "clinc_small_talk", intent, False, "none", "small_talk")
                else:
                    category = f"{domain}/{intent}"
                    yield Item(text, "clinc_requests", category, False, "none", "assistant_request")


CHATTERBOT = "gunthercox/chatterbot-corpus"


def chatterbot() -> Iterator[Item]:
    # ChatterBot corpus (BSD-3-Clause), English chit-chat as typed, with capitals and punctuation. User turns:
    # every other turn of the greetings and conversations dialogues (they alternate user/bot), the opening
    # turn of botprofile ("what are your interests"), emotion ("you are arrogant") and humor ("tell me a
    # joke"), whose bot side has several lines. Small talk: nothing is derived (none).
    import yaml

    for name, every_other in (
        ("greetings", True), ("conversations", True), ("botprofile", False), ("emotion", False),
        ("humor", False),
    ):  # fmt: skip
        doc = yaml.safe_load(show(CHATTERBOT, f"chatterbot_corpus/data/english/{name}.yml"))
        for turns in doc["conversations"]:
            users = turns[::2] if every_other else turns[:1]
            for text in users:
                if isinstance(text, str) and text.strip():
                    yield Item(text.strip(), "chatterbot", name, False, "none", "small_talk")


PROOFNET = "zhangir-azerbayev/ProofNet"


def proofnet() -> Iterator[Item]:
    # ProofNet (MIT): the natural-language statements of exercises from undergraduate analysis, algebra,
    # topology and number theory textbooks and the Putnam ("Prove that there is no rational number whose
    # square is 12."). A proof is a long chain of deductions that must all hold: think, high.
    rows = load_jsonl(PROOFNET, "benchmark/valid.jsonl") + load_jsonl(PROOFNET, "benchmark/test.jsonl")
    for r in _sample(rows, 200, "proofnet"):
        book = r["id"].split("|")[0]
        yield Item(r["nl_statement"].strip(), "proofnet", book, True, "high", "proof")


LEETCODE = "neenza/leetcode-problems"
#: LeetCode's own difficulty -> effort: code that must be correct always thinks; a Hard problem needs a
#: non-obvious algorithm (dynamic programming over states, graph search with pruning, segment trees...).
_LEETCODE_EFFORT = {"Easy": "medium", "Medium": "medium", "Hard": "high"}
#: Fifth round of 2026-12-07 (``--round 5``): Easy -> low (one standard idea: a hash map, two pointers, one
#: pass), so the effort head sees low, medium and high inside one format.
_LEETCODE_EFFORT_5 = {**_LEETCODE_EFFORT, "Easy": "low"}
_LEETCODE_PLACEHOLDER = re.compile(r"^(?:Example \d+:|Constraints:)\s*$", re.MULTILINE)


def leetcode(fifth_round: bool = False) -> Iterator[Item]:
    # LeetCode problem statements as scraped into one JSON file per problem (description, examples,
    # constraints, difficulty). Writing a correct, efficient solution is derivation (think); the effort is
    # the site's difficulty (table above). 100 Hard, 80 Medium, 40 Easy, free problems only; two in three
    # with their examples and constraints, the rest as the bare description a user would paste.
    names = ls(LEETCODE, "problems/", recursive=False)
    by_level: dict[str, list[Any]] = collections.defaultdict(list)
    for name in names:
        r = load_json(LEETCODE, name)
        if r.get("difficulty") in _LEETCODE_EFFORT and (r.get("description") or "").strip():
            by_level[r["difficulty"]].append(r)
    for level, n in (("Hard", 100), ("Medium", 80), ("Easy", 40)):
        for i, r in enumerate(_sample(by_level[level], n, f"leetcode/{level}")):
            text = _LEETCODE_PLACEHOLDER.sub("", r["description"]).strip()
            if i % 3:
                examples = "\n\n".join(e["example_text"].strip() for e in r.get("examples", []))
                constraints = "\n".join(f"- {c}" for c in r.get("constraints", []))
                rules = "Constraints:\n" + constraints if constraints else ""
                text = "\n\n".join(p for p in (text, examples, rules) if p)
            effort = (_LEETCODE_EFFORT_5 if fifth_round else _LEETCODE_EFFORT)[level]
            yield Item(text, "leetcode", level.lower(), True, effort, "contest_problem")


#: How a Winograd schema is asked (the collection gives a sentence, its pronoun and two candidates).
_WSC_ASKS = (
    '{text}\nWho or what does "{pron}" refer to here: {a} or {b}?',
    'In the sentence "{text}", does "{pron}" mean {a} or {b}?',
    '"{text}"\n\nWhat is "{pron}" in this sentence? Options: {a}; {b}.',
)


def winograd() -> Iterator[Item]:
    # The Winograd Schema Challenge collection (Levesque et al.; as packaged by cglez/winograd): a sentence
    # with an ambiguous pronoun and two candidates, where grammar does not decide and the answer is found by
    # reasoning about the situation ("...because it is too large"): think, low.
    import csv

    rows = list(csv.DictReader(io.StringIO(show("cglez/winograd", "WSCollection.csv").decode())))
    for i, r in enumerate(_sample(rows, 220, "winograd")):
        ask = _WSC_ASKS[i % len(_WSC_ASKS)]
        names = (("text", "plain_text"), ("pron", "pron"), ("a", "answer_0"), ("b", "answer_1"))
        text = ask.format(**{k: " ".join(r[v].split()) for k, v in names})
        yield Item(text, "winograd", "pronoun", True, "low", "pronoun_resolution")


AGENTS = "aiwaves-cn/agents"
_MATH_ROOT = "src/agents/datasets/data/math/train/"
#: MATH's own difficulty level (1-5, set by the competitions' problem order and the authors) -> effort:
#: level 1 is one or two routine steps, levels 2-3 a few dependent steps, levels 4-5 the hard end of
#: AMC/AIME problems, where a non-obvious idea and a long derivation are needed.
_MATH_EFFORT = {
    "Level 1": "low",
    "Level 2": "medium",
    "Level 3": "medium",
    "Level 4": "high",
    "Level 5": "high",
}
#: Sixth round of 2026-12-07 (``--round 6``; written before its CV ran, after the fifth round's results and
#: the probes of issue 15 had been read): issue 15's scale puts competition math at ``high`` and only the
#: routine end below it, so level 3 (a mid-contest AMC problem) -> high; 1 stays low, 2 medium.
_MATH_EFFORT_6 = {**_MATH_EFFORT, "Level 3": "high"}


def competition_math(sixth_round: bool = False) -> Iterator[Item]:
    # The MATH dataset's training split (Hendrycks et al., MIT; as copied into aiwaves-cn/agents, Apache-2.0):
    # competition problems (AMC 10/12, AIME...) in seven subjects, each with a level from 1 to 5. Every
    # problem is derived (think); the effort follows the level (table above). 60 per level, so that the
    # effort head sees as many hard as easy problems.
    paths = [p for p in ls(AGENTS, _MATH_ROOT) if p.endswith(".json")]
    by_level: dict[str, list[Any]] = collections.defaultdict(list)
    for raw in show_many(AGENTS, paths):
        r = json.loads(raw)
        if r.get("level") in _MATH_EFFORT and r.get("problem", "").strip():
            by_level[r["level"]].append(r)
    for level in sorted(_MATH_EFFORT):
        for r in _sample(by_level[level], 60, f"math/{level}"):
            category = f"{r['type']}/{level}"
            effort = (_MATH_EFFORT_6 if sixth_round else _MATH_EFFORT)[level]
            yield Item(r["problem"].strip(), "math_train", category, True, effort, "formal_math")


def software_dev() -> Iterator[Item]:
    # SoftwareDev (aiwaves-cn/agents, Apache-2.0): short requests for a whole small program ("Create a
    # snake game.", a streamlit + pandas Excel viewer). Code that must work: think, medium.
    for r in load_jsonl(AGENTS, "src/agents/datasets/data/software_dev/SoftwareDev.jsonl"):
        yield Item(r["prompt"].strip(), "software_dev", "program_request", True, "medium", "user_chat")


#: How a FeTaQA table is pasted: as a Markdown table, as tab-separated lines, or as comma-separated lines.
_TABLE_ASKS = (
    'Here is a table from the Wikipedia page "{title}" ({section}):\n\n{table}\n\n{question}',
    "{table}\n\nUsing the table above, answer: {question}",
    "{question}\n\n{title} - {section}\n{table}",
)


def _table(rows: list[list[str]], style: int) -> str:
    rows = [[" ".join(c.split()) for c in row] for row in rows[:26]]
    if style == 0:
        head = "| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0])
        return head + "".join("\n| " + " | ".join(r) + " |" for r in rows[1:])
    sep = "\t" if style == 1 else ", "
    return "\n".join(sep.join(r) for r in rows)


def fetaqa() -> Iterator[Item]:
    # FeTaQA's dev split (Yale-LILY, CC BY-SA 4.0): a question about a Wikipedia table that the answer reads
    # off the table and puts in a sentence ("What TV roles did Kathryn Beck play in 2007-2008?"). The
    # values are given: extraction, none. The table is shown in three pastings (above); 26 rows at most.
    rows = load_jsonl("Yale-LILY/FeTaQA", "data/fetaQA-v1_dev.jsonl")
    for i, r in enumerate(_sample(rows, 150, "fetaqa")):
        style = i % len(_TABLE_ASKS)
        text = _TABLE_ASKS[style].format(
            title=r["table_page_title"], section=r["table_section_title"],
            table=_table(r["table_array"], style), question=r["question"].strip(),
        )  # fmt: skip
        yield Item(text, "fetaqa", "table_question", False, "none", "table_extraction")


class _Opaque:
    """Stands in for every class a pickle names outside a few built-in types: nothing is imported or run."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass

    def __call__(self, *args: object, **kwargs: object) -> _Opaque:
        return _Opaque()


_PICKLE_SAFE = frozenset(
    ("set", "frozenset", "list", "dict", "tuple", "int", "float", "str", "bool", "bytes")
)


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _PICKLE_SAFE:
            return super().find_class(module, name)
        return _Opaque


def collie() -> Iterator[Item]:
    # COLLIE (princeton-nlp, MIT): generation requests made only of form constraints on a sentence, paragraph
    # or passage ("Please generate a paragraph: 1) with exactly 4 sentences; 2) not containing the word
    # 'the'"), built from Wikipedia, Gutenberg and CC-News text. The answer is written to a form, checked by
    # counting: none. The word-level categories (english_c01-c03: one word with given letters at given
    # positions, a search over the vocabulary) are not used. The constraint objects in the pickle are
    # replaced by inert placeholders; only the prompt strings are read. 8 per category, 240 in all.
    data = _DataOnlyUnpickler(io.BytesIO(show("princeton-nlp/Collie", "data/all_data.dill"))).load()
    for key in sorted(data):
        if key.startswith("english_"):
            continue
        for r in _sample(data[key], 8, f"collie/{key}"):
            yield Item(r["prompt"].strip(), "collie", key, False, "none", "form_constraint")


def nq_open() -> Iterator[Item]:
    # real search-engine questions with short Wikipedia answers ("who wrote ...", "when was ..."): the answer
    # is retrieved, not derived (false, none); half as typed (lower case, no question mark), half capitalised
    # with a question mark
    rows = load_jsonl("google-research-datasets/natural-questions", "nq_open/NQ-open.dev.jsonl")
    for i, r in enumerate(_sample(rows, 240, "nq_open")):
        q = " ".join(r["question"].split())
        if i % 2:
            q = q[0].upper() + q[1:] + ("" if q.endswith("?") else "?")
        yield Item(q, "nq_open", "dev", False, "none", "factoid_question")


# --- fifth round of 2026-12-07 ------------------------------------------------------------------------------

TRUTHFULQA = "frankxwang/probing-experiments"
#: TruthfulQA categories whose questions need a search over options or a small deduction, so the source label
#: (retrieved) would not hold for all of them: not used.
_TRUTHFULQA_MIXED = {"Logical Falsehood", "Statistics", "Distraction"}


def truthfulqa() -> Iterator[Item]:
    # TruthfulQA (Lin et al., Apache-2.0; TruthfulQA.csv as copied into that repository): questions that
    # invite a common misconception ("Why do veins appear blue?", "What happens if you crack your
    # knuckles a lot?"). The answer is a fact to retrieve (the right one rather than the popular one), not a
    # derivation: false, none, whatever the topic (health, law, economics, science).
    rows = list(csv.DictReader(io.StringIO(show(TRUTHFULQA, "TruthfulQA.csv").decode("utf-8-sig"))))
    rows = [r for r in rows if r["Category"] not in _TRUTHFULQA_MIXED and r["Question"].strip()]
    for r in _sample(rows, 200, "truthfulqa"):
        yield Item(r["Question"].strip(), "truthfulqa", r["Category"], False, "none", "factoid_question")


MMLU = "HaeChan0305/MLILAB-FedLLM"
#: MMLU subjects whose questions are solved by calculation or deduction -> (think, effort). The rule was
#: written before any CV with MMLU ran: mathematics, statistics and physics problem subjects are derived;
#: elementary school level is one or two steps (low), high school medium, college and abstract algebra high.
_MMLU_DERIVED = {
    "elementary_mathematics": "low",
    "high_school_mathematics": "medium",
    "high_school_statistics": "medium",
    "high_school_physics": "medium",
    "college_mathematics": "high",
    "abstract_algebra": "high",
    "college_physics": "high",
}
#: Subjects that mix calculation with recall (a chemistry question may be a stoichiometry problem or a
#: definition; formal logic mixes symbolisation with validity checks): not used, as the label would be wrong
#: for part of them.
_MMLU_MIXED = {
    "formal_logic", "college_chemistry", "high_school_chemistry", "college_computer_science",
    "high_school_computer_science", "machine_learning", "econometrics", "electrical_engineering",
    "astronomy", "professional_accounting", "high_school_macroeconomics", "high_school_microeconomics",
    "conceptual_physics",
}  # fmt: skip


def mmlu() -> Iterator[Item]:
    # MMLU (Hendrycks et al., MIT; the test CSVs as copied into that repository): four-option questions in
    # 57 subjects. Label by subject (tables above): derived subjects think with the subject's level (20 per
    # subject); every other subject is recall of knowledge, false/none (4 per subject): the same multiple
    # choice format on both sides, so the content, not the layout, decides.
    for path in ls(MMLU, "data/mmlu/test/"):
        subject = path.rsplit("/", 1)[1].removesuffix("_test.csv")
        if subject in _MMLU_MIXED:
            continue
        rows = list(csv.reader(io.StringIO(show(MMLU, path).decode("utf-8"))))[1:]
        derived = subject in _MMLU_DERIVED
        for i, r in enumerate(_sample(rows, 20 if derived else 4, f"mmlu/{subject}")):
            text = f"{r[0].strip()}\n{_letters(c.strip() for c in r[1:5])}"
            if i % 2:
                text += "\nAnswer with the letter of the correct option."
            effort = _MMLU_DERIVED.get(subject, "none")
            yield Item(text, "mmlu", subject, derived, effort, "choice_qa")


def shared(path: Path) -> Iterator[Item]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        source, category = r["source"], r.get("category", "")
        key = f"{source}/{category.split('/')[0].split('_')[0]}" if source == "tot" else source
        yield Item(r["prompt"], source, category, bool(r["think"]), r["effort"], SHARED_FAMILY[key])
