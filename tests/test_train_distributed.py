"""cnncourse.train under torchrun: real 2-process gloo runs on 127.0.0.1 (DistributedDataParallel).

Every subprocess runs in its own session with a timeout; on a timeout (or any failure) the whole
process group (torchrun and its workers) is killed, so nothing can hang or outlive the test.
The workers are tests/ddp_worker.py (tiny CNN, 64 tiny images) and the real command line.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import ddp_worker
import pytest
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from cnncourse import train

HERE = Path(__file__).resolve().parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]  # `torchrun` of this interpreter
TIMEOUT = 150  # seconds for any one launch on 2 loaded cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(**extra) -> dict:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "CNNCOURSE_PROFILE": "quick",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)]),
        "CNNCOURSE_DIST_TIMEOUT": "60",  # a lost peer fails a collective instead of hanging
    }
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    env.update(extra)
    return env


def run(cmd, cwd, env=None, timeout=TIMEOUT) -> subprocess.CompletedProcess:
    """Run ``cmd`` in a new session; kill the whole session on timeout and at the end."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env or environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{cmd} did not finish in {timeout} s\nstdout:\n{out}\nstderr:\n{err}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any worker left behind
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def torchrun(*args, cwd, nproc=2, env=None) -> subprocess.CompletedProcess:
    launcher = [
        *TORCHRUN,
        "--nnodes=1",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
    ]
    return run([*launcher, *args], cwd, env)


def worker(*args, cwd, **kw):
    return torchrun(str(HERE / "ddp_worker.py"), *args, cwd=cwd, **kw)


def ok(result):
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


# --------------------------------------------------------------------------- (a) same weights


