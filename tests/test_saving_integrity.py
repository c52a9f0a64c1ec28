"""Saved files are never silently damaged: checksums, bounds, file modes, stale temporaries,
checkpoints after a failed write, and validation of what a file claims (issue 13, items 4-8)."""

import errno
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import tracemalloc

import numpy
import pytest

import engine
from engine import callbacks, layers, saving
from engine.models import Sequential, load_model


def make_model(seed=0):
    engine.utils.set_random_seed(seed)
    model = Sequential(
        [
            layers.Dense(16, activation="relu", input_shape=(8,)),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def make_data(n=64):
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


@pytest.fixture
def saved(tmp_path):
    model = make_model()
    model.fit(*make_data(), epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "good.safetensors"
    model.save(path)
    return path


def split(path) -> tuple[dict, bytes]:
    """A safetensors file's header (parsed) and its data section."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def join(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def rewrite(path, out, edit_header=None, edit_data=None, keep_checksum=False):
    """Copy ``path`` to ``out`` edited, as a file written before checksums (or a forged one)."""
    header, data = split(path)
    if not keep_checksum:
        header["__metadata__"].pop("checksum", None)
    if edit_header is not None:
        edit_header(header)
    data = bytearray(data)
    if edit_data is not None:
        edit_data(header, data)
    out.write_bytes(join(header, bytes(data)))
    return out


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1, old
    return data.replace(old, new, 1)


# -- item 4: checksums -----------------------------------------------------------------


def test_saved_files_carry_a_checksum(saved):
    header, _ = split(saved)
    assert header["__metadata__"]["checksum"].startswith("crc32:")


def test_one_changed_byte_in_the_tensor_data_is_refused(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    data[-3] ^= 0x01  # the last weight tensor's bytes
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"flipped\.safetensors.*checksum"):
        load_model(path)
    model = make_model()
    with pytest.raises(ValueError, match=r"flipped\.safetensors.*checksum"):
        model.load_weights(path)


def test_one_changed_byte_in_the_metadata_is_refused(saved, tmp_path):
    data = saved.read_bytes()
    # the learning rate inside the compile config: still valid JSON, a different model
    path = tmp_path / "metadata.safetensors"
    path.write_bytes(replace_once(data, b'learning_rate\\": 0.001', b'learning_rate\\": 0.002'))
    with pytest.raises(ValueError, match=r"metadata\.safetensors.*checksum"):
        load_model(path)


def test_one_changed_byte_in_a_dtype_is_refused(saved, tmp_path):
    path = tmp_path / "dtype.safetensors"
    path.write_bytes(replace_once(saved.read_bytes(), b'"dtype":"F32"', b'"dtype":"I32"'))
    with pytest.raises(ValueError, match=r"dtype\.safetensors.*checksum"):
        load_model(path)


def test_files_written_before_checksums_still_load(saved, tmp_path):
    old = rewrite(saved, tmp_path / "old.safetensors")
    assert "checksum" not in split(old)[0]["__metadata__"]
    for a, b in zip(load_model(saved).get_weights(), load_model(old).get_weights(), strict=True):
        numpy.testing.assert_array_equal(a, b)
    model = make_model()
    model.load_weights(old)


def test_save_weights_files_are_checked_too(tmp_path):
    model = make_model()
    model.build((None, 8))
    path = tmp_path / "w.safetensors"
    model.save_weights(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x80
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"w\.safetensors.*checksum"):
        model.load_weights(path)


# -- item 5: bounds before reading and before allocating --------------------------------


def test_a_device_file_is_refused_without_reading_it():
    with pytest.raises(ValueError, match=r"/dev/zero.*not a regular file"):
        load_model("/dev/zero")


def test_a_directory_or_a_fifo_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a regular file"):
        load_model(tmp_path)
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"pipe\.safetensors.*not a regular file"):
        load_model(fifo)  # opening a FIFO with no writer would block


def test_a_huge_file_whose_size_disagrees_with_its_header_is_not_read(saved, tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(saved.read_bytes())
    with open(path, "r+b") as handle:
        handle.truncate(2**40)  # sparse: a terabyte on paper, nothing on disk
    with pytest.raises(ValueError, match=r"huge\.safetensors.*1099511627776 bytes"):
        load_model(path)


def test_a_header_length_past_the_end_is_refused(saved, tmp_path):
    data = saved.read_bytes()
    path = tmp_path / "long.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + data[8:])
    with pytest.raises(ValueError, match=r"long\.safetensors.*header"):
        load_model(path)


def test_a_config_asking_for_huge_weights_is_refused_before_allocating(saved, tmp_path):
    def edit(header):
        config = json.loads(header["__metadata__"]["model_config"])
        config["config"]["layers"][0]["config"]["units"] = 2**20  # a 32 MiB kernel
        header["__metadata__"]["model_config"] = json.dumps(config)

    path = rewrite(saved, tmp_path / "big.safetensors", edit_header=edit)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"big\.safetensors.*\(8, 1048576\).*\(8, 16\)"):
            load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MiB allocated before refusing"


def test_the_exact_issue_config_is_refused(saved, tmp_path):
    def edit(header):
        config = json.loads(header["__metadata__"]["model_config"])
        config["config"]["layers"][0]["config"]["units"] = 2**28
        header["__metadata__"]["model_config"] = json.dumps(config)

    path = rewrite(saved, tmp_path / "units.safetensors", edit_header=edit)
    with pytest.raises(ValueError, match=r"units\.safetensors.*268435456"):
        load_model(path)


# -- item 6: file modes and stale temporaries ---------------------------------------------


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_follows_the_umask(tmp_path, umask):
    model = make_model()
    model.build((None, 8))
    model.save(tmp_path / "a.safetensors")
    assert mode(tmp_path / "a.safetensors") == 0o644
    umask(0o027)
    model.save_weights(tmp_path / "b.safetensors")
    assert mode(tmp_path / "b.safetensors") == 0o640


def test_an_existing_file_keeps_its_mode(tmp_path, umask):
    model = make_model()
    model.build((None, 8))
    path = tmp_path / "m.safetensors"
    model.save(path)
    for wanted in (0o644, 0o600, 0o664):
        os.chmod(path, wanted)
        umask(0o077)
        model.save(path)
        assert mode(path) == wanted


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_save_killed_mid_write_leaves_a_temporary_the_next_save_removes(tmp_path):
    path = tmp_path / "m.safetensors"
    script = f"""
import os, signal
from engine import layers, saving
from engine.models import Sequential
def die(handle, data):
    handle.write(data[: len(data) // 2])
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)
saving._write_bytes = die
Sequential([layers.Dense(64, input_shape=(32,))]).save({str(path)!r})
"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    child = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    orphans = [name for name in os.listdir(tmp_path) if name != "m.safetensors"]
    assert len(orphans) == 1 and orphans[0].startswith(".m.safetensors.tmp-"), orphans
    assert not path.exists()
    model = Sequential([layers.Dense(2, input_shape=(3,))])
    model.save(path)
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_loading_removes_stale_temporaries_but_not_live_ones(saved, tmp_path):
    host = socket.gethostname()
    stale = tmp_path / f".good.safetensors.tmp-{host}-{dead_pid()}-0123abcd"
    live = tmp_path / f".good.safetensors.tmp-{host}-{os.getpid()}-4567cdef"
    other_host = tmp_path / f".good.safetensors.tmp-elsewhere.example-{dead_pid()}-89ab0123"
    unrelated = tmp_path / ".other.safetensors.tmp-x"
    for path in (stale, live, other_host, unrelated):
        path.write_bytes(b"\0" * 100)
    load_model(saved)
    assert not stale.exists()
    assert live.exists() and other_host.exists() and unrelated.exists()


# -- item 7: ModelCheckpoint after a failed write -------------------------------------------


def test_best_only_checkpoint_saves_again_after_a_failed_write(tmp_path, monkeypatch):
    model = make_model()
    model.build((None, 8))
    path = tmp_path / "best.safetensors"
    checkpoint = callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    checkpoint.set_model(model)

    def disk_full(handle, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(saving, "_write_bytes", disk_full)
        with pytest.raises(OSError, match="No space left"):
            checkpoint.on_epoch_end(0, {"val_loss": 0.5})
    assert checkpoint.best is None
    assert not path.exists()
    checkpoint.on_epoch_end(1, {"val_loss": 0.5})  # the disk was freed: same value, saved now
    assert path.exists() and checkpoint.best == 0.5


# -- item 8: what the file claims is validated at load ------------------------------------


def set_iterations(value):
    def edit(header, data):
        start, end = header["optimizer/iterations"]["data_offsets"]
        data[start:end] = numpy.array([value], dtype=numpy.int64).tobytes()

    return edit


def test_negative_iterations_are_refused_at_load(saved, tmp_path):
    path = rewrite(saved, tmp_path / "iter.safetensors", edit_data=set_iterations(-1))
    with pytest.raises(ValueError, match=r"iter\.safetensors.*iterations.*-1"):
        load_model(path)


@pytest.mark.parametrize(
    ("field", "value"),
    [("shuffle_seed", "abc"), ("shuffle_seed", -3), ("shuffle_seed", 1.5), ("iterations", -1)],
)
def test_a_damaged_training_state_names_the_file_and_field(saved, tmp_path, field, value):
    def edit(header):
        state = json.loads(header["__metadata__"]["training_state"])
        state[field] = value
        header["__metadata__"]["training_state"] = json.dumps(state)

    path = rewrite(saved, tmp_path / "state.safetensors", edit_header=edit)
    with pytest.raises(ValueError, match=rf"state\.safetensors.*'{field}'"):
        load_model(path)


def test_a_deeply_nested_config_is_a_value_error(saved, tmp_path):
    def edit(header):
        header["__metadata__"]["model_config"] = "[" * 100_000 + "]" * 100_000

    path = rewrite(saved, tmp_path / "deep.safetensors", edit_header=edit)
    with pytest.raises(ValueError, match=r"deep\.safetensors"):
        load_model(path)


def test_a_deeply_nested_header_is_a_value_error(saved, tmp_path):
    _, data = split(saved)
    text = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path = tmp_path / "deepheader.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    with pytest.raises(ValueError, match=r"deepheader\.safetensors"):
        load_model(path)


@pytest.mark.parametrize("metadata", [[1, 2], "text", 3, {"format": 7}])
def test_metadata_that_is_not_an_object_of_strings_is_a_value_error(saved, tmp_path, metadata):
    def edit(header):
        header["__metadata__"] = metadata

    path = rewrite(saved, tmp_path / "meta.safetensors", edit_header=edit)
    with pytest.raises(ValueError, match=r"meta\.safetensors"):
        load_model(path)


def test_an_os_error_keeps_its_errno_and_filename(tmp_path, monkeypatch):
    model = make_model()
    model.build((None, 8))
    target = tmp_path / "m.safetensors"
    real_open = os.open

    def full_disk_open(path, flags, *args, **kwargs):
        if os.path.basename(os.fspath(path)).startswith(".m.safetensors"):
            raise OSError(errno.ENOSPC, "No space left on device", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", full_disk_open)
    with pytest.raises(OSError) as caught:
        model.save(target)
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(target)
    assert "m.safetensors" in str(caught.value)
    monkeypatch.undo()
    with pytest.raises(FileNotFoundError) as missing:
        load_model(tmp_path / "missing.safetensors")
    assert missing.value.errno == errno.ENOENT
    assert missing.value.filename == str(tmp_path / "missing.safetensors")
