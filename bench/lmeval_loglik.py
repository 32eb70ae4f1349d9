"""Inside .venv-lmeval: time lm-evaluation-harness's HFLM.loglikelihood on a request list (bench/loglikelihood.py).

python lmeval_loglik.py MODEL_DIR REQUESTS.json BATCH_SIZE   -> one JSON line {load_s, seconds, logliks}
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(model_dir: str, requests_file: str, batch_size: int) -> None:
    import os

    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    pairs = [tuple(r) for r in json.loads(Path(requests_file).read_text())]
    t0 = time.perf_counter()
    lm = HFLM(pretrained=model_dir, device="cpu", dtype="float32", batch_size=batch_size)
    load_s = time.perf_counter() - t0

    def call(rs):
        inst = [Instance(request_type="loglikelihood", doc={}, arguments=r, idx=i) for i, r in enumerate(rs)]
        return [float(ll) for ll, _ in lm.loglikelihood(inst, disable_tqdm=True)]

    call(pairs[:16])
    seconds, out = [], []
    for _ in range(3):
        t1 = time.perf_counter()
        out = call(pairs)
        seconds.append(time.perf_counter() - t1)
    print(json.dumps({"load_s": load_s, "seconds": seconds, "logliks": out}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
