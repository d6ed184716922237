"""Writing exports to a path: through symlinks, into devices, never half a file, never a silent overwrite."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from refkeeper._errors import OutputError
from refkeeper._output import open_output, output_exists


def test_a_new_file_is_written_whole_with_the_usual_permissions(tmp_path):
    out = tmp_path / "refs.bib"
    with open_output(out) as fh:
        fh.write("@article{a,}\n")
    assert out.read_text() == "@article{a,}\n"
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["refs.bib"]


def test_an_existing_file_is_not_overwritten_without_being_asked(tmp_path):
    out = tmp_path / "refs.bib"
    out.write_text("hand-edited\n")
    with pytest.raises(OutputError, match="exists: pass --force"):
        with open_output(out) as fh:
            fh.write("new\n")
    assert out.read_text() == "hand-edited\n"
    assert output_exists(out)


def test_overwriting_keeps_the_files_permissions(tmp_path):
    out = tmp_path / "refs.bib"
    out.write_text("old\n")
    out.chmod(0o640)
    with open_output(out, overwrite=True) as fh:
        fh.write("new\n")
    assert out.read_text() == "new\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_a_symlink_is_written_through_to_its_target_and_stays_a_link(tmp_path):
    target = tmp_path / "real.bib"
    target.write_text("old\n")
    link = tmp_path / "link.bib"
    link.symlink_to(target)
    with open_output(link, overwrite=True) as fh:
        fh.write("new\n")
    assert link.is_symlink()
    assert target.read_text() == "new\n"


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.bib"
    link.symlink_to(tmp_path / "missing.bib")
    with open_output(link) as fh:
        fh.write("x\n")
    assert link.is_symlink() and (tmp_path / "missing.bib").read_text() == "x\n"


def test_a_fifo_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    with open_output(fifo) as fh:  # not a regular file: no --force needed, nothing replaced
        fh.write("through the pipe\n")
    reader.join(10)
    assert got == ["through the pipe\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_dev_null_stays_a_device():
    with open_output("/dev/null") as fh:
        fh.write("discarded\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_a_one_line_error():
    with pytest.raises(OutputError, match="no space left"):
        with open_output("/dev/full") as fh:
            fh.write("x" * 100_000)


def test_a_missing_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        with open_output(tmp_path / "nope" / "refs.bib") as fh:
            fh.write("x")


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        with open_output(tmp_path) as fh:
            fh.write("x")


def test_a_failure_midway_leaves_the_old_file_and_no_part_file(tmp_path):
    out = tmp_path / "refs.bib"
    out.write_text("old\n")
    with pytest.raises(RuntimeError):
        with open_output(out, overwrite=True) as fh:
            fh.write("half")
            raise RuntimeError("export failed")
    assert out.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["refs.bib"]
