"""Spec for 09-hf: load_causal_lm, generate, attention_maps and next_token_logprobs.

Run by `./kata check 09-hf`; needs the `hf` extra (transformers and tokenizers). Nothing here
touches the network: the spec trains a tiny byte-level BPE tokenizer on a few lines of text,
builds a tiny GPT-2 (2 layers, 2 heads, 32 dims) with weights drawn from fixed seeds, and saves
both with save_pretrained into a temporary directory that the learner loads from. The weights
are large enough that greedy generation wanders through many tokens, and the end-of-text token's
embedding is scaled up so that some prompts end early and others never do.

The learner's load_causal_lm is checked on its own. The other three tasks get a copy of a model
the spec loaded itself (eager attention, eval mode), so one task's mistake never fails another,
and the spec's own copy, which learner code never sees, computes every expected value. Truth is
the model itself: its generate(do_sample=False), its output_attentions, its logits. Values go
through the harness's error-ratio rule, with a float64 copy of the model as the exact answer.

Every check fails with a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch import Tensor, nn
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)
from transformers.utils import logging as hf_logging

from grader.harness import Mistake, assert_matches
from grader.strategies import randn, seeds

pytestmark = pytest.mark.rung("09-hf")

LOAD = "load_causal_lm"
GENERATE = "generate"
MAPS = "attention_maps"
LOGPROBS = "next_token_logprobs"

# Row sums of attention weights and logsumexps of log-probabilities are float32 results that
# correct code reaches by different routes (softmax, exp of log_softmax, a cached decode step):
# float32 rounding over a few dozen terms separates them, never more.
FLOAT32_ROUNDING = 1e-5

hf_logging.set_verbosity_error()  # no "Setting pad_token_id" chatter in the learner's report
hf_logging.disable_progress_bar()

# --- the tiny world: a tokenizer and a GPT-2 built here, saved, loaded from disk -----------------

CORPUS = """the cat sat on the mat and the dog sat on the log.
a small bird sang in a tall tree while the old fox slept under the red barn.
she read the book by the warm fire, then we walked to the river and back.
one two three four five six seven eight nine ten.
is it true that the quick brown fox jumps over the lazy dog? yes, it is!
"""
WORDS = sorted(set(CORPUS.replace(",", " ").replace(".", " ").replace("?", " ")
                   .replace("!", " ").split()))
EOS = "<|endoftext|>"
VOCAB_SIZE = 128
N_LAYER, N_HEAD, N_EMBD, N_POSITIONS = 2, 2, 32, 64
WEIGHT_SEED = 1000
WEIGHT_SCALE = 0.3  # N(0, 0.3²) weights: greedy output varies, sampling has entropy to spare
EOS_BOOST = 2.0  # a longer end-of-text embedding, so its logit sometimes wins


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE (GPT-2's scheme) trained on CORPUS; id 0 is the end-of-text token."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=[EOS],
                                  show_progress=False)
    backend.train_from_iterator([CORPUS], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS)


def build_model(vocab_size: int, eos_id: int) -> GPT2LMHeadModel:
    """A 2-layer GPT-2 with dropout 0.1 (the default) and seeded N(0, WEIGHT_SCALE²) weights."""
    config = GPT2Config(vocab_size=vocab_size, n_positions=N_POSITIONS, n_embd=N_EMBD,
                        n_layer=N_LAYER, n_head=N_HEAD, bos_token_id=eos_id, eos_token_id=eos_id)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():
        for i, (name, param) in enumerate(sorted(model.named_parameters())):
            if ".ln_" not in name and not name.startswith("transformer.ln_f"):  # norms: 1 and 0
                param.copy_(randn(tuple(param.shape), WEIGHT_SEED + i, torch.float32,
                                  scale=WEIGHT_SCALE))
        model.transformer.wte.weight[eos_id] *= EOS_BOOST  # tied: also the output row
    return model.eval()


class World:
    """The saved directory, and the spec's own loaded copy of what it holds."""

    def __init__(self, path: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 device: torch.device) -> None:
        self.path = path
        self.model = model  # eager attention, eval mode; learner code never sees this object
        self.tokenizer = tokenizer
        self.device = device

    @property
    def eos_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)

    def __repr__(self) -> str:  # how a Hypothesis failure shows the fixture
        return f"World(tiny GPT-2 saved in {self.path})"

    def model_copy(self) -> PreTrainedModel:
        """A private copy for learner code, which may change what it is given."""
        return copy.deepcopy(self.model)

    def tokenizer_copy(self) -> PreTrainedTokenizerBase:
        return copy.deepcopy(self.tokenizer)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text)["input_ids"])

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)

    def greedy_ids(self, prompt: str, max_new_tokens: int) -> list[int]:
        """The new token ids of the model's own greedy generate(), end-of-text included."""
        encoded = self.tokenizer(prompt, return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self.model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                                      pad_token_id=self.eos_id)
        return out[0, encoded["input_ids"].shape[1]:].tolist()

    def greedy_ids_past_eos(self, prompt: str, max_new_tokens: int) -> list[int]:
        """What a hand-written argmax loop that never checks for end-of-text produces."""
        ids = torch.tensor([self.encode(prompt)], device=self.device)
        with torch.no_grad():
            for _ in range(max_new_tokens):
                ids = torch.cat([ids, self.model(ids).logits[:, -1].argmax(-1, keepdim=True)], 1)
        return ids[0, len(self.encode(prompt)):].tolist()


@pytest.fixture(scope="session")
def saved_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model and tokenizer, written by save_pretrained into a fresh directory."""
    path = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer = build_tokenizer()
    build_model(len(tokenizer), int(tokenizer.eos_token_id)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def world(saved_dir: Path, device: torch.device) -> World:
    model = AutoModelForCausalLM.from_pretrained(saved_dir, attn_implementation="eager",
                                                 local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(saved_dir, local_files_only=True)
    return World(saved_dir, model.to(device).eval(), tokenizer, device)


class Bound(nn.Module):
    """fn(model, *args) as a module, so that the harness's float64 run of it (a float64 deep
    copy of the module) runs a float64 copy of the model: the exact answer float32 is held to."""

    def __init__(self, fn: Callable[..., Any], model: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        self.model = model

    def forward(self, *args: Any) -> Any:
        return self.fn(self.model, *args)


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


def kind(value: Any) -> str:
    """A value's type in words, with shape and dtype for a tensor."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} ({value.dtype})"
    if value is None:
        return "None"
    if isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__} {value!r}"[:200]
    if isinstance(value, (tuple, list)) and not value:
        return f"an empty {type(value).__name__}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}: " + ", ".join(
            kind(item) for item in value[:4]) + (", ..." if len(value) > 4 else "")
    return f"a {type(value).__module__}.{type(value).__name__}"


