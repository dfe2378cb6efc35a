"""The Colab notebook, executed headless with nbclient on the CPU in its short setting, so it cannot rot."""
import pytest

from slingshot import ROOT

NOTEBOOK = ROOT / "notebooks" / "colab.ipynb"


def test_notebook_is_clean_and_valid():
    import nbformat
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "commit it without outputs"
    source = "\n".join(cell.source for cell in nb.cells)
    assert "make prepare train eval" in source and "qlora.yml" in source and "lora-cpu.yml" in source


@pytest.mark.slow
def test_notebook_runs_prepare_train_eval_and_shows_the_report(short_run, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("SLINGSHOT_NOTEBOOK_SHORT", "1")
    monkeypatch.delenv("SLINGSHOT_RECIPE", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs)
    assert "GPU: none -> recipes/squad/smollm2-135m/lora-cpu.yml" in text
    assert "ready for" in text  # make doctor passed
    shown = [o for o in outputs if o.output_type == "display_data"]
    markdown = "".join(o["data"].get("text/markdown", "") for o in shown)
    assert "squad-smollm2-135m-lora-cpu-short (tuned)" in markdown and "EM" in markdown
    assert sum("image/png" in o["data"] for o in shown) >= 3  # report plots and the loss curve
