"""Write the bundled catalog of ZeroEval's 53 LLMs, priced from litellm's price table.

ZeroEval has no prices. Each LLM column is mapped by hand, in the table below, to the key of
litellm's ``model_prices_and_context_window_backup.json`` that prices it. Only the names are typed
here. Every price is read from the JSON, in USD per million tokens. The rule for choosing a key:

* closed models: the developer's own price, through its API key, or through a cloud that lists the
  same dated model (Vertex AI, Bedrock, Azure) where litellm no longer lists the developer's key;
* a column that names its provider (``@hyperbolic``, ``-fp8@together``): that provider;
* DeepSeek: its own API endpoints (``deepseek-chat``, ``deepseek-coder``), the ones ZeroEval called
  (``models.csv`` names them);
* other open-weights models: Fireworks AI. It is one host with one price schedule by size, and
  it lists nearly every open model here;
* a model litellm does not list, or lists without a price, takes a **proxy**: the closest listed
  model of the same parameter-count class, or for a closed model of undisclosed size the same
  family or tier. Its ``_price_sources`` entry says ``proxy: <key> (<why>)``, never silently.

The catalog's ``_price_sources`` maps each ``llm_id`` to ``litellm: <key>`` or ``proxy: <key>
(<why>)``. The catalog reader skips keys that begin with ``_``, so this provenance stays in the file
and does not reach :class:`~irtrouter.data.LLMSpec`. Profiles are short factual texts (developer,
release, size where public, open or closed weights, what the model is known for), written from
public model cards. They are embedded to place each LLM in ability space, so they say nothing
measured on this dataset.

    python benchmarks/zeroeval_catalog.py --litellm-json PATH [--out src/irtrouter/data/catalogs/zeroeval.json]

The output is deterministic: the same JSON gives the same file, byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "irtrouter" / "data" / "catalogs" / "zeroeval.json"
LITELLM_FILE = "model_prices_and_context_window_backup.json"
FW = "fireworks_ai/accounts/fireworks/models/"


class Entry(NamedTuple):
    llm_id: str
    key: str  # the litellm key whose price is used
    proxy: str | None  # why a proxy prices it; None when ``key`` is the model itself
    profile: str


_L31_405B = (
    "Llama 3.1 405B Instruct (July 2024), by Meta: the largest open-weights model of its time, a "
    "405-billion-parameter dense transformer with a 128k-token context, close to GPT-4o at reasoning, "
    "maths and coding"
)
_L31_70B = (
    "Llama 3.1 70B Instruct (July 2024), by Meta: a 70-billion-parameter open-weights model with a "
    "128k-token context, stronger than Llama 3 70B at reasoning, maths and tool use"
)

# In the column order of ZeroEval's scores.csv.
LLMS: tuple[Entry, ...] = (
    Entry(
        "Athene-70B",
        FW + "llama-v3-70b-instruct",
        "same size class: a Llama-3-70B-Instruct fine-tune; litellm does not list Athene",
        "Athene-70B (July 2024), by Nexusflow: a 70-billion-parameter open-weights chat model fine-tuned "
        "from Llama-3-70B-Instruct with reinforcement learning from human feedback; known for high "
        "Arena-Hard scores for an open model.",
    ),
    Entry(
        "claude-3-5-sonnet-20240620",
        "vertex_ai/claude-3-5-sonnet@20240620",
        None,
        "Claude 3.5 Sonnet (June 2024), by Anthropic: a proprietary model of undisclosed size that "
        "outperformed Claude 3 Opus; strong at coding, reasoning and following "
        "instructions, with a 200k-token context.",
    ),
    Entry(
        "claude-3-haiku-20240307",
        "vertex_ai/claude-3-haiku@20240307",
        None,
        "Claude 3 Haiku (March 2024), by Anthropic: the smallest, fastest and cheapest proprietary Claude 3 "
        "model (size undisclosed), with a 200k-token context; good at simple tasks, weaker at hard maths.",
    ),
    Entry(
        "claude-3-opus-20240229",
        "anthropic.claude-3-opus-20240229-v1:0",
        None,
        "Claude 3 Opus (March 2024), by Anthropic: the largest proprietary Claude 3 model (size "
        "undisclosed), strong at complex reasoning, analysis and writing; slow and expensive.",
    ),
    Entry(
        "deepseek-v2.5-0908",
        "deepseek/deepseek-chat",
        None,
        "DeepSeek-V2.5 (September 2024), by DeepSeek: an open-weights mixture-of-experts model with 236 "
        "billion total and 21 billion active parameters that merges DeepSeek-V2-Chat and "
        "DeepSeek-Coder-V2-Instruct; strong at code and maths, inexpensive.",
    ),
    Entry(
        "gemini-1.5-flash",
        "gemini/gemini-2.5-flash",
        "same tier: litellm lists no Gemini 1.5 or 2.0 model; the oldest Flash it lists",
        "Gemini 1.5 Flash (May 2024), by Google: a lightweight, fast proprietary multimodal model (size "
        "undisclosed) distilled from Gemini 1.5 Pro, with a context of up to 1M tokens; inexpensive.",
    ),
    Entry(
        "gemini-1.5-flash-exp-0827",
        "gemini/gemini-2.5-flash",
        "same tier: litellm lists no Gemini 1.5 or 2.0 model; the oldest Flash it lists",
        "Gemini 1.5 Flash experimental (August 27, 2024), by Google: a preview update of the proprietary "
        "Gemini 1.5 Flash with better reasoning and maths; fast and inexpensive.",
    ),
    Entry(
        "gemini-1.5-pro",
        "gemini/gemini-2.5-pro",
        "same tier: litellm lists no Gemini 1.5 or 2.0 model; the oldest Pro it lists",
        "Gemini 1.5 Pro (announced February 2024, generally available May 2024), by Google: a proprietary "
        "mixture-of-experts multimodal model (size undisclosed) with a context of up to 2M tokens; strong "
        "at long-document understanding and reasoning.",
    ),
    Entry(
        "gemma-2-27b-it",
        "gemini/gemini-gemma-2-27b-it",
        None,
        "Gemma 2 27B instruction-tuned (June 2024), by Google: a 27-billion-parameter open-weights model, "
        "competitive with larger open models of its time at chat and reasoning.",
    ),
    Entry(
        "gemma-2-2b-it",
        FW + "gemma-2b-it",
        "same size class: Gemma 1 2B; litellm does not list Gemma 2 2B",
        "Gemma 2 2B instruction-tuned (July 2024), by Google: a 2.6-billion-parameter open-weights model "
        "trained by distillation from larger Gemma models, made for on-device use; weak at multi-step maths.",
    ),
    Entry(
        "gemma-2-9b-it",
        FW + "gemma2-9b-it",
        None,
        "Gemma 2 9B instruction-tuned (June 2024), by Google: a 9-billion-parameter open-weights model "
        "trained by knowledge distillation; strong for its size.",
    ),
    Entry(
        "gpt-3.5-turbo-0125",
        "gpt-3.5-turbo-0125",
        None,
        "GPT-3.5 Turbo (January 2024 snapshot), by OpenAI: a fast, inexpensive proprietary chat model, "
        "good at everyday tasks, weak at competition maths.",
    ),
    Entry(
        "gpt-4o-2024-05-13",
        "gpt-4o-2024-05-13",
        None,
        "GPT-4o (May 2024 snapshot), by OpenAI: the proprietary multimodal flagship (size undisclosed) of "
        "mid-2024, strong at reasoning, coding and knowledge.",
    ),
    Entry(
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-08-06",
        None,
        "GPT-4o (August 2024 snapshot), by OpenAI: the proprietary multimodal flagship with structured "
        "outputs, cheaper than the May snapshot; strong at reasoning, coding and maths.",
    ),
    Entry(
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini-2024-07-18",
        None,
        "GPT-4o mini (July 2024), by OpenAI: a small, very inexpensive proprietary model (size "
        "undisclosed) that replaced GPT-3.5 Turbo; strong at maths and coding for its price.",
    ),
    Entry(
        "Llama-3.1-405B-Inst@hyperbolic",
        "hyperbolic/meta-llama/Meta-Llama-3.1-405B-Instruct",
        None,
        _L31_405B + "; here served through Hyperbolic's API.",
    ),
    Entry(
        "Llama-3.1-405B-Inst@sambanova",
        FW + "llama-v3p1-405b-instruct",
        "same weights through another host: litellm lists no SambaNova Llama 3.1 405B",
        _L31_405B + "; here served through SambaNova Cloud.",
    ),
    Entry(
        "Meta-Llama-3-70B-Instruct",
        FW + "llama-v3-70b-instruct",
        None,
        "Llama 3 70B Instruct (April 2024), by Meta: a 70-billion-parameter open-weights model with an "
        "8k-token context, strong at chat and general knowledge.",
    ),
    Entry(
        "Meta-Llama-3-8B-Instruct",
        FW + "llama-v3-8b-instruct-hf",
        None,
        "Llama 3 8B Instruct (April 2024), by Meta: an 8-billion-parameter open-weights model with an "
        "8k-token context; inexpensive, weak at hard maths.",
    ),
    Entry("Meta-Llama-3.1-70B-Instruct", FW + "llama-v3p1-70b-instruct", None, _L31_70B + "."),
    Entry(
        "Meta-Llama-3.1-8B-Instruct",
        FW + "llama-v3p1-8b-instruct",
        None,
        "Llama 3.1 8B Instruct (July 2024), by Meta: an 8-billion-parameter open-weights model with a "
        "128k-token context; inexpensive, weak at hard maths.",
    ),
    Entry(
        "Mistral-Large-2",
        "vertex_ai/mistral-large@2407",
        None,
        "Mistral Large 2 (July 2024, version 2407), by Mistral AI: a 123-billion-parameter model with open "
        "weights under the Mistral Research Licence and a 128k-token context; strong at code, maths and "
        "multilingual tasks.",
    ),
    Entry(
        "o1-mini-2024-09-12",
        "azure/o1-mini-2024-09-12",
        None,
        "o1-mini (September 2024), by OpenAI: a proprietary reasoning model trained with reinforcement "
        "learning to think in a long hidden chain of thought before answering; specialised in STEM and "
        "coding, cheaper than o1-preview. Its hidden reasoning tokens are billed as output.",
    ),
    Entry(
        "Phi-3.5-mini-instruct",
        FW + "phi-3-mini-128k-instruct",
        "same size class: Phi-3-mini 128k (3.8B); litellm does not list Phi-3.5-mini",
        "Phi-3.5-mini instruct (August 2024), by Microsoft: a 3.8-billion-parameter open-weights model "
        "(MIT licence) trained on filtered web and synthetic data, with a 128k-token context and better "
        "multilingual ability than Phi-3-mini.",
    ),
    Entry(
        "Qwen2-72B-Instruct",
        FW + "qwen2-72b-instruct",
        None,
        "Qwen2 72B Instruct (June 2024), by Alibaba's Qwen team: a 72-billion-parameter open-weights "
        "model, strong at maths, code and multilingual tasks.",
    ),
    Entry(
        "Qwen2-7B-Instruct",
        FW + "qwen2-7b-instruct",
        None,
        "Qwen2 7B Instruct (June 2024), by Alibaba's Qwen team: a 7-billion-parameter open-weights model "
        "(Apache 2.0), good at maths and code for its size.",
    ),
    Entry(
        "reka-core-20240501",
        "gpt-4-turbo-2024-04-09",
        "litellm lists reka-core without a price and Reka does not publish its size: a closed flagship "
        "of the same months",
        "Reka Core (May 2024 version), by Reka AI: Reka's largest proprietary multimodal model (size "
        "undisclosed), built to understand text, images, video and audio.",
    ),
    Entry(
        "Yi-1.5-34B-Chat",
        FW + "yi-34b-chat",
        "same size class: Yi 34B Chat; litellm does not list Yi-1.5",
        "Yi-1.5 34B Chat (May 2024), by 01.AI: a 34-billion-parameter open-weights model (Apache 2.0), "
        "continually pre-trained from Yi-34B for better coding, maths and reasoning.",
    ),
    Entry(
        "Yi-1.5-9B-Chat",
        FW + "gemma2-9b-it",
        "same size class: a 9B model; litellm does not list Yi-1.5",
        "Yi-1.5 9B Chat (May 2024), by 01.AI: a 9-billion-parameter open-weights model (Apache 2.0), "
        "continually pre-trained from Yi-9B for better coding, maths and reasoning.",
    ),
    Entry(
        "chatgpt-4o-latest-24-09-07",
        "gpt-4o-2024-05-13",
        "same family: litellm does not list chatgpt-4o-latest; the oldest GPT-4o snapshot it lists",
        "chatgpt-4o-latest as of September 7, 2024, by OpenAI: the proprietary GPT-4o version used in "
        "ChatGPT, updated without notice; strong at chat, reasoning and coding.",
    ),
    Entry(
        "claude-3-sonnet-20240229",
        "vertex_ai/claude-3-sonnet@20240229",
        None,
        "Claude 3 Sonnet (March 2024), by Anthropic: the mid-tier proprietary Claude 3 model (size "
        "undisclosed), balancing speed and capability, with a 200k-token context.",
    ),
    Entry(
        "deepseek-v2-chat-0628",
        "deepseek/deepseek-chat",
        None,
        "DeepSeek-V2-Chat, June 2024 update (0628), by DeepSeek: an open-weights mixture-of-experts model "
        "(236 billion total, 21 billion active parameters), a general chat model with better maths and "
        "coding than its May release; inexpensive.",
    ),
    Entry(
        "deepseek-v2-coder-0724",
        "deepseek/deepseek-coder",
        None,
        "DeepSeek-Coder-V2, July 2024 update (0724) of DeepSeek's API: an open-weights code "
        "mixture-of-experts model (236 billion total, 21 billion active parameters), strong at "
        "programming and maths; inexpensive.",
    ),
    Entry(
        "gemini-1.5-pro-exp-0801",
        "gemini/gemini-2.5-pro",
        "same tier: litellm lists no Gemini 1.5 or 2.0 model; the oldest Pro it lists",
        "Gemini 1.5 Pro experimental (August 1, 2024), by Google: a preview update of the proprietary "
        "Gemini 1.5 Pro that briefly led the LMSYS Chatbot Arena; stronger at maths and coding.",
    ),
    Entry(
        "gemini-1.5-pro-exp-0827",
        "gemini/gemini-2.5-pro",
        "same tier: litellm lists no Gemini 1.5 or 2.0 model; the oldest Pro it lists",
        "Gemini 1.5 Pro experimental (August 27, 2024), by Google: a later preview of the proprietary "
        "Gemini 1.5 Pro with better maths, coding and handling of complex prompts.",
    ),
    Entry(
        "gpt-4-0314",
        "gpt-4-0613",
        "same model family: litellm does not list gpt-4-0314; the oldest GPT-4 snapshot it lists",
        "GPT-4 (March 2023 snapshot), by OpenAI: the original proprietary GPT-4, with an 8k-token context; "
        "strong at reasoning and knowledge, weaker at competition maths than later GPT-4 models; expensive.",
    ),
    Entry(
        "gpt-4-turbo-2024-04-09",
        "gpt-4-turbo-2024-04-09",
        None,
        "GPT-4 Turbo (April 2024), by OpenAI: a proprietary GPT-4 model with vision and a 128k-token "
        "context, strong at reasoning and coding; expensive.",
    ),
    Entry(
        "Llama-3.1-405B-Inst-fp8@together",
        "together_ai/meta-llama/Llama-3.1-405B-Instruct",
        None,
        _L31_405B + "; here quantised to FP8 and served through Together AI.",
    ),
    Entry(
        "Mixtral-8x7B-Instruct-v0.1",
        FW + "mixtral-8x7b-instruct",
        None,
        "Mixtral 8x7B Instruct (December 2023), by Mistral AI: an open-weights sparse mixture-of-experts "
        "model (46.7 billion total, 12.9 billion active parameters, Apache 2.0); fast, moderate at maths.",
    ),
    Entry(
        "o1-preview-2024-09-12",
        "o1-2024-12-17",
        "same family: litellm does not list o1-preview; its successor o1",
        "o1-preview (September 2024), by OpenAI: the first proprietary o1 reasoning model, which thinks in a "
        "long hidden chain of thought before answering; very strong at hard maths and code, slow and "
        "expensive. Its hidden reasoning tokens are billed as output.",
    ),
    Entry(
        "Phi-3-mini-4k-instruct",
        FW + "phi-3-mini-128k-instruct",
        "same size class: the 128k-context variant of the same 3.8B model; litellm does not list the 4k one",
        "Phi-3-mini 4k instruct (April 2024), by Microsoft: a 3.8-billion-parameter open-weights model (MIT "
        "licence) trained on heavily filtered web and synthetic data, with a 4k-token context; strong at "
        "reasoning for its size.",
    ),
    Entry(
        "Qwen2.5-32B-Instruct",
        FW + "qwen2p5-32b-instruct",
        None,
        "Qwen2.5 32B Instruct (September 2024), by Alibaba's Qwen team: a 32-billion-parameter "
        "open-weights model (Apache 2.0) trained on 18 trillion tokens; strong at maths and code for its size.",
    ),
    Entry(
        "Qwen2.5-3B-Instruct",
        FW + "qwen2p5-coder-3b-instruct",
        "same size class: Qwen2.5-Coder 3B; litellm does not list Qwen2.5 3B Instruct",
        "Qwen2.5 3B Instruct (September 2024), by Alibaba's Qwen team: a 3-billion-parameter open-weights "
        "model (Qwen research licence) for small deployments; good at maths for its size.",
    ),
    Entry(
        "Qwen2.5-72B-Instruct",
        FW + "qwen2p5-72b-instruct",
        None,
        "Qwen2.5 72B Instruct (September 2024), by Alibaba's Qwen team: a 72-billion-parameter open-weights "
        "model trained on 18 trillion tokens; strong at maths, code and instruction following.",
    ),
    Entry(
        "Qwen2.5-7B-Instruct",
        FW + "qwen2p5-7b-instruct",
        None,
        "Qwen2.5 7B Instruct (September 2024), by Alibaba's Qwen team: a 7-billion-parameter open-weights "
        "model (Apache 2.0) trained on 18 trillion tokens; strong at maths for its size.",
    ),
    Entry(
        "reka-flash-20240226",
        FW + "mistral-small-24b-instruct-2501",
        "same size class: a 24B model; litellm lists reka-flash without a price",
        "Reka Flash (February 2024 version), by Reka AI: a 21-billion-parameter multimodal model served "
        "through Reka's API; fast and inexpensive.",
    ),
    Entry(
        "yi-large",
        FW + "yi-large",
        None,
        "Yi-Large (May 2024), by 01.AI: 01.AI's proprietary flagship API model (size undisclosed), strong "
        "at knowledge and at English and Chinese chat.",
    ),
    Entry(
        "yi-large-preview",
        FW + "yi-large",
        "same model: the released Yi-Large; litellm does not list the preview",
        "Yi-Large preview (May 2024), by 01.AI: the preview release of the proprietary Yi-Large API model "
        "(size undisclosed).",
    ),
    Entry(
        "command-r",
        "vercel_ai_gateway/cohere/command-r",
        None,
        "Command R (March 2024), by Cohere: a 35-billion-parameter model with weights released for "
        "non-commercial use (CC-BY-NC), built for retrieval-augmented generation and tool use, with a "
        "128k-token context.",
    ),
    Entry(
        "command-r-plus",
        "vercel_ai_gateway/cohere/command-r-plus",
        None,
        "Command R+ (April 2024), by Cohere: a 104-billion-parameter model with weights released for "
        "non-commercial use (CC-BY-NC), built for enterprise retrieval-augmented generation and multi-step "
        "tool use.",
    ),
    Entry(
        "deepseek-v2-coder-0614",
        "deepseek/deepseek-coder",
        None,
        "DeepSeek-Coder-V2-Instruct (June 2024), by DeepSeek: an open-weights code mixture-of-experts model "
        "(236 billion total, 21 billion active parameters) further pre-trained from DeepSeek-V2 on 6 "
        "trillion tokens of code and maths; strong at programming and mathematical reasoning.",
    ),
    Entry(
        "Meta-Llama-3.1-70B-Instruct@hyperbolic",
        "hyperbolic/meta-llama/Meta-Llama-3.1-70B-Instruct",
        None,
        _L31_70B + "; here served through Hyperbolic's API.",
    ),
    Entry(
        "Mistral-Nemo-Instruct-2407",
        FW + "mistral-nemo-instruct-2407",
        None,
        "Mistral NeMo Instruct (July 2024), by Mistral AI with NVIDIA: a 12-billion-parameter open-weights "
        "model (Apache 2.0) with a 128k-token context.",
    ),
)


def default_litellm_json() -> Path | None:
    """The price table inside an installed litellm package, found without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / LITELLM_FILE
    return path if path.is_file() else None