def test_two_processes_equal_one_process_on_the_same_global_batches(tmp_path):
    epochs = 2
    ok(
        worker(
            "fit", "--kind", "plain", "--epochs", str(epochs), "--out", ".", "--val", cwd=tmp_path
        )
    )
    ddp = torch.load(tmp_path / "weights.pt", weights_only=True)

    # One process, batches of 16 = the two processes' batches of 8 side by side, epoch by epoch,
    # in the order torch's DistributedSampler gives each rank (seed 7, set_epoch(epoch)).
    dataset = ddp_worker.tiny_dataset("plain")
    global_batches = []
    for epoch in range(1, epochs + 1):
        shards = []
        for rank in range(2):
            sampler = DistributedSampler(dataset, num_replicas=2, rank=rank, shuffle=True, seed=7)
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
        b = ddp_worker.BATCH
        for k in range(len(shards[0]) // b):
            global_batches.append(shards[0][k * b : (k + 1) * b] + shards[1][k * b : (k + 1) * b])
    first, second = global_batches[: len(global_batches) // epochs], global_batches[4:]
    assert sorted(sum(first, [])) == list(range(ddp_worker.SAMPLES))  # each sample once
    assert first != second  # reshuffled every epoch

    per_epoch = len(global_batches) // epochs
    train.seed_everything(0)
    model = ddp_worker.tiny_model("plain")
    opt, sched = ddp_worker.optimizer_and_schedule(model, epochs, per_epoch)
    for epoch in range(epochs):
        loader = DataLoader(
            dataset, batch_sampler=global_batches[epoch * per_epoch : (epoch + 1) * per_epoch]
        )
        history = train.fit(
            model,
            loader,
            epochs=1,
            optimizer=opt,
            scheduler=sched,
            device="cpu",
            progress=False,
            verbose=False,
            live_plot=False,
        )
    for name, value in model.state_dict().items():
        torch.testing.assert_close(ddp["model"][name], value, rtol=0, atol=1e-5, msg=name)
    # The all-reduced epoch loss is the mean over all 64 samples, as in one process.
    loss = history.rows[-1]["train_loss"]  # small after 2 epochs: compare relatively
    assert ddp["rows"][-1]["train_loss"] == pytest.approx(loss, rel=1e-3, abs=0)
    assert ddp["rows"][-1]["train_accuracy"] == pytest.approx(history.rows[-1]["train_accuracy"])
    # Validation on two shards, combined: the score of the whole set in one process.
    whole = train.evaluate(model, DataLoader(dataset, batch_size=64))
    assert ddp["rows"][-1]["val_loss"] == pytest.approx(whole["loss"], rel=1e-3, abs=0)
    assert ddp["rows"][-1]["val_accuracy"] == pytest.approx(whole["accuracy"])


# --------------------------------------------------------------------------- (b) + smoke


def test_cli_under_torchrun_rank_0_alone_prints_and_writes_smoke_full_profile(tmp_path):
    args = ["resnet20", "--data", "cifar10", "--smoke", "--batch-size", "8", "--out", "out"]
    result = ok(worker("cli", *args, cwd=tmp_path))
    lines = result.stdout.splitlines()
    head = [line for line in lines if line.startswith("model=")]
    assert head == [
        "model=resnet20 data=cifar10 device=cpu profile=full budget=2 epochs batch_size=8 lr=0.1"
    ]
    assert "distributed: 2 processes (gloo), batch_size=8 per process, global batch=16" in lines
    assert sum(line.startswith("epoch ") for line in lines) == 2  # once, not once per process
    assert sum(line.startswith("test_accuracy=") for line in lines) == 1
    writes = dict(
        (line.split()[1], json.loads(line.split(maxsplit=2)[2]))
        for line in lines
        if line.startswith("writes ")
    )
    assert writes["rank=1"] == []
    stem = "out/resnet20_cifar10"
    for name in (f"{stem}.pt", f"{stem}_last.pt", f"{stem}_history.json"):
        assert name in writes["rank=0"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "resnet20_cifar10.pt",
        "resnet20_cifar10.pt.sha256",
        "resnet20_cifar10_history.json",
        "resnet20_cifar10_last.pt",
        "resnet20_cifar10_last.pt.sha256",
    ]
    saved = train.load_checkpoint(tmp_path / "out" / "resnet20_cifar10_last.pt")
    assert len(saved["rng"]) == 2  # each process's random states, for --resume
    history = json.loads((tmp_path / "out" / "resnet20_cifar10_history.json").read_text())
    assert [row["epoch"] for row in history["rows"]] == [1, 2]
    model = train.load_trained(tmp_path / "out" / "resnet20_cifar10.pt")
    assert (
        sum(p.numel() for p in model.parameters()) == 269_722
    )  # ResNet-20 for CIFAR-10 (He et al.: 0.27M)


def test_smoke_runs_the_full_profile_recipe_in_one_process(tmp_path):
    cmd = [sys.executable, "-m", "cnncourse.train", "resnet20", "--data", "cifar10", "--smoke"]
    result = ok(run([*cmd, "--batch-size", "16", "--epochs", "1", "--out", "o"], tmp_path))
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "model=resnet20 data=cifar10 device=cpu profile=full budget=1 epochs batch_size=16 lr=0.1"
    )
    assert lines[1] == (
        "smoke test: random cifar10-shaped images (48 train, 256 test), "
        "the full profile's recipe, 1 epochs"
    )
    assert not any(line.startswith("distributed:") for line in lines)
    assert lines[-1].startswith("test_accuracy=")
    assert (tmp_path / "o" / "resnet20_cifar10.pt").exists()


# --------------------------------------------------------------------------- (c) resume


def test_interrupted_and_resumed_ddp_run_ends_with_the_uninterrupted_weights(tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    full.mkdir(), cut.mkdir()
    common = ("fit", "--kind", "rich", "--epochs", "3", "--checkpoint")
    ok(worker(*common, "--out", str(full), cwd=tmp_path))
    interrupted = ok(worker(*common, "--out", str(cut), "--stop-after", "2", cwd=tmp_path))
    assert "rank 0 interrupted" in interrupted.stdout and "rank 1 interrupted" in interrupted.stdout
    assert not (cut / "weights.pt").exists()
    assert train.load_checkpoint(cut / "run.pt")["epoch"] == 1  # epoch 2 died before its save
    resumed = ok(worker(*common, "--out", str(cut), "--resume", "--seed", "123", cwd=tmp_path))
    assert resumed.stdout.count("resumed from") == 1  # rank 0 only
    a = torch.load(full / "weights.pt", weights_only=True)
    b = torch.load(cut / "weights.pt", weights_only=True)
    for name, value in a["model"].items():
        assert torch.equal(value, b["model"][name]), name
    assert [r["train_loss"] for r in a["rows"]] == [r["train_loss"] for r in b["rows"]]


def test_a_single_process_checkpoint_does_not_resume_under_torchrun(tmp_path):
    # written by one process (no torchrun): one set of random states, which two processes
    # cannot share out; resuming must say so instead of reusing one stream twice (the crash
    # after epoch 2 leaves the checkpoint of epoch 1)
    args = ("fit", "--kind", "plain", "--epochs", "2", "--checkpoint", "--out", str(tmp_path))
    one = run([sys.executable, str(HERE / "ddp_worker.py"), *args, "--stop-after", "2"], tmp_path)
    assert one.returncode == 0 and "rank 0 interrupted" in one.stdout, one.stderr
    assert isinstance(train.load_checkpoint(tmp_path / "run.pt")["rng"], dict)
    resumed = worker(*args, "--resume", cwd=tmp_path)
    assert resumed.returncode != 0
    assert (
        "the checkpoint was written by a single process; resume it with one process (not 2), "
        "or start a new run" in resumed.stderr
    )
    assert not (tmp_path / "weights.pt").exists()


# --------------------------------------------------------------------------- (d) bad launches


def test_more_processes_than_batches_stops_with_a_clear_message(tmp_path):
    start = time.monotonic()
    args = ["lenet5_modern", "--data", "mnist_bundled", "--epochs", "1", "--batch-size", "8000"]
    result = torchrun("-m", "cnncourse.train", *args, cwd=tmp_path)
    assert result.returncode != 0
    message = (
        "error: 2 processes but the training set has only 1 batch(es) of 8000 (8000 samples): "
        "every process needs at least one batch; use at most 1 process(es) or a batch size <= 4000"
    )
    assert result.stderr.count(message) == 1  # printed by rank 0 only
    assert time.monotonic() - start < TIMEOUT
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("MASTER_PORT", "distributed launch without MASTER_PORT"),
        ("WORLD_SIZE", "distributed launch without WORLD_SIZE"),
    ],
)
def test_a_missing_rendezvous_variable_stops_with_a_clear_message(tmp_path, missing, message):
    variables = {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
    }
    del variables[missing]
    cmd = [sys.executable, "-m", "cnncourse.train", "lenet5_modern", "--data", "mnist_bundled"]
    result = run(cmd, tmp_path, environment(**variables), timeout=60)
    assert result.returncode == 1
    assert message in result.stderr and "torchrun --nproc_per_node=N" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


