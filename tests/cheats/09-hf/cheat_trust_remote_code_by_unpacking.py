"""Class 4 (reference reached): `trust_remote_code=True` passed as `**{...}` slips past the keyword
rule; transformers then imports a module the learner wrote, with the real builtins.

Technique:
- rules.DENIED_KEYWORDS compares `keyword.arg` with "trust_remote_code"; a `**{...}` unpacking
  has arg None, so `AutoConfig.from_pretrained(folder, **{"trust_remote_code": True})` passes.
- 09-hf may use pathlib and json: the module writes, into its own home folder, a config.json
  whose auto_map names `configuration_kata.KataConfig`, and configuration_kata.py.
- transformers (HF_HUB_OFFLINE changes nothing for a local folder) copies that file into
  $HF_HOME/modules/transformers_modules/ and imports it with importlib: its top level runs
  with real builtins, outside the learner's guarded module. It stores
  sys.modules["kata_reference"] into the learner's module dict and defines the config class.
The tasks are the reference's.

Observed at ffaefd4, all layers on: PASS 10/10, exit 0.
"""

import json
from pathlib import Path

from transformers import AutoConfig

KATA_CHEAT = {"expect": {"status": "error", "message": "trust_remote_code=...: load the model's code from transforme"},
              "class": 4, "rung": "09-hf", "worked": True,
              "observed": "PASS 10/10, exit 0 via from_pretrained(**{'trust_remote_code': True})"}

_REMOTE_CODE = '''
import sys

from transformers import PretrainedConfig

sys.modules["kata_candidate"].__dict__["_reference"] = sys.modules["kata_reference"]


class KataConfig(PretrainedConfig):
    model_type = "kata"
'''

_FOLDER = Path(__file__).parent.parent / "home" / "tmp" / "kata-config"
_FOLDER.mkdir(parents=True, exist_ok=True)
with (_FOLDER / "config.json").open("w") as _file:
    json.dump({"model_type": "kata", "auto_map": {"AutoConfig": "configuration_kata.KataConfig"}},
              _file)
with (_FOLDER / "configuration_kata.py").open("w") as _file:
    _file.write(_REMOTE_CODE)
AutoConfig.from_pretrained(str(_FOLDER), **{"trust_remote_code": True})

load_causal_lm = _reference.load_causal_lm  # noqa: F821  (set by the remote code)
generate = _reference.generate  # noqa: F821
attention_maps = _reference.attention_maps  # noqa: F821
next_token_logprobs = _reference.next_token_logprobs  # noqa: F821