def price_per_million(table: dict[str, Any], key: str, field: str) -> float:
    """``table[key][field]`` (USD per token) in USD per million tokens."""
    if key not in table:
        raise SystemExit(f"litellm has no key {key!r}: fix the table in {Path(__file__).name}")
    value = table[key].get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SystemExit(f"litellm key {key!r} has no {field} (got {value!r}): choose a proxy")
    # Rounded to 6 decimals so that 1.5e-07 * 1e6 is 0.15, not 0.15000000000000002.
    return round(float(value) * 1e6, 6)


#: Catalog capability field <- litellm field (booleans as they are; token counts whole numbers).
CAPABILITIES = {
    "supports_tools": "supports_function_calling",
    "supports_vision": "supports_vision",
    "supports_json_schema": "supports_response_schema",
    "context_window": "max_input_tokens",
    "max_output_tokens": "max_output_tokens",
}


def capabilities(table: dict[str, Any], e: Entry) -> dict[str, Any]:
    """What litellm says the LLM supports, read from its own key only: a proxy priced like the model
    may not share its capabilities, so a proxied LLM's stay unknown (the service then allows it)."""
    if e.proxy:
        return {}
    row = table[e.key]
    out: dict[str, Any] = {}
    for ours, theirs in CAPABILITIES.items():
        value = row.get(theirs)
        flag = ours.startswith("supports_")
        known = isinstance(value, bool) if flag else type(value) is int and value > 0
        if known:
            out[ours] = value
    cache = row.get("cache_read_input_token_cost")
    if isinstance(cache, int | float) and not isinstance(cache, bool) and cache > 0:
        out["cache_read_price"] = round(float(cache) * 1e6, 6)
    return out