def test_a_peer_that_never_comes_times_out_with_a_clear_message(tmp_path):
    port = free_port()
    variables = {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "2",  # rank 1 is never started
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "CNNCOURSE_DIST_TIMEOUT": "3",
    }
    cmd = [sys.executable, "-m", "cnncourse.train", "lenet5_modern", "--data", "mnist_bundled"]
    start = time.monotonic()
    result = run(cmd, tmp_path, environment(**variables), timeout=90)
    assert result.returncode == 1
    assert (
        f"error: rank 0 of 2 could not form the process group at 127.0.0.1:{port} within 3 s"
        in (result.stderr)
    )
    assert "Traceback" not in result.stderr
    assert time.monotonic() - start < 60


# --------------------------------------------------------------------------- in one process


def test_outside_torchrun_everything_is_one_process(monkeypatch):
    from cnncourse.train import distributed

    for name in distributed.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert distributed.init() is None and not distributed.active()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    model = ddp_worker.tiny_model("plain")
    assert distributed.wrap(model, torch.device("cpu")) is model
    stats = {"train_loss": 0.5, "train_accuracy": None, "samples": 8, "lr": 0.1}
    assert distributed.combine(stats) == stats
    assert distributed.gather({"a": 1}) == [{"a": 1}]
    assert distributed.from_main(lambda: 42) == 42
    assert distributed.all_reduce_sum(torch.ones(2)).tolist() == [1.0, 1.0]


def test_init_rejects_inconsistent_variables(monkeypatch):
    from cnncourse.train import distributed

    env = {"RANK": "2", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1"}
    for name, value in {**env, "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(distributed.LaunchError, match="inconsistent launch: RANK=2"):
        distributed.init()
    monkeypatch.setenv("RANK", "zero")
    with pytest.raises(distributed.LaunchError, match="RANK must be an integer, got 'zero'"):
        distributed.init()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv(distributed.TIMEOUT_VARIABLE, "soon")
    with pytest.raises(distributed.LaunchError, match="CNNCOURSE_DIST_TIMEOUT must be a number"):
        distributed.init()


def test_synthetic_data_is_shaped_like_the_real_datasets():
    from cnncourse import datasets

    train_set, test_set = datasets.synthetic("cifar10", 12, 5)
    x, y = train_set.tensors()
    assert x.shape == (12, 3, 32, 32) and y.shape == (12,) and len(test_set) == 5
    assert int(y.max()) < 10 and x.dtype == torch.float32
    digits, _ = datasets.synthetic("mnist", 4, 1, seed=1)
    assert digits.tensors()[0].shape == (4, 1, 28, 28)
    with pytest.raises(ValueError, match="n_train"):
        datasets.synthetic("mnist", 0)
