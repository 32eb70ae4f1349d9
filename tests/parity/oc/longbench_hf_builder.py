"""A local `datasets` builder standing in for the hub's THUDM/LongBench script (parity venv only).

OpenCompass's LongBench loaders call load_dataset(path=<cache>/data/Longbench, name=<subset>,
data_dir=<same>, trust_remote_code=True); datasets then runs <dir>/Longbench.py. The parity test
copies this file there and links the official <subset>.jsonl files into <dir>/data/. It yields the
rows as released (the fields of the hub script: input, context, answers, length, dataset,
language, all_classes, _id), test split only.
"""

import json
import os

import datasets

SUBSETS = [
    "narrativeqa",
    "qasper",
    "multifieldqa_en",
    "multifieldqa_zh",
    "hotpotqa",
    "2wikimqa",
    "musique",
    "dureader",
    "gov_report",
    "qmsum",
    "multi_news",
    "vcsum",
    "trec",
    "triviaqa",
    "samsum",
    "lsht",
    "passage_count",
    "passage_retrieval_en",
    "passage_retrieval_zh",
    "lcc",
    "repobench-p",
]


class Longbench(datasets.GeneratorBasedBuilder):
    BUILDER_CONFIGS = [datasets.BuilderConfig(name=name, version=datasets.Version("1.0.0")) for name in SUBSETS]

    def _info(self):
        return datasets.DatasetInfo(
            features=datasets.Features(
                {
                    "input": datasets.Value("string"),
                    "context": datasets.Value("string"),
                    "answers": [datasets.Value("string")],
                    "length": datasets.Value("int32"),
                    "dataset": datasets.Value("string"),
                    "language": datasets.Value("string"),
                    "all_classes": [datasets.Value("string")],
                    "_id": datasets.Value("string"),
                }
            )
        )

    def _split_generators(self, dl_manager):
        path = os.path.join(self.config.data_dir, "data", f"{self.config.name}.jsonl")
        return [datasets.SplitGenerator(name=datasets.Split.TEST, gen_kwargs={"path": path})]

    def _generate_examples(self, path):
        with open(path, encoding="utf-8") as f:
            for key, line in enumerate(f):
                row = json.loads(line)
                yield (
                    key,
                    {
                        k: row.get(k)
                        for k in ("input", "context", "answers", "length", "dataset", "language", "all_classes", "_id")
                    },
                )
