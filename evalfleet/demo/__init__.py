"""The demo's own sample items (written for evalfleet, not copied from any benchmark) and its run config.

They use the official file layouts, so the real task specs and modules load them unchanged:
GSM8K `gsm8k/test.jsonl` ({question, answer ending '#### N'}) and CommonsenseQA
`commonsenseqa/dev_rand_split.jsonl` (id, question.stem, question.choices[{label, text}], answerKey),
FewCLUE CHID `chid/dev_few_all.json` + `chid/test_public.json` (JSON Lines: id, candidates, content, answer).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

GSM8K = [
    ("A baker puts 6 rolls in each bag and fills 7 bags. How many rolls are in the bags?", "6 * 7 = 42", "42"),
    (
        "Lena reads 15 pages on Monday and twice as many on Tuesday. How many pages does she read in the two days?",
        "Tuesday: 15 * 2 = 30. Total: 15 + 30 = 45",
        "45",
    ),
    (
        "A tram ticket costs 3 dollars. Omar buys 4 tickets and pays with a 20 dollar bill. "
        "How much change does he get?",
        "4 * 3 = 12. 20 - 12 = 8",
        "8",
    ),
    (
        "A garden has 5 rows of 9 tulips. 13 tulips are picked. How many tulips are left?",
        "5 * 9 = 45. 45 - 13 = 32",
        "32",
    ),
    (
        "Sam saves 25 dollars a week for 8 weeks, then spends 60 dollars. How much does he have left?",
        "25 * 8 = 200. 200 - 60 = 140",
        "140",
    ),
    (
        "A box holds 1,200 screws. A builder uses 350 screws a day for 3 days. How many screws remain?",
        "350 * 3 = 1050. 1200 - 1050 = 150",
        "150",
    ),
    ("Three friends share 54 stickers equally. How many stickers does each friend get?", "54 / 3 = 18", "18"),
    ("A train travels 80 km each hour. How far does it travel in 2.5 hours?", "80 * 2.5 = 200", "200"),
]

CSQA = [
    (
        "Where would you most likely keep milk so it stays cold?",
        ["oven", "refrigerator", "bookshelf", "garage", "mailbox"],
        "B",
    ),
    ("What do people usually use to cut paper?", ["spoon", "pillow", "scissors", "bucket", "ladder"], "C"),
    (
        "If you are tired at night, what are you likely to do?",
        ["go to sleep", "start a race", "paint a wall", "buy a boat", "climb"],
        "A",
    ),
    ("What falls from clouds when it rains?", ["sand", "leaves", "snow globes", "water", "coins"], "D"),
    (
        "Where do you typically borrow books without paying?",
        ["bakery", "stadium", "pharmacy", "airport", "library"],
        "E",
    ),
    ("What would you wear on your feet when hiking?", ["boots", "gloves", "scarf", "hat", "belt"], "A"),
    ("What tool helps you see things far away?", ["hammer", "telescope", "kettle", "broom", "stapler"], "B"),
    ("Where does a fish usually live?", ["desert", "attic", "water", "chimney", "closet"], "C"),
]

CHID = {
    "chid-dev": [
        (
            "他做事总是#idiom#，从不拖泥带水。",
            ["干净利落", "画蛇添足", "守株待兔", "杯弓蛇影", "对牛弹琴", "井底之蛙", "亡羊补牢"],
            0,
        ),
        (
            "这次失败后他及时改正，真是#idiom#，为时不晚。",
            ["掩耳盗铃", "亡羊补牢", "刻舟求剑", "拔苗助长", "叶公好龙", "狐假虎威", "自相矛盾"],
            1,
        ),
    ],
    "chid-test": [
        (
            "只等好运自己上门，无异于#idiom#。",
            ["一鸣惊人", "百发百中", "守株待兔", "胸有成竹", "半途而废", "入木三分", "滥竽充数"],
            2,
        ),
        (
            "画已经很好了，再加几笔反而是#idiom#。",
            ["画蛇添足", "画龙点睛", "雪中送炭", "锦上添花", "卧薪尝胆", "破釜沉舟", "望梅止渴"],
            0,
        ),
        (
            "他没有真本事，在乐队里只是#idiom#。",
            ["精益求精", "一丝不苟", "实事求是", "滥竽充数", "专心致志", "聚精会神", "全力以赴"],
            3,
        ),
        (
            "读书要坚持，不能#idiom#。",
            ["持之以恒", "锲而不舍", "水滴石穿", "有始有终", "半途而废", "坚持不懈", "勤学苦练"],
            4,
        ),
        (
            "他早已画好草图，下笔时#idiom#。",
            ["手忙脚乱", "不知所措", "六神无主", "心慌意乱", "惊慌失措", "胸有成竹", "犹豫不决"],
            5,
        ),
        (
            "为了早点收获，他把禾苗往上拔，真是#idiom#。",
            ["循序渐进", "脚踏实地", "按部就班", "水到渠成", "顺其自然", "稳扎稳打", "拔苗助长"],
            6,
        ),
    ],
}
"""FewCLUE CHID layout: split -> (content with one '#idiom#', 7 candidates, answer index)."""

TEAMS = ("aurora", "basalt", "cobalt")
"""Demo teams; each submits one tiny model of each family in evalfleet.demo.tiny.FAMILIES."""
TASKS = ("gsm8k", "commonsenseqa", "chid:ppl", "edge_probe")
"""Demo tasks; random weights score 0 on the two generation tasks, chid:ppl (log-likelihood) tells teams
apart, edge_probe measures throughput and peak memory (the throughput points and the 12 GB gate)."""
PROBE = {"input_tokens": 128, "output_tokens": 8, "repetitions": 3, "warmup": 1}
"""Probe settings small enough for a laptop (the edition's own: 2000-token inputs)."""


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
            row = {
                "answerKey": key,
                "id": f"demo{n:03d}",
                "question": {
                    "stem": stem,
                    "choices": [{"label": "ABCDE"[i], "text": t} for i, t in enumerate(choices)],
                },
            }
            f.write(json.dumps(row) + "\n")
    (data_dir / "chid").mkdir(parents=True, exist_ok=True)
    for split, rel in (("chid-dev", "dev_few_all.json"), ("chid-test", "test_public.json")):
        with open(data_dir / "chid" / rel, "w", encoding="utf-8") as f:
            for n, (content, candidates, answer) in enumerate(CHID[split]):
                f.write(
                    json.dumps(
                        {"id": n, "candidates": candidates, "content": content, "answer": answer}, ensure_ascii=False
                    )
                    + "\n"
                )
    return data_dir


def write_config(
    path: str | Path,
    models: dict[tuple[str, str], Path],
    data_dir: Path,
    results: Path,
    *,
    max_new_tokens: int = 8,
    workers: int | None = None,
) -> Path:
    """The demo run config: edge-llm-2024 compression track, TASKS on all sample items, one shard per task and model."""
    teams: dict[str, list] = {}
    for (team, family), ckpt in models.items():
        teams.setdefault(team, []).append({"path": str(ckpt), "family": family, "dtype": "float32"})
    raw = {
        "edition": "edge-llm-2024",
        "track": "compression",
        "submissions": [{"team": t, "models": ms} for t, ms in teams.items()],
        "tasks": list(TASKS),
        "data_dir": str(data_dir),
        "results": str(results),
        "shard_size": 8,
        "batch_size": 8,
        "max_new_tokens": max_new_tokens,
        "probe": dict(PROBE),
    }
    if workers:
        raw["workers"] = workers
    Path(path).write_text(yaml.safe_dump(raw, sort_keys=False))
    return Path(path)