def modules_in_train_mode(model: nn.Module) -> list[str]:
    return [name or "(the model itself)" for name, m in model.named_modules() if m.training]


def model_settings(model: PreTrainedModel) -> dict[str, Any]:
    """What a task that only uses a model must leave as it was: its config, generation config,
    attention implementation, modes, and every parameter and buffer (values and flags)."""
    settings: dict[str, Any] = {
        f"model.config.{key}": repr(value) for key, value in model.config.to_dict().items()}
    settings["model.config._attn_implementation"] = repr(
        getattr(model.config, "_attn_implementation", None))
    generation = getattr(model, "generation_config", None)
    if generation is not None:
        settings.update({f"model.generation_config.{key}": repr(value)
                         for key, value in generation.to_dict().items()})
    settings.update({f"{name or 'model'}.training": m.training
                     for name, m in model.named_modules()})
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        settings[f"{name} (requires_grad)"] = tensor.requires_grad
        settings[name] = tensor.detach().clone()
    return settings


def require_model_unchanged(call: str, before: dict[str, Any], model: PreTrainedModel) -> None:
    """Fail naming the first settings the call changed on the model it was handed."""
    after = model_settings(model)
    changed = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key, "(absent)"), after.get(key, "(absent)")
        same = (torch.equal(old, new) if isinstance(old, Tensor) and isinstance(new, Tensor)
                and old.shape == new.shape and old.dtype == new.dtype else
                not isinstance(old, Tensor) and not isinstance(new, Tensor) and old == new)
        if not same:
            changed.append(key if isinstance(old, Tensor) or isinstance(new, Tensor)
                           else f"{key}: {old} -> {new}")
    require(not changed, (
        f"{call} changed the model it was given: {'; '.join(changed[:3])}"
        f"{f' (and {len(changed) - 3} more)' if len(changed) > 3 else ''}. The caller's model "
        "is theirs: pass settings as arguments of this one call (model.generate(..., "
        "pad_token_id=...), model(..., output_attentions=True)) instead of writing them into "
        "model.config or model.generation_config, and don't change its mode or weights"))


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchCase:
    """A batch of random token ids: rows of equal length, or of different lengths left-padded."""

    lengths: tuple[int, ...]
    padded: bool
    seed: int
    eos_at: tuple[int, ...] = ()  # columns (from the row's first real token) holding end-of-text

    def tensors(self, world: World) -> tuple[Tensor, Tensor | None]:
        """input_ids (B, T) and, for a padded batch, attention_mask (B, T) (1 = real token)."""
        lengths = self.lengths if self.padded else (self.lengths[0],) * len(self.lengths)
        T = max(lengths)
        gen = torch.Generator().manual_seed(self.seed)
        ids = torch.randint(1, world.vocab_size, (len(lengths), T), generator=gen)  # (B, T)
        mask = (torch.arange(T) >= T - torch.tensor(lengths)[:, None]).long()  # pads first
        ids = ids.masked_fill(mask == 0, world.eos_id)  # pad with end-of-text, as GPT-2 does
        for b, length in enumerate(lengths):  # end-of-text as a real token: a document boundary
            for j in self.eos_at:
                if j < length:
                    ids[b, T - length + j] = world.eos_id
        return ids.to(world.device), (mask.to(world.device) if self.padded else None)

    @property
    def T(self) -> int:  # noqa: N802 (the sequence length, named as everywhere else)
        return max(self.lengths) if self.padded else self.lengths[0]

    def describe(self) -> str:
        B, T = len(self.lengths), self.T
        eos = (f", end-of-text (id 0) as a real token at column {list(self.eos_at)} of each row"
               if self.eos_at else "")
        if not self.padded:
            return f"input_ids of shape ({B}, {self.lengths[0]}){eos}"
        return (f"input_ids of shape ({B}, {T}) left-padded, with attention_mask ({B}, {T}) "
                f"(row lengths {list(self.lengths)}){eos}")


@st.composite
def batch_cases(draw: st.DrawFn, padded: bool | None = None) -> BatchCase:
    lengths = tuple(draw(st.lists(st.integers(1, 8), min_size=1, max_size=3)))
    return BatchCase(lengths, draw(st.booleans()) if padded is None else padded, draw(seeds()))


TYPICAL_BATCH = BatchCase((5, 5), padded=False, seed=3)
PADDED_BATCH = BatchCase((6, 3, 1), padded=True, seed=4)
# End-of-text is an ordinary token between two documents: only attention_mask marks padding.
EOS_INSIDE_BATCH = BatchCase((7, 7), padded=False, seed=6, eos_at=(0, 3))
EOS_INSIDE_PADDED = BatchCase((7, 4), padded=True, seed=7, eos_at=(1,))


@st.composite
def prompts(draw: st.DrawFn) -> str:
    return " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)))


# A prompt whose greedy continuation never meets end-of-text within 12 tokens, and one whose
# continuation ends after a few (both checked against the model where they are used).
RUNS_ON = "a small bird"
ENDS_EARLY = "three four"


# --- load_causal_lm -----------------------------------------------------------------------------


