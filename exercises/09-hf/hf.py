"""09-hf: load a Hugging Face causal language model, generate with it and look inside it.

Most models you will use come from the Hugging Face Hub through `transformers`. This rung is the
everyday toolkit for them: load a model and its tokenizer, turn a prompt into text, read the
attention weights, and get the model's next-token distribution as log-probabilities. Everything
works from a local directory (what `save_pretrained` writes); nothing here needs the network.

1. load_causal_lm(path) -> (model, tokenizer)
   Load both from the local directory `path` with the Auto classes:
   AutoModelForCausalLM.from_pretrained and AutoTokenizer.from_pretrained. Two requirements:
   - the model is in eval mode: dropout off, so the same input always gives the same logits.
     model.training is False for the model and every submodule.
   - the model computes attention the "eager" way (attn_implementation="eager"). The default,
     "sdpa", calls a fused kernel that never materialises the attention weights, so a model
     loaded that way has no attention maps to give back (task 3).
   Return the pair in that order: (model, tokenizer).

2. generate(model, tokenizer, prompt, max_new_tokens, greedy=True) -> str
   Continue the text `prompt` by at most max_new_tokens tokens and return ONLY the new text:
   the continuation, without the prompt, decoded with skip_special_tokens=True.
   - greedy=True: pick the most likely token at every step (model.generate(...,
     do_sample=False)); the result is the same on every call.
   - greedy=False: sample each token from the model's distribution (do_sample=True, with the
     model's generation defaults); the global torch RNG decides, so torch.manual_seed makes it
     repeatable. Don't reseed inside.
   - Generation stops after max_new_tokens new tokens, or earlier when the model emits its
     end-of-text token (tokenizer.eos_token); that token is not part of the returned text.
   Mind the two length settings: max_new_tokens counts new tokens, max_length counts the prompt
   too. The prompt is a single string; max_new_tokens >= 1. The result is one text, even for a
   model whose generation defaults (model.generation_config) ask for several sequences: ask
   model.generate for one (num_return_sequences=1).

3. attention_maps(model, input_ids) -> tuple of tensors
   The attention weights of every layer for input_ids (B, T) (no padding): a tuple with one
   (B, H, T, T) tensor per layer, first layer first, H = number of heads. Entry [b, h, i, j] is
   how much query position i attends to key position j, so every row sums to 1 and, the model
   being causal, everything above the diagonal (j > i) is 0. Ask the model for them with
   output_attentions=True (the model is loaded as load_causal_lm loads it: eager attention).

4. next_token_logprobs(model, input_ids, attention_mask=None) -> Tensor (B, V)
   log p(next token | the tokens so far) for each row: the logits at the LAST position,
   through log_softmax over the vocabulary (V = the model's vocabulary size). Each row's
   logsumexp is 0.
   Batches of prompts of different lengths come left-padded, as generation pads them: the
   tokenizer with padding_side="left" puts the pads first and attention_mask (B, T) marks the
   real tokens with 1, so the last column holds every row's last real token. Each row's result
   must equal what the row alone, without padding, gives. Two things make that true: pass
   attention_mask to the model (pads are not attended to), and pass position_ids that start at
   0 at each row's first real token (attention_mask.cumsum(-1) - 1, pads set to 0; a plain
   forward numbers positions from the first column, pads included, which shifts every
   position of a padded row; generate() builds position_ids this way too).
   attention_mask=None means no padding.

   Tasks 3 and 4 only read the model: run it under torch.no_grad() (or inference_mode), so the
   tensors you return carry no autograd graph.

Worked example: a tiny random GPT-2 and a word-level tokenizer, saved and loaded like any model.

    >>> import tempfile, torch
    >>> from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    >>> from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    >>> words = ["<|endoftext|>", "the", "cat", "sat", "on", "mat"]
    >>> backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, "<|endoftext|>"))
    >>> backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    >>> backend.decoder = decoders.WordPiece()  # joins words with spaces
    >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>")
    >>> _ = torch.manual_seed(0)
    >>> config = GPT2Config(vocab_size=6, n_positions=16, n_embd=8, n_layer=2, n_head=2,
    ...                     bos_token_id=0, eos_token_id=0)
    >>> path = tempfile.mkdtemp()
    >>> GPT2LMHeadModel(config).save_pretrained(path)
    >>> _ = tokenizer.save_pretrained(path)  # returns the files it wrote
    >>> model, tokenizer = load_causal_lm(path)
    >>> model.training, model.config._attn_implementation
    (False, 'eager')
    >>> ids = tokenizer("the cat sat", return_tensors="pt").input_ids
    >>> ids
    tensor([[1, 2, 3]])
    >>> maps = attention_maps(model, ids)
    >>> len(maps), maps[0].shape
    (2, torch.Size([1, 2, 3, 3]))
    >>> maps[0][0, 0, 0]  # the first token can only attend to itself
    tensor([1., 0., 0.])
    >>> logp = next_token_logprobs(model, ids)
    >>> logp.shape, round(float(logp.logsumexp(-1)), 6)
    (torch.Size([1, 6]), 0.0)
    >>> text = generate(model, tokenizer, "the cat", max_new_tokens=3)
    >>> isinstance(text, str) and len(text.split()) <= 3
    True

Rules: local files only: no hub ids, no downloads (the grader runs offline). Use the model's own
forward and generate(); don't reimplement GPT-2. Leave the inputs unchanged.

Check your work with `./kata check 09-hf` (it needs the hf extra); stuck? see the hints in
README.md (or `./kata hint 09-hf`).
"""

from __future__ import annotations

import torch
from torch import Tensor
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)


def load_causal_lm(path: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load (model, tokenizer) from the local directory `path`: eval mode, eager attention."""
    # TODO(09-hf): the Auto classes with attn_implementation="eager"; model.eval(); return the pair.
    raise NotImplementedError("09-hf: load_causal_lm")


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    max_new_tokens: int,
    greedy: bool = True,
) -> str:
    """Continue `prompt` by at most max_new_tokens tokens; return only the new text."""
    # TODO(09-hf): tokenize, model.generate(max_new_tokens=..., do_sample=...), decode the new ids.
    raise NotImplementedError("09-hf: generate")


def attention_maps(model: PreTrainedModel, input_ids: Tensor) -> tuple[Tensor, ...]:
    """Return one (B, H, T, T) attention-weight tensor per layer for input_ids (B, T)."""
    # TODO(09-hf): a forward under no_grad with output_attentions=True; every layer's weights.
    raise NotImplementedError("09-hf: attention_maps")


def next_token_logprobs(
    model: PreTrainedModel, input_ids: Tensor, attention_mask: Tensor | None = None
) -> Tensor:
    """Return log p(next token) at the last position of each row of input_ids (B, T): (B, V).

    attention_mask (B, T), when given, marks real tokens with 1 and left padding with 0.
    """
    # TODO(09-hf): forward with attention_mask and position_ids; log_softmax of the last logits.
    raise NotImplementedError("09-hf: next_token_logprobs")
