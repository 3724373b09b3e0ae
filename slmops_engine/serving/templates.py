"""Prompt templates for Foundry Local: derived from the model's own chat template, editable by the operator.

Foundry Local's `inference_model.json` describes a prompt with four pieces (system / user / assistant / prompt),
each holding `{Content}` where the message goes. They are derived by rendering the model's chat template with a
marker in place of each message, so every model family (ChatML, Llama 3, Phi ...) gets its own exact pieces.
Foundry Local 2.x builds prompts from the model's chat template, so an edited template is also written back as
a chat template (`to_chat_template`): the operator's edit is what the model sees.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError

ROLES = ("system", "user", "assistant", "prompt")
CONTENT = "{Content}"
_MARK = "\u241fCONTENT\u241f"
PLAIN = {
    "system": "{Content}\n\n",
    "user": "User: {Content}\n",
    "assistant": "Assistant: {Content}\n",
    "prompt": "User: {Content}\nAssistant:",
}


def read_chat_template(model_dir: Path) -> tuple[str | None, dict]:
    """The model's chat template (chat_template.jinja or tokenizer_config.json) and its special tokens."""
    cfg_path = model_dir / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    template = cfg.get("chat_template")
    if isinstance(template, list):  # several named templates: the default one
        template = next((t["template"] for t in template if t.get("name") == "default"), None)
    jinja = model_dir / "chat_template.jinja"
    if jinja.exists():
        template = jinja.read_text()
    tokens = {k: _token(cfg.get(k)) for k in ("bos_token", "eos_token")}
    return template, tokens


def _token(v) -> str:
    return v.get("content", "") if isinstance(v, dict) else (v or "")


def _render(template: str, tokens: dict, messages: list[dict], generation: bool = False) -> str:
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def fail(msg):
        raise TemplateError(msg)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = fail
    return env.from_string(template).render(messages=messages, add_generation_prompt=generation, **tokens)


def _after(full: str, prefix: str) -> str:
    if not full.startswith(prefix):
        raise ConfigError("The chat template does not build prompts turn by turn", "Edit the template by hand.")
    return full[len(prefix) :]


def derive(model_dir: Path) -> dict[str, str]:
    """The four pieces for this model; a plain 'User: / Assistant:' template when it has no chat template."""
    template, tokens = read_chat_template(model_dir)
    if not template:
        return dict(PLAIN)
    tokens = tokens | {"bos_token": ""}  # the runtime adds the BOS token itself, not the template's pieces
    from jinja2.exceptions import TemplateError

    def msg(role: str) -> dict:
        return {"role": role, "content": _MARK}

    try:
        system = _render(template, tokens, [msg("system")])
        with_user = _render(template, tokens, [msg("system"), msg("user")])
        with_answer = _render(template, tokens, [msg("system"), msg("user"), msg("assistant")])
        asked = _render(template, tokens, [msg("system"), msg("user")], generation=True)
    except TemplateError as exc:
        raise ConfigError(f"The model's chat template cannot be rendered: {exc}", "Edit the template by hand.") from exc
    pieces = {
        "system": system,
        "user": _after(with_user, system),
        "assistant": _after(with_answer, with_user),
        "prompt": _after(asked, system),
    }
    return {k: v.replace(_MARK, CONTENT) for k, v in pieces.items()}


def validate(pieces: dict[str, str]) -> dict[str, str]:
    """The four pieces, each with exactly one {Content}."""
    missing = [r for r in ROLES if r not in pieces]
    if missing:
        raise ConfigError(
            f"The prompt template lacks {', '.join(missing)}", "Give all four: system, user, assistant, prompt."
        )
    bad = [r for r in ROLES if pieces[r].count(CONTENT) != 1]
    if bad:
        raise ConfigError(
            f"Each part of the prompt template needs {CONTENT} exactly once ({', '.join(bad)} do not)",
            f"{CONTENT} marks where the message goes.",
        )
    return {r: pieces[r] for r in ROLES}


def to_chat_template(pieces: dict[str, str]) -> str:
    """A chat template (Jinja) that builds exactly the prompts these pieces describe."""
    pieces = validate(pieces)

    def around(role: str) -> str:
        pre, post = pieces[role].split(CONTENT)
        return f"{{{{ {json.dumps(pre)} }}}}{{{{ message['content'] }}}}{{{{ {json.dumps(post)} }}}}"

    return (
        "{%- for message in messages -%}"
        "{%- if loop.last and message['role'] == 'user' and add_generation_prompt -%}" + around("prompt") + ""
        "{%- elif message['role'] == 'system' -%}" + around("system") + ""
        "{%- elif message['role'] == 'assistant' -%}" + around("assistant") + ""
        "{%- else -%}" + around("user") + "{%- endif -%}"
        "{%- endfor -%}"
    )


def render(pieces: dict[str, str], messages: list[dict]) -> str:
    """The prompt these pieces build for a conversation that awaits the assistant's answer (shown in the UI)."""
    return _render(to_chat_template(pieces), {}, messages, generation=True)