def load(candidate: Any, world: World) -> tuple[Any, Any]:
    """The learner's (model, tokenizer), after checking that it is such a pair."""
    result = candidate.load_causal_lm(str(world.path))
    require(isinstance(result, (tuple, list)) and len(result) == 2, (
        f"load_causal_lm(path) returned {kind(result)}; return the pair (model, tokenizer)"))
    model, tokenizer = result
    if isinstance(model, PreTrainedTokenizerBase) and isinstance(tokenizer, nn.Module):
        raise AssertionError("load_causal_lm(path) returned (tokenizer, model); return them in "
                             "the order (model, tokenizer)")
    require(isinstance(model, PreTrainedModel), (
        f"load_causal_lm(path)[0] is {kind(model)}; expected the model, a transformers "
        "PreTrainedModel: AutoModelForCausalLM.from_pretrained(path, ...)"))
    require(model.get_output_embeddings() is not None, (
        f"load_causal_lm(path)[0] is {kind(model)}, a model without a language-model head: it "
        "returns hidden states, no logits, and cannot generate. AutoModel.from_pretrained loads "
        "the bare transformer; load AutoModelForCausalLM.from_pretrained(path, ...)"))
    require(isinstance(tokenizer, PreTrainedTokenizerBase), (
        f"load_causal_lm(path)[1] is {kind(tokenizer)}; expected a transformers tokenizer "
        "(a PreTrainedTokenizerBase): AutoTokenizer.from_pretrained(path). A raw "
        "tokenizers.Tokenizer has no eos_token, no batch padding and no return_tensors"))
    return model, tokenizer


@pytest.mark.task(LOAD, category="shape")
def test_load_causal_lm_returns_a_model_and_its_tokenizer(candidate, world):
    """The result is the pair (model, tokenizer): a PreTrainedModel and a transformers
    tokenizer, the model with the saved architecture and vocabulary size."""
    model, _ = load(candidate, world)
    got = (type(model.config).__name__, model.config.vocab_size, model.config.n_layer)
    want = ("GPT2Config", world.vocab_size, N_LAYER)
    require(got == want, f"load_causal_lm(path): the model's (config class, vocab_size, n_layer) "
                         f"is {got}; the directory holds {want}")


@pytest.mark.task(LOAD, category="values")
def test_load_causal_lm_loads_the_saved_weights(candidate, world):
    """In eval mode, the loaded model's logits are the saved model's logits."""
    model, _ = load(candidate, world)
    model = copy.deepcopy(model).to(world.device).eval()  # mode is checked elsewhere
    ids, _ = TYPICAL_BATCH.tensors(world)
    with torch.no_grad():
        got = model(input_ids=ids).logits
    try:
        assert_matches(got, Bound(lambda m, x: m(input_ids=x).logits, world.model), ids,
                       what=f"load_causal_lm(path): the loaded model's logits on "
                            f"{TYPICAL_BATCH.describe()} (dropout off)")
    except AssertionError as error:
        why = weights_mistake(model, world)
        raise AssertionError(f"{error}\n  Likely mistake: {why}") from None


def weights_mistake(model: nn.Module, world: World) -> str:
    """Why a loaded model's logits are not the saved model's: a dtype, or other weights."""
    dtypes = sorted({str(p.dtype).replace("torch.", "") for p in model.parameters()})
    if dtypes != ["float32"]:
        return (f"the weights are {', '.join(dtypes)}, not float32 as saved, so every logit is "
                "rounded: load them as they are (no dtype=/torch_dtype= argument, no .half() or "
                ".to(torch.bfloat16) afterwards)")
    saved = dict(world.model.named_parameters())
    differ = [name for name, p in model.named_parameters()
              if name in saved and not torch.equal(p.detach().cpu(), saved[name].detach().cpu())]
    if not differ:
        return ("the weights are the saved ones, yet the logits differ: something in the "
                "loaded model's configuration changes its forward")
    return (f"the weights are not the saved ones ({len(differ)} tensors differ, e.g. "
            f"{differ[0]}). AutoModelForCausalLM.from_config (or any model built from a config) "
            "starts from fresh random weights; from_pretrained(path) loads the saved ones.")


@pytest.mark.task(LOAD, category="values")
def test_load_causal_lm_loads_the_saved_tokenizer(candidate, world):
    """The tokenizer gives the saved tokenizer's ids, and knows its end-of-text token."""
    _, tokenizer = load(candidate, world)
    for text in ("the cat sat on the mat.", "is it true? yes, it is!", CORPUS):
        got, want = list(tokenizer(text)["input_ids"]), world.encode(text)
        require(got == want, (
            f"load_causal_lm(path): the tokenizer encodes {text[:40]!r} as {got[:12]}...; the "
            f"saved tokenizer gives {want[:12]}...: load it from the same directory with "
            "AutoTokenizer.from_pretrained(path)"))
    require(tokenizer.eos_token == EOS and tokenizer.eos_token_id == world.eos_id, (
        f"load_causal_lm(path): tokenizer.eos_token is {tokenizer.eos_token!r} (id "
        f"{tokenizer.eos_token_id}); the saved tokenizer's is {EOS!r} (id {world.eos_id})"))


@pytest.mark.task(LOAD, category="properties")
def test_load_causal_lm_returns_the_model_in_eval_mode(candidate, world):
    """model.training is False for the model and every submodule, and two forward passes of
    the same input under different seeds give the same logits (dropout is off)."""
    model, _ = load(candidate, world)
    training = modules_in_train_mode(model)
    require(not training, (
        f"load_causal_lm(path): {len(training)} modules are in train mode "
        f"({', '.join(training[:4])}{', ...' if len(training) > 4 else ''}), so dropout is on "
        "and the same prompt gives different logits each time. Call model.eval() before "
        "returning it (a model built from a config, or switched with model.train(), starts "
        "in train mode)"))
    ids, _ = TYPICAL_BATCH.tensors(world)
    model = model.to(world.device)
    outputs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        with torch.no_grad():
            outputs.append(model(input_ids=ids).logits)
    require(torch.equal(outputs[0], outputs[1]), (
        f"load_causal_lm(path): two forward passes on {TYPICAL_BATCH.describe()} gave logits "
        f"that differ by up to {float((outputs[0] - outputs[1]).abs().max()):.3g}, although "
        "model.training is False: something still applies dropout in eval mode"))


