"""What an LLM wrote, made safe: reasoning stripped, template tokens caught, unusable output rejected."""

from __future__ import annotations

import pytest

from chat.llm_client import LLMClient
from chat.llm_output import ReasoningFilter, check_output, check_rewrite, control_tokens, copied_share, strip_reasoning
from chat.rewrite import QueryRewriter
from tests.fakes.fake_openai import FakeOpenAI


@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        ("<think>plan</think>Answer.", "Answer."),
        ("<THINK>plan</Think>\n\nAnswer.", "Answer."),
        ("<thinking>a</thinking>One. <think>b</think>Two.", "One. Two."),
        ("Answer first. <think>then thoughts that never close", "Answer first. "),
        ("<reasoning>r</reasoning>Answer.", "Answer."),
        ("reasoning the template opened </think>Answer.", "Answer."),
        ("No tags < here > at all.", "No tags < here > at all."),
    ],
)
def test_strip_reasoning(raw, visible):
    assert strip_reasoning(raw) == visible


def test_the_stream_filter_holds_tags_split_across_deltas():
    flt = ReasoningFilter()
    shown = "".join(flt.feed(d) for d in ["Hi ", "<", "thi", "nk>secret", " stuff</th", "ink>", "there", " <", "b"])
    assert shown == "Hi there " and "secret" not in shown  # "<b" might still become a tag
    assert flt.flush() == "<b" and flt.text == "Hi there <b"  # the stream ended: it was text


@pytest.mark.parametrize(
    "text",
    ["[INST] x", "<<SYS>>", "<</SYS>>", "[/INST]", "<start_of_turn>user", "<end_of_turn>", "<|im_start|>",
     "<|eot_id|>", "<|endoftext|>", "</s>", "<bos>", "[TOOL_CALLS]"],
)  # fmt: skip
def test_control_tokens_of_common_templates_are_found(text):
    assert control_tokens(f"Some text {text} more")


def test_ordinary_text_has_no_control_tokens():
    for text in ["Use <b>bold</b> sparingly.", "Arrays like a[i] and x < y.", "Costs [1] and [2].", "|a|b|", "<3"]:
        assert not control_tokens(text), text


def test_copy_measure_and_gate():
    document = "Employees may work remotely up to three days per week after approval by their manager in Workday."
    assert copied_share(document, document) == 1.0
    assert copied_share("A policy on remote work and who approves it.", document) == 0.0
    assert copied_share("short", document) == 0.0  # too short to tell
    assert check_output(document, document=document) == "copies_document"
    assert check_output("Remote work: up to three days per week, approved by the manager.", document=document) is None
    assert check_output("x" * 50, max_chars=40) == "too_long"
    assert check_output("経費精算は30日以内に申請します。", document="経費精算は30日以内に申請します。") == "copies_document"


def test_the_rewriter_rejects_template_echoes_and_reads_past_reasoning():
    history = [("user", "How do I set up the VPN?"), ("assistant", "Install Hoshi Connect [1].")]
    with FakeOpenAI() as fake:
        fake.script("[INST] <<SYS>> Rewrite the follow-up", "<think>They mean the VPN.</think>VPN setup on macOS")
        client = LLMClient(fake.base_url, model="m", api_key=fake.api_key, max_retries=0)
        rewriter = QueryRewriter(client=client)
        first = rewriter.rewrite("And on a Mac?", history)
        second = rewriter.rewrite("And on a Mac?", history)
    assert first.method == "keywords" and "INST" not in first.query
    assert second == type(second)("VPN setup on macOS", "llm")
    assert check_rewrite("VPN setup on macOS") is None and check_rewrite("<|im_start|>VPN") == "control_tokens"
