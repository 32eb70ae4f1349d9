"""A local `datasets` builder standing in for the hub's `truthful_qa` 'generation' config (parity venv only).

OpenCompass's TruthfulQADataset calls load_dataset(path='truthful_qa', name='generation'); the parity
test overrides `path` with a directory holding this file as truthful_qa.py and the CSV the hub
dataset was built from (TruthfulQA.csv, upstream 013686a). It reads the CSV by the hub builder's
documented rules: utf-8-sig, rows without true or false answers skipped, ';'-separated answer
lists stripped, split 'validation'.
"""

import csv
import os

import datasets


class TruthfulQa(datasets.GeneratorBasedBuilder):
    BUILDER_CONFIGS = [datasets.BuilderConfig(name="generation", version=datasets.Version("1.1.0"))]

    def _info(self):
        return datasets.DatasetInfo(
            features=datasets.Features(
                {
                    "type": datasets.Value("string"),
                    "category": datasets.Value("string"),
                    "question": datasets.Value("string"),
                    "best_answer": datasets.Value("string"),
                    "correct_answers": datasets.features.Sequence(datasets.Value("string")),
                    "incorrect_answers": datasets.features.Sequence(datasets.Value("string")),
                    "source": datasets.Value("string"),
                }
            )
        )

    def _split_generators(self, dl_manager):
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "TruthfulQA.csv")
        if not os.path.exists(path):
            path = os.path.join(self.base_path, "TruthfulQA.csv")
        return [datasets.SplitGenerator(name=datasets.Split.VALIDATION, gen_kwargs={"path": path})]

    def _generate_examples(self, path):
        def split(cell):
            return [part.strip() for part in cell.strip().split(";")]

        with open(path, newline="", encoding="utf-8-sig") as f:
            for key, row in enumerate(csv.DictReader(f)):
                if not row["Correct Answers"] or not row["Incorrect Answers"]:
                    continue
                yield (
                    key,
                    {
                        "type": row["Type"],
                        "category": row["Category"],
                        "question": row["Question"],
                        "best_answer": row["Best Answer"],
                        "correct_answers": split(row["Correct Answers"]),
                        "incorrect_answers": split(row["Incorrect Answers"]),
                        "source": row["Source"],
                    },
                )