@pytest.mark.task(LOAD, category="properties")
def test_load_causal_lm_uses_eager_attention(candidate, world):
    """The model computes attention the eager way, so output_attentions=True returns one
    (B, H, T, T) map per layer (sdpa returns none)."""
    model, _ = load(candidate, world)
    ids, _ = TYPICAL_BATCH.tensors(world)
    with torch.no_grad():
        maps = model.to(world.device)(input_ids=ids, output_attentions=True).attentions
    implementation = getattr(model.config, "_attn_implementation", "?")
    require(isinstance(maps, (tuple, list)) and len(maps) == N_LAYER
            and all(isinstance(m, Tensor) for m in maps), (
        f"load_causal_lm(path): model(input_ids, output_attentions=True).attentions is "
        f"{kind(maps)}, not one map per layer ({N_LAYER}): the model computes attention with "
        f"{implementation!r}, a fused kernel that never forms the weights. Load it with "
        "AutoModelForCausalLM.from_pretrained(path, attn_implementation=\"eager\")"))


@pytest.mark.task(LOAD, category="properties")
def test_load_causal_lm_tokenizer_round_trips(candidate, world):
    """decode(encode(text)) gives the text back, for every text over the corpus's alphabet."""
    _, tokenizer = load(candidate, world)
    for text in ("the cat sat on the mat.", "  two  spaces, a comma\nand a new line!", CORPUS):
        ids = list(tokenizer(text)["input_ids"])
        back = tokenizer.decode(ids)
        require(back == text, (
            f"load_causal_lm(path): the tokenizer encodes {text[:40]!r} as {ids[:12]} and "
            f"decodes that to {back[:40]!r}; a byte-level BPE gives the text back exactly"))


# --- generate -----------------------------------------------------------------------------------


def explain_text(world: World, prompt: str, max_new_tokens: int, got: Any) -> str:
    """What the learner's text is, when it is a known wrong answer."""
    if not isinstance(got, str):
        return ""
    n = max_new_tokens
    ids = world.greedy_ids(prompt, n + 2)  # greedy is prefix-consistent: shorter runs are prefixes
    prompt_ids = world.encode(prompt)
    if got in (prompt + world.decode(ids[:n]), world.decode(prompt_ids + ids[:n])):
        return ("the prompt is included: return only the continuation, the tokens after the "
                "prompt's T tokens (output[0, T:]), decoded")
    if prompt_ids and got == world.decode(prompt_ids[-1:] + ids[:n]):
        return ("the slice starts one token early, at the prompt's last token: the T prompt "
                "tokens are output[0, :T], the new ones output[0, T:]")
    if n > 1 and got == world.decode(ids[1:n]):
        return ("the first new token is missing: the slice starts one token late; the new "
                "tokens are output[0, T:] with T the prompt's length")
    if got != world.decode(ids[:n]) and got == world.decode(ids[:n]).strip():
        return ("the text was stripped: the continuation's own leading (or trailing) spaces are "
                "part of it (a byte-level BPE token often starts with a space); return the decoded "
                "text as it is, without .strip()")
    if got == world.decode(ids[:n], skip_special_tokens=False):
        return (f"the end-of-text token {EOS!r} is in the text: decode with "
                "skip_special_tokens=True")
    past_eos = world.greedy_ids_past_eos(prompt, n)
    if past_eos != ids[:n] and got == world.decode(past_eos):
        return ("generation went on after the model emitted end-of-text: stop there (it is "
                "the model's answer that the text is over; model.generate stops by itself)")
    full = world.decode(ids[:n])
    for k in range(n + 3):
        # an empty text (k = 0) tells no count apart: a late slice, a wrong position, ... give it
        if k in (0, n) or world.decode(ids[:k]) == full or got != world.decode(ids[:k]):
            continue
        if k == n - len(prompt_ids):
            return (f"the text has {k} new tokens, not {n}: max_length counts the prompt's "
                    f"{len(prompt_ids)} tokens too; use max_new_tokens")
        if abs(k - n) == 1:
            return (f"the text is the first {k} tokens of the greedy continuation, not the "
                    f"first {n}: an off-by-one in the number of new tokens")
    return ("with greedy=True every step takes the most likely token (argmax of the last "
            "position's logits; do_sample=False): no sampling, no temperature, no top-k")


def check_generated(candidate: Any, world: World, prompt: str, max_new_tokens: int) -> None:
    got = candidate.generate(world.model_copy(), world.tokenizer_copy(), prompt, max_new_tokens)
    call = f"generate(model, tokenizer, {prompt!r}, max_new_tokens={max_new_tokens})"
    require(isinstance(got, str), f"{call} returned {kind(got)}; return the new text, a str")
    ids = world.greedy_ids(prompt, max_new_tokens)
    expected = world.decode(ids)
    if got != expected:
        at = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                  min(len(got), len(expected)))
        ended = " (it ended with end-of-text)" if world.eos_id in ids else ""
        raise AssertionError(
            f"{call} returned {got!r} ({len(got)} characters); expected {expected!r}, the text "
            f"of the {len(ids)} new tokens {ids} that the model's own "
            f"generate(do_sample=False) gives{ended}. "
            f"First difference at character {at}.\n  Likely mistake: "
            + explain_text(world, prompt, max_new_tokens, got) + ".")


@pytest.mark.task(GENERATE, category="shape")
def test_generate_returns_a_string(candidate, world):
    """The result is a str: the decoded continuation."""
    got = candidate.generate(world.model_copy(), world.tokenizer_copy(), RUNS_ON, 4)
    require(isinstance(got, str), (
        f"generate(model, tokenizer, {RUNS_ON!r}, max_new_tokens=4) returned {kind(got)}; "
        "return the new text as a str (tokenizer.decode of the new token ids)"))


@pytest.mark.task(GENERATE, category="values")
@pytest.mark.parametrize("max_new_tokens", [1, 5, 12])
def test_greedy_generation_is_the_models_own_greedy_continuation(candidate, world,
                                                                  max_new_tokens):
    """Greedy text equals model.generate(do_sample=False) decoded after the prompt, with
    exactly max_new_tokens new tokens when end-of-text does not come first."""
    ids = world.greedy_ids(RUNS_ON, 12)
    assert world.eos_id not in ids, "spec: RUNS_ON must not meet end-of-text in 12 tokens"
    check_generated(candidate, world, RUNS_ON, max_new_tokens)


@pytest.mark.task(GENERATE, category="values")
def test_greedy_generation_stops_at_end_of_text(candidate, world):
    """When the model emits end-of-text, the text ends there, and the token is not in it."""
    ids = world.greedy_ids(ENDS_EARLY, 12)
    assert world.eos_id in ids, "spec: ENDS_EARLY must meet end-of-text within 12 tokens"
    check_generated(candidate, world, ENDS_EARLY, 12)


