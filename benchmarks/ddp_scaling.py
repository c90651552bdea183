"""Training throughput with 1 and 2 processes under torchrun (DistributedDataParallel, gloo on CPU).

Each configuration is a real ``torchrun`` launch (on 127.0.0.1) of this script's worker, which
trains with :func:`cnncourse.train.fit` on random images shaped like the chosen dataset
(:func:`cnncourse.datasets.synthetic`), each process on its shard
(:func:`cnncourse.train.distributed.make_loader`). The batch size is per process, so the global
batch grows with the processes (weak scaling, as DDP is used). The first epoch is a warm-up; the
figure is the best samples/s (all processes together) of the later epochs, best of ``--repeats``
launches, with the configurations launched in alternation so machine load hits them alike.

Rows: 1 process on 1 thread (the reference), 1 process on 2 threads (the same two cores, used by
intra-op threads instead), 2 processes on 1 thread each.

Usage: python benchmarks/ddp_scaling.py [--model lenet5_modern] [--data mnist] [--samples 4096]
       [--batch-size 64] [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from _timing import environment, load_average

HERE = Path(__file__).resolve().parent
CONFIGS = ((1, 1), (1, 2), (2, 1))  # (processes, threads per process)


def worker(args) -> None:
    import torch

    from cnncourse import datasets, train
    from cnncourse.train import distributed

    torch.set_num_threads(args.threads)
    distributed.init()
    try:
        train.seed_everything(0)
        model = train.build_model(args.model, args.data)
        train_set, _ = datasets.synthetic(args.data, args.samples, 1)
        loader = distributed.make_loader(train_set, args.batch_size, seed=0)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        history = train.fit(
            model,
            loader,
            epochs=args.epochs,
            optimizer=opt,
            device="cpu",
            progress=False,
            verbose=False,
            live_plot=False,
        )
        if distributed.is_main():
            print("RESULT " + json.dumps({"throughput": max(history["throughput"][1:])}))
    finally:
        distributed.destroy()


def launch(processes: int, threads: int, args) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        *(sys.executable, "-m", "torch.distributed.run", "--nnodes=1"),
        *(f"--nproc_per_node={processes}", "--master_addr=127.0.0.1", f"--master_port={port}"),
        *(str(Path(__file__).resolve()), "--worker", "--threads", str(threads)),
        *("--model", args.model, "--data", args.data, "--samples", str(args.samples)),
        *("--batch-size", str(args.batch_size), "--epochs", str(args.epochs)),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{processes} process(es) failed:\n{done.stderr[-3000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])["throughput"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--model", default="lenet5_modern")
    p.add_argument("--data", default="mnist", help="shape of the random images (no download)")
    p.add_argument("--samples", type=int, default=4096, help="training images per epoch")
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--epochs", type=int, default=3, help="the first one is a warm-up (>= 2)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    if args.epochs < 2:
        p.error("--epochs must be >= 2 (the first epoch is a warm-up)")
    print(environment())
    print(
        f"{args.model} on {args.samples} random {args.data}-shaped images, batch {args.batch_size}"
        f" per process, best of {args.repeats} launches x {args.epochs - 1} timed epochs"
    )
    best = {config: 0.0 for config in CONFIGS}
    for _ in range(args.repeats):
        for config in CONFIGS:
            best[config] = max(best[config], launch(*config, args))
    reference = best[CONFIGS[0]]
    print(f"{'processes':>9} {'threads':>7} {'global batch':>12} {'samples/s':>10} {'ratio':>6}")
    for (processes, threads), speed in best.items():
        print(
            f"{processes:>9} {threads:>7} {args.batch_size * processes:>12} {speed:>10.0f} "
            f"{speed / reference:>5.2f}x"
        )
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
