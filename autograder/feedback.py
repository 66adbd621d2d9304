"""Feedback without secrets: hidden test cells keep their verdict but lose their code."""

from nbconvert.preprocessors import Preprocessor

HIDDEN_PLACEHOLDER = "# Hidden tests ran here. Their code stays with the instructor; their verdict is below."


def is_hidden_test(cell):
    """True for a grade cell whose grade_id marks it as hidden tests (``hidden_<name>``)."""
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and str(meta.get("grade_id", "")).startswith("hidden_")


class HideHiddenTests(Preprocessor):
    """Replace each hidden test cell's source with a placeholder and cut its error tracebacks
    to the error's type and message: a traceback quotes the lines around the failure, which
    would print the hidden code back."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_hidden_test(cell):
            cell.source = HIDDEN_PLACEHOLDER
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