# Generation defaults a saved model may carry (its generation_config.json): sample, and return
# several sequences per prompt. Greedy decoding cannot give several sequences without beams, so
# model.generate refuses them unless it is asked for one.
SEVERAL_SEQUENCES = {"do_sample": True, "num_return_sequences": 3}


@pytest.mark.task(GENERATE, category="values")
def test_generate_gives_one_text_when_the_defaults_ask_for_several(candidate, world):
    """A model whose generation defaults ask for 3 sampled sequences per prompt still gives
    one text, and greedy=True's is the model's own greedy continuation."""
    model = world.model_copy()
    model.generation_config.update(**SEVERAL_SEQUENCES)
    n = 6
    call = (f"generate(model, tokenizer, {RUNS_ON!r}, max_new_tokens={n}) on a model whose "
            f"generation_config says {SEVERAL_SEQUENCES}")
    try:
        got = candidate.generate(model, world.tokenizer_copy(), RUNS_ON, n)
    except ValueError as error:
        if "num_return_sequences" not in str(error):
            raise
        raise AssertionError(
            f"{call} raised ValueError: {error}\n  Likely mistake: the model's generation "
            "defaults ask for 3 sequences, which greedy decoding cannot give: ask "
            "model.generate for one text (num_return_sequences=1), whatever the defaults say"
        ) from None
    ids = world.greedy_ids(RUNS_ON, n)
    expected = world.decode(ids)
    require(got == expected, (
        f"{call} returned {kind(got)}; expected {expected!r}, the text of the {len(ids)} new "
        f"tokens {ids} that the model's own generate(do_sample=False, num_return_sequences=1) "
        "gives: greedy=True decodes greedily whatever the model's defaults say"))


# Defaults that ask for beam search, keeping the best 2 of 3 beams. What greedy=True gives for
# such a model is left open here (the model's own generate(do_sample=False) searches beams);
# that it gives one text is not.
BEAM_DEFAULTS = {"num_beams": 3, "num_return_sequences": 2}


@pytest.mark.task(GENERATE, category="properties")
def test_generate_gives_one_text_when_the_defaults_search_beams(candidate, world):
    """A model whose generation defaults keep 2 of 3 beams per prompt: generate returns one
    text, a str, without failing."""
    model = world.model_copy()
    model.generation_config.update(**BEAM_DEFAULTS)
    call = (f"generate(model, tokenizer, {RUNS_ON!r}, max_new_tokens=6) on a model whose "
            f"generation_config says {BEAM_DEFAULTS}")
    try:
        got = candidate.generate(model, world.tokenizer_copy(), RUNS_ON, 6)
    except NotImplementedError:  # the stub's: a todo, not a failure
        raise
    except (IndexError, RuntimeError) as error:
        said = str(error)[:300].rstrip(".")
        raise AssertionError(
            f"{call} raised {type(error).__name__}: {said}. Whatever the model's defaults ask, "
            "ask model.generate for exactly one sequence (num_return_sequences=1) and decode "
            "its new tokens") from None
    require(isinstance(got, str), f"{call} returned {kind(got)}; return the new text, a str")


@pytest.mark.task(GENERATE, category="values")
@given(prompt=prompts(), max_new_tokens=st.integers(1, 10))
@example(prompt="she read the", max_new_tokens=7)
def test_greedy_generation_matches_on_drawn_prompts(candidate, world, prompt, max_new_tokens):
    """The same on prompts of 1 to 4 corpus words and 1 to 10 new tokens."""
    check_generated(candidate, world, prompt, max_new_tokens)


@pytest.mark.task(GENERATE, category="properties")
def test_greedy_generation_does_not_depend_on_the_seed(candidate, world):
    """greedy=True never samples: the global RNG's state changes nothing."""
    texts = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        texts.append(candidate.generate(world.model_copy(), world.tokenizer_copy(), RUNS_ON, 8))
    require(len(set(map(repr, texts))) == 1, (
        f"generate(model, tokenizer, {RUNS_ON!r}, max_new_tokens=8, greedy=True) gave "
        f"{texts} under torch.manual_seed(1), (2) and (3): greedy decoding takes the argmax at "
        "every step and must not sample (do_sample=False)"))


@pytest.mark.task(GENERATE, category="properties")
def test_sampling_follows_the_global_seed(candidate, world):
    """greedy=False samples: different seeds give different texts, the same seed the same."""
    texts = []
    for seed in (0, 1, 2, 3, 0):
        torch.manual_seed(seed)
        texts.append(candidate.generate(world.model_copy(), world.tokenizer_copy(), RUNS_ON, 8,
                                        greedy=False))
    call = f"generate(model, tokenizer, {RUNS_ON!r}, max_new_tokens=8, greedy=False)"
    require(all(isinstance(text, str) for text in texts),
            f"{call} returned {kind(texts[0])}; return the new text, a str")
    require(len(set(texts[:4])) > 1, (
        f"{call} gave {texts[0]!r} under torch.manual_seed(0), (1), (2) and (3): with "
        "greedy=False it should sample each token (do_sample=True), so the seed changes the "
        "text" + (". It is the greedy text: the greedy flag is ignored"
                  if texts[0] == world.decode(world.greedy_ids(RUNS_ON, 8)) else
                  ". Don't reseed the RNG inside generate: the caller owns it")))
    require(texts[4] == texts[0], (
        f"{call} gave {texts[0]!r} and then {texts[4]!r} under the same torch.manual_seed(0): "
        "sampling must draw from torch's global RNG only, so that a seed makes it repeatable"))


@pytest.mark.task(GENERATE, category="properties")
@pytest.mark.parametrize("greedy", [True, False], ids=["greedy", "sampling"])
def test_generate_leaves_the_model_as_it_was(candidate, world, greedy):
    """The model's config, generation config, mode and weights are the same after the call."""
    model = world.model_copy()
    before = model_settings(model)
    torch.manual_seed(0)
    candidate.generate(model, world.tokenizer_copy(), RUNS_ON, 6, greedy=greedy)
    require_model_unchanged(f"generate(model, tokenizer, {RUNS_ON!r}, max_new_tokens=6, "
                            f"greedy={greedy})", before, model)


