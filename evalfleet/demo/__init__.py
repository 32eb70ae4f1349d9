"""The demo's own sample items (written for evalfleet, not copied from any benchmark) and its run config.

They use the official file layouts, so the real task specs and modules load them unchanged:
GSM8K `gsm8k/test.jsonl` ({question, answer ending '#### N'}) and CommonsenseQA
`commonsenseqa/dev_rand_split.jsonl` (id, question.stem, question.choices[{label, text}], answerKey).
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

GSM8K = [
    ("A baker puts 6 rolls in each bag and fills 7 bags. How many rolls are in the bags?", "6 * 7 = 42", "42"),
    ("Lena reads 15 pages on Monday and twice as many on Tuesday. How many pages does she read in the two days?",
     "Tuesday: 15 * 2 = 30. Total: 15 + 30 = 45", "45"),
    ("A tram ticket costs 3 dollars. Omar buys 4 tickets and pays with a 20 dollar bill. How much change does he get?",
     "4 * 3 = 12. 20 - 12 = 8", "8"),
    ("A garden has 5 rows of 9 tulips. 13 tulips are picked. How many tulips are left?", "5 * 9 = 45. 45 - 13 = 32", "32"),
    ("Sam saves 25 dollars a week for 8 weeks, then spends 60 dollars. How much does he have left?",
     "25 * 8 = 200. 200 - 60 = 140", "140"),
    ("A box holds 1,200 screws. A builder uses 350 screws a day for 3 days. How many screws remain?",
     "350 * 3 = 1050. 1200 - 1050 = 150", "150"),
    ("Three friends share 54 stickers equally. How many stickers does each friend get?", "54 / 3 = 18", "18"),
    ("A train travels 80 km each hour. How far does it travel in 2.5 hours?", "80 * 2.5 = 200", "200"),
]

CSQA = [
    ("Where would you most likely keep milk so it stays cold?", ["oven", "refrigerator", "bookshelf", "garage", "mailbox"], "B"),
    ("What do people usually use to cut paper?", ["spoon", "pillow", "scissors", "bucket", "ladder"], "C"),
    ("If you are tired at night, what are you likely to do?", ["go to sleep", "start a race", "paint a wall", "buy a boat", "climb"], "A"),
    ("What falls from clouds when it rains?", ["sand", "leaves", "snow globes", "water", "coins"], "D"),
    ("Where do you typically borrow books without paying?", ["bakery", "stadium", "pharmacy", "airport", "library"], "E"),
    ("What would you wear on your feet when hiking?", ["boots", "gloves", "scarf", "hat", "belt"], "A"),
    ("What tool helps you see things far away?", ["hammer", "telescope", "kettle", "broom", "stapler"], "B"),
    ("Where does a fish usually live?", ["desert", "attic", "water", "chimney", "closet"], "C"),
]

TEAMS = ("aurora", "basalt", "cobalt")
"""Demo teams; each submits one tiny model of each family in evalfleet.tiny.FAMILIES."""


def write_data(data_dir: str | Path) -> Path:
    """Write the sample items in the official layouts under `data_dir`; return it."""
    data_dir = Path(data_dir)
    (data_dir / "gsm8k").mkdir(parents=True, exist_ok=True)
    (data_dir / "commonsenseqa").mkdir(parents=True, exist_ok=True)
    with open(data_dir / "gsm8k" / "test.jsonl", "w", encoding="utf-8") as f:
        for question, steps, number in GSM8K:
            f.write(json.dumps({"question": question, "answer": f"{steps}\n#### {number}"}) + "\n")
    with open(data_dir / "commonsenseqa" / "dev_rand_split.jsonl", "w", encoding="utf-8") as f:
        for n, (stem, choices, key) in enumerate(CSQA):
            row = {"answerKey": key, "id": f"demo{n:03d}",
                   "question": {"stem": stem, "choices": [{"label": "ABCDE"[i], "text": t} for i, t in enumerate(choices)]}}
            f.write(json.dumps(row) + "\n")
    return data_dir


def write_config(path: str | Path, models: dict[tuple[str, str], Path], data_dir: Path, results: Path, *,
                 max_new_tokens: int = 8, workers: int | None = None) -> Path:
    """The demo run config: edge-llm-2024 compression track, gsm8k + commonsenseqa, small budgets."""
    teams: dict[str, list] = {}
    for (team, family), ckpt in models.items():
        teams.setdefault(team, []).append({"path": str(ckpt), "family": family, "dtype": "float32"})
    raw = {
        "edition": "edge-llm-2024", "track": "compression",
        "submissions": [{"team": t, "models": ms} for t, ms in teams.items()],
        "tasks": ["gsm8k", "commonsenseqa"], "data_dir": str(data_dir), "results": str(results),
        "shard_size": 2, "limit": 4, "batch_size": 4, "max_new_tokens": max_new_tokens,
    }
    if workers:
        raw["workers"] = workers
    Path(path).write_text(yaml.safe_dump(raw, sort_keys=False))
    return Path(path)