def build_catalog(table: dict[str, Any], litellm_sha256: str) -> dict[str, Any]:
    """The catalog object (``_comment``, ``_price_sources``, ``llms``) from litellm's table."""
    ids = [e.llm_id for e in LLMS]
    if len(set(ids)) != len(ids):
        raise SystemExit("the table lists an llm_id twice")
    llms = []
    sources = {}
    for e in LLMS:
        llms.append(
            {
                "llm_id": e.llm_id,
                "input_price": price_per_million(table, e.key, "input_cost_per_token"),
                "output_price": price_per_million(table, e.key, "output_cost_per_token"),
                "profile": e.profile,
                **capabilities(table, e),
            }
        )
        sources[e.llm_id] = f"proxy: {e.key} ({e.proxy})" if e.proxy else f"litellm: {e.key}"
    return {
        "_comment": (
            "Catalog of the 53 LLMs of yuchenlin/ZeroEval (written by benchmarks/zeroeval_catalog.py; do not "
            "edit by hand). Prices in USD per million tokens, read from litellm's "
            f"{LITELLM_FILE} (sha256 {litellm_sha256}); _price_sources says which key priced each LLM, and "
            "'proxy:' marks an LLM litellm does not list, priced from the closest listed model of its size "
            "class or family. Capabilities (tools, vision, JSON schema, context window, output tokens, cache-read "
            "price) are litellm's for the LLM's own key, and unknown for a proxied one. Profiles written for "
            "irtrouter from public model cards."
        ),
        "_price_sources": sources,
        "llms": llms,
    }


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--litellm-json",
        type=Path,
        default=None,
        help=f"litellm's {LITELLM_FILE} (default: the one inside an installed litellm package)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the catalog")
    args = parser.parse_args(argv)
    source = args.litellm_json or default_litellm_json()
    if source is None:
        parser.error(f"litellm is not installed: pass --litellm-json PATH to its {LITELLM_FILE}")
    raw = Path(source).read_bytes()
    catalog = build_catalog(json.loads(raw), hashlib.sha256(raw).hexdigest())
    args.out.write_text(json.dumps(catalog, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    proxies = sum(1 for e in LLMS if e.proxy)
    print(f"wrote {args.out}: {len(LLMS)} LLMs, {proxies} priced by proxy", file=sys.stderr)
    return args.out


if __name__ == "__main__":
    main()