# --- attention_maps -----------------------------------------------------------------------------


def maps_of(candidate: Any, world: World, case: BatchCase) -> tuple[Tensor, ...]:
    """The learner's maps, after checking that they are one (B, H, T, T) float tensor a layer."""
    ids, _ = case.tensors(world)
    maps = candidate.attention_maps(world.model_copy(), ids)
    B, T = ids.shape
    call = f"attention_maps(model, {case.describe()})"
    want = f"a tuple of {N_LAYER} tensors (one per layer) of shape ({B}, {N_HEAD}, {T}, {T})"
    if maps is None or (isinstance(maps, (tuple, list)) and len(maps) == 0):
        raise AssertionError(
            f"{call} returned {kind(maps)}; expected {want}. The model gave no attention "
            "weights: pass output_attentions=True to the forward call, and keep the eager "
            "attention (sdpa never forms the weights, and returns none)")
    if isinstance(maps, Tensor):
        hint = ("only one layer's maps: return outputs.attentions, every layer's, not "
                "outputs.attentions[-1]" if maps.shape == (B, N_HEAD, T, T) else
                "return the layers as a tuple, not stacked into one tensor")
        raise AssertionError(f"{call} returned {kind(maps)}; expected {want}: {hint}")
    require(isinstance(maps, (tuple, list)), f"{call} returned {kind(maps)}; expected {want}")
    require(len(maps) == N_LAYER, (
        f"{call} returned {len(maps)} maps; expected {want}. The model has {N_LAYER} layers: "
        "return all of them (outputs.attentions), first layer first"
        + (", not only the last" if len(maps) == 1 else "")))
    for i, layer in enumerate(maps):
        require(isinstance(layer, Tensor),
                f"{call}: map {i} is {kind(layer)}; expected {want}")
        if layer.shape == (B, T, T):
            raise AssertionError(f"{call}: map {i} has shape {tuple(layer.shape)}; expected "
                                 f"{want}: keep the head axis, don't average over heads")
        require(tuple(layer.shape) == (B, N_HEAD, T, T) and layer.is_floating_point(), (
            f"{call}: map {i} is {kind(layer)}; expected {want}: (batch, heads, query "
            "position, key position)"))
    return tuple(maps)


@pytest.mark.task(MAPS, category="shape")
def test_attention_maps_are_one_batch_by_head_square_per_layer(candidate, world):
    """A tuple of n_layer tensors, each (B, H, T, T), float32 on the input's device."""
    maps = maps_of(candidate, world, TYPICAL_BATCH)
    for i, layer in enumerate(maps):
        require(layer.dtype == torch.float32 and layer.device == world.device, (
            f"attention_maps: map {i} is {layer.dtype} on {layer.device}; the model's own "
            f"maps are float32 on {world.device}"))


def layer_mistakes(world: World, i: int) -> tuple[Mistake, ...]:
    def own(ids: Tensor) -> tuple[Tensor, ...]:
        with torch.no_grad():
            return world.model(input_ids=ids, output_attentions=True).attentions

    def own_masked(ids: Tensor) -> tuple[Tensor, ...]:
        return eos_masked_forward(world, ids, output_attentions=True).attentions

    return (
        Mistake("the maps are transposed: entry [b, h, i, j] is query i's weight on key j "
                "(rows are queries), as the model returns them", lambda ids: own(ids)[i].mT),
        Mistake("the layers are in the wrong order: first layer first",
                lambda ids: own(ids)[N_LAYER - 1 - i]),
        Mistake(EOS_AS_PADDING, lambda ids: own_masked(ids)[i]),
    )


EOS_AS_PADDING = (
    "end-of-text tokens were masked out as if they were padding (an attention_mask built from "
    "input_ids != eos_token_id). End-of-text is a real token here, the boundary between two "
    "documents; without an attention_mask there is no padding, so every token is attended to")


def eos_masked_forward(world: World, ids: Tensor, **kwargs: Any) -> Any:
    """The spec model run with end-of-text tokens masked out, as if they were pads."""
    with torch.no_grad():
        return world.model(input_ids=ids, attention_mask=(ids != world.eos_id).long(), **kwargs)


@pytest.mark.task(MAPS, category="values")
@given(case=batch_cases(padded=False))
@example(case=TYPICAL_BATCH)
@example(case=BatchCase((9, 9, 9), padded=False, seed=5))
@example(case=EOS_INSIDE_BATCH)
def test_attention_maps_are_the_models_own(candidate, reference, world, case):
    """Every layer's map equals what the model returns with output_attentions=True."""
    maps = maps_of(candidate, world, case)
    ids, _ = case.tensors(world)
    for i, layer in enumerate(maps):
        assert_matches(layer, Bound(lambda m, x, i=i: reference.attention_maps(m, x)[i],
                                    world.model), ids,
                       what=f"attention_maps(model, {case.describe()}): layer {i}",
                       mistakes=layer_mistakes(world, i))


@pytest.mark.task(MAPS, category="properties")
@given(case=batch_cases(padded=False))
@example(case=TYPICAL_BATCH)
def test_attention_rows_are_distributions_over_the_past(candidate, world, case):
    """Every row sums to 1, and nothing above the diagonal: a query never sees a later key."""
    maps = maps_of(candidate, world, case)
    T = case.T
    future = torch.ones(T, T, dtype=torch.bool, device=world.device).triu(1)
    for i, layer in enumerate(maps):
        leak = layer.detach().abs().masked_fill(~future, 0)
        if bool((leak > 0).any()):
            at = tuple(int(j) for j in torch.unravel_index(leak.argmax(), leak.shape))
            raise AssertionError(
                f"attention_maps(model, {case.describe()}): layer {i} has weight "
                f"{float(layer[at]):.4g} at {at} (batch, head, query, key), above the diagonal: "
                "a query attending to a later key. The model is causal; rows are query "
                "positions and columns key positions (don't transpose)")
        sums = layer.detach().double().sum(-1)
        worst = (sums - 1).abs()
        at = tuple(int(j) for j in torch.unravel_index(worst.argmax(), worst.shape))
        require(float(worst.max()) <= FLOAT32_ROUNDING, (
            f"attention_maps(model, {case.describe()}): layer {i}, row {at} (batch, head, "
            f"query) sums to {float(sums[at]):.6g}, not 1. Each query's weights over the keys "
            "(the last axis) are a softmax: return the model's weights as they are"))


