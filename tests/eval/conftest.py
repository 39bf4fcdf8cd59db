"""Eval fixtures: tiny hand-made datasets, and the shared public datasets (skipped only where absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS = REPO_ROOT / ".." / "shared" / "datasets"


def shared_dataset(relative: str) -> Path:
    path = (SHARED_DATASETS / relative).resolve()
    if not path.is_file():
        pytest.skip(f"shared dataset missing: {SHARED_DATASETS / relative}")
    return path


@pytest.fixture
def jsquad_path() -> Path:
    return shared_dataset("jsquad/valid-v1.3.json")


@pytest.fixture
def jnli_path() -> Path:
    return shared_dataset("jnli/valid-v1.3.json")


# Two short English articles in SQuAD v2 format; one question is unanswerable.
TINY_SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Remote work",
            "paragraphs": [
                {
                    "context": "Employees may work remotely up to three days per week. Requests go to the manager.",
                    "qas": [
                        {
                            "id": "rw1",
                            "question": "How many days per week may employees work remotely?",
                            "answers": [{"text": "three days", "answer_start": 34}],
                            "is_impossible": False,
                        }
                    ],
                },
                {
                    "context": "The office in Osaka opens at 9 am. Visitors sign in at the front desk.",
                    "qas": [
                        {
                            "id": "rw2",
                            "question": "Where do visitors sign in?",
                            "answers": [{"text": "the front desk", "answer_start": 55}],
                            "is_impossible": False,
                        },
                        {
                            "id": "rw3",
                            "question": "What is the Wi-Fi password of the Osaka office?",
                            "answers": [],
                            "plausible_answers": [{"text": "9 am", "answer_start": 29}],
                            "is_impossible": True,
                        },
                    ],
                },
            ],
        },
        {
            "title": "Expenses",
            "paragraphs": [
                {
                    "context": "Travel expenses are reimbursed within 30 days. Receipts must be uploaded to Concur.",
                    "qas": [
                        {
                            "id": "ex1",
                            "question": "Where must receipts be uploaded?",
                            "answers": [{"text": "Concur", "answer_start": 76}],
                            "is_impossible": False,
                        }
                    ],
                }
            ],
        },
    ],
}

# JSQuAD-style contexts: "Title [SEP] text", one answer inside the title.
TINY_JSQUAD = {
    "data": [
        {
            "title": "梅雨",
            "paragraphs": [
                {
                    "context": "梅雨 [SEP] 梅雨は、5月から7月にかけて来る曇りや雨の多い期間のこと。東アジアで見られる。",
                    "qas": [
                        {
                            "id": "j1",
                            "question": "梅雨が来るのはいつ頃か。",
                            "answers": [{"text": "5月から7月", "answer_start": 13}],
                            "is_impossible": False,
                        },
                        {
                            "id": "j2",
                            "question": "5月から7月にかけて来る雨の多い期間を何というか。",
                            "answers": [{"text": "梅雨", "answer_start": 0}],
                            "is_impossible": False,
                        },
                    ],
                },
                {
                    "context": "梅雨 [SEP] 北海道には梅雨がないと言われる。",
                    "qas": [
                        {
                            "id": "j3",
                            "question": "梅雨がないと言われるのはどこか。",
                            "answers": [{"text": "北海道", "answer_start": 9}],
                            "is_impossible": False,
                        }
                    ],
                },
            ],
        }
    ]
}


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def tiny_squad(tmp_path) -> Path:
    return write_json(tmp_path / "tiny-squad.json", TINY_SQUAD)


@pytest.fixture
def tiny_jsquad(tmp_path) -> Path:
    return write_json(tmp_path / "tiny-jsquad.json", TINY_JSQUAD)
