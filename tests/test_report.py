"""ltnet report: one self-contained page that embeds its images and names every structure."""

from __future__ import annotations

import re

import pytest

from ltnet.cli import main
from ltnet.labels import label_name
from tests.conftest import atlas_args


@pytest.fixture(scope="module")
def scored_run(toy_data, tmp_path_factory):
    images, labels = toy_data
    d = tmp_path_factory.mktemp("reported")
    run, seg, scores, affine, aff_scores = (d / n for n in ("run", "seg", "scores", "aff", "aff_scores"))
    base = [*atlas_args(images[0], labels[0]), "--prealigned", "--no-cache", "--quiet"]
    assert main(["train", *base, "--images", *map(str, images[1:]), "--out", str(run), "--steps", "3"]) == 0
    assert (
        main(
            ["segment", "--model", str(run), "--images", *map(str, images[2:]), "--out", str(seg), "--quiet"]
        )
        == 0
    )
    assert (
        main(["segment", "--affine-only", *base, "--images", *map(str, images[2:]), "--out", str(affine)])
        == 0
    )
    ids = ["--labels", "2", "3", "4", "17", "41", "42", "43", "53"]
    assert (
        main(["evaluate", "--pred", str(seg), "--truth", *map(str, labels[2:]), "--out", str(scores), *ids])
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "--pred",
                str(affine),
                "--truth",
                *map(str, labels[2:]),
                "--out",
                str(aff_scores),
                *ids,
            ]
        )
        == 0
    )
    return d, labels


def test_report_is_self_contained_and_names_every_structure(scored_run, capsys):
    d, labels = scored_run
    argv = ["report", str(d / "run"), "--labels", str(d / "seg"), "--truth", *map(str, labels[2:])]
    argv += ["--scores", str(d / "scores"), "--compare", f"affine={d / 'aff_scores'}"]
    assert main(argv) == 0
    page = d / "run" / "report.html"
    assert capsys.readouterr().out.strip() == str(page)
    text = page.read_text()
    # loss curves, collapse diagnostics, the Dice chart, one figure per segmented subject (2)
    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]{200,}"', text)) == 5
    assert 'alt="collapse diagnostics"' in text
    assert not re.search(r'src="(?!data:)', text) and "<link" not in text  # nothing fetched
    for lab in (2, 3, 4, 17, 41, 42, 43, 53):
        assert label_name(lab) in text
    assert "sub-03" in text and "sub-04" in text and "affine" in text
    assert "disagreement with the truth" in text


def test_report_of_a_bare_run_has_the_losses_only(scored_run, tmp_path):
    d, _ = scored_run
    out = tmp_path / "r.html"
    assert main(["report", str(d / "run"), "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("data:image/png;base64") == 2 and "L_sim" in text  # losses and diagnostics


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--compare", "nonsense"], "expected NAME=SCORES_DIR"),
        (["--labels", "."], "no *_segment.json"),
        (["--scores", "/nonexistent"], "cannot read Dice scores"),
    ],
)
def test_report_bad_input_is_one_line(scored_run, capsys, extra, message, tmp_path):
    d, _ = scored_run
    assert main(["report", str(d / "run"), "--out", str(tmp_path / "x.html"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.html").exists()