@pytest.mark.task(MAPS, category="properties")
def test_attention_maps_carry_no_graph(candidate, world):
    """The maps are plain results, computed under torch.no_grad(): they don't require grad."""
    maps = maps_of(candidate, world, TYPICAL_BATCH)
    require(not any(layer.requires_grad for layer in maps), (
        "attention_maps: the maps require grad, so each one keeps the whole forward graph "
        "alive: run the model under torch.no_grad() (or torch.inference_mode()), you are only "
        "reading it"))


@pytest.mark.task(MAPS, category="properties")
def test_attention_maps_leave_the_model_as_it_was(candidate, world):
    """Reading the maps changes nothing on the model: config, mode, weights."""
    model = world.model_copy()
    before = model_settings(model)
    ids, _ = TYPICAL_BATCH.tensors(world)
    candidate.attention_maps(model, ids)
    require_model_unchanged(f"attention_maps(model, {TYPICAL_BATCH.describe()})", before, model)


# --- next_token_logprobs ------------------------------------------------------------------------


def forward_logits(world: World, ids: Tensor, mask: Tensor | None, positions: bool) -> Tensor:
    """The spec model's logits (B, T, V), with or without position_ids counted from the mask."""
    kwargs: dict[str, Any] = {"attention_mask": mask}
    if positions and mask is not None:
        kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        return world.model(input_ids=ids, **kwargs).logits


def logprob_mistakes(world: World) -> tuple[Mistake, ...]:
    def last(ids: Tensor, mask: Tensor | None = None) -> Tensor:
        return forward_logits(world, ids, mask, True)[:, -1]

    return (
        Mistake("these are probabilities (softmax), not log-probabilities: use log_softmax",
                lambda ids, mask=None: last(ids, mask).softmax(-1)),
        Mistake("these are the raw logits: apply log_softmax over the vocabulary",
                lambda ids, mask=None: last(ids, mask)),
        Mistake("log_softmax ran over the batch axis: normalise over the vocabulary, dim=-1",
                lambda ids, mask=None: last(ids, mask).log_softmax(0)),
        Mistake("these are the log-probabilities at position 0, the first token; the next "
                "token follows the LAST position: logits[:, -1]",
                lambda ids, mask=None: forward_logits(world, ids, mask, True)[:, 0]
                .log_softmax(-1)),
        Mistake("attention_mask was not passed to the model, so real tokens attend to the "
                "pads", lambda ids, mask=None: forward_logits(world, ids, None, False)[:, -1]
                .log_softmax(-1)),
        Mistake("the positions of a left-padded row start at the pads: a forward numbers the "
                "columns 0..T-1 whatever the mask says. Pass position_ids = "
                "attention_mask.cumsum(-1) - 1 (pads set to 0), as generate() does",
                lambda ids, mask=None: forward_logits(world, ids, mask, False)[:, -1]
                .log_softmax(-1)),
        Mistake("the positions start at 1: attention_mask.cumsum(-1) counts the real tokens up "
                "to and including each one; the first real token is position 0, so subtract 1 "
                "(attention_mask.cumsum(-1) - 1, pads set to 0)",
                lambda ids, mask=None: positions_from_one(world, ids, mask)[:, -1]
                .log_softmax(-1)),
        Mistake("each row's result was read at column attention_mask.sum(-1) - 1, where RIGHT "
                "padding would put the last real token; the batches come left-padded, so every "
                "row's last real token is in the last column: logits[:, -1]",
                lambda ids, mask=None: right_padding_pick(world, ids, mask)),
        Mistake(EOS_AS_PADDING.replace("without an attention_mask", "with attention_mask=None"),
                lambda ids, mask=None: forward_logits(
                    world, ids, (ids != world.eos_id).long() if mask is None else mask,
                    True)[:, -1].log_softmax(-1)),
        Mistake("log(softmax(logits)) underflows: a token far less likely than the best gets "
                "probability 0.0 in float32 and log-probability -inf. log_softmax computes "
                "logits - logsumexp(logits) and stays finite",
                lambda ids, mask=None: last(ids, mask).softmax(-1).log()),
    )


def positions_from_one(world: World, ids: Tensor, mask: Tensor | None) -> Tensor:
    """Logits with position_ids = attention_mask.cumsum(-1), one too many everywhere."""
    mask = torch.ones_like(ids) if mask is None else mask
    with torch.no_grad():
        return world.model(input_ids=ids, attention_mask=mask,
                           position_ids=mask.long().cumsum(-1)).logits


def right_padding_pick(world: World, ids: Tensor, mask: Tensor | None) -> Tensor:
    """The log-probabilities at column attention_mask.sum(-1) - 1 of each row."""
    logits = forward_logits(world, ids, mask, True)
    last = (torch.ones_like(ids) if mask is None else mask).sum(-1) - 1  # (B,)
    return logits[torch.arange(ids.shape[0], device=ids.device), last].log_softmax(-1)


def logprobs_of(candidate: Any, world: World, case: BatchCase) -> tuple[Tensor, Tensor,
                                                                         Tensor | None]:
    ids, mask = case.tensors(world)
    if mask is None:
        got = candidate.next_token_logprobs(world.model_copy(), ids)
    else:
        got = candidate.next_token_logprobs(world.model_copy(), ids, mask)
    want = (ids.shape[0], world.vocab_size)
    if not isinstance(got, Tensor) or tuple(got.shape) != want:
        hint = (": that is every position's distribution; keep only the last position's, "
                "logits[:, -1, :]" if isinstance(got, Tensor) and got.dim() == 3 else "")
        raise AssertionError(f"next_token_logprobs(model, {case.describe()}) returned "
                             f"{kind(got)}; expected a tensor of shape (B, V) = {want}{hint}")
    return got, ids, mask


