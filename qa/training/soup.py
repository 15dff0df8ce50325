"""Model soups (Wortsman et al., 2022): the same recipe trained once per seed, one after the other or
in worker processes that split the threads, and the members' weights averaged."""
from __future__ import annotations

import os
import time
from typing import Dict, Optional, Sequence, Tuple

import torch

from .fit import base_tokenizer, fit_one
from .log import log, set_log_prefix


def average_states(states: Sequence[Dict[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
    """The element-wise mean of state dicts with the same keys (float tensors; others, such as
    position ids, are taken from the first)."""
    if not states:
        raise ValueError("nothing to average")
    out = {}
    for k, v in states[0].items():
        if torch.is_floating_point(v):
            out[k] = torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype)
        else:
            out[k] = v
    return out


def _member_job(job: dict) -> dict:
    """One soup member in a worker process (spawned): trains it and writes its weights to
    ``job["out"]``; returns its stage times and wall time."""
    torch.set_num_threads(job["threads"])
    set_log_prefix(f"[member seed {job['seed']}] ")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    tok = base_tokenizer(job["cfg"])
    tm, times = time.time(), []
    model, _, _, _ = fit_one(job["seed"], job["stages"], tok, job["paragraphs"], job["hard"], job["by_article"], job["cfg"],
                             job["device"], job["bf16"], times, job["t0"], job["total"])
    torch.save({k: v.detach().to("cpu") for k, v in model.state_dict().items()}, job["out"])
    return {"epoch_times": times, "time": time.time() - tm}


def member_worker_count(requested: Optional[int], members: int, device: str) -> int:
    """How many soup members train at once: ``requested``, or on a CPU one per thread this
    process has (a one-thread process uses a core better than a second thread does), at most
    one per member."""
    if requested is None:
        requested = 1 if device.startswith("cuda") else torch.get_num_threads()
    return max(1, min(int(requested), members))


def train_members(members: Sequence[int], stages, tok, paragraphs, hard, by_article, cfg: dict, device: str, bf16: bool,
                  t0: float, total: int, workdir: str,
                  workers: int = 1) -> Tuple[list, list, list]:
    """Train each soup member through ``stages``, one after the other
    or ``workers`` at a time in worker processes that split this process's threads.
    Returns the members' weights (CPU state dicts), their stage times and their wall times."""
    if workers == 1:
        states, times, walls = [], [], []
        for i, m_seed in enumerate(members):
            tm, ep_times = time.time(), []
            log(f"soup member {i + 1}/{len(members)}: seed {m_seed}")
            model, _, _, _ = fit_one(m_seed, stages, tok, paragraphs, hard, by_article, cfg, device, bf16, ep_times, t0,
                                     total)
            states.append({k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()})
            times.append(ep_times)
            walls.append(time.time() - tm)
        return states, times, walls
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, torch.get_num_threads() // workers)
    log(f"soup members {members}: {workers} worker processes, {threads} thread(s) each")
    jobs = [dict(seed=m_seed, stages=stages, paragraphs=paragraphs, hard=hard, by_article=by_article, cfg=cfg,
                 device=device, bf16=bf16, t0=t0, total=total, threads=threads,
                 out=os.path.join(workdir, f"member-{m_seed}.pt")) for m_seed in members]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_member_job, jobs))
    states = [torch.load(j["out"], map_location="cpu", weights_only=True) for j in jobs]
    return states, [r["epoch_times"] for r in results], [r["time"] for r in results]
