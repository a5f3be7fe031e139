"""Class 1: the training check wants the last losses below a bound and six evaluations; return
a made-up falling history without training at all, and tokens seen computed from the loader.

No stdlib or grader is touched: this is the plain lie a learner might try against a check that
only looked at the reported numbers. The spec also compares the losses and the final weights
with the reference's run and watches every optimizer step, so the lie earns nothing.

Against the rung's first spec it passed the loss-bound check, which read only the reported
losses; that check now also measures the trained model's validation loss itself.
"""

KATA_CHEAT = {"expect": {"status": "fail", "message": "must come from the model it trains"},
              "class": 1, "rung": "14-pretraining", "worked": True,
              "observed": "the first version of the spec passed the loss-bound check (it read only the reported losses); now every train_model_simple check fails"}


def train_model_simple(model, train_loader, val_loader, optimizer, device, num_epochs,
                       eval_freq, eval_iter, start_context=None, tokenizer=None):
    steps = num_epochs * len(train_loader)
    evaluated = [s for s in range(steps) if s % eval_freq == 0]
    first = next(iter(train_loader))[0]
    per_step = first.numel()
    train_losses = [7.0 - 1.5 * s / max(steps, 1) for s in evaluated]
    val_losses = [loss + 0.1 for loss in train_losses]
    return train_losses, val_losses, [per_step * (s + 1) for s in evaluated]


def _todo(name):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"14-pretraining: {name}")
    return stub


text_to_token_ids = _todo("text_to_token_ids")
token_ids_to_text = _todo("token_ids_to_text")
split_text = _todo("split_text")
create_dataloader = _todo("create_dataloader")
calc_loss_batch = _todo("calc_loss_batch")
calc_loss_loader = _todo("calc_loss_loader")
evaluate_model = _todo("evaluate_model")
perplexity = _todo("perplexity")