@pytest.mark.task(LOGPROBS, category="shape")
@pytest.mark.parametrize("case", [TYPICAL_BATCH, PADDED_BATCH], ids=["plain", "padded"])
def test_next_token_logprobs_is_batch_by_vocabulary(candidate, reference, world, case):
    """One row of V log-probabilities per sequence, float32, on the input's device."""
    got, ids, mask = logprobs_of(candidate, world, case)
    expected = Bound(reference.next_token_logprobs, world.model)(ids, mask)
    call = f"next_token_logprobs(model, {case.describe()})"
    require(got.dtype == expected.dtype and got.device == expected.device, (
        f"{call} returned {got.dtype} on {got.device}; expected {expected.dtype} on "
        f"{expected.device}, as the model's logits"))


@pytest.mark.task(LOGPROBS, category="values")
@given(case=batch_cases())
@example(case=TYPICAL_BATCH)
@example(case=PADDED_BATCH)
@example(case=EOS_INSIDE_BATCH)
@example(case=EOS_INSIDE_PADDED)
def test_next_token_logprobs_are_log_softmax_of_the_last_logits(candidate, reference, world,
                                                                  case):
    """Equal to log_softmax of the logits at the last position, padded batches included."""
    got, ids, mask = logprobs_of(candidate, world, case)
    assert_matches(got, Bound(reference.next_token_logprobs, world.model), ids, mask,
                   what=f"next_token_logprobs(model, {case.describe()})",
                   mistakes=logprob_mistakes(world))


@pytest.mark.task(LOGPROBS, category="properties")
@given(case=batch_cases(padded=False))
@example(case=TYPICAL_BATCH)
def test_next_token_logprobs_normalise(candidate, world, case):
    """Each row is a log-distribution: logsumexp over the vocabulary is 0."""
    got, _, _ = logprobs_of(candidate, world, case)
    lse = got.detach().double().logsumexp(-1)  # (B,)
    row = int((lse.abs()).argmax())
    require(float(lse.abs().max()) <= FLOAT32_ROUNDING, (
        f"next_token_logprobs(model, {case.describe()}): row {row} has logsumexp "
        f"{float(lse[row]):.6g} over the vocabulary; log-probabilities have logsumexp 0 (their "
        "exps sum to 1). Use log_softmax(logits, dim=-1), not softmax or the raw logits"))


@pytest.mark.task(LOGPROBS, category="properties")
@given(case=batch_cases(padded=True))
@example(case=PADDED_BATCH)
def test_padding_changes_no_row(candidate, reference, world, case):
    """Each row of a left-padded batch equals the row run alone, without padding."""
    got, ids, mask = logprobs_of(candidate, world, case)
    assert mask is not None
    for b, length in enumerate(case.lengths):
        alone = ids[b:b + 1, ids.shape[1] - length:]  # (1, length): the real tokens only
        assert_matches(got[b:b + 1], Bound(reference.next_token_logprobs, world.model), alone,
                       what=(f"next_token_logprobs(model, {case.describe()}): row {b} against "
                             f"the same {length} tokens alone, input_ids (1, {length})"),
                       mistakes=logprob_mistakes_for_row(world, ids, mask, b, got))


def logprob_mistakes_for_row(world: World, ids: Tensor, mask: Tensor, b: int, got: Tensor
                             ) -> tuple[Mistake, ...]:
    """The padded batch's mistakes, seen from one row (the comparison runs on the row alone),
    each named only when it also explains the whole batch `got`: on one row two mistakes can
    compute the same (a pad column read at position 0 is like any other pad column)."""

    def row_of(wrong: Any) -> Tensor | None:
        whole = (isinstance(wrong, Tensor) and wrong.shape == got.shape
                 and torch.allclose(got.detach().double().cpu(), wrong.double().cpu(),
                                    rtol=1e-4, atol=1e-6, equal_nan=True))
        return wrong[b:b + 1] if whole else None

    return tuple(Mistake(m.description, lambda alone, m=m: row_of(m.compute(ids, mask)))
                 for m in logprob_mistakes(world))


@pytest.mark.task(LOGPROBS, category="properties")
def test_next_token_logprobs_carry_no_graph(candidate, world):
    """The result is computed under torch.no_grad(): it does not require grad."""
    got, _, _ = logprobs_of(candidate, world, TYPICAL_BATCH)
    require(isinstance(got, Tensor) and not got.requires_grad, (
        "next_token_logprobs: the result requires grad, so it keeps the whole forward graph "
        "alive: run the model under torch.no_grad() (or torch.inference_mode()), you are only "
        "reading it"))


# A model whose final layer norm is scaled up: the same network, its logits spread over hundreds,
# so that many tokens have probabilities far below float32's smallest number (about 1e-45).
CONFIDENCE = 40.0


@pytest.mark.task(LOGPROBS, category="values")
@pytest.mark.parametrize("case", [TYPICAL_BATCH, PADDED_BATCH], ids=["plain", "padded"])
def test_next_token_logprobs_stay_finite_for_a_confident_model(candidate, reference, world,
                                                                case):
    """Log-probabilities of tokens the model all but rules out are large negative numbers,
    not -inf: equal to the reference on a model whose logits span hundreds."""
    confident = copy.deepcopy(world.model)
    with torch.no_grad():
        confident.transformer.ln_f.weight.mul_(CONFIDENCE)
    ids, mask = case.tensors(world)
    args = (ids,) if mask is None else (ids, mask)
    got = candidate.next_token_logprobs(copy.deepcopy(confident), *args)
    confident_world = World(world.path, confident, world.tokenizer, world.device)
    assert_matches(got, Bound(reference.next_token_logprobs, confident), *args,
                   what=(f"next_token_logprobs(model, {case.describe()}) on a confident model "
                         f"(the final layer norm's weight times {CONFIDENCE:g}: logits spread "
                         "over hundreds)"),
                   mistakes=logprob_mistakes(confident_world))


@pytest.mark.task(LOGPROBS, category="properties")
def test_next_token_logprobs_leave_the_model_as_it_was(candidate, world):
    """Reading the log-probabilities changes nothing on the model: config, mode, weights."""
    model = world.model_copy()
    before = model_settings(model)
    ids, mask = PADDED_BATCH.tensors(world)
    candidate.next_token_logprobs(model, ids, mask)
    require_model_unchanged(f"next_token_logprobs(model, {PADDED_BATCH.describe()})", before,
                            model)
